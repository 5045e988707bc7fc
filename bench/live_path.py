#!/usr/bin/env python3
"""The CPU each streamed token costs in lfg's own per-token code, piece by piece, in one process.

`render.py` measures the whole live view, but on a shared machine its CPU per token moves by tens of
percent from run to run (a starved run batches more and draws fewer frames), which hides a change
of a microsecond. This one times the per-token pieces that need no screen, on real objects, each
over the same tokens: the parent adopting the provider worker's tuple (`EventFactory.adopt`), the
run's `MetricsBook`, an `Attentions` tracker (the run screen's), `RunAlerts` as the TUI has it (with
a tracker of its own where the tree cannot share the screen's), `inert` on the text a pane shows,
and the async generators a token passes up (`loop`: the provider's stream adopting each tuple,
`run_call`, `run_tool_loop`; adopting included). Each figure is the fastest of `--passes` passes,
the usual way to read a micro-benchmark on a busy machine.

    python bench/live_path.py
    python bench/live_path.py --base /tmp/before --repeat 3   # against another tree, interleaved

`--base DIR` runs the same child with the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians for each piece.
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _figures import ratio, table_head, table_row
from _trees import child_json

TOKENS = ("lorem ", "ipsum ", "dolor ", "sit? ", "amet\n")
"""A token stream's chunks, one in five ending a line (which `inert` scans)."""


def fastest(fn: Callable[[Any], object], items: list[Any], passes: int) -> float:
    """Microseconds per item of the fastest pass."""
    best = float("inf")
    for _ in range(passes):
        start = time.process_time()
        for item in items:
            fn(item)
        best = min(best, time.process_time() - start)
    return best / len(items) * 1e6


def child(tokens: int, passes: int) -> dict[str, float]:
    from lfgtui.alerts.moments import RunAlerts
    from lfgtui.alerts.states import Attentions
    from lfgtui.cost.metrics import MetricsBook
    from lfgtui.events import AttemptStarted, EventFactory, RequestSent, TextDelta, observed
    from lfgtui.inert import inert

    texts = [TOKENS[i % len(TOKENS)] for i in range(tokens)]
    worker = EventFactory("p0", 1)
    sent = [observed(worker(TextDelta, text=text)) for text in texts]
    parent = EventFactory("p0", 1)
    events = [parent.adopt(item) for item in sent]
    start = [parent(AttemptStarted, provider="bench", model="m"), parent(RequestSent, call=0)]

    book, attention = MetricsBook(), Attentions({"p0": ()})
    kinds, watched = (
        frozenset({"asked", "approval", "failed", "done"}),
        SimpleNamespace(run_id="bench", states={}),
    )
    told = "told" in inspect.signature(RunAlerts).parameters  # the TUI's: told by the screen's tracker
    alerts = RunAlerts(watched, kinds, [], told=True) if told else RunAlerts(watched, kinds, [])
    for event in start:
        book(event)
        attention.apply(event)
        alerts(event)
    inert("\x1b")  # its pattern compiles on first use
    figures = {
        "adopt": fastest(parent.adopt, sent, passes),
        "book": fastest(book, events, passes),
        "attentions": fastest(attention.apply, events, passes),
        "alerts": fastest(alerts, events, passes),
        "inert": fastest(inert, texts, passes),
    }
    figures["loop"] = fastest_loop(sent, passes)
    figures["total"] = sum(figures.values())
    return figures


def fastest_loop(sent: list[Any], passes: int) -> float:
    """Microseconds per token of the async generators a token passes on its way up (the provider's
    stream, `run_call`, `run_tool_loop`), over a provider whose stream adopts the prepared tuples as
    `RemoteProvider` does: the fastest pass."""
    import asyncio

    from lfgtui.events import EventFactory
    from lfgtui.providers.base import ModelCall, ProviderConfig, UserMessage
    from lfgtui.run.ratelimit import Limiters
    from lfgtui.run.tool_loop import AttemptTask, run_tool_loop

    class Prepared:
        config = ProviderConfig(name="bench", kind="openai")

        async def stream(self, call: ModelCall, ev: EventFactory) -> Any:
            for item in sent:
                yield ev.adopt(item)

    task = AttemptTask(ModelCall(model="m", messages=(UserMessage("go"),)))
    limiter = Limiters({"bench": Prepared.config})["bench"]

    async def one() -> float:
        start = time.process_time()
        async for _ in run_tool_loop(Prepared(), task, EventFactory("p0", 1), limiter=limiter):  # type: ignore[arg-type]
            pass
        return time.process_time() - start

    best = min(asyncio.run(one()) for _ in range(passes))
    return best / len(sent) * 1e6


def run_child(args: argparse.Namespace, base: Path | None) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--tokens",
        str(args.tokens),
        "--passes",
        str(args.passes),
    ]
    return child_json(command, base)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=50_000, help="tokens per pass")
    parser.add_argument("--passes", type=int, default=15, help="passes per piece; the fastest counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tokens, args.passes)))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    pieces = ["adopt", "book", "attentions", "alerts", "inert", "loop", "total"]
    print(table_head(["tree", "run", *(f"{piece} µs/tok" for piece in pieces)]))
    for number in range(1, args.repeat + 1):
        for name, base in trees.items():
            result = run_child(args, base)
            runs[name].append(result)
            print(table_row([name, str(number), *(f"{result[piece]:.3f}" for piece in pieces)]))
    medians = {
        name: {p: statistics.median(r[p] for r in results) for p in pieces} for name, results in runs.items()
    }
    if args.base:
        ours, theirs = medians["lfg"], medians["lfg-base"]
        print("\nratios of medians, lfg/lfg-base (below 1 means this tree is cheaper):")
        print("  " + ", ".join(f"{p} {ratio(ours[p], theirs[p])}" for p in pieces))


if __name__ == "__main__":
    main()
