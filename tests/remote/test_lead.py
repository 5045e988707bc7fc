"""A lead ticket (`lead = true`): its own token, on a run served as lfg serves it, may add tickets
(within the caps the person set) and message or cancel those it added, and is refused 403 in words
for everything else, over real HTTP; `lead` cannot be set through add-ticket; and a lead's coding
agent gets lfg's MCP server in `session/new` through the real `lfg run` (the sim agent records what
it was given)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
from asyncio.subprocess import PIPE
from dataclasses import replace
from errno import EADDRINUSE
from pathlib import Path

import httpx2
import pytest

from lfgtui.events import AttemptEnded, ErrorInfo, ErrorKind, Event, Outcome, Status
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN
from lfgtui.remote import leads
from lfgtui.remote.leads import SOCKET_PATH_MAX, LeadRole, Seen, lead_of, serving_leads
from lfgtui.sim.server import SimServer
from lfgtui.tools.sandbox import Sandbox, unavailable
from tests.support.agents import mcp_recording_agent as agent
from tests.support.agents import mcp_requests as requests
from tests.support.lfg import Lfg, of
from tests.support.mcp_client import mcp_client
from tests.support.patience import PATIENCE
from tests.support.serving import Served, served

TICKETS = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
lead = true
lead_max_live = 1
lead_max_added = 2

[[ticket]]
id = "other"
prompt = "Say hello."
model = "hello"
"""
SLOW = {"prompt": "go", "model": "long-answer:tokens_per_s=20,repeat=50"}


async def started_lead(run: Served) -> httpx2.AsyncClient:
    """Start the served run and wait until its lead `boss` runs; a client with the lead's own token."""
    run.run.start()
    async with asyncio.timeout(10 * PATIENCE):
        while not run.run.states["boss"].live:
            await asyncio.sleep(0.01)
    return run.client(run.server.lead_token("boss"))


def add(ticket: dict[str, object]) -> dict[str, object]:
    return {"request": "add-ticket", "ticket": ticket}


async def test_a_leads_token_adds_and_drives_its_own_tickets_within_its_caps_and_nothing_else(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, TICKETS, control=True, yes=False) as run:
        token = run.server.lead_token("boss")
        async with run.client(token) as lead, run.client() as person:
            refused = await lead.post("/v1/requests", json=add({**SLOW, "lead": True}))
            assert refused.status_code == 409
            assert "lead is a lead's, a tickets file's" in refused.json()["error"], "named, one level deep"

            peek = await lead.post("/v1/requests", json=add({**SLOW, "depends_on": ["other"]}))
            assert peek.status_code == 409
            assert peek.json()["error"].startswith(
                "add-ticket: depends_on: lead boss may name only the tickets it added, not 'other' "
            ), "its prompt could quote another ticket's answer"

            added = await lead.post("/v1/requests", json=add(SLOW))
            assert added.status_code == 200, added.text
            child = added.json()["ticket"]
            assert run.run.parents == {child: "boss"}
            over = await lead.post("/v1/requests", json=add(SLOW))
            assert over.status_code == 409
            assert over.json()["error"].startswith(
                f"lead boss has 1 tickets unfinished ({child}), its lead_max_live"
            )

            forbidden = {
                "another ticket": {"request": "cancel", "ticket": "other"},
                "steer another": {"request": "steer", "ticket": "other", "text": "hi"},
                "its own lead": {"request": "cancel", "ticket": "boss"},
                "an approval": {"request": "approve", "ticket": child, "call": "c1", "allowed": True},
                "an answer": {
                    "request": "answer",
                    "ticket": child,
                    "elicitation": "e1",
                    "reply": {"action": "decline"},
                },
                "a retry": {"request": "retry", "ticket": child},
                "a sub-agent's cancel": {"request": "cancel-child", "ticket": child, "child": "c"},
                "a held message": {"request": "remove-held", "ticket": child, "held": 1},
                "a synthesis": {"request": "synthesize", "tournament": "t"},
                "an unknown ticket": {"request": "cancel", "ticket": "nobody"},
            }
            for what, body in forbidden.items():
                response = await lead.post("/v1/requests", json=body)
                assert response.status_code == 403, (what, response.text)
                words = response.json()["error"]
                assert words.startswith("lead boss may "), (what, words)
            for path in ("/v1/inbox", "/metrics"):
                assert (await lead.get(path)).status_code == 403, path
            old_route = await lead.post("/v1/tickets/other/cancel")
            assert old_route.status_code == 403
            assert "lead boss's token may describe and follow the run and ask requests" in old_route.text
            assert (await lead.get("/v1/run")).status_code == 200

            steered = await lead.post(
                "/v1/requests", json={"request": "steer", "ticket": child, "text": "faster"}
            )
            assert steered.status_code in (200, 409), steered.text  # its own: decided, not forbidden
            cancelled = await lead.post("/v1/requests", json={"request": "cancel", "ticket": child})
            assert cancelled.status_code == 200, cancelled.text
            async with asyncio.timeout(10 * PATIENCE):
                while not any(isinstance(e, AttemptEnded) and e.ticket == child for e in run.events):
                    await asyncio.sleep(0.01)
            second = await lead.post("/v1/requests", json=add({"prompt": "Say hello.", "model": "hello"}))
            assert second.status_code == 200, second.text
            third = await lead.post("/v1/requests", json=add({"prompt": "Say hello.", "model": "hello"}))
            assert third.status_code == 409
            assert third.json()["error"].startswith("lead boss has added 2 tickets, its lead_max_added")

            said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == child]
            assert "added by lead boss" in said and "cancel asked by lead boss" in said
            assert (
                await person.post("/v1/requests", json={"request": "cancel", "ticket": "other"})
            ).status_code in (
                200,
                409,
            ), "the person's token is not narrowed"
            person_lead = await person.post("/v1/requests", json=add({**SLOW, "lead": True}))
            assert person_lead.status_code == 409 and "lead is a lead's" in person_lead.json()["error"]


