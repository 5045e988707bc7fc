"""`lfg attach`: a live run and a finished one, through a connection that drops, from a server that lies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input

from lfgtui.events import (
    ApprovalAnswered,
    AttemptEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    Outcome,
    PromptSent,
    Status,
    TextDelta,
)
from lfgtui.remote.attach import Attachment
from lfgtui.remote.codec import encode
from lfgtui.remote.following import AttachError, watcher_name
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.modals import ApprovalScreen, FollowUpScreen
from lfgtui.ui.screens.steer import SteerScreen
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support import warm_lfg
from tests.support.app import keys, until
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded, record_tickets, tickets_file
from tests.support.remote import TICKET, attached_app, lying_server
from tests.support.serving import TOKEN, WRITER, attach_json, finish, served
from tests.support.terminal import Terminal


def identities(events: list[Event]) -> list[tuple[str, int, int, str]]:
    return [(e.ticket, e.attempt, e.seq, type(e).__name__) for e in events]


@contextlib.asynccontextmanager
async def cutting_proxy(target: str, cut_after: int) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP proxy to `target` that cuts its first connections after `cut_after` bytes from the server
    (three times), then forwards in full; yields its URL and the bytes each connection carried."""
    host, port = target.removeprefix("http://").split(":")
    carried: list[int] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int | None) -> None:
        sent = 0
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                if limit is not None and sent + len(data) > limit:
                    writer.write(data[: limit - sent])
                    sent = limit
                    break
                writer.write(data)
                sent += len(data)
                await writer.drain()
        carried.append(sent)
        writer.close()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        limit = cut_after if len(carried) < 3 else None
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
        upstream = asyncio.create_task(pipe(client_reader, server_writer, None))
        await pipe(server_reader, client_writer, limit)
        upstream.cancel()
        server_writer.close()

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with proxy:
        yield f"http://127.0.0.1:{proxy.sockets[0].getsockname()[1]}", carried


async def test_attach_follows_a_live_run_through_dropped_connections_and_gets_each_event_once(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path) as run, cutting_proxy(run.url, 6000) as (url, carried):
        attachment = Attachment(url, TOKEN)
        try:
            described = await attachment.describe()
            assert described.run_id == run.run.run_id
            assert [t.id for t in described.tickets] == ["slow", "quick"]
            assert described.tickets[0].title == "A slow answer" and described.control is False
            got: list[Event] = []
            states: list[str] = []
            run.run.start()
            ending = asyncio.create_task(finish(run))
            await asyncio.wait_for(attachment.follow(got.append, states.append), 30 * PATIENCE)
            await ending
        finally:
            await attachment.aclose()
        assert run.hub.ended, "follow returns when the server says the run ended"
        assert identities(got) == identities(run.events), "every event once, in order, across the drops"
        assert "".join(e.text for e in got if isinstance(e, TextDelta)) == "".join(
            e.text for e in run.events if isinstance(e, TextDelta)
        )
        assert sum(1 for s in states if s.startswith("reconnecting")) == 3 and carried[:3] == [6000] * 3
        assert states.count("reconnected") >= 3 and states[-1] == "ended"
        first, last = got[0], got[-1]
        mine = run.events
        assert last.t - first.t == pytest.approx(mine[-1].t - mine[0].t, abs=1e-6), "remote times keep gaps"


async def test_attach_refuses_a_wrong_token_and_a_server_that_is_not_there(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path) as run:
        attachment = Attachment(run.url, "not-the-token-0123456789")
        with pytest.raises(AttachError, match="refused the token"):
            await attachment.describe()
        await attachment.aclose()
    gone = Attachment(run.url, TOKEN)
    with pytest.raises(AttachError, match="cannot reach"):
        await gone.describe()
    await gone.aclose()


