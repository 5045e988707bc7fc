#!/usr/bin/env python3
"""What serving a run to watchers costs the run: `lfg run --headless --serve` with N `lfg attach` clients.

Not a test (nothing here runs in CI). In one process and one event loop, as `lfg run --headless
--serve` has them, it runs `--tickets` tickets (default 16) of the sim's `long-answer` at `--rate`
tok/s each for about `--duration` seconds, on the built-in sim server started in the same loop, and
measures three configurations, alternating, `--rounds` times each:

- `base`: the run alone (no hub, no server);
- `hub+0`: the run with an `EventHub` sink and a `RunServer`, no watcher connected;
- `hub+N`: the same with `--clients` watchers (default 20), each the real client (`Attachment`:
  `describe`, then `follow`), every one connected before the run starts and following it to its end.
  By default the N clients run in one separate process (one event loop, N attachments) at nice 19:
  watchers run elsewhere, so only the server's cost should be in the run's loop, and at nice 19 the
  clients take a core only when the run does not want it. (They stay in the run's session: where
  Linux groups the scheduling of each session, the two share one fair share of the machine against
  everything else running, and a nice only ranks them within it. A session of their own at nice 19
  would starve them on a busy machine and keep the benchmark waiting.) `--nice 0` lets them compete
  with the run as equals, `--pin` puts the run on one core and the clients on the others,
  `--client-processes` shares them out; `--clients-in-process` puts them in the run's own loop
  instead, so that their reading and decoding counts against the run too.

Figures, per configuration (each from the run's start to its last ticket's end):

- loop lag: a task in the run's loop sleeps 5 ms over and over; how much longer each sleep took
  (p50/p95/p99/max): how long anything else in the loop (a token, an SSE write) had to wait;
- ev/s: events per second through the run's sinks; tokens: text chunks streamed (one per sim token);
- CPU util and CPU ms/tok: this process's CPU time (`time.process_time`) per second and per token.
  It includes the in-process sim's streaming (the same in every configuration), so a ratio
  understates the relative cost of serving: read the difference in us/token as what serving adds.
  A loop that runs late does more per wake-up (several tokens per read), so CPU per token can fall
  as lag rises: compare CPU only between runs of similar lag;
- no-core ms/s: how long per second the loop's thread was ready to run but had no core (Linux
  schedstat); machine CPU: cores busy, on the whole machine. When no-core is more than a few ms/s,
  the loop lag measures the machine's load (the clients, or anything else running), not lfg;
- for `hub+N`: client lag, from the event's making in the run to its delivery by a client's `follow`
  (both on `time.monotonic`, which all processes on one Linux machine share), p50/p95/max, which
  includes the hub's 50 ms batching (25 ms on average) and, at nice 19 on a busy machine, the wait of
  the clients' process for a core; log B/tok (`hub.total` / tokens: what each watcher is sent per
  token, N watchers are sent N times that), the log's size, and the clients' own CPU per token (all
  N together; with `--clients-in-process` it is inside CPU ms/tok instead);
- every client must get every event of the run exactly once (the same (ticket, attempt, seq) set as
  the run's sinks saw, no duplicates) and none may be dropped by the server: else this says so,
  loudly, and exits 1.

The closing lines give each configuration's medians over the rounds as ratios of `base`'s: lag p95
and p99, and CPU per token (1.00 = no change; above 1 = worse).

    python bench/serve.py                          # 16 tickets x 150 tok/s, 20 clients elsewhere
    python bench/serve.py --clients 50 --rounds 3
    python bench/serve.py --clients-in-process     # the clients in the run's own loop
    python bench/serve.py --pin --nice 0           # the clients on the other cores, as equals
    python bench/serve.py --tickets 32 --rate 200 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _figures import figure, median_of, ms, percentile, ratio, table_head, table_row
from _procfs import machine_busy_s, runqueue_s
from _serve_watchers import Watchers, check

LONG_ANSWER_TOKENS = 120  # roughly, per repeat of the long-answer scenario
TICK_S = 0.005
TTFT_MS = 100


class Ticker:
    """Sleeps `TICK_S` in the loop over and over and keeps how much each sleep overran."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(TICK_S)
            self.late.append(time.monotonic() - before - TICK_S)

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Counter:
    """The run's own sink: every event's key, and the text chunks among them."""

    def __init__(self) -> None:
        from lfgtui.events import TextDelta

        self.text_type = TextDelta
        self.keys: list[tuple[str, int, int]] = []
        self.tokens = 0

    def __call__(self, event: Any) -> None:
        self.keys.append((event.ticket, event.attempt, event.seq))
        if type(event) is self.text_type:
            self.tokens += 1