async def test_an_idempotency_key_is_its_askers_own_a_lead_never_gets_anothers_ticket_by_it(
    sim: SimServer, tmp_path: Path
) -> None:
    """The same key from the person and from a lead adds a ticket for each (one key for all answered
    the person with the lead's ticket, or a lead with a ticket it may not reach); asked again, each
    gets its own, with who added it."""
    async with served(sim, tmp_path, TICKETS, control=True) as run, run.client() as person:
        lead = run.client(run.server.lead_token("boss"))
        mine = (await person.post("/v1/requests", json={**add(SLOW), "key": "k"})).json()
        theirs = (await lead.post("/v1/requests", json={**add(SLOW), "key": "k"})).json()
        again = (await lead.post("/v1/requests", json={**add(SLOW), "key": "k"})).json()
        mine_again = (await person.post("/v1/requests", json={**add(SLOW), "key": "k"})).json()
        await lead.aclose()
    assert theirs["ticket"] != mine["ticket"], (mine, theirs)
    assert run.run.parents == {theirs["ticket"]: "boss"}
    assert again == theirs and theirs["added_by"] == "lead boss"
    assert mine_again == mine and mine["added_by"].startswith("127.0.0.1")


LEAD_RUN = """
[[ticket]]
id = "boss"
prompt = "Plan."
provider = "agent"
lead = true
lead_max_added = 4

[[ticket]]
id = "helper"
prompt = "Help."
provider = "agent"
"""


