"""Load: many tickets at once against the sim, through the real `lfg run --headless --json`.

Not a test (nothing here runs in CI; tests/hardening/test_load.py checks completion and history
without timing). It runs `--tickets` tickets (default 64) with `max_concurrency` equal to their number,
each streaming `--tokens` tokens at `--rate` tok/s after `--ttft-ms`, records them in a fresh history
file, and prints:

- whether every ticket completed, and whether the history holds every ticket with every token;
- how many retried (none should: a ticket waiting for a connection is queued, never timed out);
- the run's span (first start to last end) against its longest ticket's own time (issue #56: within
  10 % at 1,000 tickets x 20 tok/s);
- wall time, the child's CPU time and its peak memory (max RSS, from `getrusage(RUSAGE_CHILDREN)`);
- TTFT p50/p95 as measured by lfg, the sim's scheduled TTFT beside it, and tok/s per ticket p50/p5
  (a ticket falling behind the scheduled rate shows in p5) and in aggregate.

Run: `python bench/load.py`, or e.g. `python bench/load.py --tickets 128 --rate 100`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _figures import percentile


def setup(folder: Path, args: argparse.Namespace) -> tuple[Path, Path, dict[str, str]]:
    scenarios = folder / "config" / "lfgtui" / "scenarios"
    scenarios.mkdir(parents=True)
    words = " ".join(f"word{i}" for i in range(args.tokens))
    (scenarios / "load.toml").write_text(
        f'ttft_ms = {args.ttft_ms}\ntokens_per_s = {args.rate}\n[[call]]\ntext = "{words}"\n'
    )
    tickets = folder / "tickets.toml"
    tickets.write_text(
        "".join(
            f'[[ticket]]\nid = "t{i:03d}"\nprompt = "go"\nprovider = "sim"\nmodel = "load"\n\n'
            for i in range(args.tickets)
        )
    )
    config = folder / "config.toml"
    config.write_text(f"[run]\nmax_concurrency = {args.tickets}\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")}
    env |= {"XDG_CONFIG_HOME": str(folder / "config"), "XDG_DATA_HOME": str(folder / "data")}
    return tickets, config, env


def history_check(db: Path, events: list[dict[str, Any]]) -> tuple[int, bool]:
    """Tickets recorded as completed, and whether each one's recorded text is what was printed."""
    printed: dict[str, str] = {}
    for event in events:
        if event["type"] == "text":
            printed[event["ticket"]] = printed.get(event["ticket"], "") + event["text"]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT t.ticket, a.outcome, p.text FROM attempts a JOIN tickets t ON t.id = a.ticket_id "
            "LEFT JOIN parts p ON p.attempt_id = a.id AND p.kind = 'text' ORDER BY p.seq"
        ).fetchall()
    recorded: dict[str, str] = {}
    completed = set()
    for ticket, outcome, text in rows:
        recorded[ticket] = recorded.get(ticket, "") + (text or "")
        if outcome == "completed":
            completed.add(ticket)
    return len(completed), recorded == printed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=400, help="tokens per answer")
    parser.add_argument("--rate", type=float, default=50.0, help="tok/s per ticket")
    parser.add_argument("--ttft-ms", type=float, default=300.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tickets, config, env = setup(folder, args)
        db = folder / "history.sqlite3"
        command = [sys.executable, "-m", "lfgtui", "run", str(tickets), "--json", "--config", str(config)]
        started = time.monotonic()
        done = subprocess.run(
            [*command, "--db", str(db)], env=env, capture_output=True, text=True, check=False
        )
        wall = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        events = [json.loads(line) for line in done.stdout.splitlines()]
        endings = [e for e in events if e["type"] == "attempt_ended"]
        completed = sum(1 for e in endings if e["outcome"] == "completed")
        in_history, every_token = history_check(db, events)
        ttfts = [e["ttft_ms"] for e in endings if e["ttft_ms"] is not None]
        rates = [e["tokens_per_s"] for e in endings if e["tokens_per_s"] is not None]
        tokens = sum(e["output_tokens"] or 0 for e in endings)
        retries = [e["message"] for e in events if e["type"] == "status" and "retrying" in e["message"]]
        retried = len(retries)
        starts = {e["ticket"]: e["t"] for e in events if e["type"] == "attempt_started"}
        longest = max((e["t"] - starts[e["ticket"]] for e in endings if e["ticket"] in starts), default=0.0)
        span = max((e["t"] for e in endings), default=0.0) - min(starts.values(), default=0.0)

    print(f"lfg run: {args.tickets} tickets at once, {args.tokens} tokens each at {args.rate:g} tok/s")
    print(f"  exit code            {done.returncode}")
    print(f"  completed            {completed}/{args.tickets}")
    print(f"  in the history       {in_history}/{args.tickets}, every printed token recorded: {every_token}")
    scheduled = args.ttft_ms / 1000 + args.tokens / args.rate
    print(f"  wall time            {wall:.2f} s (one stream as scheduled: {scheduled:.2f} s)")
    print(f"  retried              {retried} (statuses saying `retrying`: none should, for want of a socket)")
    for why, count in collections.Counter(m.partition(";")[0] for m in retries).most_common(3):
        print(f"    {count} x {why}")
    print(
        f"  run span             {span:.2f} s, first start to last end; the longest ticket's own"
        f" {longest:.2f} s ({span / longest if longest else 0:.2f} x)"
    )
    print(f"  CPU time             {usage.ru_utime + usage.ru_stime:.2f} s")
    print(f"  peak memory (RSS)    {usage.ru_maxrss / 1024:.1f} MiB")
    if ttfts:
        p50, p95 = statistics.median(ttfts), percentile(ttfts, 0.95)
        print(f"  TTFT                 p50 {p50:.0f} ms, p95 {p95:.0f} ms (sim: {args.ttft_ms:g} ms)")
    if rates:
        print(f"  tok/s per ticket     p50 {statistics.median(rates):.1f}, p5 {percentile(rates, 0.05):.1f}")
    print(f"  aggregate            {tokens / wall:.0f} tok/s over the whole run ({tokens} tokens)")
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
