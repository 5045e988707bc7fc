"""Issue 64's first done-when, end to end: `lfg run --json --serve … --control` as a real process, its
two API tickets answered by a sim in this test that logs each request. One, on a Claude model the sim
holds to the Messages API's thinking rules, goes three tool rounds and is steered through
`POST /v1/requests` while its first call streams: the steer goes out as the user turn right after the
first round's tool result, in the same attempt, which completes. The other is sent a queued message
(and a follow-up, which to a running ticket queues) while it works: each goes out as its next turn
after its answer, in order.

Each ticket's first tool call needs approval, which this test gives over HTTP only once it has sent
its request: what the run holds when is decided by the order of the lines it prints, not by time."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from lfgtui.events import Event, Holding, PromptSent, Status
from lfgtui.remote.codec import decode
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.serving import STEERED_AGENT_TICKET, TOKEN, asked, finish, served, steered_agent
from tests.support.streams import GATED_WRITE, write_scenario

STEER = "Stop after the README, and answer in French."


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    rules = (ModelRule("claude-opus-5", "steer-rounds"),)
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(rules)) as server:
        yield server


def tickets(lfg: Lfg, sim: SimServer) -> Path:
    lfg.config.write_text(
        f'[providers.claude]\nkind = "anthropic"\nbase_url = "{sim.url}"\napi_key_env = "SIM_KEY"\n'
        f'[providers.local]\nkind = "openai"\nbase_url = "{sim.url}/v1"\napi_key_env = "SIM_KEY"\n'
    )
    lfg.env["SIM_KEY"] = "sim"
    return lfg.tickets(
        """
        [defaults]
        tools = ["write_file", "list_dir", "read_file"]

        [[ticket]]
        id = "steered"
        prompt = "Look around."
        provider = "claude"
        model = "claude-opus-5"

        [[ticket]]
        id = "queued"
        prompt = "Note something."
        provider = "local"
        model = "gated"
        """
    )


@pytest.mark.timeout(120)
async def test_a_served_run_is_steered_between_rounds_and_sent_its_queued_turns(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "gated", GATED_WRITE)
    lfg = Lfg(tmp_path)
    path = tickets(lfg, sim)
    (lfg.workdir / "token").write_text(TOKEN)
    args = lfg.args(
        path, "--json", "--serve", "127.0.0.1:0", "--control", "--token-file", str(lfg.workdir / "token")
    )
    process = await warm_lfg.create_subprocess_exec(
        *args, cwd=lfg.workdir, env=lfg.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    answers: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(90 * PATIENCE):
            served = re.search(r"serving this run at (\S+)", (await process.stderr.readline()).decode())
            assert served is not None
            headers = {"Authorization": f"Bearer {TOKEN}", "LFG-Watcher": "ada"}
            async with httpx2.AsyncClient(base_url=served.group(1), headers=headers) as client:

                async def ask(name: str, body: dict[str, Any]) -> None:
                    answer = await client.post("/v1/requests", json=body)
                    answers[name] = (answer.status_code, answer.json())

                async for line in process.stdout:
                    event = json.loads(line)
                    events.append(event)
                    ticket, kind = event["ticket"], event["type"]
                    firsts = [e for e in events if e["ticket"] == ticket and e["type"] == "text"]
                    if kind == "text" and len(firsts) == 1 and ticket == "steered":  # its first call streams
                        await ask("steer", {"request": "steer", "ticket": "steered", "text": STEER})
                    elif kind == "text" and len(firsts) == 1 and ticket == "queued" and event["attempt"] == 1:
                        await ask("queue", {"request": "queue", "ticket": "queued", "text": "Then note two."})
                        follow = {"request": "follow-up", "ticket": "queued", "text": "Then note three."}
                        await ask("follow-up", follow)
                    elif kind == "approval":
                        approve = {
                            "request": "approve",
                            "ticket": ticket,
                            "call": event["id"],
                            "allowed": True,
                        }
                        await ask(f"approve {ticket}", approve)
            assert await process.wait() == 0, (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert answers["steer"][0] == answers["queue"][0] == answers["follow-up"][0] == 200
    assert (answers["steer"][1]["as"], answers["queue"][1]["as"]) == ("steer", "next_turn")

    steered = [r for r in sim.log if r.model == "claude-opus-5"]
    assert [r.status for r in steered] == [200] * 4, "three tool rounds and the answer"
    assert all(r.replay is not None and r.replay.whole for r in steered), "the thinking came back whole"
    after_first = steered[1].body["messages"][-1]
    assert after_first["role"] == "user"
    assert [block["type"] for block in after_first["content"]] == ["tool_result", "text"]
    assert after_first["content"][1]["text"] == STEER
    assert all(STEER not in json.dumps(r.body["messages"][-1]) for r in steered[2:]), "sent once"
    (steer,) = [e for e in events if e["type"] == "steer"]
    assert steer["ticket"] == "steered" and steer["attempt"] == 1 and steer["by"] == "127.0.0.1 (ada)"
    ends = [(e["ticket"], e["attempt"], e["outcome"]) for e in events if e["type"] == "attempt_ended"]
    assert ("steered", 1, "completed") in ends and not any(t == "steered" and a > 1 for t, a, _ in ends)
    answer = "".join(e["text"] for e in events if e["ticket"] == "steered" and e["type"] == "text")
    assert answer.endswith(f"Your last words to me: {STEER}")

    queued = [r.body["messages"] for r in sim.log if r.model == "gated"]
    assert [m[-1] for m in queued[2:]] == [
        {"role": "user", "content": "Then note two."},
        {"role": "user", "content": "Then note three."},
    ], "each the next turn, after the answer before it"
    assert queued[2][-2]["role"] == "assistant" and queued[2][-2]["content"].startswith(
        "Noted: Note something."
    )
    prompts = [
        (e["attempt"], e["text"], e["continues"])
        for e in events
        if e["type"] == "prompt" and e["ticket"] == "queued"
    ]
    assert prompts == [(1, "Note something.", None), (2, "Then note two.", 1), (3, "Then note three.", 2)]
    assert [a for t, a, o in ends if t == "queued" and o == "completed"] == [1, 2, 3]
    notes = [e["message"] for e in events if e["type"] == "status" and e["ticket"] == "queued"]
    assert "queued by 127.0.0.1 (ada)" in notes, "who sent it, said with its turn"


async def test_a_steer_or_queue_a_run_would_not_take_is_refused_with_its_words(
    sim: SimServer, tmp_path: Path
) -> None:
    one = '[[ticket]]\nid = "hi"\nprompt = "x"\nprovider = "sim"\nmodel = "hello"\n'
    async with served(sim, tmp_path, one, control=True) as run:
        run.run.start()
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)
        async with run.client() as client:
            ended = await client.post("/v1/requests", json={"request": "steer", "ticket": "hi", "text": "go"})
            blank = await client.post("/v1/requests", json={"request": "queue", "ticket": "hi", "text": " "})
            nobody = await client.post("/v1/requests", json={"request": "queue", "ticket": "no", "text": "x"})
        await finish(run)
    assert (ended.status_code, ended.json()) == (409, {"error": "hi has ended: send it a follow-up instead"})
    assert (blank.status_code, blank.json()) == (400, {"error": "queue: text is missing or blank"})
    assert nobody.status_code == 404


HELD_TICKET = (
    '[[ticket]]\nid = "t"\nprompt = "Look around."\nprovider = "sim"\nmodel = "steer-rounds"\n'
    'tools = ["write_file", "list_dir", "read_file"]\n'
)


THREE = ("then a haiku", "then a sonnet", "then a limerick")


def served_events(messages: list[bytes]) -> list[Event]:
    """The events a watcher of the served feed reads, decoded as `lfg attach` decodes them."""
    found: list[Event] = []
    for message in messages:
        data = json.loads(message.decode().split("\ndata: ", 1)[1])
        found += [decode(event, 0.0) for event in data.get("events", ())]
    return found


async def test_a_watcher_edits_and_takes_back_held_messages_by_id_until_each_is_sent(
    sim: SimServer, tmp_path: Path
) -> None:
    """The held list travels in the served feed with each message's id; `edit-held` and `remove-held`
    change it, recorded with who asked; one already gone, or on a ticket that ended, is a 409 in
    words (and, while the ticket runs, a line in its pane): never dropped in silence."""
    async with served(sim, tmp_path, HELD_TICKET, control=True, yes=False) as run:
        run.run.start()
        call = await asked(run, 1)  # the first round's write_file waits: the turn runs, unsent
        async with run.client() as client:
            client.headers["LFG-Watcher"] = "ada"

            async def ask(body: dict[str, Any]) -> tuple[int, Any]:
                answer = await client.post("/v1/requests", json=body)
                return answer.status_code, answer.json()

            queued = [await ask({"request": "queue", "ticket": "t", "text": text}) for text in THREE]
            first, second, third = run.run.states["t"].inbox.held
            assert [(code, said["as"], said["held"]) for code, said in queued] == [
                (200, "next_turn", m.id) for m in (first, second, third)
            ]
            edit = {"request": "edit-held", "ticket": "t", "held": first.id, "text": "then a tanka"}
            remove = {"request": "remove-held", "ticket": "t", "held": second.id}
            assert await ask(edit) == await ask(remove) == (200, {"ok": True})
            gone = await ask(remove)
            missing = await ask({"request": "edit-held", "ticket": "t", "held": 99, "text": "x"})
            blank = await ask({"request": "edit-held", "ticket": "t", "held": third.id, "text": " "})
            wrong = await ask({"request": "remove-held", "ticket": "t", "held": "one"})
            snapshot = (await client.get("/v1/inbox")).json()
            approve = {"request": "approve", "ticket": "t", "call": call.call_id, "allowed": True}
            assert await ask(approve) == (200, {"ok": True})
            await finish(run)
            ended = await ask({"request": "remove-held", "ticket": "t", "held": third.id})

    assert gone == (409, {"error": f"t holds no message {second.id}: it was sent already, or taken back"})
    assert missing[0] == 409 and blank[0] == 400 and wrong[0] == 400
    assert "held must be a held message's id" in wrong[1]["error"]
    assert ended == (
        409,
        {
            "error": f"t has ended (completed): it holds no message {third.id} any more (each was sent, "
            "or said unsent, as its turn ended)"
        },
    )
    [item] = [i for s in ("needs_you", "unread", "rest") for i in snapshot[s]]
    assert [(h["id"], h["text"], h["steer"], h["by"]) for h in item["held"]] == [
        (first.id, "then a tanka", False, "127.0.0.1 (ada)"),
        (third.id, "then a limerick", False, "127.0.0.1 (ada)"),
    ]
    assert item["compose"] == "steer", "its tool loop has a safe point ahead"
    said = [e.message for e in run.events if isinstance(e, Status) and e.ticket == "t"]
    assert "edited by 127.0.0.1 (ada): then a tanka" in said
    assert "taken back by 127.0.0.1 (ada): then a sonnet" in said
    refused = f"take-back by 127.0.0.1 (ada) refused: t holds no message {second.id}: it was sent already"
    assert any(line.startswith(refused) for line in said), "a line in its pane"
    held = [[m.text for m in e.held] for e in served_events(run.hub.messages) if isinstance(e, Holding)]
    assert ["then a tanka", "then a sonnet", "then a limerick"] in held, "each change carries the whole list"
    assert held[-2:] == [["then a limerick"], []], "then each is sent in turn"
    prompts = [e.text for e in run.events if isinstance(e, PromptSent) and e.ticket == "t"]
    assert prompts == ["Look around.", "then a tanka", "then a limerick"], "the rest sent, in order"


STILL = '[[ticket]]\nid = "still"\nprompt = "x"\nprovider = "sim"\nmodel = "hello:ttft_ms=60000"\n'
"""A ticket with no tools, whose answer is a minute away: its turn has no safe point to steer at."""


async def test_a_steer_is_answered_steered_or_queued_as_the_next_turn_in_words_and_a_field(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: the API answered `{"ok": true}` whether a steer went into the running turn or became
    its next turn. It now says which (`as`), in words (`said`), with the id every `held` line and
    `edit-held` use (`held`)."""
    async with served(sim, tmp_path, HELD_TICKET + STILL, control=True, yes=False) as run:
        run.run.start()
        await asked(run, 1)  # t's first round waits for its approval: a safe point is ahead
        async with run.client() as client:
            client.headers["LFG-Watcher"] = "ada"

            async def ask(body: dict[str, Any]) -> Any:
                answer = await client.post("/v1/requests", json=body)
                assert answer.status_code == 200, answer.text
                return answer.json()

            steered = await ask({"request": "steer", "ticket": "t", "text": "Answer in French."})
            queued = await ask({"request": "queue", "ticket": "t", "text": "Then a haiku."})
            unsteerable = await ask({"request": "steer", "ticket": "still", "text": "Be brief."})
            held = {m.text: m.id for s in run.run.states.values() for m in s.inbox.held}
    french = held["Answer in French."]
    assert steered == {
        "ok": True,
        "as": "steer",
        "held": french,
        "said": f"steered: held for t's running turn (message {french}), for its next safe point",
    }
    assert (queued["as"], queued["held"]) == ("next_turn", held["Then a haiku."])
    assert queued["said"].startswith("queued as t's next turn")
    assert (unsteerable["as"], unsteerable["held"]) == ("next_turn", held["Be brief."])
    assert "not steered: its running turn cannot take a steer now" in unsteerable["said"]


