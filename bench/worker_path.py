#!/usr/bin/env python3
"""The provider worker's CPU per streamed token, with no screen: N streams at a rate through the real
worker child against a sim server in its own process.

`render.py` measures the whole live view, and the UI's share of the cores moves the worker's figure
with it. This one runs only what the TUI runs to read streams: a `ProviderWorker` (its child process,
`lfgtui.providers.worker_child`, with the ordinary SDK adapters) fed by `lfg sim serve`, the parent
only adopting the events. After a warm-up it reads the child's CPU from /proc over a window and
divides by the text tokens the parent received in it; it also computes each stream's tok/s from
the events' own times, the way the gauge does, to show that the figure stays honest.

    python bench/worker_path.py
    python bench/worker_path.py --configs 16x200,64x200 --base /work/base0 --repeat 3

`--base DIR` runs the same child with the lfgtui package in DIR (the code before a change),
alternating with this tree's, and prints the ratio of the medians. One sim server (this tree's)
serves every run. The load (`uptime`'s first figure) is printed with each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _figures import figure, median_of, ratio, table_head, table_row
from _procfs import cpu_s
from _trees import tree_env, worker_pids

ANSWER_TOKENS = 94
"""Tokens in one repeat of the sim's `long-answer` text: the answer is repeated to outlast the window."""
KINDS = {"chat": ("openai", "/v1"), "anthropic": ("anthropic", ""), "responses": ("openai-responses", "/v1")}


async def measure(
    port: int, kind: str, streams: int, rate: float, warmup: float, window: float
) -> dict[str, Any]:
    """One run in this process: the worker child's CPU per token over `window` after `warmup`."""
    from lfgtui.events import EventFactory, TextDelta
    from lfgtui.providers.base import ModelCall, ProviderConfig, UserMessage
    from lfgtui.providers.worker import ProviderWorker

    sdk_kind, path = KINDS[kind]
    config = ProviderConfig(
        name="bench", kind=sdk_kind, base_url=f"http://127.0.0.1:{port}{path}", idle_timeout_s=30
    )
    worker = ProviderWorker()
    provider = await worker.provider(config)
    (pid,) = worker_pids(worker)
    repeat = int(rate * (warmup + window + 3) / ANSWER_TOKENS) + 1
    call = ModelCall(
        model=f"long-answer:tokens_per_s={rate:g},ttft_ms=100,repeat={repeat}", messages=(UserMessage("go"),)
    )
    async for _ in provider.stream(  # the SDK's lazy imports and models, before anything is counted
        ModelCall(model="long-answer:tokens_per_s=1000,ttft_ms=0", messages=(UserMessage("go"),)),
        EventFactory("warm", 1),
    ):
        pass
    counting = False
    tokens = 0
    times: list[list[float]] = [[] for _ in range(streams)]

    async def one(index: int) -> None:
        nonlocal tokens
        async for event in provider.stream(call, EventFactory(f"s{index}", 1)):
            if isinstance(event, TextDelta):
                times[index].append(event.t)
                if counting:
                    tokens += 1

    tasks = [asyncio.create_task(one(i)) for i in range(streams)]
    await asyncio.sleep(warmup)
    counting, cpu0, wall0 = True, cpu_s(pid), time.monotonic()
    await asyncio.sleep(window)
    counting, cpu1, wall1 = False, cpu_s(pid), time.monotonic()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await worker.aclose()
    rates = [(len(t) - 1) / (t[-1] - t[0]) for t in times if len(t) > 1 and t[-1] > t[0]]
    return {
        "tokens": tokens,
        "cpu_ms_per_token": 1000 * (cpu1 - cpu0) / tokens if tokens else None,  # a starved sim: no figure
        "worker_cores": (cpu1 - cpu0) / (wall1 - wall0),
        "tok_s_median": statistics.median(rates) if rates else 0.0,
        "load": os.getloadavg()[0],
    }


def sse_chunk(index: int) -> bytes:
    """One Chat Completions text chunk as the sim sends it: an SSE event in its own HTTP chunk."""
    delta = {"content": f"token{index} "}
    data = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    data["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    event = b"data: " + json.dumps(data).encode() + b"\n\n"
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


async def per_read(batch: int, events: int) -> float:
    """Fixed work, free of the machine's timing: CPU µs per event when each socket read brings `batch`
    events, through the Chat Completions adapter (the SDK's stream and parser), `observed` and a frame."""
    from lfgtui.events import EventFactory, observed
    from lfgtui.providers.base import ModelCall, ProviderConfig, UserMessage
    from lfgtui.providers.openai_chat import OpenAIChatProvider
    from lfgtui.providers.worker import frame

    loop = asyncio.get_running_loop()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    provider = OpenAIChatProvider(ProviderConfig(name="bench", kind="openai", base_url=url))
    stream = provider.stream(ModelCall(model="m", messages=(UserMessage("go"),)), EventFactory("", 0))
    first = asyncio.ensure_future(anext(stream))
    server, _ = await loop.sock_accept(listener)
    request = b""
    while b"\r\n\r\n" not in request:
        request += await loop.sock_recv(server, 65536)
    server.setblocking(True)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    server.sendall(head + sse_chunk(0))
    await first
    payload = b"".join(sse_chunk(i) for i in range(batch))
    rounds = events // batch
    start = time.process_time()
    for _ in range(rounds):
        server.sendall(payload)  # arrives whole before the client's next read
        for _ in range(batch):
            frame([(0, observed(await anext(stream)))])
    spent = time.process_time() - start
    await stream.aclose()
    server.close()
    listener.close()
    await provider.aclose()
    return spent / (rounds * batch) * 1e6


async def fixed_work(batches: list[int], events: int, passes: int) -> dict[str, float]:
    try:  # the batching is this work's own: a tree that holds a flowing stream's reads does not here
        from lfgtui.providers import network
    except ImportError:
        pass
    else:
        network.FLOWING_S = 0.0
    await per_read(1, 200)  # imports and the SDK's models
    return {str(b): min([await per_read(b, events) for _ in range(passes)]) for b in batches}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sim(port: int) -> subprocess.Popen[bytes]:
    sim = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sim
        except OSError:
            time.sleep(0.2)
    sim.kill()
    raise SystemExit("the sim server did not start")


def run_child(arguments: list[str], base: Path | None) -> dict[str, Any]:
    command = [sys.executable, __file__, *arguments]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env=tree_env(base), cwd=Path(__file__).parent
    )
    return json.loads(done.stdout)


