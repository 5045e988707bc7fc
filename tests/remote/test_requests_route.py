"""`POST /v1/requests`: a watcher's request as JSON (lfgtui/run/requests.py), read into the same typed
request the older per-request routes are, and answered as they answer: 403 served read-only, 404 for
what the run does not have, 400 naming the field of what is not a request, 409 for what the run would
not do now, 200 when done."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.events import AttemptEnded, Outcome, Status
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.serving import finish, served

ONE = '[[ticket]]\nid = "hi"\nprompt = "x"\nprovider = "sim"\nmodel = "hello"\n'


async def test_one_route_carries_every_request_a_watcher_may_make(sim: SimServer, tmp_path: Path) -> None:
    async with served(sim, tmp_path, ONE, control=True) as run:
        run.run.start()
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)
        async with run.client() as client:
            post = client.post
            not_json = await post("/v1/requests", content=b"cancel hi")
            unknown = await post("/v1/requests", json={"request": "land", "ticket": "hi"})
            missing = await post("/v1/requests", json={"request": "approve", "ticket": "hi", "call": "c"})
            nobody = await post("/v1/requests", json={"request": "cancel", "ticket": "nobody"})
            ended = await post("/v1/requests", json={"request": "cancel", "ticket": "hi"})
            blank = await post("/v1/requests", json={"request": "follow-up", "ticket": "hi", "text": " "})
            not_retried = await post("/v1/requests", json={"request": "retry", "ticket": "hi"})
            watcher = {"LFG-Watcher": "ada@lab"}
            sent = await post(
                "/v1/requests",
                json={"request": "follow-up", "ticket": "hi", "text": "again"},
                headers=watcher,
            )
        async with asyncio.timeout(20 * PATIENCE):  # the follow-up's attempt, to its end
            while len([e for e in run.events if isinstance(e, AttemptEnded)]) < 2:
                await asyncio.sleep(0.01)
        await finish(run)
    assert not_json.status_code == 400 and "JSON object" in not_json.json()["error"]
    assert unknown.status_code == 400 and "expected one of" in unknown.json()["error"]
    assert missing.status_code == 400 and missing.json()["error"] == "approve: allowed is missing"
    assert nobody.status_code == 404 and ended.status_code == 409 and blank.status_code == 400
    assert ended.json()["error"] == "hi is not running"
    assert not_retried.status_code == 409, "it completed: only a ticket that ended otherwise is retried"
    assert sent.json() == {"ok": True}
    assert [e.outcome for e in run.events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    notes = [e.message for e in run.events if type(e) is Status]
    assert "follow-up sent by 127.0.0.1 (ada@lab)" in notes and not any("asked by" in n for n in notes)


async def test_a_run_served_read_only_refuses_the_one_route_too(sim: SimServer, tmp_path: Path) -> None:
    async with served(sim, tmp_path, ONE) as run, run.client() as client:
        refused = await client.post("/v1/requests", json={"request": "cancel", "ticket": "hi"})
        await client.aclose()
        run.run.start()
        await finish(run)
    assert refused.status_code == 403 and "--control" in refused.json()["error"]