def test_a_lead_tickets_session_new_carries_lfgs_mcp_server(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    record = tmp_path / "agent.jsonl"
    lfg.config.write_text(agent("agent", record, tmp_path / "sessions"))
    code, events, stderr = lfg.run(lfg.tickets(LEAD_RUN))
    assert code == 0, stderr
    given = {tuple(s["name"] for s in r["mcpServers"]) for r in requests(record)}
    assert given == {("lfg",), ()}, "the lead alone gets it"
    [server] = next(r["mcpServers"] for r in requests(record) if r["mcpServers"])
    args = server["args"]
    assert server["command"] == sys.executable and args[:4] == ["-m", "lfgtui", "mcp", "http://lfg"]
    assert args[4] == "--token-file" and args[6] == "--unix-socket" and args[8] == "--lead"
    run_id = of(events, "boss", "attempt_started")[0]["run"] if "run" in of(events, "boss")[0] else None
    assert args[9].endswith("/boss/3/4/20/-") and (run_id is None or args[9] == f"{run_id}/boss/3/4/20/-")
    token_file, socket = Path(args[5]), Path(args[7])
    assert token_file.parent == socket.parent and not socket.parent.exists(), "removed with the run"
    notes = [e["message"] for e in of(events, "boss", "status")]
    assert "MCP servers given to the agent (session/new): lfg (stdio)" in notes
    assert json.dumps(server).count("Bearer") == 0, "the token is in its file, never on the command line"


BOSS = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true

[[ticket]]
id = "other"
prompt = "Say hello."
model = "hello"
"""


async def test_a_lead_reaches_its_run_through_lfg_mcp_on_its_socket_and_its_tickets_stop_with_it(
    sim: SimServer, tmp_path: Path
) -> None:
    """The lead's own MCP server, as its session is given it (the door's command), on the socket:
    its instructions say who it is; it sees only itself and the tickets it adds, is refused another
    ticket in words; cancelling the lead cancels the ticket it added, which says so."""
    async with served(sim, tmp_path, BOSS, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            door = run.run.lead_doors["boss"]
            run.run.start()
            async with mcp_client(door.server.command, door.server.args, tmp_path / "mcp.err") as client:
                session = client.session
                hello = client.hello
                assert hello.instructions is not None
                assert hello.instructions.startswith(
                    f"You are boss, the lead ticket of lfg run {run.run.run_id}."
                )
                assert "at most 3 unfinished at once and 10 in all" in hello.instructions
                assert "at most 20 times a minute" in hello.instructions
                assert "not with sub-agents or tasks of your own" in hello.instructions
                listed = await session.call_tool("list_tickets", {})
                assert [t["ticket"] for t in json.loads(listed.content[0].text)["tickets"]] == ["boss"]  # type: ignore[union-attr]
                unseen = await session.call_tool("read_ticket", {"ticket": "other"})
                assert unseen.is_error and "the run has no ticket 'other'" in unseen.content[0].text  # type: ignore[union-attr]
                other = await session.call_tool("cancel_ticket", {"ticket": "other"})
                assert other.is_error
                assert "the run has no ticket 'other' (its tickets: boss)" in other.content[0].text  # type: ignore[union-attr]
                added = await session.call_tool("add_ticket", {"ticket": SLOW, "key": "one"})
                assert not added.is_error, added.content
                child = json.loads(added.content[0].text)["ticket"]  # type: ignore[union-attr]
                assert run.run.parents == {child: "boss"}
                again = await session.call_tool("list_tickets", {})
                assert [t["ticket"] for t in json.loads(again.content[0].text)["tickets"]] == [
                    "boss",
                    child,
                ]  # type: ignore[union-attr]
            async with asyncio.timeout(10 * PATIENCE):
                while not run.run.states[child].running:
                    await asyncio.sleep(0.01)
            assert run.run.cancel("boss")
            async with asyncio.timeout(10 * PATIENCE):
                while not any(isinstance(e, AttemptEnded) and e.ticket == child for e in run.events):
                    await asyncio.sleep(0.01)
            [ended] = [e for e in run.events if isinstance(e, AttemptEnded) and e.ticket == child]
            assert ended.outcome.value == "cancelled"
            said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == child]
            assert "cancelled with its lead boss" in said
            async with asyncio.timeout(10 * PATIENCE):
                while not any(isinstance(e, AttemptEnded) and e.ticket == "other" for e in run.events):
                    await asyncio.sleep(0.01)
            [seen] = [sink for sink in run.run.sinks if isinstance(sink, Seen)]
            seen.hub.publish()
            streamed = b"".join(seen.hub.messages)
            assert b'"boss"' in streamed and child.encode() in streamed
            assert b'"other"' not in streamed, "the lead's stream carries nothing of another ticket"
            socket = door.socket
        assert not socket.parent.exists(), "the lead's folder goes with the run"


TWO_LEADS = """
[defaults]
provider = "sim-acp"
lead = true

[[ticket]]
id = "boss"
prompt = "Plan."

