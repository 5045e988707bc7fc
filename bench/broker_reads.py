#!/usr/bin/env python3
"""What a watcher's read of a run's events on the broker costs (`BrokerAttachment.follow`, the read
path of `lfg attach`, the TUI's watchers and a coordinator's feed), this tree against others.

Not a test (nothing here runs in CI). On this one machine it starts a real `redis-server` on a free
loopback port and publishes one real run to it (`lfg run --publish`, `--tickets` sim tickets of the
long answer 40 times over at 200 tok/s), whose event stream's entries are the template. Then, for
each tree (this one, and each `--base DIR`), interleaved `--repeat` times, a fresh copy of that run
(its description under a new id) is followed to its end by a watcher in a process of its own that
imports the tree's lfgtui, in two ways:

- `live`: the bench writes the template's entries at `--rate` entries a second while the watcher
  follows (most reads wait, woken by one entry): what every watcher of a running run does;
- `catch-up`: every entry written before the watcher starts, so that it reads them 100 at a time:
  `lfg attach` to a run that went on for a while, a coordinator's feed after a stall.

Figures per entry read, and their ratio to the first tree's (the first `--base`, else this one):
the watcher's CPU (its `follow` alone, from `getrusage`), redis-server's time on the watcher's
commands (`INFO commandstats`: every command but the bench's own `XADD`s and `HSET`), the bytes
redis sent (`INFO stats` `total_net_output_bytes`: the watcher's replies, and the bench's `XADD`
ids, the same in every tree), and how many `XREAD`s and `XINFO STREAM`s the watcher asked (each
`XINFO STREAM` reply carries the stream's first and last entries). Every watcher must deliver the
same events, else the bench says so and exits 1.

    git worktree add /tmp/before main --detach
    python bench/broker_reads.py --base /tmp/before --repeat 5
    python bench/broker_reads.py --base /tmp/before --base /tmp/other --tickets 2 --rate 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _figures import ratio, table_head, table_row
from broker import LFG, start_redis

HERE = Path(__file__).resolve().parent.parent
RUN_ID = "0123456789"
FOLLOW = """
import asyncio, json, resource, sys
sys.path.insert(0, sys.argv[1])
from lfgtui.broker.watch import BrokerAttachment
from lfgtui.config.broker import BrokerSettings, resolve

async def main():
    attachment = BrokerAttachment(resolve(sys.argv[2], {}, BrokerSettings()), sys.argv[3])
    await attachment.describe()
    print("ready", flush=True)
    events = 0
    def deliver(_):
        nonlocal events
        events += 1
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        await attachment.follow(deliver, lambda _: None)
    finally:
        await attachment.aclose()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"cpu_s": cpu, "events": events}), flush=True)

