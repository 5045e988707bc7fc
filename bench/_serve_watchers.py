#!/usr/bin/env python3
"""The watchers of `bench/serve.py`: N real `lfg attach` clients following a served run, and what each got.

`Watchers` starts them, in the run's own loop or in processes of their own: each such process is this
file run as a script (its arguments are serve.py's to give, not a person's), N attachments in one
loop, printing one JSON report at the end. `check` says whether every client got every event of the
run exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

READY_TIMEOUT_S = 30.0
DONE_TIMEOUT_S = 60.0


def digest(keys: list[tuple[str, int, int]]) -> str:
    """A fingerprint of a set of events, by their (ticket, attempt, seq)."""
    return hashlib.sha256(json.dumps(sorted(keys)).encode()).hexdigest()[:16]


class Client:
    """One watcher's record: when each event reached it, and which events did."""

    def __init__(self, clock: Callable[[], float], server_t0: float) -> None:
        self.clock = clock
        self.server_t0 = server_t0
        self.offset = 0.0
        self.lags: list[float] = []
        self.keys: list[tuple[str, int, int]] = []
        self.states: list[str] = []

    def deliver(self, event: Any) -> None:
        # the event's own time back on the server's clock (exact: the same monotonic clock)
        made = event.t - self.offset + self.server_t0
        self.lags.append(self.clock() - made)
        self.keys.append((event.ticket, event.attempt, event.seq))

    def summary(self) -> dict[str, Any]:
        return {
            "count": len(self.keys),
            "unique": len(set(self.keys)),
            "digest": digest(self.keys),
            "states": self.states,
        }


async def follow_all(
    url: str, token: str, clients: int, server_t0: float
) -> tuple[list[Client], list[str], float]:
    """`clients` real attachments on `url`, each following the run to its end: their records, what went
    wrong (an attachment that raised), and the CPU seconds they used once connected (making an
    `Attachment` loads TLS certificates, some 35 ms each, even for http: that is left out)."""
    from lfgtui.remote.attach import Attachment

    records = [Client(time.monotonic, server_t0) for _ in range(clients)]
    attachments = [Attachment(url, token) for _ in range(clients)]

    async def one(attachment: Attachment, record: Client) -> None:
        def deliver(event: Any) -> None:
            record.offset = attachment.offset
            record.deliver(event)

        await attachment.follow(deliver, record.states.append)

    try:
        described = await asyncio.gather(*(a.describe() for a in attachments), return_exceptions=True)
        problems = [f"{type(r).__name__}: {r}" for r in described if isinstance(r, BaseException)]
        cpu0 = time.process_time()
        if not problems:
            results = await asyncio.gather(
                *(one(a, r) for a, r in zip(attachments, records, strict=True)), return_exceptions=True
            )
            problems = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
        cpu = time.process_time() - cpu0
    finally:
        await asyncio.gather(*(a.aclose() for a in attachments), return_exceptions=True)
    return records, problems, cpu


def client_report(records: list[Client], problems: list[str], cpu_s: float) -> dict[str, Any]:
    return {
        "clients": [record.summary() for record in records],
        "problems": problems,
        "lags_us": [round(lag * 1e6) for record in records for lag in record.lags],
        "cpu_s": cpu_s,
    }


class Watchers:
    """The N clients: a task in this loop, or `processes` children sharing them out."""

    def __init__(self, args: argparse.Namespace, count: int) -> None:
        self.count = count
        self.in_process = args.clients_in_process
        self.processes = max(1, min(args.client_processes, count))
        self.nice = args.nice
        self.cpus = args.client_cpus
        self.task: asyncio.Task[tuple[list[Client], list[str], float]] | None = None
        self.children: list[asyncio.subprocess.Process] = []

    async def start(self, url: str, token: str, t0: float) -> None:
        if self.in_process:
            self.task = asyncio.create_task(follow_all(url, token, self.count, t0))
            return
        for k in range(self.processes):
            share = self.count // self.processes + (k < self.count % self.processes)
            command = [sys.executable, __file__, "--url", url, "--clients", str(share)]
            command += ["--nice", str(self.nice), "--cpus", ",".join(map(str, self.cpus))]
            self.children.append(
                await asyncio.create_subprocess_exec(
                    *command,
                    "--server-t0",
                    repr(t0),
                    env={**os.environ, "LFG_BENCH_TOKEN": token},
                    stdout=asyncio.subprocess.PIPE,
                )
            )

    async def connected(self, server: Any) -> None:
        """Until every client is connected to `server` (the clients' processes may still be starting)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while server.watchers < self.count:
            if self.task is not None and self.task.done():
                self.task.result()
                raise RuntimeError("the clients ended before the run started")
            if any(child.returncode is not None for child in self.children):
                raise RuntimeError("a clients' process exited before the run started")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {server.watchers} of {self.count} clients connected in {READY_TIMEOUT_S:g} s"
                )
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        """Stop every client now (when the benchmark fails: the clients would retry for a minute)."""
        if self.task is not None:
            self.task.cancel()
        for child in self.children:
            if child.returncode is None:
                child.kill()

    async def done(self) -> dict[str, Any]:
        """Every client's record, once the run has ended (and so every follow)."""
        if self.task is not None:
            records, problems, cpu = await asyncio.wait_for(self.task, DONE_TIMEOUT_S)
            return client_report(records, problems, cpu)
        merged: dict[str, Any] = {"clients": [], "problems": [], "lags_us": [], "cpu_s": 0.0}
        for child in self.children:
            out, _ = await asyncio.wait_for(child.communicate(), DONE_TIMEOUT_S)
            if child.returncode != 0:
                merged["problems"].append(f"a clients' process exited {child.returncode}")
                continue
            report = json.loads(out.decode().strip().splitlines()[-1])
            for key in ("clients", "problems", "lags_us"):
                merged[key] += report[key]
            merged["cpu_s"] += report["cpu_s"]
        return merged


def check(served: dict[str, Any], keys: list[tuple[str, int, int]], clients: int, dropped: int) -> list[str]:
    """What is wrong with what the clients got: each must have every event of the run, exactly once."""
    problems = list(served.get("problems", []))
    if dropped:
        problems.append(f"the server dropped {dropped} watcher(s) for falling behind")
    got = served.get("clients", [])
    if len(got) != clients:
        problems.append(f"{len(got)} client reports for {clients} clients")
    want = digest(keys)
    for number, client in enumerate(got):
        if client["count"] != len(keys) or client["unique"] != client["count"] or client["digest"] != want:
            problems.append(
                f"client {number}: {client['count']} events ({client['unique']} distinct) for the run's "
                f"{len(keys)}, {'the same' if client['digest'] == want else 'not the same'} set; "
                f"states {client['states']}"
            )
    return problems


def main() -> None:
    """A clients' process (see `Watchers.start`): N attachments in one loop; a JSON report on stdout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--cpus", default="")
    parser.add_argument("--server-t0", type=float, required=True)
    args = parser.parse_args()
    token = os.environ["LFG_BENCH_TOKEN"]
    if args.nice:
        os.nice(args.nice)
    if args.cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    records, problems, cpu = asyncio.run(follow_all(args.url, token, args.clients, args.server_t0))
    print(json.dumps(client_report(records, problems, cpu)))


if __name__ == "__main__":
    main()
