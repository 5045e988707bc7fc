#!/usr/bin/env python3
"""The sim server's CPU per streamed token, with N streams at once read by a client that costs little.

The benchmarks run the sim beside lfg on the same cores, so what the sim spends per token is taken
from lfg. This runs `lfg sim serve` in its own process and opens N streaming requests to it from
this one over raw asyncio sockets that read and discard (no SDK, no parsing: counting the `data: `
lines is all), their starts spread over one token interval as real tickets' are. Over a window after
every stream is going it reads the sim's CPU seconds from /proc and the events the readers got:
**CPU per token** is the one over the other, and **kept up** is the events got over the events the
scenario's pace makes due in the window (1.00: the sim keeps the pace; below: it falls behind).

    python bench/sim_path.py
    python bench/sim_path.py --streams 16,64 --protocols chat,anthropic,responses --repeat 3
    python bench/sim_path.py --base /work/base0 --repeat 3   # against another tree, interleaved

`--base DIR` runs the sim of the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians for each configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _figures import ratio, table_head, table_row
from _procfs import cpu_s, machine_busy_s
from _render_lfg import LONG_ANSWER_TOKENS, free_port
from _trees import tree_env

HERE = Path(__file__).resolve().parent.parent
WARMUP_S = 1.0  # after the first token: every stream started, the sim's first frames and imports done
MARK = b"data: "


@dataclass(frozen=True)
class Protocol:
    path: str
    body: dict[str, object]


PROTOCOLS = {
    "chat": Protocol(
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "go"}], "stream_options": {"include_usage": True}},
    ),
    "anthropic": Protocol(
        "/v1/messages", {"messages": [{"role": "user", "content": "go"}], "max_tokens": 4096}
    ),
    "responses": Protocol("/v1/responses", {"input": "go"}),
}


class Reader:
    """One streaming request: its bytes read and dropped, its `data: ` lines counted."""

    def __init__(self) -> None:
        self.events = 0

    async def run(self, port: int, protocol: Protocol, model: str, start_at: float) -> None:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        body = json.dumps({**protocol.body, "model": model, "stream": True}).encode()
        writer.write(
            f"POST {protocol.path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        tail = b""
        try:
            while data := await reader.read(1 << 16):
                seen = tail + data
                self.events += seen.count(MARK)
                tail = seen[-(len(MARK) - 1) :]
        finally:
            writer.close()


def measure(tree: Path, streams: int, rate: float, duration: float, protocol: Protocol) -> dict[str, float]:
    """One run: a sim from `tree`, `streams` requests at `rate`; its figures over the window."""
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        env=tree_env(tree),
        cwd=tree,
    )
    try:
        assert sim.stdout is not None
        sim.stdout.readline()
        return asyncio.run(read_streams(sim.pid, port, streams, rate, duration, protocol))
    finally:
        sim.terminate()
        sim.wait(timeout=10)


async def read_streams(
    pid: int, port: int, streams: int, rate: float, duration: float, protocol: Protocol
) -> dict[str, float]:
    """Open the streams, their starts spread over one token interval; the figures over the window."""
    ttft = 0.1
    repeat = int(rate * (ttft + WARMUP_S + duration + 2) / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={rate:g},ttft_ms={ttft * 1000:g},repeat={repeat}"
    begin = time.monotonic() + 0.05
    readers = [Reader() for _ in range(streams)]
    tasks = [
        asyncio.create_task(r.run(port, protocol, model, begin + i / streams / rate))
        for i, r in enumerate(readers)
    ]
    await asyncio.sleep(begin + 1 / rate + ttft + WARMUP_S - time.monotonic())
    cpu0, busy0, t0 = cpu_s(pid), machine_busy_s(), time.monotonic()
    events0 = sum(r.events for r in readers)
    await asyncio.sleep(duration)
    cpu1, busy1, t1 = cpu_s(pid), machine_busy_s(), time.monotonic()
    events = sum(r.events for r in readers) - events0
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    window = t1 - t0
    return {
        "ms_per_token": (cpu1 - cpu0) / max(events, 1) * 1000,
        "cores": (cpu1 - cpu0) / window,
        "kept_up": events / (streams * rate * window),
        "machine_cores": (busy1 - busy0) / window,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", default="16,64", help="comma-separated stream counts (default 16,64)")
    parser.add_argument("--rate", type=float, default=200, help="tokens a second per stream (default 200)")
    parser.add_argument("--duration", type=float, default=5, help="the measured window, seconds (default 5)")
    parser.add_argument("--protocols", default="chat", help=f"comma-separated, of {', '.join(PROTOCOLS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, interleaved; medians shown")
    parser.add_argument("--base", type=Path, help="a tree whose sim runs interleaved with this one's")
    args = parser.parse_args()
    trees = {"this": HERE} | ({"base": args.base.resolve()} if args.base else {})
    print(f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.rate:g} tok/s a stream")
    print(table_head(["tree", "protocol", "streams", "sim ms/tok", "sim cores", "kept up", "machine cores"]))
    lines = []
    for name in args.protocols.split(","):
        protocol = PROTOCOLS[name]
        for streams in (int(n) for n in args.streams.split(",")):
            runs: dict[str, list[dict[str, float]]] = {tree: [] for tree in trees}
            for _ in range(args.repeat):
                for tree, path in trees.items():
                    result = measure(path, streams, args.rate, args.duration, protocol)
                    runs[tree].append(result)
                    print(
                        table_row(
                            [
                                tree,
                                name,
                                str(streams),
                                f"{result['ms_per_token']:.4f}",
                                f"{result['cores']:.2f}",
                                f"{result['kept_up']:.3f}",
                                f"{result['machine_cores']:.2f}",
                            ]
                        ),
                        flush=True,
                    )
            if args.base:
                ours = statistics.median(r["ms_per_token"] for r in runs["this"])
                theirs = statistics.median(r["ms_per_token"] for r in runs["base"])
                lines.append(
                    f"{name} x{streams}: sim ms/token {ours:.4f} vs {theirs:.4f} = {ratio(ours, theirs)}"
                )
    if lines:
        print("\nratios of medians, this tree over the base (below 1 means this tree is cheaper):")
        print("\n".join(f"  {line}" for line in lines))
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