asyncio.run(main())
"""
BENCH_COMMANDS = {"cmdstat_xadd", "cmdstat_hset", "cmdstat_config|resetstat", "cmdstat_info"}


def template(redis: Any, port: int, folder: Path, tickets: int) -> tuple[bytes, list[dict[bytes, bytes]]]:
    """A real run published to the broker: its description and its event stream's entries."""
    path = folder / "tickets.toml"
    path.write_text(
        "".join(
            f'[[ticket]]\nid = "t{n:02}"\nprompt = "go"\nprovider = "sim"\n'
            'model = "long-answer:tokens_per_s=200,repeat=40"\n'
            for n in range(tickets)
        )
    )
    (folder / "config.toml").write_text("")
    where = ["--config", str(folder / "config.toml"), "--db", str(folder / "history.db")]
    done = subprocess.run(
        [*LFG, "run", str(path), "--json", "--publish", f"redis://127.0.0.1:{port}", *where],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise SystemExit(f"lfg run --publish failed: {done.stderr[-2000:]}")
    (run,) = [key for key in redis.scan_iter("lfg:run:*") if key.count(b":") == 2]
    run_id = run.decode().rpartition(":")[2]
    description = redis.hget(run, "run").replace(run_id.encode(), RUN_ID.encode())
    return description, [fields for _, fields in redis.xrange(f"lfg:run:{run_id}:events")]


def follow(
    tree: Path, redis: Any, port: int, description: bytes, entries: list[dict[bytes, bytes]], live: float
) -> dict[str, float]:
    """One watcher of `tree` follows a fresh copy of the run to its end; `live`: entries a second
    written as it follows (0: all before it starts)."""
    run_id = f"{RUN_ID}{time.monotonic_ns() % 10**6:06}"
    key = f"lfg:run:{run_id}:events"
    redis.hset(f"lfg:run:{run_id}", "run", description.replace(RUN_ID.encode(), run_id.encode()))
    if not live:
        for fields in entries:
            redis.xadd(key, fields)
    redis.config_resetstat()
    watcher = subprocess.Popen(
        [sys.executable, "-c", FOLLOW, str(tree), f"redis://127.0.0.1:{port}", run_id],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tree,
    )
    assert watcher.stdout is not None
    if watcher.stdout.readline().strip() != "ready":
        raise SystemExit(f"the watcher of {tree} did not start")
    start = time.monotonic()
    for at, fields in enumerate(entries if live else ()):
        time.sleep(max(0.0, start + at / live - time.monotonic()))
        redis.xadd(key, fields)
    result = json.loads(watcher.stdout.readline())
    watcher.wait(60)
    stats = redis.info("commandstats")
    reads = {name: stat for name, stat in stats.items() if name not in BENCH_COMMANDS}
    redis.delete(key, f"lfg:run:{run_id}")
    n = len(entries)
    return {
        "cpu_us": result["cpu_s"] / n * 1e6,
        "redis_us": sum(stat["usec"] for stat in reads.values()) / n,
        "bytes": redis.info("stats")["total_net_output_bytes"] / n,
        "xinfo": stats.get("cmdstat_xinfo|stream", {}).get("calls", 0),
        "reads": stats.get("cmdstat_xread", {}).get("calls", 0),
        "events": result["events"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", action="append", default=[], type=Path, help="another tree (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tickets", type=int, default=4)
    parser.add_argument("--rate", type=float, default=200.0, help="live: entries written a second")
    args = parser.parse_args()
    trees = [*(base.resolve() for base in args.base), HERE]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        server, port, redis = start_redis(folder)
        try:
            description, entries = template(redis, port, folder, args.tickets)
            sizes = [sum(len(k) + len(v) for k, v in fields.items()) for fields in entries]
            print(
                f"{len(entries)} entries of a real run (--tickets {args.tickets}), "
                f"{statistics.mean(sizes):.0f} bytes each on average, largest {max(sizes)}; "
                f"{args.repeat} interleaved repeats, medians, ratios to {trees[0]}"
            )
            for mode, live in (("live", args.rate), ("catch-up", 0.0)):
                got: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
                for _ in range(args.repeat):
                    for tree in trees:
                        got[tree].append(follow(tree, redis, port, description, entries, live))
                if len({r["events"] for runs in got.values() for r in runs}) != 1:
                    raise SystemExit(f"{mode}: the watchers delivered different events: {got}")
                print(f"\n{mode}" + (f" ({live:g} entries/s)" if live else "") + "\n")
                columns = [
                    "tree",
                    "watcher CPU µs/entry",
                    "redis µs/entry",
                    "bytes out/entry",
                    "XREADs",
                    "XINFOs",
                ]
                print(table_head(columns))
                base = {name: statistics.median(r[name] for r in got[trees[0]]) for name in got[trees[0]][0]}
                for tree in trees:
                    med = {name: statistics.median(r[name] for r in got[tree]) for name in got[tree][0]}
                    print(
                        table_row(
                            [
                                "this" if tree == HERE else str(tree),
                                f"{med['cpu_us']:.1f} ({ratio(med['cpu_us'], base['cpu_us'])})",
                                f"{med['redis_us']:.2f} ({ratio(med['redis_us'], base['redis_us'])})",
                                f"{med['bytes']:.0f} ({ratio(med['bytes'], base['bytes'])})",
                                f"{med['reads']:.0f}",
                                f"{med['xinfo']:.0f}",
                            ]
                        )
                    )
        finally:
            redis.close()
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
