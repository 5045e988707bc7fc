#!/usr/bin/env python3
"""The CPU each streamed token costs the history writer, in one process: `Recorder.write` applying
batches as `lfg run`'s writer thread does, and the sink the run's loop calls per event
(`RunHistory.__call__`).

The writer's thread holds the GIL while it applies a batch, so every microsecond it spends per token
is taken from the UI loop's frames. `render.py --history` shows that cost in a real run, but moves by
tens of percent from run to run on a shared machine; this times the same work on the same events.
Each of `--panes` attempts streams `--tokens` deltas (thinking first, then the answer; the panes'
deltas interleaved one by one, as many streams arriving at once are) between its start and its end,
cut into batches of what arrives in one `FLUSH_INTERVAL_S` at `--rate` tokens per second per pane.
Each figure is the fastest of `--passes` passes (a new file each), the usual way to read a
micro-benchmark on a busy machine. A config `PANESxTOKENS` (`1x100000`) streams that many deltas per
attempt instead of `--tokens`: one long answer. Beside the CPU, `written` is the bytes the writer
passed to the file (`wchar` in /proc/self/io, the WAL's and the database's) over the characters
streamed: what a character of the answer costs in I/O (a batch that rewrote the text so far made it
grow with the answer's length).

    python bench/history_path.py
    python bench/history_path.py --base /tmp/before --repeat 3   # against another tree, interleaved
    python bench/history_path.py --configs 1x20000,1x100000 --passes 1 --base /tmp/before

`--base DIR` runs the same child with the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians for each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _figures import ratio, table_head, table_row
from _trees import child_json

TOKENS = ("lorem ", "ipsum ", "dolor ", "sit? ", "amet\n")
THINKING = 0.2
"""The share of each attempt's deltas that are thinking, before its answer."""


def stream(panes: int, tokens: int, rate: float) -> list[Any]:
    """Every attempt's items in the order they arrive: starts, the deltas interleaved, the ends."""
    from lfgtui.events import (
        AttemptEnded,
        AttemptStarted,
        CallEnded,
        EventFactory,
        Outcome,
        PromptSent,
        ReasoningDelta,
        RequestSent,
        TextDelta,
        Usage,
    )
    from lfgtui.history.recorder import Started

    clock = [100.0]
    factories = [EventFactory(f"p{i}", 1, clock=lambda: clock[0]) for i in range(panes)]
    items: list[Any] = []
    for ev in factories:
        items += [Started(ev(AttemptStarted, provider="bench", model="m"), 1.7e9), ev(PromptSent, text="go")]
        items.append(ev(RequestSent, call=0, input_estimate=10))
    for k in range(tokens):
        clock[0] = 100.1 + k / rate
        kind = ReasoningDelta if k < tokens * THINKING else TextDelta
        items += [ev(kind, text=TOKENS[k % len(TOKENS)]) for ev in factories]
    clock[0] += 0.01
    for ev in factories:
        items += [ev(Usage, input_tokens=10, output_tokens=tokens), ev(CallEnded, stop_reason="stop")]
        items.append(ev(AttemptEnded, outcome=Outcome.COMPLETED))
    return items


def tickets_of(folder: Path, panes: int) -> Any:
    from lfgtui.config.load import Config
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS

    path = folder / "tickets.toml"
    path.write_text(
        "".join(f'[[ticket]]\nid = "p{i}"\nprompt = "go"\nprovider = "sim"\n\n' for i in range(panes))
    )
    return load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})


def written() -> int:
    """The bytes this process has passed to `write` so far (the file's I/O, before any cache)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


def write_pass(folder: Path, tickets: Any, batches: list[list[Any]], number: int) -> tuple[float, int]:
    """CPU seconds of `Recorder.write` over every batch, into a new file, and the bytes it wrote."""
    from lfgtui.history.recorder import Recorder

    recorder = Recorder.begin(folder / f"write-{number}.sqlite3", tickets, "bench")
    try:
        start, wrote = time.process_time(), written()
        for batch in batches:
            recorder.write(batch)
        return time.process_time() - start, written() - wrote
    finally:
        recorder.finish()


async def sink_pass(folder: Path, tickets: Any, events: list[Any], number: int) -> float:
    """CPU seconds of the run's loop handing every event to the history's sink (the writer's thread
    waits meanwhile: the loop never yields to it)."""
    from lfgtui.history.writer import open_run_history

    problems: list[str] = []
    async with open_run_history(
        folder / f"sink-{number}.sqlite3", tickets, "bench", problems.append
    ) as history:
        assert history is not None, problems
        start = time.process_time()
        for event in events:
            history(event)
        spent = time.process_time() - start
    assert not problems, problems
    return spent


def child(panes: int, tokens: int, rate: float, passes: int) -> dict[str, float]:
    from lfgtui.history.recorder import Started
    from lfgtui.history.writer import FLUSH_INTERVAL_S

    items = stream(panes, tokens, rate)
    size = max(1, round(panes * rate * FLUSH_INTERVAL_S))
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    events = [item.event if isinstance(item, Started) else item for item in items]
    deltas = panes * tokens
    chars = sum(len(TOKENS[k % len(TOKENS)]) for k in range(tokens)) * panes
    with tempfile.TemporaryDirectory() as folder:
        tickets = tickets_of(Path(folder), panes)
        write, wrote = min(write_pass(Path(folder), tickets, batches, n) for n in range(passes))
        sink = min(asyncio.run(sink_pass(Path(folder), tickets, events, n)) for n in range(passes))
    return {"write": write / deltas * 1e6, "sink": sink / len(events) * 1e6, "written": wrote / chars}


def run_child(args: argparse.Namespace, config: str, base: Path | None) -> dict[str, float]:
    panes, _, tokens = config.partition("x")
    command = [sys.executable, __file__, "--child", "--panes", panes]
    command += ["--tokens", tokens or str(args.tokens), "--rate", f"{args.rate:g}"]
    return child_json([*command, "--passes", str(args.passes)], base)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", default="16,1", help="panes streaming at once (PANESxTOKENS: that many deltas each)"
    )
    parser.add_argument("--panes", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, default=2000, help="deltas per attempt")
    parser.add_argument("--rate", type=float, default=200, help="tokens per second per pane: the batch size")
    parser.add_argument("--passes", type=int, default=5, help="passes per figure; the fastest counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.panes, args.tokens, args.rate, args.passes)))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    figures = ["write", "sink", "written"]
    print(table_head(["config", "tree", "run", "write µs/token", "sink µs/event", "written bytes/char"]))
    lines: list[str] = []
    for config in args.configs.split(","):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for number in range(1, args.repeat + 1):
            for name, base in trees.items():
                result = run_child(args, config, base)
                runs[name].append(result)
                cells = [f"{result.get(f, float('nan')):.3f}" for f in figures]
                print(table_row([config, name, str(number), *cells]), flush=True)
        medians = {
            name: {f: statistics.median(r.get(f, float("nan")) for r in rs) for f in figures}
            for name, rs in runs.items()
        }
        if args.base:
            ours, theirs = medians["lfg"], medians["lfg-base"]
            lines.append(f"{config}: " + ", ".join(f"{f} {ratio(ours[f], theirs[f])}" for f in figures))
    if lines:
        print("\nratios of medians, lfg/lfg-base (below 1 means this tree is cheaper):")
        print("\n".join(f"  {line}" for line in lines))


if __name__ == "__main__":
    main()