[[ticket]]
id = "boss2"
prompt = "Plan too."
"""
PROBE = """
import socket, sys
token = open(sys.argv[1]).read().strip()
print("other token seen" if __import__("os").path.exists(sys.argv[3]) else "other token hidden")
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[2])
head = ["GET /v1/run HTTP/1.1", "Host: lfg", f"Authorization: Bearer {token}", "Connection: close"]
s.sendall(("\\r\\n".join(head) + "\\r\\n\\r\\n").encode())
print(s.recv(100).decode().splitlines()[0])
"""


@pytest.mark.parametrize("network", [True, False], ids=["network", "no-network"])
async def test_a_boxed_lead_reaches_its_run_on_the_socket_and_sees_only_its_own_token(
    sim: SimServer, tmp_path: Path, network: bool
) -> None:
    if (why := await unavailable()) is not None:
        pytest.skip(why)
    tree = tmp_path / "tree"
    tree.mkdir()
    async with served(sim, tmp_path, TWO_LEADS, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            door, other = run.run.lead_doors["boss"], run.run.lead_doors["boss2"]
            box = Sandbox((tree,), network=network).with_door(door.socket, door.token_file)
            args = [str(door.token_file), str(door.socket), str(other.token_file)]
            argv = box.wrap(["/usr/bin/python3", "-c", PROBE, *args], tree)
            probe = await asyncio.create_subprocess_exec(*argv, stdout=PIPE, stderr=PIPE)
            out, err = await probe.communicate()
    assert out.decode().splitlines() == ["other token hidden", "HTTP/1.1 200 OK"], err.decode()


@pytest.mark.parametrize("cap", ["lead_max_live = 2", "lead_max_per_minute = 5", "lead_budget_usd = 1.5"])
def test_a_leads_caps_on_a_ticket_that_is_no_lead_are_refused_in_words(tmp_path: Path, cap: str) -> None:
    lfg = Lfg(tmp_path)
    code, _, stderr = lfg.run(lfg.tickets(f'[[ticket]]\nid = "t"\nprompt = "hi"\n{cap}\n'))
    assert code != 0
    name = cap.split(" ")[0]
    assert f"ticket 't': {name} caps a lead's tickets, and this ticket is no lead (lead = true)" in stderr


def test_a_leads_role_carries_its_rate_and_budget_to_lfg_mcp_and_its_instructions() -> None:
    role = LeadRole("r1", "boss", 3, 10, 7, 2.5)
    assert lead_of(role.arg()) == role and role.arg() == "r1/boss/3/10/7/2.5"
    assert lead_of("r1/boss/3/10/20/-").budget_usd is None
    assert "at most 7 times a minute, a refused call counting too" in role.instructions()
    assert "Once you have ended, you add and message nothing more." in role.instructions()
    assert "A ticket on a model with no known price is refused" in role.instructions()
    assert "You and your tickets together may cost $2.5 (lead_budget_usd)" in role.instructions()
    with pytest.raises(ValueError, match="expected RUN/TICKET/LIVE/ADDED/PER_MINUTE/BUDGET"):
        lead_of("r1/boss/3/10/20/nan")


PACED = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
lead = true
lead_max_live = 5
lead_max_per_minute = 2
"""


async def test_a_lead_adds_and_messages_at_most_lead_max_per_minute_and_is_told_when_it_may_again(
    sim: SimServer, tmp_path: Path
) -> None:
    """Its adds and messages count, in any 60 seconds on the run's clock; past the cap each is refused
    in words saying when it may again. An add asked again by its key, and a cancel, are never held
    back. (The minute passing is the window's times moved back a minute: no test waits for time.)"""
    async with served(sim, tmp_path, PACED, control=True) as run, run.client() as person:
        lead = run.client(run.server.lead_token("boss"))
        first = await lead.post("/v1/requests", json={**add(SLOW), "key": "one"})
        child = first.json()["ticket"]
        steered = await lead.post("/v1/requests", json={"request": "steer", "ticket": child, "text": "go on"})
        held = await lead.post("/v1/requests", json=add(SLOW))
        again = await lead.post("/v1/requests", json={**add(SLOW), "key": "one"})
        cancelled = await lead.post("/v1/requests", json={"request": "cancel", "ticket": child})
        mine = await person.post("/v1/requests", json=add({"prompt": "Say hello.", "model": "hello"}))
        run.run.lead_paces["boss"] = type(run.run.lead_paces["boss"])(
            t - 60 for t in run.run.lead_paces["boss"]
        )
        later = await lead.post("/v1/requests", json=add({"prompt": "Say hello.", "model": "hello"}))
        await lead.aclose()
    assert first.status_code == 200 and steered.status_code == 200, (first.text, steered.text)
    assert held.status_code == 409
    words = held.json()["error"]
    assert words.startswith(
        "lead boss has asked to add tickets or send messages 2 times in the last minute (a refused ask "
        "counts too), its lead_max_per_minute: it may again in "
    ), words
    assert 1 <= int(words.rsplit(" ", 2)[1]) <= 60 and words.endswith(" s")
    assert again.json()["ticket"] == child, "asked again by its key: answered, nothing new"
    assert cancelled.status_code == 200, "a cancel is never held back"
    assert mine.status_code == 200, "the person is not paced"
    assert later.status_code == 200, later.text