async def test_a_steer_to_a_coding_agent_is_answered_sent_to_it_not_held_for_a_safe_point(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: a steer to a coding agent's ticket was answered "held … for its next safe point",
    which is lfg's tool loop; the agent is sent it at once and its model reads it when the agent
    chooses, which lfg learns only as the turn ends. The answer says so, as the pane does."""
    toml = STEERED_AGENT_TICKET + f'workdir = "{tmp_path}"\n'
    async with served(sim, tmp_path, toml, control=True, yes=False, configs=steered_agent()) as run:
        run.run.start()
        await asked(run, 1)  # the agent's write waits: its turn runs, and it said it takes steers
        async with run.client() as client:
            body = {"request": "steer", "ticket": "a", "text": "Also say PELICAN."}
            answer = await client.post("/v1/requests", json=body)
    assert answer.status_code == 200, answer.text
    taken = answer.json()
    assert (taken["as"], taken["held"]) == ("steer", 1)
    assert taken["said"] == (
        "steered: held for a's running turn (message 1), sent to lfg simulator (ACP) now; "
        "its model reads it at a call the agent picks: recorded once the turn ends"
    )


async def test_a_steer_to_claude_code_waiting_on_the_person_is_answered_kept_until_it_goes_on(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: lfg keeps a steer to Claude Code's adapter while it waits on the person's answer to
    its request (it would read it only after its turn's last answer), yet the API answered "sent to
    lfg simulator (ACP) now". The answer says it is kept, and the inbox's composer says so before."""
    toml = STEERED_AGENT_TICKET + f'workdir = "{tmp_path}"\n'
    claude = steered_agent("--agent-name", "@agentclientprotocol/claude-agent-acp")
    async with served(sim, tmp_path, toml, control=True, yes=False, configs=claude) as run:
        run.run.start()
        await asked(run, 1)  # the agent's write waits for the person
        async with run.client() as client:
            inbox = (await client.get("/v1/inbox")).json()
            body = {"request": "steer", "ticket": "a", "text": "Also say PELICAN."}
            answer = await client.post("/v1/requests", json=body)
    assert answer.status_code == 200, answer.text
    taken = answer.json()
    assert (taken["as"], taken["held"]) == ("steer", 1)
    kept = (
        "kept until lfg simulator (ACP) goes on after your answer to its request (a steer it takes "
        "while it waits on you it reads only after its turn's last answer), then sent to lfg simulator (ACP)"
    )
    assert taken["said"] == (
        f"steered: held for a's running turn (message 1), {kept}; "
        "its model reads it at its next model call: recorded where that call's message begins"
    )
    (item,) = [i for i in inbox["needs_you"] if i["ticket"] == "a"]
    assert item["compose_says"]["steer"].startswith(f"Enter steers a: {kept}, which reads it")
