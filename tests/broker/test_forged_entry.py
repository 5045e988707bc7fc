"""A second work entry for a ticket a live attempt holds, added beside the coordinator's by another
writer of the work stream (issue #66): it ran on another worker and left no trace, its events taken
for the live attempt's and dropped as already seen. A real `lfg worker` now refuses it, saying so in
its log and in its presence (`lfg runs` shows it), the coordinator says it in the ticket (its NDJSON
and history, and, as a notice of the run, what `lfg attach` of the run through the broker shows), and
the run goes on with its one attempt."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import redis

from lfgtui.broker.layout import Layout, loads
from tests.support.fleet import Fleet, coordinate, ends, finish, same_tickets, streaming, until
from tests.support.lfg import command
from tests.support.patience import PATIENCE


def read_until(coordinator: subprocess.Popen[str], seen: list[dict[str, Any]], text: str) -> None:
    """The coordinator's NDJSON read on into `seen` until a status line holds `text` (or it ended)."""
    assert coordinator.stdout is not None
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if seen[-1]["type"] == "status" and text in seen[-1]["message"]:
            return


async def test_a_forged_second_entry_for_a_running_ticket_is_refused_and_said(
    fleet: Fleet, admin: redis.Redis
) -> None:
    for name in ("w1", "w2"):
        fleet.start(name)
    await until(lambda: fleet.ready("w1") and fleet.ready("w2"), 90)
    tickets = fleet.lfg.tickets(same_tickets(["t"], "long-answer:tokens_per_s=40,repeat=8"))
    coordinator = coordinate(fleet, tickets)
    try:
        seen = await asyncio.to_thread(streaming, coordinator, ["t"], 1)
        [run_id] = [name.decode() for name in admin.zrange("lfg:runs", 0, -1)]
        indexed = loads(admin.hget(Layout().work_index(run_id), "t"))
        forged = admin.xadd(indexed["stream"], {"data": indexed["data"]}).decode()
        await until(lambda: any(f"dropped entry {forged}" in fleet.said(w) for w in ("w1", "w2")), 30)
        await asyncio.to_thread(read_until, coordinator, seen, f"dropped entry {forged}")
        code, events, err = await asyncio.to_thread(finish, coordinator)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
            await asyncio.to_thread(coordinator.communicate, timeout=30 * PATIENCE)
    assert code == 0, err
    assert ends(seen + events) == {("t", 1): "completed"}, err
    said = fleet.said("w1") + fleet.said("w2")  # either may have read it: both have free slots
    assert said.count("took t of run") == 1, said
    assert f"enqueued 't' as entry {indexed['entry']}, not this one" in said, said
    listed = await asyncio.to_thread(command, fleet.lfg, "runs", "--broker", fleet.url)
    assert f"dropped entry {forged}" in listed.stdout.split("\nworkers\n")[1], listed.stdout
    # The run says it too: in the ticket's attempt, as its NDJSON and its history have it.
    refused = [
        e for e in seen + events if e["type"] == "status" and f"dropped entry {forged}" in e["message"]
    ]
    assert [(e["ticket"], e["attempt"]) for e in refused] == [("t", 1)], seen
    assert f"enqueued 't' as entry {indexed['entry']}, not this one" in refused[0]["message"]
    config = str(fleet.lfg.config)
    shown = await asyncio.to_thread(
        command, fleet.lfg, "history", "show", run_id, "--json", "--config", config
    )
    assert f"dropped entry {forged}" in shown.stdout, shown.stdout + shown.stderr
    # A watcher through the broker sees it in the ticket's attempt too (the coordinator's notice), and
    # the worker's events of that attempt whole beside it.
    watched = await asyncio.to_thread(
        command, fleet.lfg, "attach", fleet.url, run_id, "--json", "--config", config
    )
    assert watched.returncode == 0, watched.stderr
    lines = [json.loads(line) for line in watched.stdout.splitlines()]
    told = [
        (e["ticket"], e["attempt"])
        for e in lines
        if e["type"] == "status" and f"dropped entry {forged}" in e["message"]
    ]
    assert told == [("t", 1)], watched.stdout
    assert ends(lines) == {("t", 1): "completed"}, watched.stdout
    answer = "".join(e["text"] for e in seen + events if e["type"] == "text")
    assert "".join(e["text"] for e in lines if e["type"] == "text") == answer, watched.stderr