BUDGETED = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "long-answer:tokens_per_s=20,repeat=200"
lead = true
lead_budget_usd = 0.25
"""
COSTLY = {"prompt": "x", "model": "long-answer:repeat=20,tokens_per_s=400"}
"""About 3,700 output tokens: about $3.70 on the sim priced at $1,000 per million output tokens."""


async def test_a_leads_budget_covers_it_and_its_tickets_and_stops_them_all_once_reached(
    sim: SimServer, tmp_path: Path
) -> None:
    """lead_budget_usd counts the lead's cost and every ticket it added: reached, the tickets it added
    (at work, or waiting for their depends_on) and the lead fail on the budget, saying so, and it may
    add no more."""
    sim_priced = replace(BUILTIN["sim"], prices=PriceOverride(input_per_mtok=0.0, output_per_mtok=1000.0))
    async with served(sim, tmp_path, BUDGETED, control=True, configs={"sim": sim_priced}) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            lead = await started_lead(run)
            costly = (await lead.post("/v1/requests", json=add(COSTLY))).json()["ticket"]
            after = (await lead.post("/v1/requests", json=add({**SLOW, "depends_on": [costly]}))).json()
            async with asyncio.timeout(20 * PATIENCE):
                while not all(ended_of(run.events, t) for t in ("boss", costly, after["ticket"])):
                    await asyncio.sleep(0.01)
            refused = await lead.post("/v1/requests", json=add(SLOW))
            await lead.aclose()
    for ticket in ("boss", costly, after["ticket"]):
        end = ended_of(run.events, ticket)
        assert end is not None and end.outcome is Outcome.FAILED, (ticket, end)
        assert end.error is not None and end.error.kind is ErrorKind.BUDGET
        spent = r"lead boss and its tickets cost ~?\$0\.2\d*, reaching its lead_budget_usd \$0\.25"
        assert re.fullmatch(spent, end.error.message), end.error.message
    assert refused.status_code == 403, "ended on its budget, it adds nothing more"
    assert refused.json()["error"].startswith("lead boss has ended (failed): a lead adds tickets")


def ended_of(events: list[Event], ticket: str) -> AttemptEnded | None:
    return next((e for e in events if isinstance(e, AttemptEnded) and e.ticket == ticket), None)


async def test_a_lead_lfg_stops_takes_its_unfinished_tickets_with_it_started_or_waiting(
    sim: SimServer, tmp_path: Path
) -> None:
    """Not only a person's cancel: a lead lfg ends (here interrupted, as a stopping process ends its
    attempts; a budget alike) cancels every ticket it added that has not ended, the one at work and
    the one waiting for it, each saying so, and the lead says which (its tickets ran on before)."""
    async with served(sim, tmp_path, BOSS, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            lead = await started_lead(run)
            first = (await lead.post("/v1/requests", json=add(SLOW))).json()["ticket"]
            second = (await lead.post("/v1/requests", json=add({**SLOW, "depends_on": [first]}))).json()
            await lead.aclose()
            run.run.interrupt("boss", ErrorInfo(ErrorKind.CONNECTION, "lfg is stopping"))
            async with asyncio.timeout(10 * PATIENCE):
                while not all(ended_of(run.events, t) for t in (first, second["ticket"])):
                    await asyncio.sleep(0.01)
    for child in (first, second["ticket"]):
        end = ended_of(run.events, child)
        assert end is not None and end.outcome is Outcome.CANCELLED, (child, end)
        said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == child]
        assert "cancelled with its lead boss" in said
    lead_said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == "boss"]
    assert f"its tickets stop with it: {first}, {second['ticket']}" in lead_said


async def test_the_runs_budget_fails_a_leads_tickets_on_the_budget_not_with_their_lead(
    sim: SimServer, tmp_path: Path
) -> None:
    """The run's max_cost_usd stops every ticket: a lead's tickets fail on it as the others do, not
    cancelled with their lead (which it stops after them)."""
    sim_priced = replace(BUILTIN["sim"], prices=PriceOverride(input_per_mtok=0.0, output_per_mtok=1000.0))
    async with served(sim, tmp_path, BOSS, control=True, configs={"sim": sim_priced}) as run:
        run.run.max_cost_usd = 0.25
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            lead = await started_lead(run)
            costly = (await lead.post("/v1/requests", json=add(COSTLY))).json()["ticket"]
            await lead.aclose()
            async with asyncio.timeout(20 * PATIENCE):
                while not all(ended_of(run.events, t) for t in ("boss", costly)):
                    await asyncio.sleep(0.01)
    for ticket in ("boss", costly):
        end = ended_of(run.events, ticket)
        assert end is not None and end.error is not None and end.error.kind is ErrorKind.BUDGET, (ticket, end)
        assert "reaching [run] max_cost_usd $0.25" in end.error.message
    said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == costly]
    assert "cancelled with its lead boss" not in said


async def test_a_lead_is_served_its_door_under_a_temp_folder_too_long_for_a_socket(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long TMPDIR (a CI's nested test folders, a person's own) left no room for the door's socket
    path (107 bytes on Linux): the worker's lead attempt failed to bind and hung; the door's folder
    is then made in /tmp, this user's alone as before."""
    long = tmp_path / ("t" * 100)
    long.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    async with served(sim, tmp_path, BOSS, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            door = run.run.lead_doors["boss"]
            assert door.socket.is_socket() and not door.socket.is_relative_to(long)
            assert oct(door.socket.parent.stat().st_mode & 0o777) == "0o700"
            assert len(str(door.socket)) <= SOCKET_PATH_MAX


async def test_a_watchers_cancel_of_a_lead_keeps_its_tickets_running_when_it_asks_to(
    sim: SimServer, tmp_path: Path
) -> None:
    """`cancel` with `keep_tickets: true` on a served run (a watcher's, as the TUI's dialog chooses):
    the lead stops and the ticket it added runs on, the lead saying so; a `keep_tickets`
    that is not true or false is refused naming it. Before, only the run's own terminal could keep
    them: the served request had no such field, and the tickets stopped with their lead."""
    async with served(sim, tmp_path, BOSS, control=True) as run, run.client() as person:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            lead = await started_lead(run)
            child = (await lead.post("/v1/requests", json=add(SLOW))).json()["ticket"]
            await lead.aclose()
            bad = await person.post(
                "/v1/requests", json={"request": "cancel", "ticket": "boss", "keep_tickets": 1}
            )
            kept = await person.post(
                "/v1/requests", json={"request": "cancel", "ticket": "boss", "keep_tickets": True}
            )
            async with asyncio.timeout(20 * PATIENCE):
                while not ended_of(run.events, "boss"):
                    await asyncio.sleep(0.01)
            running = run.run.states[child].running
            run.run.cancel(child)
    assert bad.status_code == 400 and bad.json()["error"] == "cancel: keep_tickets must be true or false"
    assert kept.status_code == 200, kept.text
    assert ended_of(run.events, "boss").outcome is Outcome.CANCELLED  # type: ignore[union-attr]
    assert running, "it ran on past its lead's end"
    said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == child]
    assert "cancelled with its lead boss" not in said, said
    lead_said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == "boss"]
    assert f"its tickets keep running: {child}" in lead_said, lead_said