LIES = [
    b"not json at all",
    json.dumps(
        {
            "now": 1,
            "events": [
                {
                    "type": "text_delta",
                    "ticket": "ghost",
                    "attempt": 1,
                    "seq": 0,
                    "t": 0.1,
                    "text": "from a ticket the run does not have",
                }
            ],
        }
    ).encode(),
    json.dumps(
        {
            "now": 1,
            "events": [
                {
                    "type": "text_delta",
                    "ticket": "a",
                    "attempt": True,
                    "seq": 0,
                    "t": 0.1,
                    "text": "attempt is not a number",
                }
            ],
        }
    ).encode(),
    json.dumps({"now": 1, "events": [{"type": "from_the_future", "ticket": "a", "attempt": 1}]}).encode(),
    json.dumps(
        {
            "now": 1,
            "events": [
                {
                    "type": "attempt_started",
                    "ticket": "a",
                    "attempt": 1,
                    "seq": 0,
                    "t": 0.0,
                    "provider": "p",
                    "model": "m",
                },
                {
                    "type": "text_delta",
                    "ticket": "a",
                    "attempt": 1,
                    "seq": 1,
                    "t": 0.2,
                    "text": "\x1b]0;pwned\x07\x1b[2J fine",
                },
                {"type": "text_delta", "ticket": "a", "attempt": 1, "seq": 1, "t": 0.2, "text": "resent"},
            ],
        }
    ).encode(),
]


async def test_a_lying_server_cannot_crash_attach_or_reach_a_pane_it_did_not_describe() -> None:
    async with lying_server({"run_id": "r", "tickets": [TICKET]}, LIES) as url:
        attachment = Attachment(url, TOKEN)
        await attachment.describe()
        got: list[Event] = []
        said: list[str] = []
        await attachment.follow(got.append, said.append)
        await attachment.aclose()
    assert [(type(e).__name__, getattr(e, "text", None)) for e in got] == [
        ("AttemptStarted", None),
        ("TextDelta", "\x1b]0;pwned\x07\x1b[2J fine"),  # delivered as sent: the pane makes it inert
    ]
    assert any("attempt: expected" in s for s in said), said

    bad_runs = [
        ({"tickets": [TICKET]}, "did not describe a run"),
        ({"run_id": "r", "tickets": []}, "has no tickets"),
        ({"run_id": "r", "tickets": [{**TICKET, "ticket": "a b\x1b[2J"}]}, "not valid"),
        ({"run_id": "r", "tickets": [TICKET, TICKET]}, "two tickets with one id"),
    ]
    for described, problem in bad_runs:
        async with lying_server(described, []) as url:
            attachment = Attachment(url, TOKEN)
            with pytest.raises(AttachError, match=problem):
                await attachment.describe()
            await attachment.aclose()


async def test_a_run_served_by_an_lfg_from_before_max_calls_is_read() -> None:
    """Before `max_calls` had its name, a ticket's limit and the error kind it ends with were `max_turns`."""
    older = {k: v for k, v in TICKET.items() if k != "max_calls"} | {"max_turns": 3}
    error = ErrorInfo(ErrorKind.MAX_CALLS, "stopped after 3 model calls")
    ended = AttemptEnded(ticket="a", attempt=1, seq=0, t=0.0, outcome=Outcome.FAILED, error=error)
    message = json.dumps({"now": 1, "events": [encode(ended, 0.0)]}).replace('"max_calls"', '"max_turns"')
    assert '"max_turns"' in message
    async with lying_server({"run_id": "r", "tickets": [older]}, [message.encode()]) as url:
        attachment = Attachment(url, TOKEN)
        described = await attachment.describe()
        got: list[Event] = []
        await attachment.follow(got.append, lambda _: None)
        await attachment.aclose()
    assert described.tickets[0].max_calls == 3
    assert [(type(e), e.error) for e in got] == [(AttemptEnded, error)]  # t: on the watcher's clock


