"""`lfg run --open` as a real process (headless, NDJSON, served with --control, recorded): it stays
open once its tickets have ended, takes a ticket added then (add-ticket), runs it to its end, records
it in the history and says it on NDJSON, and ends when the person ends it (SIGTERM), with the exit
code of its tickets' outcomes. A tickets file with no ticket is one only with --open."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path
from typing import Any

import httpx2
import pytest

from lfgtui.history import recorded
from lfgtui.history.store import Selection, Store
from tests.support import warm_lfg
from tests.support.lfg import Lfg, recorded_run
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN

ONE = """
[defaults]
provider = "sim"

[[ticket]]
id = "first"
prompt = "x"
model = "hello"
"""


async def served_open(lfg: Lfg, path: Path, db: Path) -> warm_lfg.AsyncProcess:
    (lfg.workdir / "token").write_text(TOKEN)
    args = lfg.args(
        path,
        "--json",
        "--open",
        "--db",
        str(db),
        "--serve",
        "127.0.0.1:0",
        "--control",
        "--token-file",
        str(lfg.workdir / "token"),
    )
    return await warm_lfg.create_subprocess_exec(
        *args, cwd=lfg.workdir, env=lfg.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def ends(process: warm_lfg.AsyncProcess, ticket: str, events: list[dict[str, Any]]) -> str:
    """Read NDJSON into `events` until `ticket`'s attempt ends: its outcome."""
    assert process.stdout is not None
    async for line in process.stdout:
        event = json.loads(line)
        events.append(event)
        if event["type"] == "attempt_ended" and event["ticket"] == ticket:
            return str(event["outcome"])
    raise AssertionError(f"the run's output ended before {ticket} did")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("toml", [ONE, '[defaults]\nprovider = "sim"\n'], ids=["after-its-ticket", "empty"])
async def test_an_open_run_takes_a_ticket_after_its_own_ended_and_ends_when_asked(
    tmp_path: Path, toml: str
) -> None:
    lfg = Lfg(tmp_path)
    db = tmp_path / "history.db"
    process = await served_open(lfg, lfg.tickets(toml), db)
    assert process.stderr is not None
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(90 * PATIENCE):
            served = re.search(r"serving this run at (\S+)", (await process.stderr.readline()).decode())
            assert served is not None
            if toml == ONE:
                assert await ends(process, "first", events) == "completed"
            headers = {"Authorization": f"Bearer {TOKEN}", "LFG-Watcher": "ada"}
            async with httpx2.AsyncClient(base_url=served.group(1), headers=headers) as client:
                table = {"id": "later", "prompt": "y", "model": "hello"}
                added = await client.post("/v1/requests", json={"request": "add-ticket", "ticket": table})
            assert added.json() == {"ok": True, "ticket": "later", "added_by": "127.0.0.1 (ada)"}
            assert await ends(process, "later", events) == "completed"
            assert process.returncode is None, "still open, nothing running"
            process.send_signal(signal.SIGTERM)
            code = await process.wait()
            stderr = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0, stderr
    said = [e["message"] for e in events if e["type"] == "status" and e["ticket"] == "later"]
    assert "added by 127.0.0.1 (ada)" in said
    with Store.open(db) as store:
        record = store.load(Selection(recorded_run(stderr)))
    kept = {t.ticket.id: t for t in recorded.recorded_run(record).tickets}
    assert kept["later"].attempts[-1].outcome is not None and kept["later"].ticket.prompt == "y"
    assert set(kept) == ({"first", "later"} if toml == ONE else {"later"})


def test_a_file_with_no_ticket_is_refused_without_open(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    code, events, stderr = lfg.run(lfg.tickets('[defaults]\nprovider = "sim"\n'))
    assert code == 2 and events == []
    assert "no tickets: add a [[ticket]] table with an id and a prompt (or run it with --open" in stderr


@pytest.mark.timeout(120)
async def test_an_open_run_ends_when_a_watcher_asks_end_once_its_ticket_at_work_has_ended(
    tmp_path: Path,
) -> None:
    """`end` over POST /v1/requests (the control token): the run takes no new ticket, lets the one
    at work finish, and ends with its tickets' exit code; asked again, it is refused in words."""
    lfg = Lfg(tmp_path)
    process = await served_open(lfg, lfg.tickets(ONE), tmp_path / "history.db")
    assert process.stderr is not None
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(90 * PATIENCE):
            served = re.search(r"serving this run at (\S+)", (await process.stderr.readline()).decode())
            assert served is not None
            assert await ends(process, "first", events) == "completed"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(base_url=served.group(1), headers=headers) as client:
                slow = {"id": "slow", "prompt": "go", "model": "long-answer:tokens_per_s=100,repeat=2"}
                added = await client.post("/v1/requests", json={"request": "add-ticket", "ticket": slow})
                end = await client.post("/v1/requests", json={"request": "end"})
                late = await client.post(
                    "/v1/requests",
                    json={"request": "add-ticket", "ticket": {"prompt": "y", "model": "hello"}},
                )
                again = await client.post("/v1/requests", json={"request": "end"})
            assert await ends(process, "slow", events) == "completed", "not cut short"
            code = await process.wait()
            stderr = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert added.status_code == 200 and end.json() == {"ok": True}, (added.text, end.text)
    assert late.status_code == 409
    assert late.json()["error"] == "the run is ending (end was asked): it takes no new tickets"
    assert again.status_code == 409 and again.json()["error"].startswith("the run is ending already")
    assert code == 0, stderr