@pytest.mark.parametrize("cause", ["socket path taken", "temp folder no folder"])
async def test_a_lead_whose_door_cannot_be_served_fails_in_one_line_and_the_run_goes_on(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cause: str
) -> None:
    """The door's socket path taken by a file that is no socket, or a temp folder where no folder for
    the doors can be made: the lead fails at start in one line naming the socket (or the folder) and
    the cause, and the run's other ticket completes. Fails before: the ServeError (the OSError) left
    serving_leads, and `lfg run` stopped with a traceback."""
    if cause == "socket path taken":
        folder = tmp_path / "doors"
        folder.mkdir(mode=0o700)
        (folder / "0.sock").write_text("not a socket\n")
        monkeypatch.setattr(leads, "door_folder", lambda: folder)
        socket = folder / "0.sock"
        cause = os.strerror(EADDRINUSE)
        said = f"lfg could not serve the lead its run: cannot serve on the socket {socket}: {cause}"
    else:
        taken = tmp_path / "tmp"
        taken.write_text("a file\n")
        monkeypatch.setattr(tempfile, "tempdir", str(taken))
        said = f"lfg could not make the folder of its doors in {taken}: Not a directory"
    async with served(sim, tmp_path, BOSS, control=True) as run:
        tickets = [state.written for state in run.run.states.values()]
        async with serving_leads(run.run, tickets):
            run.run.start()
            outcomes = await run.run.wait()
    assert outcomes == {"boss": Outcome.FAILED, "other": Outcome.COMPLETED}, run.events
    (ended,) = [e for e in run.events if isinstance(e, AttemptEnded) and e.ticket == "boss"]
    assert ended.error is not None and ended.error.message == said, ended.error
    assert "\n" not in ended.error.message