async def test_attach_json_prints_a_finished_run_that_lfg_serve_reads_from_the_history(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path), db)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    (tmp_path / "config.toml").write_text("")
    env = {**os.environ, "LFG_DB": str(db), "LFG_CONFIG": str(tmp_path / "config.toml")}
    server = warm_lfg.popen(
        [sys.executable, "-m", "lfgtui", "serve", run_id[:6], "--token-file", str(token_file)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first = await asyncio.to_thread(server.stderr.readline)
        url = first.split(" at ")[1].split()[0]
        lines, _ = await attach_json(url, env)
    finally:
        server.terminate()
        server.wait(10 * PATIENCE)
    recorded = load_recorded(db, run_id)
    for ticket in recorded.tickets:
        events = [e for a in ticket.attempts for e in a.events]
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert (
            "".join(
                line["text"]
                for line in lines
                if line["type"] == "text" and line["ticket"] == ticket.ticket.id
            )
            == text
        )
    ended = [(line["ticket"], line["outcome"]) for line in lines if line["type"] == "attempt_ended"]
    outcomes = [(t.ticket.id, a.outcome) for t in recorded.tickets for a in t.attempts]
    assert sorted(ended) == sorted(outcomes) and len(ended) == 2


async def test_the_tui_attaches_to_a_live_run_and_cancels_through_the_server(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, control=True) as run:
        app, attachment = await attached_app(run.url, sim)
        sent = len(sim.log)
        async with app.run_test(size=(140, 44)) as pilot:
            run.run.start()
            slow, quick = app.controller.panes["slow"], app.controller.panes["quick"]
            await until(pilot, lambda: quick.finished and bool(slow.body.source))
            assert quick.state is PaneState.COMPLETED and "Hello" in quick.body.source
            assert "attached to" in str(app.controller.screen.summary.render())
            assert app.controller.started == attachment.offset, "elapsed counts from the run's start"
            slow.shown.focus()
            await pilot.press("c")
            await until(pilot, lambda: slow.finished)
            assert slow.state is PaneState.CANCELLED
            await finish(run)
            await until(pilot, lambda: attachment.state == "ended")
            await pilot.press("q")
        await attachment.aclose()
    assert len(sim.log) == sent + 2, "only the served run sent anything: the attached app sends nothing"
    ends = [(e.ticket, e.outcome) for e in run.events if isinstance(e, AttemptEnded)]
    assert sorted(ends) == [("quick", Outcome.COMPLETED), ("slow", Outcome.CANCELLED)]


async def test_the_tui_attached_after_the_run_ended_shows_how_long_it_took(
    sim: SimServer, tmp_path: Path
) -> None:
    hello = '[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "Say hello."\nmodel = "hello"\n'
    async with served(sim, tmp_path, hello) as run:
        run.run.start()
        await finish(run)
        ended = max(e.t for e in run.events if isinstance(e, AttemptEnded))
        took = ended - run.hub.t0
        await asyncio.sleep(1.5)  # on purpose: a run watched a while after it ended (now - start >> took)
        app, attachment = await attached_app(run.url, sim)
        async with app.run_test(size=(120, 30)) as pilot:
            summary = app.controller.screen.summary
            await until(pilot, lambda: attachment.state == "ended" and "1 completed" in str(summary.render()))
            shown = str(summary.render()).split()[-1]
            await pilot.press("q")
        await attachment.aclose()
    assert shown.endswith("s") and abs(float(shown[:-1]) - took) <= 0.15, (shown, took)


async def test_the_tui_attached_with_control_answers_approvals_through_the_server(
    sim: SimServer, tmp_path: Path
) -> None:
    (tmp_path / "README.md").write_text("# Widget\n")
    async with served(sim, tmp_path, WRITER, control=True, yes=False) as run:
        app, attachment = await attached_app(run.url, sim)
        async with app.run_test(size=(120, 40)) as pilot:
            run.run.start()
            w = app.controller.panes["w"]
            await until(pilot, lambda: w.state is PaneState.APPROVAL)
            await until(
                pilot, lambda: str(w.notice.render()).startswith("approve write_file notes/summary.md")
            )
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
            await pilot.press("y")
            # both calls were in the tool log before the first question: wait for the second question
            await until(pilot, lambda: w.approval is not None and w.approval.name == "run_command")
            assert f"write_file approved by 127.0.0.1 ({watcher_name()})" in w.status_note
            await pilot.press("n")
            await until(pilot, lambda: w.finished)
            await finish(run)
            await pilot.press("q")
        await attachment.aclose()
    assert w.state is PaneState.COMPLETED
    write, command = w.tools.rows.values()
    assert (write.state, command.state) == (ToolState.OK, ToolState.DENIED)
    answers = [(e.allowed, e.by) for e in run.events if isinstance(e, ApprovalAnswered)]
    who = f"127.0.0.1 ({watcher_name()})"  # lfg attach says who it is: user@host
    assert answers == [(True, who), (False, who)]
    assert (tmp_path / "notes" / "summary.md").exists()


async def test_the_tui_attached_with_control_steers_queues_edits_and_takes_back_through_the_server(
    sim: SimServer, tmp_path: Path
) -> None:
    """`i` on an attached pane opens the TUI's own composer: what the ticket holds is what the served
    events said, and each send, edit and take-back goes to the server as the watcher's request."""
    gated = (
        '[[ticket]]\nid = "t"\nprompt = "Look around."\nprovider = "sim"\nmodel = "steer-rounds"\n'
        'tools = ["write_file", "list_dir", "read_file"]\n'
    )
    who = f"127.0.0.1 ({watcher_name()})"
    async with served(sim, tmp_path, gated, control=True, yes=False) as run:
        app, attachment = await attached_app(run.url, sim)
        async with app.run_test(size=(120, 40)) as pilot:
            run.run.start()
            t = app.controller.panes["t"]
            await until(pilot, lambda: t.state is PaneState.APPROVAL)
            t.shown.focus()
            await pilot.press("i")
            composer = app.screen
            assert isinstance(composer, SteerScreen)
            assert composer.says() == (
                "Enter steers t (sim/steer-rounds): sent after this round's tool results, before its next "
                "call."
            ), "what the served run's turn said it takes (its `steer_offer` event)"
            await pilot.press("ctrl+t", *keys("then a haiku"), "enter")
            await until(pilot, lambda: len(t.held) == 1)
            await pilot.press("i", *keys("then a sonnet"), "enter")  # opens as last switched: queued
            await until(pilot, lambda: len(t.held) == 2)
            await pilot.press("i", "up", "ctrl+r", "escape")  # the last held: "then a sonnet"
            await until(pilot, lambda: len(t.held) == 1)
            await pilot.press("i", "up")
            app.screen.query_one(Input).value = ""
            await pilot.press(*keys("then a tanka"), "enter")
            await until(pilot, lambda: [m.text for m in t.held] == ["then a tanka"])
            shown = [f"↳ edited by {who}: then a tanka", f"#1 queued from {who}: then a tanka"]
            await until(pilot, lambda: str(t.shown.held.render()).splitlines() == shown)  # drawn next
            await pilot.press("y")  # the first round's write_file, shown whole: the turn goes on
            await finish(run)
            await until(pilot, lambda: attachment.state == "ended" and t.finished)
            await pilot.press("i")
            assert isinstance(app.screen, FollowUpScreen), "an ended ticket's i is its follow-up"
            await pilot.press("escape", "q")
        await attachment.aclose()
    said = [e.message for e in run.events if isinstance(e, Status)]
    assert f"taken back by {who}: then a sonnet" in said and f"edited by {who}: then a tanka" in said
    prompts = [e.text for e in run.events if isinstance(e, PromptSent)]
    assert prompts == ["Look around.", "then a tanka"], "the one left sent as the next turn"


def test_lfg_run_in_a_terminal_serves_and_says_how_to_watch(tmp_path: Path) -> None:
    """The TUI's `--serve`: the address is printed first, the attach command stays in `?`, and it works."""
    env = Lfg(tmp_path)
    tickets = env.tickets('[[ticket]]\nid = "long"\nprompt = "x"\nmodel = "long-answer:tokens_per_s=50"\n')
    (tmp_path / "token").write_text(TOKEN)
    command = [*env.args(tickets, "--no-history", "--serve", "0", "--token-file", str(tmp_path / "token"))]
    terminal = Terminal(columns=160)
    process = terminal.start(command, env.env)
    try:
        terminal.wait_for(b"? shows how to watch it")
        terminal.type(b"?")
        terminal.wait_for(b"served:")  # `?` holds the address and token, whole
        shown = bytes(terminal.output).index(b"served:")
        terminal.wait_for(b"lfg attach", after=shown)
        terminal.type(b"\x1b")
        url = re.search(rb"serving this run at (http://127\.0\.0\.1:\d+)", bytes(terminal.output))
        assert url is not None
        watcher = warm_lfg.popen(
            [sys.executable, "-m", "lfgtui", "attach", url.group(1).decode(), "--json"],
            env={**env.env, "LFG_TOKEN": TOKEN},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert watcher.stdout is not None
        first = watcher.stdout.readline()  # the watcher is connected: now the run may end
        terminal.type(b"q")
        terminal.wait_for(b"Cancel them and quit?")
        terminal.type(b"y")
        assert process.wait(timeout=30 * PATIENCE) == 1
        rest, err = watcher.communicate(timeout=30 * PATIENCE)
        out = first + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        terminal.hang_up()
    assert watcher.returncode == 0, err
    assert '"outcome": "cancelled"' in out, "the watcher saw the run to its end"


async def test_a_fork_the_server_starts_gets_a_pane_in_the_attached_view_and_in_a_later_description(
    sim: SimServer, tmp_path: Path
) -> None:
    hello = '[[ticket]]\nid = "hi"\nprovider = "sim"\nprompt = "Say hello."\nmodel = "hello"\n'
    async with served(sim, tmp_path, hello) as run:
        app, attachment = await attached_app(run.url, sim)
        async with app.run_test(size=(120, 30)) as pilot:
            run.run.start()
            await until(pilot, lambda: app.controller.panes["hi"].finished)
            fork = run.run.fork("hi", "Say hello again.")
            await until(
                pilot, lambda: fork.id in app.controller.panes and app.controller.panes[fork.id].finished
            )
            forked = app.controller.panes[fork.id]
            assert forked.state is PaneState.COMPLETED and "Hello" in forked.body.source
            assert fork.id not in app.controller.unseen, "shown in its own pane, not said to go on unseen"
            await finish(run)
            await until(pilot, lambda: attachment.state == "ended")
        await attachment.aclose()
        later = Attachment(run.url, TOKEN)
        try:
            described = await later.describe()
        finally:
            await later.aclose()
    assert [t.id for t in described.tickets] == ["hi", fork.id]
    assert described.tickets[1].prompt == fork.prompt


async def test_a_watcher_is_caught_up_once_it_has_what_the_run_had_said_when_it_connected(
    sim: SimServer, tmp_path: Path
) -> None:
    """The hello says how many messages the log holds (`log`): `caught_up` waits for the last of
    them, so what a watcher knows then is the run as it was (what `lfg mcp` answers from)."""
    async with served(sim, tmp_path) as run:
        run.run.start()
        await asyncio.wait_for(run.run.wait(), 20 * PATIENCE)
        run.hub.publish()
        attachment = Attachment(run.url, TOKEN)
        await attachment.describe()
        early: list[bool] = []  # for each event: was the watcher already said to be caught up?

        def deliver(event: Event) -> None:
            early.append(attachment.caught_up.is_set())

        following = asyncio.create_task(attachment.follow(deliver, lambda _: None))
        await asyncio.wait_for(attachment.caught_up.wait(), 10 * PATIENCE)
        taken = len(early)
        following.cancel()
        await attachment.aclose()
    assert not any(early), "not caught up before the last of them"
    assert taken == len(run.events), "every event the run had made, before the stream ends"


async def test_a_request_the_server_took_but_has_not_answered_yet_says_its_words() -> None:
    """A 202 (`Pending`: asked of a worker or a coordinator that has not answered yet) carries words
    saying what became of the request: the watcher, and a lead's MCP tools, say them, not just the
    status. Before, "the server answered 202"."""
    from aiohttp import web

    from lfgtui.run.requests import AddTicket, Cancel

    waits = "the run's coordinator has not answered in 30 s: the add-ticket waits on the broker"

    async def requests(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "pending": waits}, status=202)

    app = web.Application()
    app.router.add_post("/v1/requests", requests)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    attachment = Attachment(f"http://127.0.0.1:{port}", "token")
    try:
        assert await attachment.ask(Cancel("t")) == waits
        with pytest.raises(AttachError, match=re.escape(waits)):
            await attachment.add(AddTicket({"prompt": "go"}))
    finally:
        await attachment.aclose()
        await runner.cleanup()


@pytest.mark.parametrize(
    "leads",
    [[], {"b": 1}, {"b": "nobody"}, {"nobody": "a"}, {"b": "\x1b[2J"}],
    ids=["a list", "not a name", "an unknown lead", "an unknown ticket", "an escape"],
)
def test_a_descriptions_leads_name_its_tickets_or_the_description_is_refused(leads: object) -> None:
    """Which lead added each ticket (`leads`, what the attached TUI asks about when its lead is
    stopped) is read as strictly as the rest of the description: each a described ticket's id."""
    from lfgtui.remote.description import DescriptionError, read_description

    described = {
        "run_id": "r",
        "control": True,
        "tickets": [TICKET | {"ticket": "a"}, TICKET | {"ticket": "b"}],
    }
    assert read_description(described | {"leads": {"b": "a"}}).leads == {"b": "a"}
    assert read_description(described).leads == {}
    with pytest.raises(DescriptionError, match=r"^the server.s leads do not name its tickets: "):
        read_description(described | {"leads": leads})