def configs(text: str) -> list[tuple[int, float]]:
    pairs = [item.split("x") for item in text.split(",") if item]
    return [(int(streams), float(rate)) for streams, rate in pairs]


def streams_section(args: argparse.Namespace, trees: dict[str, Path | None]) -> list[str]:
    """N streams through the worker child; one table row per run, one summary line per config."""
    port = free_port()
    sim = start_sim(port)
    summary: list[str] = []
    try:
        print(
            table_head(
                ["config", "tree", "run", "worker ms/tok", "worker cores", "tokens", "tok/s median", "load"]
            )
        )
        for streams, rate in configs(args.configs):
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
            arguments = ["--child", str(port), "--kind", args.kind, "--configs", f"{streams}x{rate:g}"]
            arguments += ["--warmup", str(args.warmup), "--window", str(args.window)]
            for number in range(1, args.repeat + 1):
                for name, base in trees.items():
                    result = run_child(arguments, base)
                    runs[name].append(result)
                    cells = [
                        f"{streams}x{rate:g}",
                        name,
                        str(number),
                        figure(result["cpu_ms_per_token"], ".4f"),
                    ]
                    cells += [f"{result['worker_cores']:.2f}", str(result["tokens"])]
                    cells += [f"{result['tok_s_median']:.1f}", f"{result['load']:.2f}"]
                    print(table_row(cells), flush=True)
            medians = {
                name: {k: median_of(results, k) for k in ("cpu_ms_per_token", "tok_s_median")}
                for name, results in runs.items()
            }
            ours = medians["lfg"]
            line = f"{streams}x{rate:g}: worker {figure(ours['cpu_ms_per_token'], '.4f')} ms/tok"
            if "lfg-base" in medians:
                theirs = medians["lfg-base"]
                line += (
                    f" vs {figure(theirs['cpu_ms_per_token'], '.4f')}, lfg/lfg-base "
                    f"{ratio(ours['cpu_ms_per_token'], theirs['cpu_ms_per_token'])}; tok/s median "
                    f"{figure(ours['tok_s_median'], '.1f')} vs {figure(theirs['tok_s_median'], '.1f')}"
                )
            summary.append(line)
    finally:
        sim.kill()
        sim.wait()
    return summary


def reads_section(args: argparse.Namespace, trees: dict[str, Path | None]) -> list[str]:
    """The fixed work at 1, 2 and 4 events per socket read; one row per run, one summary line."""
    batches = [int(b) for b in args.batches.split(",")]
    print("\n" + table_head(["tree", "run", *(f"{b}/read µs/event" for b in batches), "load"]))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    arguments = ["--child-reads", args.batches, "--events", str(args.events), "--passes", str(args.passes)]
    for number in range(1, args.repeat + 1):
        for name, base in trees.items():
            result = run_child(arguments, base)
            runs[name].append(result)
            cells = [f"{result[str(b)]:.1f}" for b in batches]
            print(table_row([name, str(number), *cells, f"{os.getloadavg()[0]:.2f}"]), flush=True)
    medians = {
        name: {str(b): statistics.median(r[str(b)] for r in results) for b in batches}
        for name, results in runs.items()
    }
    ours = medians["lfg"]
    line = "fixed work: " + ", ".join(f"{b}/read {ours[str(b)]:.1f} µs/event" for b in batches)
    if "lfg-base" in medians:
        theirs = medians["lfg-base"]
        line += "; lfg/lfg-base " + ", ".join(
            f"{b}/read {ratio(ours[str(b)], theirs[str(b)])}" for b in batches
        )
    return [line]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", default="1x200,16x200,64x200", help="STREAMSxTOKENS_PER_S, comma-separated ('' for none)"
    )
    parser.add_argument("--kind", choices=sorted(KINDS), default="chat", help="the protocol and SDK")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--window", type=float, default=6.0, help="seconds measured")
    parser.add_argument(
        "--batches", default="1,2,4", help="events per socket read of the fixed work ('' for none)"
    )
    parser.add_argument("--events", type=int, default=4000, help="events per pass of the fixed work")
    parser.add_argument("--passes", type=int, default=5, help="passes of the fixed work; the fastest counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--child-reads", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None or args.child_reads is not None:
        from lfgtui import event_loop

        if args.child_reads is not None:
            batches = [int(b) for b in args.child_reads.split(",")]
            result = event_loop.run(fixed_work(batches, args.events, args.passes))
        else:
            ((streams, rate),) = configs(args.configs)
            result = event_loop.run(measure(args.child, args.kind, streams, rate, args.warmup, args.window))
        print(json.dumps(result))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    summary = streams_section(args, trees) if configs(args.configs) else []
    if args.batches:
        summary += reads_section(args, trees)
    print("\nmedians (a ratio below 1 means this tree is cheaper):")
    print("\n".join("  " + line for line in summary))


if __name__ == "__main__":
    main()
