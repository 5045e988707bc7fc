"""A lead ticket (`lead = true`): its own token, on a run served as lfg serves it, may add tickets
(within the caps the person set) and message or cancel those it added, and is refused 403 in words
for everything else, over real HTTP; `lead` cannot be set through add-ticket; and a lead's coding
agent gets lfg's MCP server in `session/new` through the real `lfg run` (the sim agent records what
it was given)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from lfgtui.events import AttemptEnded, Status
from lfgtui.remote.leads import Seen, serving_leads
from lfgtui.sim.server import SimServer
from lfgtui.tools.sandbox import Sandbox, unavailable
from tests.support.agents import mcp_recording_agent as agent
from tests.support.agents import mcp_requests as requests
from tests.support.lfg import Lfg, of
from tests.support.serving import served

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
            assert peek.json()["error"] == (
                "add-ticket: depends_on: lead boss may name only the tickets it added, not 'other'"
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
            async with asyncio.timeout(10):
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
    assert args[9].endswith("/boss/3/4") and (run_id is None or args[9] == f"{run_id}/boss/3/4")
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
            params = StdioServerParameters(
                command=door.server.command, args=list(door.server.args), env=dict(os.environ)
            )
            with (tmp_path / "mcp.err").open("w") as err:
                async with (
                    stdio_client(params, errlog=err) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    hello = await session.initialize()
                    assert hello.instructions is not None
                    assert hello.instructions.startswith(
                        f"You are boss, the lead ticket of lfg run {run.run.run_id}."
                    )
                    assert "at most 3 unfinished at once and 10 in all" in hello.instructions
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
            async with asyncio.timeout(10):
                while not run.run.states[child].running:
                    await asyncio.sleep(0.01)
            assert run.run.cancel("boss")
            async with asyncio.timeout(10):
                while not any(isinstance(e, AttemptEnded) and e.ticket == child for e in run.events):
                    await asyncio.sleep(0.01)
            [ended] = [e for e in run.events if isinstance(e, AttemptEnded) and e.ticket == child]
            assert ended.outcome.value == "cancelled"
            said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == child]
            assert "cancelled with its lead boss" in said
            async with asyncio.timeout(10):
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


def test_a_leads_caps_on_a_ticket_that_is_no_lead_are_refused_in_words(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    code, _, stderr = lfg.run(lfg.tickets('[[ticket]]\nid = "t"\nprompt = "hi"\nlead_max_live = 2\n'))
    assert code != 0
    assert (
        "ticket 't': lead_max_live caps a lead's tickets, and this ticket is no lead (lead = true)" in stderr
    )
