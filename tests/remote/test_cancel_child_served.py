"""A watcher's `X` on a served run (`lfg run --serve --control`): `POST /v1/requests` with a
`cancel-child` through the real HTTP server reaches the run's coding agent, which cancels that one
sub-agent (the sim agent's child, which waits until cancelled), the ticket going on; what the run
would not do is a 409 saying why, as the TUI at the run's own terminal says it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.events import Outcome, Status, SubagentChanged
from lfgtui.providers.catalog import BUILTIN
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.serving import finish, served

TICKET = '[[ticket]]\nid = "p"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'


async def test_a_watchers_cancel_of_one_sub_agent_reaches_the_served_runs_agent(
    sim: SimServer, tmp_path: Path
) -> None:
    agent = BUILTIN["sim-acp"]
    assert agent.agent is not None
    waits = agent.with_agent(command=(*agent.agent.command, "--subagent", "Scan", "--subagent-waits"))
    async with served(sim, tmp_path, TICKET, control=True, configs={"sim-acp": waits}) as run:
        run.run.start()

        def children(state: str) -> list[str]:
            return [e.child for e in run.events if isinstance(e, SubagentChanged) and e.state == state]

        async with asyncio.timeout(30 * PATIENCE):
            while not children("running"):
                await asyncio.sleep(0.01)
        [child] = children("running")
        async with run.client() as client:
            post, watcher = client.post, {"LFG-Watcher": "ada@lab"}
            nobody = await post(
                "/v1/requests", json={"request": "cancel-child", "ticket": "p", "child": "nobody"}
            )
            not_text = await post("/v1/requests", json={"request": "cancel-child", "ticket": "p", "child": 3})
            asked = {"request": "cancel-child", "ticket": "p", "child": child}
            sent = await post("/v1/requests", json=asked, headers=watcher)
            outcomes = await asyncio.wait_for(run.run.wait(), 30 * PATIENCE)
            ended = await post("/v1/requests", json=asked)
        await finish(run)
    assert (
        nobody.status_code == 409 and nobody.json()["error"] == "no such sub-agent in this ticket's session"
    )
    assert not_text.status_code == 400 and not_text.json()["error"] == "cancel-child: child must be text"
    assert sent.status_code == 200 and sent.json() == {"ok": True}
    assert outcomes == {"p": Outcome.COMPLETED}, "the parent went on"
    assert children("failed") == [child], "it ended cancelled"
    notes = [e.message for e in run.events if type(e) is Status]
    assert "asked the agent to cancel sub-agent Scan (asked by 127.0.0.1 (ada@lab))" in notes
    assert ended.status_code == 409 and ended.json()["error"] == "p runs no coding agent's turn now"
