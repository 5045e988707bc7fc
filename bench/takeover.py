#!/usr/bin/env python3
"""How soon a dead worker's tickets are taken over while the fleet is busy, against the lease.

Not a test (nothing here runs in CI). On this one machine it starts a real `redis-server`, `--workers`
busy `lfg worker` processes and one spare (each `--slots` tickets at once, the sim in-process), and
`lfg run --broker --json` with `--tickets` slow tickets (default 128: every one pending at once, so
a takeover has that many live entries to look past). Once every ticket streams, it kills (SIGKILL)
the worker holding the youngest entries and times, for each of its tickets, until the run's NDJSON
line that starts the attempt taking it over: from the kill, and from the entry's last renewal (its
idle time on the broker just before the kill; a renewal in between makes that figure larger, never
smaller). The baseline is the lease itself (`--lease`): no takeover may come before the dead
worker's last renewal plus the lease, and one should come within a renewal interval (a quarter
lease) after that, so the figures are printed as ratios to the lease and the bound is `1.25` after
the last renewal. With `XAUTOCLAIM … COUNT 1` (lfg before issue #32) the tickets waited for ten
older entries to end, for as long as the run lasted.

    python bench/takeover.py                       # 4 busy workers x 32 slots + a spare, lease 3 s
    python bench/takeover.py --tickets 32 --slots 8 --lease 2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _figures import ratio
from broker import LFG, start_redis, wait_for_workers


def tickets(folder: Path, count: int) -> Path:
    """Tickets that stream slowly for far longer than a takeover takes."""
    model = "long-answer:tokens_per_s=4,ttft_ms=0,repeat=20"
    path = folder / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        + "".join(f'[[ticket]]\nid = "t{i:03d}"\nprompt = "go"\nmodel = "{model}"\n\n' for i in range(count))
    )
    return path


def held_ticket(redis: Any, entry: bytes) -> str:
    """The ticket of a work entry."""
    ((_, fields),) = redis.xrange("lfg:work:sim", entry, entry)
    return json.loads(fields[b"data"])["ticket"]["ticket"]


def follow(coordinator: subprocess.Popen[str], started: dict[tuple[str, int], float]) -> None:
    """Stamp (wall clock) when each attempt's start reached the run's NDJSON."""
    assert coordinator.stdout is not None
    for line in coordinator.stdout:
        event = json.loads(line)
        if event["type"] == "status" and "running on worker" in event.get("message", ""):
            started.setdefault((event["ticket"], event["attempt"]), time.time())


def bench(args: argparse.Namespace, folder: Path) -> int:
    config = folder / "config.toml"
    config.write_text(f"[broker]\nlease_s = {args.lease:g}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LFG_")}
    env |= {"XDG_CONFIG_HOME": str(folder / "config"), "XDG_DATA_HOME": str(folder / "data")}
    server, port, redis = start_redis(folder)
    url = f"redis://127.0.0.1:{port}"
    names = [f"w{n}" for n in range(args.workers)] + ["spare"]
    workers: dict[str, subprocess.Popen[bytes]] = {}
    coordinator = None
    try:
        for name in names[:-1]:
            workers[name] = worker(name, url, args, config, folder, env)
        wait_for_workers(redis, args.workers, list(workers.values()))
        run = [*LFG, "run", str(tickets(folder, args.tickets)), "--json", "--broker", url]
        coordinator = subprocess.Popen(
            [*run, "--config", str(config), "--max-concurrency", str(args.tickets)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(folder / "coordinator.log", "wb"),  # noqa: SIM115 (open while it runs)
            text=True,
        )
        started: dict[tuple[str, int], float] = {}
        threading.Thread(target=follow, args=(coordinator, started), daemon=True).start()
        deadline = time.monotonic() + 120
        while len(started) < args.tickets:
            if time.monotonic() > deadline or coordinator.poll() is not None:
                raise SystemExit(f"!! only {len(started)} of {args.tickets} tickets started")
            time.sleep(0.1)
        workers["spare"] = worker("spare", url, args, config, folder, env)
        wait_for_workers(redis, args.workers + 1, list(workers.values()))
        pending = redis.xpending_range("lfg:work:sim", "workers", "-", "+", args.tickets * 2)
        looked = time.time()
        youngest = max(pending, key=lambda p: tuple(map(int, p["message_id"].split(b"-"))))
        victim = youngest["consumer"].decode()
        renewed = {
            held_ticket(redis, p["message_id"]): looked - p["time_since_delivered"] / 1000
            for p in pending
            if p["consumer"].decode() == victim
        }
        held = set(renewed)
        before = {ticket for ticket, attempt in started if attempt > 1}
        workers[victim].send_signal(signal.SIGKILL)
        killed = time.time()
        deadline = time.monotonic() + args.lease * 10 + 60

        def taken_over() -> dict[str, float]:
            return {t: at for (t, attempt), at in list(started.items()) if t in held and at > killed}

        while len(taken_over()) < len(held):
            if time.monotonic() > deadline:
                raise SystemExit(f"!! only {len(taken_over())} of {len(held)} tickets taken over")
            time.sleep(0.05)
        over = taken_over()
        after = sorted(at - killed for at in over.values())
        since_renewal = sorted(at - renewed[ticket] for ticket, at in over.items())
    finally:
        if coordinator is not None:
            coordinator.kill()
        for process in workers.values():
            process.kill()
        server.kill()
    print(f"{len(pending)} entries pending; {victim} (killed) held {len(held)}, the youngest among them")
    print(f"taken over before the kill (a lease that lapsed on the loaded machine): {len(before)}")
    print(f"lease {args.lease:g} s; renewal every {args.lease / 4:g} s; baseline: the lease")
    for heading, figures in (("after the kill", after), ("after the entry's last renewal", since_renewal)):
        print(f"{heading:32}{'s':>8}{'x lease':>10}")
        for label, value in (
            ("  first taken over", figures[0]),
            ("  median", statistics.median(figures)),
            ("  last taken over", figures[-1]),
        ):
            print(f"{label:32}{value:8.2f}{ratio(value, args.lease):>10}")
    late = [a for a in since_renewal if a > args.lease * 1.25]
    print(f"past the last renewal + lease + one renewal interval (1.25 x lease): {len(late)} of {len(after)}")
    return 0


def worker(
    name: str, url: str, args: argparse.Namespace, config: Path, folder: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    command = ["worker", "--broker", url, "--name", name, "--root", str(folder)]
    return subprocess.Popen(
        [*LFG, *command, "--max-concurrency", str(args.slots), "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / f"{name}.log", "wb"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=128, help="slow tickets, all at once (default 128)")
    parser.add_argument("--workers", type=int, default=4, help="busy lfg workers (default 4), plus a spare")
    parser.add_argument("--slots", type=int, default=32, help="--max-concurrency of each worker (default 32)")
    parser.add_argument("--lease", type=float, default=3.0, help="[broker] lease_s (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lfg-takeover-") as folder:
        return bench(args, Path(folder))


if __name__ == "__main__":
    sys.exit(main())
