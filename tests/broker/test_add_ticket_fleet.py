"""add-ticket on a coordinated run (`lfg run --broker … --open --serve … --control`) as real
processes on a real redis-server: a ticket added once the first has ended runs on a worker like the
file's own, and the open run ends when the person ends it; a watcher through the broker (`lfg attach
redis://… RUN --json`) prints it as the coordinator does."""

from __future__ import annotations

import json
import re
import signal
from typing import Any

import httpx2
import pytest

from tests.support.fleet import Fleet, coordinate, ends, eventually, ran_on
from tests.support.lfg import command
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN

ONE = '[[ticket]]\nid = "first"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'


@pytest.mark.timeout(180)
def test_a_ticket_added_to_a_coordinated_run_runs_on_a_worker(fleet: Fleet) -> None:
    fleet.start("w1")
    token = fleet.lfg.workdir / "token"
    token.write_text(TOKEN)
    serve = ("--open", "--serve", "127.0.0.1:0", "--control", "--token-file", str(token))
    coordinator = coordinate(fleet, fleet.lfg.tickets(ONE), *serve)
    assert coordinator.stdout is not None and coordinator.stderr is not None
    events: list[dict[str, Any]] = []
    try:
        lines: list[str] = []
        while not (served := re.search(r"serving this run at (\S+)", line := coordinator.stderr.readline())):
            assert coordinator.poll() is None, "the coordinator ended before it served the run"
            lines.append(line)

        def until_ended(ticket: str) -> None:
            assert coordinator.stdout is not None
            for line in coordinator.stdout:
                events.append(json.loads(line))
                if events[-1]["type"] == "attempt_ended" and events[-1]["ticket"] == ticket:
                    return

        until_ended("first")
        headers = {"Authorization": f"Bearer {TOKEN}", "LFG-Watcher": "ada"}
        with httpx2.Client(base_url=served.group(1), headers=headers, timeout=10 * PATIENCE) as client:
            body = {"request": "add-ticket", "ticket": {"id": "later", "prompt": "go", "model": "hello"}}
            added = client.post("/v1/requests", json=body)
        assert added.json() == {"ok": True, "ticket": "later", "added_by": "127.0.0.1 (ada)"}
        until_ended("later")
        assert coordinator.poll() is None, "open: it waits for the person"
        coordinator.send_signal(signal.SIGTERM)
        eventually(lambda: coordinator.poll() is not None)
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        stderr = coordinator.stderr.read()
        fleet.stop()
    assert coordinator.returncode == 0, stderr
    assert ends(events) == {("first", 1): "completed", ("later", 1): "completed"}
    assert ran_on(events, "later") == {"w1"}, "a worker ran it, as it ran the file's ticket"
    [run_id] = set(re.findall(rf"lfg attach {re.escape(fleet.url)} (\w+)", "".join(lines)))
    said = [e["message"] for e in events if e["type"] == "status" and e["ticket"] == "later"]
    assert any(m.startswith("added by 127.0.0.1 (ada)") for m in said), said
    watched = command(fleet.lfg, "attach", fleet.url, run_id, "--json")
    assert watched.returncode == 0, watched.stderr
    seen = [json.loads(line) for line in watched.stdout.splitlines()]
    assert ends(seen) == ends(events), "the watcher follows the added ticket too"
    assert [e["message"] for e in seen if e["type"] == "status" and e["ticket"] == "later"] == said
