"""The inbox over HTTP, against the real server on 127.0.0.1: its token, what it lists in which order,
and approvals and follow-ups reaching the run (tests/remote/test_inbox_browser.py opens it in Chromium)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from lfgtui.config.load import Config
from lfgtui.events import (
    ApprovalAnswered,
    AttemptEnded,
    AttemptStarted,
    ElicitationAsked,
    EventFactory,
    HeldMessage,
    Holding,
    Outcome,
    PromptSent,
    Status,
    SubagentChanged,
    TextDelta,
)
from lfgtui.remote.inbox import Inbox, fields, last_lines, question
from lfgtui.remote.server import MAX_BODY_BYTES
from lfgtui.run.steer_words import Composing
from lfgtui.run.steering import MAX_MESSAGE_CHARS
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.app import tickets as tickets_file
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN, Served, asked, served

TICKETS = """
[defaults]
provider = "sim"

[[ticket]]
id = "hi"
title = "Say hello"
prompt = "x"
model = "hello"

[[ticket]]
id = "ask"
prompt = "x"
model = "asks"

[[ticket]]
id = "w"
prompt = "x"
model = "writer"
tools = ["write_file", "run_command"]
depends_on = ["ask"]

[[ticket]]
id = "after"
prompt = "x"
model = "hello"
depends_on = ["w"]
"""
"""`ask` ends on a question, then `w` asks to write a file (so it waits less long); `hi` ends unread;
`after` waits on `w`."""


@contextlib.asynccontextmanager
async def inbox_run(sim: SimServer, tmp_path: Path, control: bool = True) -> AsyncIterator[Served]:
    (tmp_path / "README.md").write_text("# Widget\n")
    async with served(sim, tmp_path, TICKETS, control=control, yes=False) as run:
        run.run.start()
        yield run


async def inbox(client: httpx2.AsyncClient, after: int | None = None) -> dict[str, Any]:
    answer = await client.get(
        "/v1/inbox", params={} if after is None else {"after": after}, timeout=30 * PATIENCE
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()  # type: ignore[no-any-return]


async def inbox_until(client: httpx2.AsyncClient, done: Any) -> dict[str, Any]:
    """The inbox, asked again as the page asks (after the version it has) until `done(inbox)`."""
    shown = await inbox(client)
    async with asyncio.timeout(30 * PATIENCE):
        while not done(shown):
            shown = await inbox(client, shown["version"])
    return shown


def tickets(shown: dict[str, Any], section: str) -> list[tuple[str, str]]:
    return [(item["ticket"], item["state"]) for item in shown[section]]


async def test_without_the_token_the_inbox_answers_401_and_its_page_holds_nothing_of_the_run(
    sim: SimServer, tmp_path: Path
) -> None:
    async with inbox_run(sim, tmp_path) as run:
        await asked(run, 1)
        for authorization in (
            None,
            "Bearer wrong-token-0123456789abcdef",
            f"Bearer {TOKEN}x",
            f"Basic {TOKEN}",
        ):
            headers = {"Authorization": authorization} if authorization else {}
            async with httpx2.AsyncClient(base_url=run.url, headers=headers, timeout=10 * PATIENCE) as client:
                answers = [
                    await client.get("/v1/inbox"),
                    await client.get("/v1/inbox?after=0"),
                    await client.post("/v1/tickets/ask/follow-up", content="go on"),
                    await client.post("/v1/tickets/w/calls/any/approve"),
                    await client.options("/v1/inbox", headers={"Origin": "http://evil.example"}),
                ]
                page = await client.get("/inbox")
            for answer in answers:
                assert answer.status_code == 401, authorization
                assert "access-control-allow-origin" not in answer.headers, "no other site may read or send"
                assert run.run.run_id not in answer.text and "Widget" not in answer.text
        refused = [
            e
            for e in run.events
            if isinstance(e, ApprovalAnswered) or (isinstance(e, PromptSent) and e.attempt > 1)
        ]
        assert refused == [], "a refused answer or follow-up reached nothing"
    assert page.status_code == 200
    for secret in (run.run.run_id, "Say hello", "notes/summary.md", "Which one"):
        assert secret not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "form-action 'none'" in policy
    assert "unsafe" not in policy and "script-src 'sha256-" in policy and "style-src 'sha256-" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "innerHTML" not in page.text and "insertAdjacentHTML" not in page.text


async def test_the_inbox_lists_who_needs_you_first_and_its_answers_reach_the_run(
    sim: SimServer, tmp_path: Path
) -> None:
    async with inbox_run(sim, tmp_path) as run, run.client() as client:
        write = await asked(run, 1)
        shown = await inbox_until(client, lambda s: len(s["needs_you"]) == 2 and s["unread"])
        assert tickets(shown, "needs_you") == [("ask", "asked"), ("w", "approval")], (
            "the longest waiting first"
        )
        assert tickets(shown, "unread") == [("hi", "unread")]
        assert tickets(shown, "rest") == [("after", "waiting")]
        ask, w = shown["needs_you"]
        assert ask["label"] == "asked?" and ask["detail"] == "Which one do you want me to do?"
        assert ask["answer"].endswith("Which one do you want me to do?") and ask["follow_up"]
        assert ask["requests"] == [] and not w["follow_up"]
        (request,) = w["requests"]
        assert request["kind"] == "approval" and request["call"] == write.call_id and request["answerable"]
        assert request["tool"] == "write_file"
        assert [(f["key"], f["text"]) for f in request["fields"]] == [
            ("path", "notes/summary.md"),
            ("content", "# Summary\n\nWritten by the lfg writer scenario.\n"),
        ]
        assert w["answer"] == "I'll write the notes file and check it."
        assert shown["unread"][0]["title"] == "Say hello" and shown["rest"][0]["label"] == "waiting on w"
        assert "answer" not in shown["rest"][0], "the rest is listed compactly"

        waiting = asyncio.ensure_future(inbox(client, shown["version"]))
        call = quote(write.call_id, safe="")
        watcher = {"LFG-Watcher": "inbox"}
        approved = await client.post(f"/v1/tickets/w/calls/{call}/approve", headers=watcher)
        assert approved.json() == {"ok": True}
        changed = await waiting
        assert changed["version"] > shown["version"]
        assert all(r["call"] != write.call_id for item in changed["needs_you"] for r in item["requests"])

        command = await asked(run, 2)
        longest = "\N{MUSICAL SYMBOL G CLEF}" * MAX_MESSAGE_CHARS  # 12 bytes each, JSON-escaped
        json_type = {"Content-Type": "application/json"}
        answers = []
        for text in (longest, longest + "!"):
            body = json.dumps({"request": "queue", "ticket": "w", "text": text}, ensure_ascii=True)
            answers.append(await client.post("/v1/requests", content=body, headers=json_type))
        assert answers[0].json()["as"] == "next_turn" and answers[1].status_code == 409
        assert answers[1].json()["error"] == "a queued message holds at most 20,000 characters (20,001 sent)"
        held = await inbox_until(client, lambda s: any(i["held"] for i in s["needs_you"]))
        [message] = next(i["held"] for i in held["needs_you"] if i["ticket"] == "w")
        assert message["text"] == longest, "a message as long as the run takes reaches it whole"
        taken = {"request": "remove-held", "ticket": "w", "held": message["id"]}
        assert (await client.post("/v1/requests", json=taken)).json() == {"ok": True}
        shown = await inbox_until(client, lambda s: any(i["requests"] for i in s["needs_you"]))
        assert [r["tool"] for r in shown["needs_you"][1]["requests"]] == ["run_command"]
        denied = await client.post(f"/v1/tickets/w/calls/{quote(command.call_id, safe='')}/deny")
        assert denied.json() == {"ok": True}
        shown = await inbox_until(client, lambda s: not s["rest"])
        assert tickets(shown, "needs_you") == [("ask", "asked")]
        assert tickets(shown, "unread") == [("hi", "unread"), ("w", "unread"), ("after", "unread")]

        sent = await client.post(
            "/v1/tickets/ask/follow-up", content="The small patch, please.", headers=watcher
        )
        assert sent.json() == {"ok": True}
        busy = await client.post("/v1/tickets/ask/follow-up", content="And tests.")
        shown = await inbox_until(client, lambda s: ("ask", "working") in tickets(s, "rest"))
        blank = await client.post("/v1/tickets/hi/follow-up", content=" \n")
        garbled = await client.post("/v1/tickets/hi/follow-up", content=b"\xff\xfe")
        huge = await client.post("/v1/tickets/hi/follow-up", content="x" * (MAX_BODY_BYTES + 1))
        nobody = await client.post("/v1/tickets/nobody/follow-up", content="hello?")
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)
    assert busy.json() == {"ok": True}, "to a ticket still working: queued as its next turn"
    assert blank.status_code == 400 and garbled.status_code == 400
    assert huge.status_code == 413 and nobody.status_code == 404
    assert huge.json()["error"].startswith(f"a request holds at most {MAX_BODY_BYTES:,} bytes")
    answers = [(e.message) for e in run.events if isinstance(e, ApprovalAnswered)]
    assert answers == ["write_file approved by 127.0.0.1 (inbox)", "run_command denied by 127.0.0.1"]
    follow_ups = [
        (e.attempt, e.text, e.continues)
        for e in run.events
        if isinstance(e, PromptSent) and e.ticket == "ask"
    ]
    assert follow_ups == [(1, "x", None), (2, "The small patch, please.", 1), (3, "And tests.", 2)]
    notes = [e.message for e in run.events if type(e) is Status and e.ticket == "ask"]
    assert "follow-up sent by 127.0.0.1 (inbox)" in notes
    ends = [(e.ticket, e.attempt, e.outcome) for e in run.events if isinstance(e, AttemptEnded)]
    assert ("ask", 2, Outcome.COMPLETED) in ends


async def test_a_read_only_inbox_offers_no_answers_and_refuses_a_follow_up(
    sim: SimServer, tmp_path: Path
) -> None:
    async with inbox_run(sim, tmp_path, control=False) as run, run.client() as client:
        shown = await inbox_until(client, lambda s: ("ask", "asked") in tickets(s, "needs_you"))
        refused = await client.post("/v1/tickets/ask/follow-up", content="go on")
        wrong = await client.get("/v1/inbox", params={"after": "-1"})
    assert shown["control"] is False and not any(item["follow_up"] for item in shown["needs_you"])
    assert refused.status_code == 403 and "--control" in refused.json()["error"]
    assert wrong.status_code == 400


def test_every_argument_is_shown_whole_and_revealed() -> None:
    shown = fields(
        {
            "kind": "edit",
            "input": {"command": "rm -rf \u202e/ #\u202c", "argv": ["a", "b"]},
            "changes": "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new",
            "timeout_s": 30,
        }
    )
    assert shown == [
        {"key": "kind", "text": "edit", "depth": 0, "diff": False},
        {"key": "input", "text": "", "depth": 0, "diff": False},
        {"key": "command", "text": "rm -rf <U+202E>/ #<U+202C>", "depth": 1, "diff": False},
        {"key": "argv", "text": "a, b", "depth": 1, "diff": False},
        {"key": "changes", "text": "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new", "depth": 0, "diff": True},
        {"key": "timeout_s", "text": "30", "depth": 0, "diff": False},
    ]
    assert last_lines("\n".join(str(n) for n in range(40)) + "\n\n") == "\n".join(
        str(n) for n in range(28, 40)
    )


AGENT = """
[[ticket]]
id = "agent"
prompt = "x"
provider = "sim-acp"
model = "writer:ttft_ms=0,tokens_per_s=0"
"""
"""The sim ACP agent, which asks permission to write a file and then to run a command."""


async def test_a_coding_agents_request_is_listed_whole_and_answered_as_in_the_tui(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, AGENT, control=True, yes=False) as run, run.client() as client:
        run.run.start()
        write = await asked(run, 1, within=45)  # a loaded machine takes its time to start the agent
        shown = await inbox_until(client, lambda s: any(item["requests"] for item in s["needs_you"]))
        (request,) = shown["needs_you"][0]["requests"]
        keyed = {(f["key"], f["depth"]): f for f in request["fields"]}
        assert request["tool"] == "write_file notes/summary.md" and request["call"] == write.call_id
        assert keyed[("input", 0)]["text"] == "" and keyed[("path", 1)]["text"] == "notes/summary.md"
        assert keyed[("content", 1)]["text"] == "# Summary\n\nWritten by the lfg writer scenario.\n"
        assert keyed[("yes picks", 0)]["text"] == "Allow once"
        call = quote(write.call_id, safe="")
        assert (await client.post(f"/v1/tickets/agent/calls/{call}/approve")).json() == {"ok": True}
        command = await asked(run, 2)
        assert (
            await client.post(f"/v1/tickets/agent/calls/{quote(command.call_id, safe='')}/approve")
        ).status_code == 200
        shown = await inbox_until(client, lambda s: not s["needs_you"] and not s["rest"])
        await asyncio.wait_for(
            run.run.wait(), 30 * PATIENCE
        )  # its agent stopped, before the run is torn down
    assert (tmp_path / "notes" / "summary.md").exists()
    answers = [e.message for e in run.events if isinstance(e, ApprovalAnswered)]
    assert answers == [
        "write_file notes/summary.md approved by 127.0.0.1",
        "run_command cat notes/summary.md approved by 127.0.0.1",
    ]


ASKS_A_FORM = '[[ticket]]\nid = "rel"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "elicit:ttft_ms=0"\n'
"""The sim ACP agent asking its release form (lfgtui/sim/scenarios/elicit.toml)."""


@pytest.mark.timeout(120)  # an agent's start: slow on a loaded machine
async def test_an_agents_question_is_listed_as_its_form_and_the_pages_answer_reaches_it(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the agent's log
    async with served(sim, tmp_path, ASKS_A_FORM, control=True, yes=False) as run, run.client() as client:
        run.run.start()
        shown = await inbox_until(client, lambda s: any(item["requests"] for item in s["needs_you"]))
        [item] = shown["needs_you"]
        assert (item["ticket"], item["state"]) == ("rel", "asked")
        [question] = item["requests"]
        assert question["kind"] == "elicitation" and question["answerable"]
        assert not item["follow_up"], "its turn goes on once the form is answered: no follow-up yet"
        assert question["question"] == "Before I start: how should I name the release?"
        by_name = {field["name"]: field for field in question["fields"]}
        assert [(f["kind"], f["required"]) for f in by_name.values()] == [
            ("string", True),
            ("integer", True),
            ("choice", False),
            ("boolean", False),
        ]
        assert by_name["builds"]["bounds"] == "1 to 10" and by_name["builds"]["default"] == 3
        assert [c["value"] for c in by_name["channel"]["choices"]] == ["stable", "beta", "nightly"]
        path = f"/v1/tickets/rel/elicitations/{quote(question['call'], safe='')}/accept"
        content = {"name": "v4", "builds": 2, "channel": "beta", "notify": True}  # as the page sends it
        assert (await client.post(path, json={"content": content})).json() == {"ok": True}
        await inbox_until(client, lambda s: not any(item["requests"] for item in s["needs_you"]))
        await asyncio.wait_for(run.run.wait(), 60 * PATIENCE)
    said = "".join(e.text for e in run.events if isinstance(e, TextDelta))
    assert 'accepted: {"builds": 2, "channel": "beta", "name": "v4", "notify": true}' in said, said


def test_a_question_is_shown_revealed_and_sent_back_by_the_agents_own_names() -> None:
    """The form's texts go out revealed; the names and choice values the answer is keyed by stay as
    the agent sent them."""
    asked = ElicitationAsked(
        ticket="t",
        attempt=1,
        seq=1,
        t=0.0,
        message="asks",
        elicitation_id="e1",
        question="Pick\x1b[2J one",
        form={
            "type": "object",
            "properties": {"pick\u202e": {"type": "string", "title": "Pick\x07", "enum": ["a\x1b", "b"]}},
            "required": ["pick\u202e"],
        },
    )
    shown = question(asked, now=2.0, control=False)
    assert "\x1b" not in shown["question"] and not shown["answerable"]
    [field] = shown["fields"]
    assert field["name"] == "pick\u202e", "sent back as the agent named it"
    assert "\x07" not in field["label"] and "\u202e" not in field["label"]
    assert [c["value"] for c in field["choices"]] == ["a\x1b", "b"]
    assert all("\x1b" not in c["title"] for c in field["choices"])


@pytest.mark.timeout(120)  # an agent's start: slow on a loaded machine
async def test_the_inbox_refuses_an_answer_that_does_not_fit_the_form_as_the_tui_does(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A choice the form does not offer, a number out of its bounds, a field it does not have: each is
    refused over HTTP saying what does not fit, and the agent never sees it; a fitting answer goes."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the agent's log
    async with served(sim, tmp_path, ASKS_A_FORM, control=True, yes=False) as run, run.client() as client:
        run.run.start()
        shown = await inbox_until(client, lambda s: any(item["requests"] for item in s["needs_you"]))
        [question] = shown["needs_you"][0]["requests"]
        path = f"/v1/tickets/rel/elicitations/{quote(question['call'], safe='')}/accept"
        wrong = [
            ({"name": "v4", "builds": 2, "channel": "alpha"}, "channel: choose one of the choices"),
            ({"name": "v4", "builds": 11}, "builds: 1 to 10"),
            ({"name": "v4", "builds": 2, "admin": True}, "admin: not a field of this form"),
            ({"builds": 2}, "name: required"),
        ]
        for content, problem in wrong:
            answer = await client.post(path, json={"content": content})
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"] == f"the answer does not fit the form: {problem}"
        fits = {"name": "v4", "builds": 2.0}  # a whole number as JSON may write it
        assert (await client.post(path, json={"content": fits})).json() == {"ok": True}
        await asyncio.wait_for(run.run.wait(), 60 * PATIENCE)
    said = "".join(e.text for e in run.events if isinstance(e, TextDelta))
    assert 'accepted: {"builds": 2, "name": "v4"}' in said, said


def test_a_tickets_sub_agents_are_counted_by_state_on_its_item(tmp_path: Path) -> None:
    """The page's line of a ticket's sub-agents: how many, and how many in each state; a new attempt
    starts with none."""
    loaded = load_tickets(
        tickets_file(tmp_path, '[[ticket]]\nid = "p"\nprompt = "x"\nmodel = "hello"\n'),
        Config(path=None),
        BUILTIN_TOOLS,
    )
    box = Inbox(loaded.tickets, lambda: 0.0, 0.0)
    ev = EventFactory("p", 1)
    box(ev(AttemptStarted, provider="sim", model="hello"))
    for child, state in (("a", "running"), ("b", "running"), ("a", "done")):
        box(ev(SubagentChanged, message="", child=child, task="Read", state=state))
    [item] = box.snapshot(control=False, ended=False)["rest"]
    assert item["subagents"] == {"count": 2, "running": 1, "done": 1}
    box(EventFactory("p", 2)(AttemptStarted, provider="sim", model="hello"))
    [item] = box.snapshot(control=False, ended=False)["rest"]
    assert item["subagents"] == {"count": 0}


def test_a_tickets_held_messages_are_listed_revealed_and_composed_only_with_control(tmp_path: Path) -> None:
    """What a ticket holds, in order, as its latest `held` line says it (the person's words revealed);
    its composer only where the run takes requests, saying what Enter does."""
    loaded = load_tickets(
        tickets_file(tmp_path, '[[ticket]]\nid = "p"\nprompt = "x"\nmodel = "hello"\n'),
        Config(path=None),
        BUILTIN_TOOLS,
    )
    box = Inbox(loaded.tickets, lambda: 0.0, 0.0)
    ev = EventFactory("p", 1)
    box(ev(AttemptStarted, provider="sim", model="hello"))
    held = (
        HeldMessage(3, "go\x1b[2J on", True, "you"),
        HeldMessage(1, "then tests", False, "127.0.0.1 (ada)"),
    )
    box(ev(Holding, message="queued", held=held))
    composer = Composing("queue", {"steer": "Enter steers p.", "queue": "Enter queues \x1b[2J this."})
    [item] = box.snapshot(control=False, ended=False, composes=lambda ticket: composer)["rest"]
    assert item["held"] == [
        {"id": 3, "steer": True, "text": "go␛[2J on", "by": "you"},
        {"id": 1, "steer": False, "text": "then tests", "by": "127.0.0.1 (ada)"},
    ]
    assert item["compose"] is None and item["compose_says"] is None, "a run served read-only composes nothing"
    [item] = box.snapshot(control=True, ended=False, composes=lambda ticket: composer)["rest"]
    assert item["compose"] == "queue"
    assert item["compose_says"] == {"steer": "Enter steers p.", "queue": "Enter queues ␛[2J this."}
    box(ev(Holding, message="sent", held=()))
    [item] = box.snapshot(control=True, ended=False)["rest"]
    assert item["held"] == [] and item["compose"] is None
