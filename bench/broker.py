#!/usr/bin/env python3
"""What running a run's tickets on workers through a Redis broker costs, against running them here.

Not a test (nothing here runs in CI). On this one machine it starts a real `redis-server` on a free
loopback port, a standalone sim server (`lfg sim serve`, so that the model's streaming is counted in
no lfg process), and `--workers` `lfg worker` processes (default 4, each `--max-concurrency`
tickets / workers). After a short warm-up run through the broker (each worker's first ticket loads
the SDK), it runs the same `--tickets` tickets (default 64) of `--rate` tok/s each (default 200, for
about `--duration` s) twice, all at once, each time a fresh `lfg run --json` with its own history:

- `local`: `lfg run FILE --json`, the tickets streaming in the run's own process: the baseline;
- `broker`: `lfg run FILE --broker URL --json`, the coordinator: every ticket goes on the work
  stream, a worker runs it and publishes its events to the run's event stream, and the coordinator
  reads them back, records them and prints them.

The bench reads each run's NDJSON as it comes and stamps every read with the wall clock, which every
process of one machine shares. Figures:

- lag, per token (text event), from when it was made to when the run printed it. `local`: the run
  prints an event as it makes it, so this is the pipe and the bench's read; the run's clock start
  is taken from the smallest (read - `t`) of all its tokens, so its lag is under-read by that
  smallest one (tens of µs). `broker`: after the run the bench reads the whole event stream back
  (`XRANGE`): each entry holds its publisher's `now` and its events' `t` (both on the worker's
  monotonic clock, from the publisher's start) and its id is when redis took it (wall clock, ms).
  A publisher's start on the wall clock is the smallest (id - `now`) over its entries, so a token
  was made at start + `t`; this under-reads by the quickest hand-over of any of its entries to redis
  (one round trip: under a ms while the worker has a core, more on a machine with none to spare)
  and the ids' truncation to the ms over-reads by up to 1 ms.
  The broker's lag is split into: batching (`now` - `t` on the worker: the publisher's 50 ms),
  to redis (id - made - batching: the worker's queue and round trip) and out (read - id: the
  coordinator's `XREAD`, decoding, history and printing, and the pipe). The coordinator's printed
  text must be the workers' published text, token for token, else the bench says so and exits 1;
- behind the sim: a token is made when the process reads it from the sim, so the lag leaves out
  the tokens a process too busy to read them leaves waiting in its socket. Per ticket, how much
  longer than the sim's pace (`--rate`) its tokens took to be printed, first to last, shows that
  (p50 and max over the tickets; the sim's own delays included; ± one 50 ms batch for `broker`);
- CPU per token over the streaming window (from the first sample of /proc after the first token to
  the last before the last token, sampled every 0.1 s): the run's process (local, or the
  coordinator, their ratio), the workers' together, redis-server's and the sim's; machine CPU is
  every core's busy time in the window (of `nproc`), whoever used it;
- through the broker: entries, events and their bytes per second (the stream read back, over the
  window between its first and last entry), redis's network bytes in and out and commands per
  second (`INFO stats`, over the CPU window), redis-server's CPU per entry (the entries it took in
  the CPU window), and redis's memory (`INFO memory`: used and RSS)
  before the run, at its peak (sampled every 0.1 s) and at its end, with the event stream's own
  size (`MEMORY USAGE`) per entry and per event.

    python bench/broker.py                         # 64 tickets x 200 tok/s on 4 workers
    python bench/broker.py --tickets 16 --rate 50 --workers 2 --duration 5
    python bench/broker.py --quick                 # 8 x 50 tok/s on 2 workers for 2 s: does it run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from _figures import ms, percentile, ratio, table_head, table_row
from _procfs import cpu_s, machine_busy_s
from _render_lfg import LONG_ANSWER_TOKENS, free_port

TTFT_MS = 100
SAMPLE_S = 0.1
READY_S = 20.0
LFG = [sys.executable, "-m", "lfgtui"]
COLUMNS = [
    "run",
    "tokens",
    "lag p50/p95/p99/max ms",
    "behind the sim p50/max s",
    "CPU us/token",
    "CPU s (whole run)",
    "no-core ms/s",
    "machine CPU",
]


@dataclass
class Sample:
    wall: float
    cpu: dict[str, float]
    """CPU seconds so far of each role's processes, summed."""
    waited: dict[str, float]
    """Seconds so far each role's main threads (their event loops) were ready to run but had no core."""
    busy: float
    info: dict[str, Any]
    """redis's INFO memory and stats, or {} without a broker."""


