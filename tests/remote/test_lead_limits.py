"""A lead's limits held against a hostile lead (issue #76): every add and message it asks counts
against its `lead_max_per_minute`, refused or not, so a lead looping on a refused `add_ticket`
through the MCP SDK's client is paced; under a `lead_budget_usd` a ticket whose cost the run could
not count is refused naming its model; and what a lead sends is refused in words or kept inert."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from lfgtui.events import Status
from lfgtui.outcome import Outcome
from lfgtui.providers.catalog import BUILTIN
from lfgtui.remote.leads import serving_leads
from lfgtui.sim.server import SimServer
from tests.support.mcp_client import mcp_client
from tests.support.patience import PATIENCE
from tests.support.serving import served

SLOW = {"prompt": "go", "model": "long-answer:tokens_per_s=20,repeat=50"}


def add(ticket: dict[str, object]) -> dict[str, object]:
    return {"request": "add-ticket", "ticket": ticket}


PACED = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true
lead_max_per_minute = 3
"""


async def test_a_lead_looping_on_a_refused_add_through_lfg_mcp_is_paced_by_lead_max_per_minute(
    sim: SimServer, tmp_path: Path
) -> None:
    """An MCP client (the SDK's, on the lead's own door) calls add_ticket with a bad field twenty
    times: the first three are refused naming the field and saying they count, every one after is
    refused by the pace; a good add is refused too until the minute has passed (the window's times
    moved back a minute: no test waits for time). Before, a refused ask counted for nothing."""
    async with served(sim, tmp_path, PACED, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            door = run.run.lead_doors["boss"]
            run.run.start()
            async with mcp_client(door.server.command, door.server.args, tmp_path / "mcp.err") as client:
                session = client.session
                said = []
                for _ in range(20):
                    result = await session.call_tool("add_ticket", {"ticket": {**SLOW, "colour": "red"}})
                    assert result.is_error
                    said.append(result.content[0].text)  # type: ignore[union-attr]
                good = await session.call_tool("add_ticket", {"ticket": SLOW})
                paces = run.run.lead_paces["boss"]
                run.run.lead_paces["boss"] = type(paces)(t - 60 for t in paces)
                later = await session.call_tool("add_ticket", {"ticket": SLOW})
    for number, words in enumerate(said[:3]):
        assert "colour" in words, words
        left = 2 - number
        assert words.endswith(
            f"(refused asks count against lead_max_per_minute too: {left} left this minute)"
        ), words
    for words in said[3:]:
        assert (
            "lead boss has asked to add tickets or send messages 3 times in the last minute (a refused "
            "ask counts too), its lead_max_per_minute: it may again in "
        ) in words, words
    assert good.is_error and "lead_max_per_minute: it may again in" in good.content[0].text  # type: ignore[union-attr]
    assert not later.is_error, later.content
    assert len(run.run.parents) == 1, "one ticket added, all told"


BUDGETED = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
lead = true
lead_max_per_minute = 100
lead_budget_usd = 1

[[ticket]]
id = "free"
prompt = "Plan."
provider = "sim-acp"
lead = true
"""
LOCAL = replace(BUILTIN["sim"], name="local", base_url="http://127.0.0.1:9/v1")
"""A server on this machine: no price list knows what it costs (`$?`)."""


async def test_under_a_lead_budget_a_ticket_whose_cost_lfg_cannot_count_is_refused_naming_its_model(
    sim: SimServer, tmp_path: Path
) -> None:
    """Before, a ticket on a model with no known price cost nothing against `lead_budget_usd` and
    ran unbounded. Now its add is refused in words naming the provider, the model and the setting, a
    fallback's alike; a priced model and a coding agent (counted as it reports its cost) are added,
    and a lead with no budget may add the unpriced one."""
    async with (
        served(sim, tmp_path, BUDGETED, control=True, configs={"local": LOCAL}) as run,
        run.client(run.server.lead_token("boss")) as boss,
        run.client(run.server.lead_token("free")) as free,
    ):
        unpriced = await boss.post("/v1/requests", json=add({"prompt": "go", "provider": "local"}))
        fallback = await boss.post("/v1/requests", json=add({**SLOW, "fallback": ["local/m2"]}))
        priced = await boss.post("/v1/requests", json=add(SLOW))
        agent = await boss.post("/v1/requests", json=add({"prompt": "go", "provider": "sim-acp"}))
        unbudgeted = await free.post("/v1/requests", json=add({"prompt": "go", "provider": "local"}))
    assert unpriced.status_code == 409
    assert unpriced.json()["error"].startswith(
        "add-ticket: lead boss has a lead_budget_usd ($1), and 'local' has no known price for model "
        "'offline' (its cost would show $?, counting nothing against the budget): add it on a priced "
        "provider or model, or the person gives [providers.local] prices in the config"
    ), unpriced.text
    assert fallback.status_code == 409 and "'local' has no known price for model 'm2'" in fallback.text
    for added in (priced, agent, unbudgeted):
        assert added.status_code == 200, added.text
    assert sorted(run.run.parents.values()) == ["boss", "boss", "free"]


HOSTILE = """
[defaults]
provider = "sim"
sandbox = "bwrap"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true
lead_max_live = 20
lead_max_added = 20

[[ticket]]
id = "boss2"
prompt = "Plan too."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true

[[ticket]]
id = "mine"
prompt = "Say hello."
model = "hello"
"""
OUTSIDE = "\x1b]0;pwned\x07\x1b[31mred\u202eevil"
"""An OSC title, an SGR colour and a bidi override: stored as sent, shown inert."""


async def test_a_hostile_lead_is_refused_in_words_or_kept_inert_and_adds_nothing_once_it_has_ended(
    sim: SimServer, tmp_path: Path
) -> None:
    """Each attack of a lead's token on its run: what it may not do is refused in words, what it may
    is stored as sent (a lone surrogate mended) and cannot take another ticket's id. Once it has
    ended (the person stopped it), its token adds and messages nothing more, where before a process
    it left behind could go on adding tickets; it may still cancel its own."""
    async with served(sim, tmp_path, HOSTILE, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with (
            serving_leads(run.run, tickets),
            run.client(run.server.lead_token("boss")) as lead,
            run.client(run.server.lead_token("boss2")) as other,
            run.client() as person,
        ):
            run.run.start()

            async def ask(client: object, body: dict[str, object]) -> tuple[int, str]:
                response = await client.post("/v1/requests", json=body)  # type: ignore[attr-defined]
                return response.status_code, response.text

            outside = await ask(lead, add({"prompt": OUTSIDE, "title": OUTSIDE, "model": "hello"}))
            lone = await lead.post(
                "/v1/requests",
                content=b'{"request": "add-ticket", "ticket": {"prompt": "a\\ud800b", "model": "hello"}}',
                headers={"content-type": "application/json"},
            )
            huge = await ask(lead, add({"prompt": "x" * 1_000_000}))
            theirs = (await other.post("/v1/requests", json=add(SLOW))).json()["ticket"]
            refused = {
                "another lead's": await ask(lead, add({**SLOW, "depends_on": [theirs]})),
                "the person's": await ask(lead, add({**SLOW, "depends_on": ["mine"]})),
                "its own id": await ask(lead, add({**SLOW, "depends_on": ["boss"]})),
                "a taken id": await ask(lead, add({**SLOW, "id": "mine"})),
                "lead": await ask(lead, add({**SLOW, "lead": True})),
                "sandbox": await ask(lead, add({**SLOW, "sandbox": "none"})),
                "sandbox_network": await ask(lead, add({**SLOW, "sandbox_network": True})),
                "auto_approve": await ask(lead, add({**SLOW, "auto_approve": True})),
                "mcp_servers": await ask(lead, add({**SLOW, "mcp_servers": ["x"]})),
            }
            reached = {
                "cancel": await ask(lead, {"request": "cancel", "ticket": theirs}),
                "steer": await ask(lead, {"request": "steer", "ticket": "mine", "text": "x"}),
                "follow-up": await ask(lead, {"request": "follow-up", "ticket": theirs, "text": "x"}),
            }
            future = await ask(lead, add({**SLOW, "id": "added-9"}))
            mine = (
                await person.post("/v1/requests", json=add({"prompt": "Say hello.", "model": "hello"}))
            ).json()
            own = (await lead.post("/v1/requests", json=add(SLOW))).json()["ticket"]

            assert run.run.cancel("boss", keep_tickets=True)
            async with asyncio.timeout(10 * PATIENCE):
                while run.run.states["boss"].running:
                    await asyncio.sleep(0.01)
            after = await ask(lead, add(SLOW))
            steer_after = await ask(lead, {"request": "steer", "ticket": own, "text": "more"})
            cancel_after = await ask(lead, {"request": "cancel", "ticket": own})
    assert outside[0] == 200, outside
    stored = run.run.states[json.loads(outside[1])["ticket"]].written
    assert stored.prompt == OUTSIDE and stored.title == OUTSIDE, "stored as sent: shown inert (pane.py)"
    assert lone.status_code == 200, lone.text
    assert run.run.states[lone.json()["ticket"]].written.prompt == "a\ufffdb"
    assert huge[0] == 413 and "a request holds at most 244,096 bytes" in huge[1], huge
    for what, (status, words) in refused.items():
        assert status == 409, (what, words)
    assert "may name only the tickets it added, not '" + theirs + "'" in refused["another lead's"][1]
    assert "duplicate id" in refused["a taken id"][1]
    for field in ("lead", "sandbox", "sandbox_network", "auto_approve", "mcp_servers"):
        assert f"{field} is" in refused[field][1], refused[field]
    for what, (status, words) in reached.items():
        assert status == 403 and "may reach only the tickets it added" in words, (what, words)
    assert future[0] == 200 and mine["ticket"] != "added-9", "lfg's next id skips the one a lead took"
    assert after[0] == 403 and json.loads(after[1])["error"] == (
        "lead boss has ended (cancelled): a lead adds tickets and sends messages only while it runs (a "
        "process it left behind holds its token); it may still cancel the tickets it added (refused asks "
        "count against lead_max_per_minute too: 3 left this minute)"
    ), after
    assert steer_after[0] == 403, steer_after
    assert cancel_after[0] == 200, cancel_after
    assert sorted(run.run.parents.values()).count("boss") == 4, run.run.parents


AGENT_UNDER_BUDGET = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true
lead_budget_usd = 1
"""


async def test_a_coding_agent_that_reports_no_cost_is_said_once_in_the_leads_pane_and_its_report(
    sim: SimServer, tmp_path: Path
) -> None:
    """A coding agent's ticket is added under a lead budget, counted as its agent reports its cost;
    the sim agent reports none, so once it has worked the lead's pane says its budget counted nothing
    of it, once, and `read_ticket` says so in its report. Before, nothing said it."""
    async with served(sim, tmp_path, AGENT_UNDER_BUDGET, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            door = run.run.lead_doors["boss"]
            run.run.start()
            async with mcp_client(door.server.command, door.server.args, tmp_path / "mcp.err") as client:
                session = client.session
                added = await session.call_tool(
                    "add_ticket", {"ticket": {"prompt": "hi", "provider": "sim-acp"}}
                )
                assert not added.is_error, added.content
                child = json.loads(added.content[0].text)["ticket"]  # type: ignore[union-attr]
                waited = await session.call_tool("wait_for_tickets", {"tickets": [child], "timeout_s": 20})
                assert not waited.is_error, waited.content
                assert run.run.states[child].outcome is Outcome.COMPLETED
                report = await session.call_tool("read_ticket", {"ticket": child})
    said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == "boss"]
    warning = f"lead_budget_usd $1 counted nothing of {child}: its agent reported no cost ($?)"
    assert said.count(warning) == 1, said
    body = json.loads(report.content[0].text)  # type: ignore[union-attr]
    assert body["cost_usd"] is None and body["cost_note"].startswith("its cost is not known ($?"), body


async def test_a_lead_looping_on_what_it_may_not_ask_is_paced_too(sim: SimServer, tmp_path: Path) -> None:
    """What a lead may never ask (the person's requests, another ticket) counts against its
    `lead_max_per_minute` as a refused add does: its first three are refused saying why and that they
    count, every one after by the pace, and an add with them. Before, a forbidden ask counted for
    nothing: a lead could loop on it for ever."""
    async with served(sim, tmp_path, PACED, control=True) as run:
        lead = run.client(run.server.lead_token("boss"))
        approve = {"request": "approve", "ticket": "boss", "call": "c1", "allowed": True}
        said = [(await lead.post("/v1/requests", json=approve)).json()["error"] for _ in range(5)]
        added = await lead.post("/v1/requests", json=add(SLOW))
        await lead.aclose()
    for number, words in enumerate(said[:3]):
        assert words.startswith("lead boss may add tickets, and message"), words
        assert words.endswith(
            f"(refused asks count against lead_max_per_minute too: {2 - number} left this minute)"
        )
    for words in said[3:]:
        assert words.startswith(
            "lead boss has asked to add tickets or send messages 3 times in the last minute"
        )
    assert added.status_code == 409 and "lead_max_per_minute: it may again in" in added.json()["error"]
    assert not run.run.parents, "nothing added"


def test_a_lead_looping_at_its_door_on_a_worker_on_what_it_may_not_ask_is_paced_there() -> None:
    """A lead's door on a broker's worker (broker/lead_door.py) refuses what the lead may never ask
    without asking the coordinator: paced there as the run paces it."""
    from lfgtui.broker.lead_door import ForwardedControls
    from lfgtui.run.requests import Cancel, Lead

    async def forwarding(asked: object) -> None:
        raise AssertionError("a forbidden ask is never forwarded")

    now = [1000.0]
    door = ForwardedControls("boss", forwarding, 2, lambda: now[0])
    said = [door.forbidden(Cancel("other"), Lead("boss")) for _ in range(3)]
    assert said[0] == (
        "lead boss may reach only the tickets it added, and it did not add 'other' "
        "(refused asks count against lead_max_per_minute too: 1 left this minute)"
    )
    assert said[2] is not None and said[2].startswith(
        "lead boss has asked to add tickets or send messages 2 times"
    )
    now[0] += 60
    assert door.forbidden(Cancel("other"), Lead("boss")) is not None and door.refused == type(door.refused)(
        [1060.0]
    )