async def measure(
    mode: str, tickets: Any, providers: Any, args: argparse.Namespace, clients: int
) -> dict[str, Any]:
    """One run in configuration `mode` (base, hub); with `clients` watchers when there is a hub."""
    from lfgtui.run import Approvals, Run

    counter = Counter()
    run = Run(tickets, providers, Approvals(), [counter], max_concurrency=len(tickets))
    watchers = Watchers(args, clients)
    try:
        return await measured(mode, run, counter, tickets, args, clients, watchers)
    except BaseException:
        watchers.kill()
        raise


async def measured(
    mode: str,
    run: Any,
    counter: Counter,
    tickets: Any,
    args: argparse.Namespace,
    clients: int,
    watchers: Watchers,
) -> dict[str, Any]:
    """`measure`'s run, once made: its figures, and the clients' (see the module docstring)."""
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import Address, RunServer
    from lfgtui.remote.tokens import read_token

    hub = server = None
    if mode == "hub":
        hub = EventHub(run.clock)
        run.sinks.append(hub)
        token = read_token(None)
        server = RunServer(hub, run.run_id, tickets, token)
        url = await server.start(Address.parse("127.0.0.1:0"))
        if clients:
            await watchers.start(url, token, hub.t0)
            await watchers.connected(server)
    ticker = Ticker()
    ticker.start()
    await asyncio.sleep(0.05)  # the ticker's first sleeps, before the run
    wall0, cpu0, busy0, waited0 = time.monotonic(), time.process_time(), machine_busy_s(), runqueue_s()
    run.start()
    outcomes = await run.wait()
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    busy, waited = machine_busy_s() - busy0, runqueue_s() - waited0
    await ticker.stop()
    result: dict[str, Any] = {
        "mode": f"hub+{clients}" if hub is not None else "base",
        "failed": [t for t, o in outcomes.items() if o.value != "completed"],
        "wall_s": wall,
        "events": len(counter.keys),
        "tokens": counter.tokens,
        "ev_per_s": len(counter.keys) / wall,
        "cpu_ms_per_token": 1000 * cpu / max(1, counter.tokens),
        "cpu_util": cpu / wall,
        "runqueue_ms_per_s": 1000 * waited / wall,
        "machine_cpu": busy / wall,
        "lag_p50": percentile(ticker.late, 0.5),
        "lag_p95": percentile(ticker.late, 0.95),
        "lag_p99": percentile(ticker.late, 0.99),
        "lag_max": max(ticker.late, default=None),
    }
    if hub is not None and server is not None:
        hub.end()
        served = await watchers.done() if clients else None
        await server.aclose(grace_s=2.0)
        result |= {"log_bytes": hub.total, "messages": len(hub.messages), "dropped": server.dropped}
        result["log_bytes_per_token"] = hub.total / max(1, counter.tokens)
        if served is not None:
            result["problems"] = check(served, counter.keys, clients, server.dropped)
            lags = [us / 1e6 for us in served["lags_us"]]
            result["client_lag_p50"] = percentile(lags, 0.5)
            result["client_lag_p95"] = percentile(lags, 0.95)
            result["client_lag_max"] = max(lags, default=None)
            if not args.clients_in_process:
                result["client_cpu_ms_per_token"] = 1000 * served.get("cpu_s", 0.0) / max(1, counter.tokens)
    return result


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    from lfgtui.config.load import Config
    from lfgtui.providers.registry import Providers
    from lfgtui.sim.server import SimServer
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS

    repeat = int(args.rate * args.duration / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={args.rate:g},ttft_ms={TTFT_MS},repeat={repeat}"
    warm_model = "long-answer:ttft_ms=0,tokens_per_s=1000"
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "run.toml").write_text(
            '[defaults]\nprovider = "sim"\n\n'
            + "".join(
                f'[[ticket]]\nid = "t{i:02d}"\nprompt = "go"\nmodel = "{model}"\n\n'
                for i in range(args.tickets)
            )
        )
        (folder / "warm.toml").write_text(
            f'[[ticket]]\nid = "w"\nprovider = "sim"\nprompt = "go"\nmodel = "{warm_model}"\n'
        )
        tickets, warm = (
            load_tickets(folder / f"{n}.toml", Config(path=None), BUILTIN_TOOLS, env={}).tickets
            for n in ("run", "warm")
        )
    configs = [("base", 0), ("hub", 0), ("hub", args.clients)]
    results = []
    async with SimServer() as sim, Providers(sim=sim) as providers:
        await providers.get("sim")  # the SDK imported before anything is timed, as `lfg run` does
        await measure("hub", warm, providers, args, 0)  # first-use costs fall in a short warm-up run
        for number in range(1, args.rounds + 1):
            for mode, clients in configs:
                result = await measure(mode, tickets, providers, args, clients)
                result["round"] = number
                results.append(result)
                print(row(result), flush=True)
    return results


