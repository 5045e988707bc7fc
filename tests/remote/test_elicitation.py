"""An agent's question answered by a watcher of a run served with `--control`: the question waits for
one, a malformed answer is refused with 400, a question not waiting with 409, and the first answer
(sent as `lfg attach` sends it) reaches the agent, recorded with who gave it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lfgtui.events import ElicitationAnswered, ElicitationAsked, TextDelta
from lfgtui.remote.attach import Attachment
from lfgtui.run.approvals import Reply
from lfgtui.run.requests import Answer
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN, finish, served

ELICIT = '[[ticket]]\nid = "rel"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "elicit:ttft_ms=0"\n'


@pytest.mark.timeout(120)  # an agent's start: slow on a loaded machine
async def test_a_watcher_answers_the_agents_question(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the agent's log
    async with served(sim, tmp_path, ELICIT, control=True, yes=False) as run:
        run.run.start()
        async with asyncio.timeout(60 * PATIENCE):
            while not (questions := [e for e in run.events if isinstance(e, ElicitationAsked)]):
                await asyncio.sleep(0.05)
        [question] = questions
        assert question.waits, "a watcher can answer it"
        path = f"/v1/tickets/rel/elicitations/{question.elicitation_id}"
        async with run.client() as client:
            malformed = await client.post(f"{path}/accept", json={"content": {"name": {"nested": 1}}})
            unknown = await client.post("/v1/tickets/rel/elicitations/nope/decline")
            attachment = Attachment(run.url, TOKEN)  # as `lfg attach` sends the form's answer
            reply = Reply("accept", {"name": "v4", "builds": 2})
            accepted = await attachment.ask(Answer("rel", question.elicitation_id, reply))
            again = await attachment.ask(Answer("rel", question.elicitation_id, Reply("decline")))
            await attachment.aclose()
        await finish(run)
    assert malformed.status_code == 400 and "content must map field names" in malformed.json()["error"]
    assert unknown.status_code == 409 and "waits for an answer" in unknown.json()["error"]
    assert accepted is None, "taken"
    assert again is not None and "waits for an answer" in again, "a question is answered once"
    [answer] = [e for e in run.events if isinstance(e, ElicitationAnswered)]
    assert (answer.action, answer.content) == ("accept", {"name": "v4", "builds": 2})
    assert answer.by.startswith("127.0.0.1 ("), "the watcher's address and the name `lfg attach` gives"
    said = "".join(e.text for e in run.events if isinstance(e, TextDelta))
    assert 'You answered the form: accepted: {"builds": 2, "name": "v4"}' in said