class Sampler:
    """Every `SAMPLE_S`, in a thread: the roles' CPU from /proc, the machine's, redis's INFO."""

    def __init__(self, roles: dict[str, list[int]], redis: Any) -> None:
        self.roles = roles
        self.redis = redis
        self.rows: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            cpu = {role: sum(_cpu(pid) for pid in pids) for role, pids in self.roles.items()}
            waited = {role: sum(_waited(pid) for pid in pids) for role, pids in self.roles.items()}
            info = self.redis.info("all") if self.redis is not None else {}
            self.rows.append(Sample(time.time(), cpu, waited, machine_busy_s(), info))


def _cpu(pid: int) -> float:
    try:
        return cpu_s(pid)
    except OSError:
        return 0.0  # exited: only the window's samples count, and the run is alive through it


def _waited(pid: int) -> float:
    """How long a process's main thread has waited for a core while ready to run (Linux schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class Stamped:
    """A process whose stdout the bench reads in a thread, each read stamped with the wall clock."""

    def __init__(self, command: list[str], env: dict[str, str], stderr: IO[bytes]) -> None:
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr)
        self.lines: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd, rest = self.process.stdout.fileno(), b""
        while chunk := os.read(fd, 1 << 16):
            seen = time.time()
            *whole, rest = (rest + chunk).split(b"\n")
            self.lines += [(seen, line) for line in whole]

    def wait(self) -> tuple[int, float]:
        """Its exit code and all the CPU it used (its own rusage: start-up included)."""
        self._thread.join()
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return self.process.returncode, usage.ru_utime + usage.ru_stime


@dataclass
class Phase:
    """One run of the tickets and what was measured around it."""

    name: str
    code: int
    total_cpu_s: float
    lines: list[tuple[float, dict[str, Any]]]
    rows: list[Sample]
    outcomes: dict[str, str] = field(default_factory=dict)
    texts: dict[tuple[str, int], list[tuple[float, float, str]]] = field(default_factory=dict)
    """Per attempt, its tokens in order: (read, `t`, text)."""

    def __post_init__(self) -> None:
        for seen, line in self.lines:
            if line["type"] == "text":
                self.texts.setdefault((line["ticket"], line["attempt"]), []).append(
                    (seen, line["t"], line["text"])
                )
            elif line["type"] == "attempt_ended":
                self.outcomes[line["ticket"]] = line["outcome"]

    @property
    def tokens(self) -> list[float]:
        return sorted(seen for tokens in self.texts.values() for seen, _, _ in tokens)

    def said(self) -> str:
        seen = self.tokens
        return f"{self.name}: {len(seen)} tokens read over {seen[-1] - seen[0]:.1f} s" if seen else self.name

    def window(self) -> tuple[Sample, Sample, int]:
        """The samples bounding the streaming, and the tokens read between them."""
        seen = self.tokens
        inside = [row for row in self.rows if seen[0] <= row.wall <= seen[-1]]
        if len(inside) < 2:
            raise SystemExit(
                f"!! {self.name}: the streaming was too short to sample: give a longer --duration"
            )
        first, last = inside[0], inside[-1]
        return first, last, sum(1 for s in seen if first.wall < s <= last.wall)

    def behind(self, rate: float) -> list[float]:
        """Per attempt, how much longer than the sim's pace its tokens took to be read, first to last:
        what the lag leaves out, the tokens a busy process had not read yet (the sim's own delays in)."""
        return [tokens[-1][0] - tokens[0][0] - (len(tokens) - 1) / rate for tokens in self.texts.values()]

    def no_core_ms_per_s(self, role: str) -> float:
        first, last, _ = self.window()
        return 1000 * (last.waited[role] - first.waited[role]) / (last.wall - first.wall)

    def cpu_us_per_token(self, role: str) -> float:
        first, last, tokens = self.window()
        return 1e6 * (last.cpu[role] - first.cpu[role]) / max(1, tokens)


def run_phase(
    name: str, command: list[str], env: dict[str, str], roles: dict[str, list[int]], redis: Any, folder: Path
) -> Phase:
    with open(folder / f"{name}.stderr", "wb") as stderr:
        run = Stamped(command, env, stderr)
        sampler = Sampler({"run": [run.process.pid], **roles}, redis)
        sampler.start()
        try:
            code, total = run.wait()
        finally:
            sampler.stop()
    lines = [(seen, json.loads(line)) for seen, line in run.lines if line.strip()]
    phase = Phase(name, code, total, lines, sampler.rows)
    if code != 0:
        print(f"!! {name}: lfg run exited {code}: {(folder / f'{name}.stderr').read_text()[-1500:]}")
    return phase


def local_lags(phase: Phase) -> list[float]:
    """Read - made for every token of a run that prints as it makes (see the module docstring)."""
    tokens = [(seen, t) for attempt in phase.texts.values() for seen, t, _ in attempt]
    t0 = min(seen - t for seen, t in tokens)
    return [seen - t0 - t for seen, t in tokens]


@dataclass
class Published:
    """The run's event stream as read back: per attempt its tokens, and the stream's size."""

    tokens: dict[tuple[str, int], list[tuple[float, float, float, str]]]
    """Per attempt, in order: (made, batched, taken by redis), all wall clock, and the text."""
    entries: int
    events: int
    bytes: int
    first: float
    last: float
    taken: list[float]
    """When redis took each entry (wall clock, from its id)."""


def read_stream(redis: Any, key: str) -> Published:
    entries = redis.xrange(key)
    starts: dict[str, float] = {}
    seen_numbers: set[str] = set()
    decoded = []
    size = 0
    for entry_id, fields in entries:
        size += sum(len(k) + len(v) for k, v in fields.items())
        number = fields[b"n"].decode()
        if fields[b"kind"] != b"events" or number in seen_numbers:
            continue
        seen_numbers.add(number)
        taken = int(entry_id.decode().partition("-")[0]) / 1000
        data = json.loads(fields[b"data"])
        instance = number.partition(".")[0]
        starts[instance] = min(starts.get(instance, math.inf), taken - data["now"])
        decoded.append((instance, taken, data))
    tokens: dict[tuple[str, int], list[tuple[float, float, float, str]]] = defaultdict(list)
    events = 0
    for instance, taken, data in decoded:
        start = starts[instance]
        events += len(data["events"])
        for event in data["events"]:
            if event["type"] == "text_delta":
                made = start + event["t"]
                tokens[(event["ticket"], event["attempt"])].append(
                    (made, start + data["now"], taken, event["text"])
                )
    ids = [int(entry_id.decode().partition("-")[0]) / 1000 for entry_id, _ in entries]
    return Published(dict(tokens), len(entries), events, size, min(ids), max(ids), ids)


@dataclass
class HopLags:
    total: list[float] = field(default_factory=list)
    batching: list[float] = field(default_factory=list)
    to_redis: list[float] = field(default_factory=list)
    out: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def broker_lags(phase: Phase, published: Published) -> HopLags:
    """Each token the coordinator printed, matched to the one a worker published (see the docstring)."""
    lags = HopLags()
    for attempt, printed in phase.texts.items():
        made = published.tokens.get(attempt, [])
        if [text for _, _, text in printed] != [text for *_, text in made]:
            lags.problems.append(f"{attempt}: printed {len(printed)} tokens, the stream holds {len(made)}")
            continue
        for (seen, _, _), (at, batched, taken, _) in zip(printed, made, strict=True):
            lags.total.append(seen - at)
            lags.batching.append(batched - at)
            lags.to_redis.append(taken - batched)
            lags.out.append(seen - taken)
    return lags


def spread(values: list[float]) -> str:
    return (
        "/".join(ms(percentile(values, p), ".1f") for p in (0.5, 0.95, 0.99)) + f"/{ms(max(values), '.1f')}"
    )


def setup(folder: Path, args: argparse.Namespace, sim_port: int) -> tuple[Path, Path, Path]:
    """The tickets, a short warm-up's and the config (the sim as provider `bench`)."""
    repeat = int(args.rate * args.duration / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={args.rate:g},ttft_ms={TTFT_MS},repeat={repeat}"

    def tickets(path: Path, count: int, model: str) -> Path:
        path.write_text(
            '[defaults]\nprovider = "bench"\n\n'
            + "".join(
                f'[[ticket]]\nid = "t{i:03d}"\nprompt = "go"\nmodel = "{model}"\n\n' for i in range(count)
            )
        )
        return path

    run = tickets(folder / "tickets.toml", args.tickets, model)
    warm = tickets(folder / "warm.toml", 2 * args.workers, "long-answer:tokens_per_s=1000,ttft_ms=0")
    config = folder / "config.toml"
    config.write_text(
        f'[providers.bench]\nkind = "openai"\nbase_url = "http://127.0.0.1:{sim_port}/v1"\n'
        "idle_timeout_s = 30\n"
    )
    return run, warm, config


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int, Any]:
    """redis-server on a free loopback port, without persistence, and a client of it."""
    import redis

    program = shutil.which("redis-server")
    if program is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    for _ in range(5):
        port = free_port()
        args = ["--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", ""]
        server = subprocess.Popen(
            [program, *args, "--appendonly", "no", "--logfile", str(folder / "redis.log")]
        )
        client = redis.Redis(port=port)
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline and server.poll() is None:
            try:
                client.ping()
                return server, port, client
            except redis.ConnectionError:
                time.sleep(0.05)
        server.kill()
        server.wait()
    raise SystemExit(f"redis-server did not start: {(folder / 'redis.log').read_text()[-1000:]}")


def start_sim(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    sim = subprocess.Popen(
        [*LFG, "sim", "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert sim.stdout is not None
    sim.stdout.readline()  # it says where it listens once it does
    return sim, port


def wait_for_workers(redis: Any, count: int, workers: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + READY_S
    while redis.zcount("lfg:workers", time.time(), "+inf") < count:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit(
                "!! the workers did not come up on the broker (see their stderr in the run's folder)"
            )
        time.sleep(0.1)


def report(
    args: argparse.Namespace,
    local: Phase,
    broker: Phase,
    published: Published,
    memory: dict[str, Any],
    lags: HopLags,
    took: list[int],
) -> None:
    local_lag = local_lags(local)
    print("\n" + table_head(COLUMNS))
    for phase, lag in ((local, local_lag), (broker, lags.total)):
        behind = phase.behind(args.rate)
        first, last, _ = phase.window()
        busy = (last.busy - first.busy) / (last.wall - first.wall)
        cells = [
            phase.name,
            str(len(phase.tokens)),
            spread(lag),
            "/".join(f"{value:.2f}" for value in (statistics.median(behind), max(behind))),
            f"{phase.cpu_us_per_token('run'):.0f}",
            f"{phase.total_cpu_s:.1f}",
            f"{phase.no_core_ms_per_s('run'):.0f}",
            f"{busy:.2f} of {os.cpu_count()}",
        ]
        print(table_row(cells))
    print(f"\nthe broker's lag split, p50/p95/p99/max ms: batching on the worker {spread(lags.batching)}")
    print(f"  to redis {spread(lags.to_redis)}; out through the coordinator {spread(lags.out)}")
    coordinator, here = broker.cpu_us_per_token("run"), local.cpu_us_per_token("run")
    print(
        f"CPU per token: coordinator {coordinator:.0f} us, local {here:.0f} us: x{ratio(coordinator, here)}"
    )
    workers, redis, sim = (broker.cpu_us_per_token(role) for role in ("workers", "redis", "sim"))
    print(
        f"  workers together {workers:.0f} us ({args.workers} processes, no core "
        f"{broker.no_core_ms_per_s('workers') / args.workers:.0f} ms/s each), redis-server {redis:.1f} us; "
        f"the sim {sim:.0f} us (local run: {local.cpu_us_per_token('sim'):.0f} us)"
    )
    window = published.last - published.first
    first, last, _ = broker.window()

    def rate(key: str) -> float:
        return (last.info[key] - first.info[key]) / (last.wall - first.wall)

    events = max(1, published.events)
    print(
        f"through the broker: {published.entries / window:.0f} entries/s, {published.events / window:.0f} "
        f"events/s ({published.events / max(1, published.entries):.1f} a entry), "
        f"{published.bytes / window / 1e6:.2f} MB/s of entries ({published.bytes / events:.0f} B/event)"
    )
    net_in, net_out = rate("total_net_input_bytes") / 1e6, rate("total_net_output_bytes") / 1e6
    commands = rate("total_commands_processed")
    print(f"  redis's network: in {net_in:.2f} MB/s, out {net_out:.2f} MB/s; {commands:.0f} commands/s")
    entries = sum(1 for at in published.taken if first.wall < at <= last.wall)
    per_entry = 1e6 * (last.cpu["redis"] - first.cpu["redis"]) / max(1, entries)
    print(f"  redis-server's CPU per entry: {per_entry:.0f} us ({entries} entries in the CPU window)")
    mib = 1 << 20
    before, end = (f"{m['used_memory'] / mib:.1f} / {m['used_memory_rss'] / mib:.1f}" for m in memory["at"])
    sampled = [row.info for row in broker.rows] + [memory["at"][1]]
    peak = max(info["used_memory"] for info in sampled) / mib
    peak_rss = max(info["used_memory_rss"] for info in sampled) / mib
    print(f"redis memory, used / RSS MiB: before {before}, peak {peak:.1f} / {peak_rss:.1f}, end {end}")
    stream = memory["stream"]
    print(
        f"  the run's event stream: {stream / mib:.1f} MiB for {published.entries} entries of "
        f"{published.events} events ({stream / max(1, published.entries):.0f} B/entry, "
        f"{stream / events:.0f} B/event)"
    )
    print(f"tickets taken per worker: {_per_worker(took)}; load average now {os.getloadavg()[0]:.2f}")


def bench(args: argparse.Namespace, folder: Path) -> int:
    redis_server, port, redis = start_redis(folder)
    url = f"redis://127.0.0.1:{port}"
    processes: list[subprocess.Popen[Any]] = [redis_server]
    try:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")}
        for name in ("CONFIG", "DATA", "STATE"):
            env[f"XDG_{name}_HOME"] = str(folder / name.lower())
        sim, sim_port = start_sim(env)
        processes.append(sim)
        tickets, warm, config = setup(folder, args, sim_port)
        per_worker = math.ceil(args.tickets / args.workers)
        workers = []
        for n in range(args.workers):
            command = [
                *LFG,
                "worker",
                "--broker",
                url,
                "--max-concurrency",
                str(per_worker),
                "--name",
                f"w{n}",
                "--root",
                str(folder),
                "--config",
                str(config),
            ]
            with open(folder / f"w{n}.stderr", "wb") as stderr:
                workers.append(subprocess.Popen(command, env=env, stderr=stderr))
        processes += workers
        wait_for_workers(redis, args.workers, workers)
        roles = {"workers": [w.pid for w in workers], "redis": [redis_server.pid], "sim": [sim.pid]}
        run = [*LFG, "run", "--json", "--config", str(config), "--max-concurrency", str(args.tickets)]
        warmed = run_phase(
            "warm-up", [*run, str(warm), "--broker", url, "--no-history"], env, roles, redis, folder
        )
        if warmed.code != 0:
            return 1
        warm_took = [_took((folder / f"w{n}.stderr").read_text()) for n in range(args.workers)]
        print(
            f"warm-up: {len(warmed.outcomes)} tickets, taken per worker {_per_worker(warm_took)}", flush=True
        )
        if 0 in warm_took:
            print(
                "!! a worker took no warm-up ticket: its first-use costs (the SDK's import) fall in the run"
            )
        local = run_phase(
            "local", [*run, str(tickets), "--db", str(folder / "local.sqlite3")], env, roles, None, folder
        )
        print(local.said(), flush=True)
        before = redis.info("memory")
        broker = run_phase(
            "broker",
            [*run, str(tickets), "--broker", url, "--db", str(folder / "broker.sqlite3")],
            env,
            roles,
            redis,
            folder,
        )
        print(broker.said(), flush=True)
        if broker.code != 0 or local.code != 0:
            return 1
        key = max(redis.scan_iter("lfg:run:*:events"), key=redis.xlen).decode()  # not the warm-up's
        run_id = key.split(":")[2]
        memory = {"at": (before, redis.info("memory")), "stream": redis.memory_usage(key, samples=0)}
        published = read_stream(redis, key)  # after the memory: the reply takes some
        lags = broker_lags(broker, published)
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    took = [_took((folder / f"w{n}.stderr").read_text(), run_id) for n in range(args.workers)]
    report(args, local, broker, published, memory, lags, took)
    return check(args, local, broker, lags)


def _took(log: str, run_id: str = "") -> int:
    """The tickets a worker took (of run `run_id`, if given), from its log."""
    return sum(1 for line in log.splitlines() if " took " in line and f" of run {run_id}" in line)


def _per_worker(counts: list[int]) -> str:
    return "/".join(map(str, counts))


def check(args: argparse.Namespace, local: Phase, broker: Phase, lags: HopLags) -> int:
    """Every ticket completed in both runs, with the same tokens, and the coordinator printed what the
    workers published."""
    problems = list(lags.problems)
    for phase in (local, broker):
        failed = sorted(t for t, outcome in phase.outcomes.items() if outcome != "completed")
        if failed or len(phase.outcomes) != args.tickets:
            problems.append(f"{phase.name}: {len(phase.outcomes)} tickets ended, not completed: {failed}")
    if len(local.tokens) != len(broker.tokens):
        problems.append(f"local printed {len(local.tokens)} tokens, the coordinator {len(broker.tokens)}")
    for problem in problems:
        print(f"!! {problem}")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tickets", type=int, default=64, help="tickets in the run, all at once (default 64)"
    )
    parser.add_argument("--rate", type=float, default=200, help="tok/s of each ticket (default 200)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds each ticket streams, about (default 10)"
    )
    parser.add_argument("--workers", type=int, default=4, help="lfg worker processes (default 4)")
    parser.add_argument("--quick", action="store_true", help="8 tickets x 50 tok/s on 2 workers for 2 s")
    parser.add_argument(
        "--keep", action="store_true", help="keep the folder of logs and histories, and say where"
    )
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.rate, args.workers, args.duration = 8, 50.0, 2, 2.0
    print(
        f"{args.tickets} tickets x {args.rate:g} tok/s for about {args.duration:g} s; "
        f"{args.workers} workers; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    folder = Path(tempfile.mkdtemp(prefix="lfg-bench-broker-"))
    try:
        return bench(args, folder)
    finally:
        if args.keep:
            print(f"logs and histories in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