COLUMNS = [
    "config",
    "round",
    "wall s",
    "tokens",
    "ev/s",
    "lag p50 ms",
    "lag p95 ms",
    "lag p99 ms",
    "lag max ms",
    "CPU util",
    "CPU ms/tok",
    "no-core ms/s",
    "machine CPU",
    "client lag p50/p95/max ms",
    "client CPU ms/tok",
    "log B/tok",
    "log KiB",
]


def row(r: dict[str, Any]) -> str:
    client_lag = (
        f"{ms(r['client_lag_p50'], '.0f')}/{ms(r['client_lag_p95'], '.0f')}/{ms(r['client_lag_max'], '.0f')}"
        if r.get("client_lag_p50") is not None
        else "-"
    )
    cells = [
        r["mode"],
        str(r["round"]),
        f"{r['wall_s']:.2f}",
        str(r["tokens"]),
        f"{r['ev_per_s']:.0f}",
        ms(r["lag_p50"], ".2f"),
        ms(r["lag_p95"], ".2f"),
        ms(r["lag_p99"], ".2f"),
        ms(r["lag_max"], ".1f"),
        f"{r['cpu_util']:.2f}",
        f"{r['cpu_ms_per_token']:.3f}",
        f"{r['runqueue_ms_per_s']:.0f}",
        f"{r['machine_cpu']:.2f}",
        client_lag,
        figure(r.get("client_cpu_ms_per_token"), ".3f"),
        figure(r.get("log_bytes_per_token"), ".0f"),
        figure(r["log_bytes"] / 1024 if "log_bytes" in r else None, ".0f"),
    ]
    return table_row(cells)


def summary(runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> str:
    """A configuration's medians beside base's: lag p95 and p99, CPU per token and what it adds."""
    parts = []
    for key, name in (("lag_p95", "lag p95"), ("lag_p99", "lag p99")):
        ours, theirs = median_of(runs, key), median_of(base, key)
        parts.append(f"{name} {ms(ours, '.2f')} ms (x{ratio(ours, theirs)})")
    ours, theirs = median_of(runs, "cpu_ms_per_token"), median_of(base, "cpu_ms_per_token")
    added = "-" if ours is None or theirs is None else f"{1000 * (ours - theirs):+.0f} us/token"
    parts.append(f"CPU/token {figure(ours, '.3f')} ms (x{ratio(ours, theirs)}, {added})")
    return ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tickets", type=int, default=16, help="tickets in the run, all at once (default 16)"
    )
    parser.add_argument("--rate", type=float, default=150, help="tok/s of each ticket (default 150)")
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds each ticket streams, about (default 3)"
    )
    parser.add_argument("--clients", type=int, default=20, help="watchers of the served run (default 20)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs of each configuration, alternating (default 2)"
    )
    parser.add_argument(
        "--clients-in-process",
        action="store_true",
        help="run the clients in the run's own loop (default: in a separate process)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="processes the clients are shared out over, each one loop (default 1: all in one)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=19,
        help="niceness of the clients' processes (default 19: they get a core only when the run does not "
        "want it, as if they ran elsewhere; 0 lets them compete with the run as equals)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the run to one core and the clients' processes to the others (Linux, 2 cores or more)",
    )
    args = parser.parse_args()
    args.client_cpus = []
    where = f"in {args.client_processes} other process(es) at nice {args.nice}"
    if args.clients_in_process:
        where = "in the run's loop"
    elif args.pin:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            parser.error("--pin needs 2 cores or more")
        os.sched_setaffinity(0, {allowed[0]})
        args.client_cpus = allowed[1:]
        where += f", the run pinned to core {allowed[0]}, the clients to {args.client_cpus}"
    print(
        f"{args.tickets} tickets x {args.rate:g} tok/s for about {args.duration:g} s, sim in-process; "
        f"{args.clients} clients {where}; {args.rounds} round(s); {os.cpu_count()} cores"
    )
    print(table_head(COLUMNS))
    results = asyncio.run(bench(args))

    by_mode: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_mode.setdefault(result["mode"], []).append(result)
    base = by_mode["base"]
    print("\nmedians over the rounds, as ratios of base's (1.00 = no change, above 1 = worse):")
    for mode, runs in by_mode.items():
        print(f"  {mode:8} " + summary(runs, base))

    failed = False
    for result in results:
        label = f"{result['mode']} round {result['round']}"
        if result["failed"]:
            print(f"!! {label}: tickets that did not complete: {result['failed']}")
            failed = True
        for problem in result.get("problems", []):
            print(f"!! {label}: {problem}")
            failed = True
    if failed:
        print("!! FAILED: not every client got every event exactly once (see above)")
        return 1
    print(f"every client got every event of its run exactly once ({args.clients} x {args.rounds} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
