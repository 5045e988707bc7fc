"""What a ticket held, unsent, when its run stopped (run/held.py): the history keeps the person's
steers and queued messages as they are made and, when the turn did not complete, which it left
unsent; `lfg resume` finds them, and sends them as the next turns or drops them, recorded so that no
later resume offers them again. On a real SQLite history in tmp and the sim."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from lfgtui.config.load import Config
from lfgtui.events import Event, HeldMessage, Holding, Outcome, PromptSent, Steered, TextDelta
from lfgtui.history.writer import open_run_history, reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.held import drop_held, left_held, send_held
from lfgtui.run.seeds import earlier_of_each
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.held import HeldScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, until
from tests.support.compose import resumed_app
from tests.support.lfg import Lfg, command
from tests.support.recording import load_recorded

HELLO = '[[ticket]]\nid = "t"\nprompt = "Say hello."\nprovider = "sim"\nmodel = "hello"\n'


async def stopped_while_holding(sim: SimServer, tmp_path: Path) -> tuple[Path, str]:
    """A run recorded into a history in tmp, stopped (its ticket cancelled, as quitting the TUI does)
    while the ticket held a queued message and a steer: the history file and the run's id."""

    def hold(run: Run) -> list[str | None]:
        return [run.queue("t", "Then say goodbye."), run.steer("t", "In French.", by="ada")]

    db, run_id, _ = await cancelled_holding(sim, tmp_path, hold)
    return db, run_id


async def cancelled_holding(
    sim: SimServer,
    tmp_path: Path,
    hold: Callable[[Run], list[str | None]],
    retried: bool = False,
    tickets: str = HELLO,
) -> tuple[Path, str, Run]:
    """A run of `tickets` (one ticket `t`) recorded into a history in tmp whose ticket was cancelled
    at its first words, once `hold` had sent it messages (each accepted), then, when `retried`,
    retried in the same run to completion: the history file, the run's id and the run."""
    path = tmp_path / "tickets.toml"
    path.write_text(tickets)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [])
        said: list[str | None] = []

        def heard(event: Event) -> None:
            if isinstance(event, TextDelta) and not said:
                said.extend(hold(run))
                run.cancel_all()

        run.sinks.append(heard)
        run.record(history)
        run.start()
        await run.wait()
        assert said and not any(said) and run.states["t"].outcome is Outcome.CANCELLED
        if retried:
            assert run.retry("t")
            await run.wait()
            assert run.states["t"].outcome is Outcome.COMPLETED
        return db, history.run_id, run


@contextlib.asynccontextmanager
async def resumed(sim: SimServer, db: Path, run_id: str) -> AsyncIterator[tuple[Run, list[Event]]]:
    """The recorded run taken up again as `lfg resume` takes it, recorded into the same run."""
    recorded = load_recorded(db, run_id)
    events: list[Event] = []
    async with (
        reopen_run_history(db, run_id, lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(
            recorded.as_tickets,
            providers,
            Approvals(),
            [events.append],
            earlier=earlier_of_each(recorded.tickets),
        )
        run.record(history)
        run.start()
        yield run, events
        await run.wait()


async def test_what_a_stopped_run_held_is_found_by_lfg_resume_and_sent_as_the_next_turns(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    recorded = load_recorded(db, run_id)
    (notes,) = [[e for e in a.events if isinstance(e, Holding)] for t in recorded.tickets for a in t.attempts]
    assert [(m.text, m.steer) for m in notes[-1].unsent] == [
        ("Then say goodbye.", False),
        ("In French.", False),
    ], "the steer found no safe point (no tools): queued after the first"
    async with resumed(sim, db, run_id) as (run, events):
        held = left_held(run)
        assert [(m.text, m.steer, m.by) for m in held["t"]] == [
            ("Then say goodbye.", False, "you"),
            ("In French.", False, "ada"),
        ]
        assert send_held(run, "t") is None
    assert run.states["t"].outcome is Outcome.COMPLETED
    prompts = [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(2, "Say hello."), (3, "Then say goodbye."), (4, "In French.")], (
        "the turn again, then them"
    )
    assert left_held(run) == {}
    async with resumed(sim, db, run_id) as (again, _):
        assert left_held(again) == {}, "sent: no later resume offers them"


async def test_what_a_stopped_run_held_is_dropped_and_no_later_resume_offers_it(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    async with resumed(sim, db, run_id) as (run, events):
        assert len(left_held(run)["t"]) == 2
        assert drop_held(run, "t", by="ada") is None
        assert drop_held(run, "t") == "t holds no message from before the run stopped"
    assert not any(isinstance(e, PromptSent) for e in events), "nothing was sent"
    recorded = load_recorded(db, run_id)
    (ticket,) = recorded.tickets
    assert [a.number for a in ticket.attempts] == [1]
    last = [e for e in ticket.attempts[0].events if isinstance(e, Holding)][-1]
    assert last.held == () and last.unsent == ()
    assert last.message == (
        "dropped by ada, unsent: queued from you: Then say goodbye.; queued from ada: In French."
    )
    async with resumed(sim, db, run_id) as (again, _):
        assert left_held(again) == {}


def test_what_lfg_left_held_when_it_died_is_what_its_last_note_held() -> None:
    from lfgtui.run.seeds import left_held as seeded

    steer, queued = HeldMessage(1, "In French.", True, "ada"), HeldMessage(2, "Then go.", False, "you")
    notes = [
        Holding(ticket="t", attempt=1, seq=3, t=1.0, message="a", held=(steer,)),
        Holding(ticket="t", attempt=1, seq=5, t=2.0, message="b", held=(steer, queued)),
    ]
    assert seeded(notes) == (steer, queued), "no end recorded: the last note says what it held"
    taken_back = Holding(ticket="t", attempt=1, seq=7, t=3.0, message="taken back", held=())
    assert seeded([*notes, taken_back]) == ()


async def test_lfg_resume_prints_what_was_held_and_drops_or_sends_it_as_its_flag_says(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    lfg = Lfg(tmp_path)
    config = ("--db", str(db), "--config", str(lfg.config))
    both = command(lfg, "resume", run_id, "--send-held", "--drop-held", *config)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    listed = (
        "t held, unsent, when the run stopped:\n"
        "  #1 queued from you: Then say goodbye.\n"
        "  #2 queued from ada: In French.\n"
    )

    sent = command(lfg, "resume", run_id, "--send-held", *config)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith(listed)
    assert (
        "retrying t with what it held when the run stopped: #1 queued from you, a turn after it: "
        "Then say goodbye.; #2 queued from ada, a turn after it: In French."
    ) in sent.stdout
    (ticket,) = load_recorded(db, run_id).tickets
    assert [(a.number, a.prompt, a.outcome) for a in ticket.attempts[1:]] == [
        (2, "Say hello.", Outcome.COMPLETED),
        (3, "Then say goodbye.", Outcome.COMPLETED),
        (4, "In French.", Outcome.COMPLETED),
    ]
    nothing = command(lfg, "resume", run_id, "--drop-held", *config)
    assert nothing.returncode == 0 and "held no unsent message when it stopped" in nothing.stderr


async def test_lfg_resume_send_held_sends_a_coding_agents_queued_turns_to_one_agent(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: each queued turn `--send-held` sent started a fresh agent process, which loaded the
    agent's session again (`lfg resume` took the run up without keeping a completed turn's agent
    for the next): the agent of the retried turn now takes them, as the TUI's does."""
    agent = HELLO.replace('"sim"', '"sim-acp"')
    queued = lambda run: [run.queue("t", "Q1."), run.queue("t", "Q2.")]  # noqa: E731
    db, run_id, _ = await cancelled_holding(sim, tmp_path, queued, tickets=agent)
    lfg = Lfg(tmp_path)
    sent = command(
        lfg, "resume", run_id, "--send-held", "--json", "--db", str(db), "--config", str(lfg.config)
    )
    assert sent.returncode == 0, sent.stderr
    events = [json.loads(line) for line in sent.stdout.splitlines()]
    prompts = [(e["attempt"], e["text"]) for e in events if e["type"] == "prompt"]
    assert prompts == [(2, "Say hello."), (3, "Q1."), (4, "Q2.")]
    opened = [e["message"] for e in events if e["type"] == "status" and "earlier session" in e["message"]]
    assert opened == [], "the retried turn's agent, kept, took each queued turn: none opened again"


async def test_lfg_resume_drop_held_records_the_drop_and_sends_nothing(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    lfg = Lfg(tmp_path)
    dropped = command(lfg, "resume", run_id, "--drop-held", "--db", str(db), "--config", str(lfg.config))
    assert dropped.returncode == 0, dropped.stderr
    assert dropped.stdout.startswith("t held, unsent, when the run stopped:\n")
    assert dropped.stdout.endswith("t: dropped 2 message(s), unsent; no later resume offers them\n")
    (ticket,) = load_recorded(db, run_id).tickets
    assert [a.number for a in ticket.attempts] == [1], "nothing was sent"
    async with resumed(sim, db, run_id) as (again, _):
        assert left_held(again) == {}


@contextlib.asynccontextmanager
async def resumed_tui(sim: SimServer, db: Path, run_id: str) -> AsyncIterator[tuple[LfgApp, Run, Pilot[Any]]]:
    """`lfg resume`'s app on the recorded run, recording into it, once it asks about what was held."""
    async with reopen_run_history(db, run_id, lambda message: None) as history:
        assert history is not None
        app = resumed_app(load_recorded(db, run_id), Providers(sim=sim), history=db)
        run = app.controllers[0].run
        assert run is not None
        run.record(history)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, HeldScreen))
            yield app, run, pilot


async def test_the_tui_drops_what_was_held_when_the_person_says_so(sim: SimServer, tmp_path: Path) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    async with resumed_tui(sim, db, run_id) as (app, run, pilot):
        await pilot.press("d")
        assert not isinstance(app.screen, HeldScreen) and left_held(run) == {}
    (ticket,) = load_recorded(db, run_id).tickets
    assert [a.number for a in ticket.attempts] == [1], "nothing was sent"
    last = [e for e in ticket.attempts[0].events if isinstance(e, Holding)][-1]
    assert last.message.startswith("dropped by you, unsent: ") and last.held == last.unsent == ()


async def test_the_tui_lists_what_was_held_and_keeps_it_or_sends_it_as_the_person_chooses(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    async with resumed_tui(sim, db, run_id) as (app, run, pilot):
        listed = str(app.screen.query_one("#held-list Static", Static).render())
        assert (
            "#1 queued from you: Then say goodbye." in listed and "#2 queued from ada: In French." in listed
        )
        await pilot.press("k")
        assert not isinstance(app.screen, HeldScreen) and left_held(run), "kept: still held"
    async with resumed_tui(sim, db, run_id) as (app, run, pilot):
        await pilot.press("s")
        pane = app.controllers[0].panes["t"]
        await until(pilot, lambda: pane.attempt == 4 and pane.state is PaneState.COMPLETED)
    (ticket,) = load_recorded(db, run_id).tickets
    assert [a.prompt for a in ticket.attempts[1:]] == ["Say hello.", "Then say goodbye.", "In French."]


def three(run: Run) -> list[str | None]:
    """Two messages queued and a steer (which finds no safe point: the ticket has no tools)."""
    return [run.queue("t", "Q1."), run.queue("t", "Q2."), run.steer("t", "S.", by="ada")]


async def test_a_retry_in_the_same_run_keeps_what_the_cancelled_attempt_left_unsent(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id, run = await cancelled_holding(sim, tmp_path, three, retried=True)
    assert [m.text for m in left_held(run)["t"]] == ["Q1.", "Q2.", "S."], "the ticket's, kept, still offered"
    (ticket,) = load_recorded(db, run_id).tickets
    second = [e for e in ticket.attempts[1].events if isinstance(e, Holding)]
    assert second and [m.text for m in second[-1].unsent] == ["Q1.", "Q2.", "S."], (
        "the retry's record says them too, so a resume that reads the latest attempt finds them"
    )
    assert "still held, unsent" in second[-1].message
    lfg = Lfg(tmp_path)
    sent = command(lfg, "resume", run_id, "--send-held", "--db", str(db), "--config", str(lfg.config))
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith(
        "t held, unsent, when the run stopped:\n"
        "  #1 queued from you: Q1.\n"
        "  #2 queued from you: Q2.\n"
        "  #3 queued from ada: S.\n"
    )
    assert (
        "sending what t held when the run stopped as its next turns, in order: #1 queued from you, a turn "
        "after the one before: Q1.; #2 queued from you, a turn after the one before: Q2.; #3 queued from "
        "ada, a turn after the one before: S."
    ) in sent.stdout, "the retry completed: each a turn of its own, as said"
    (ticket,) = load_recorded(db, run_id).tickets
    assert [(a.number, a.prompt, a.outcome) for a in ticket.attempts[2:]] == [
        (3, "Q1.", Outcome.COMPLETED),
        (4, "Q2.", Outcome.COMPLETED),
        (5, "S.", Outcome.COMPLETED),
    ], "each sent once, in order, each the turn after the retried one"
    async with resumed(sim, db, run_id) as (again, _):
        assert left_held(again) == {}, "sent: no later resume offers them"


async def test_the_tuis_retry_asks_once_what_to_do_with_what_the_attempt_left_unsent(
    sim: SimServer, tmp_path: Path
) -> None:
    db, run_id = await stopped_while_holding(sim, tmp_path)
    async with resumed_tui(sim, db, run_id) as (app, run, pilot):
        await pilot.press("k")  # kept at the resume: the retry asks again
        await until(pilot, lambda: not isinstance(app.screen, HeldScreen))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, HeldScreen))
        question = str(app.screen.query_one(".question", Static).render())
        assert question == "t ended cancelled while 2 message(s) sent to it were held, not sent yet:"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HeldScreen))
        assert not run.states["t"].running and left_held(run), "escape: no retry, still held"
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, HeldScreen))
        await pilot.press("s")
        pane = app.controllers[0].panes["t"]
        await until(pilot, lambda: pane.attempt == 4 and pane.state is PaneState.COMPLETED)
        assert left_held(run) == {}
    (ticket,) = load_recorded(db, run_id).tickets
    assert [a.prompt for a in ticket.attempts[1:]] == ["Say hello.", "Then say goodbye.", "In French."]


async def test_a_completed_ticket_that_kept_what_was_held_offers_it_at_its_follow_up(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: kept at a retry that then completed, the messages were offered only at the next
    `lfg resume` (`r` refuses a completed ticket). `i` on that pane now asks once first: sent as its
    next turns, in order, each under the number it was shown with."""
    db, run_id = await stopped_while_holding(sim, tmp_path)
    async with resumed_tui(sim, db, run_id) as (app, run, pilot):
        await pilot.press("k")  # kept at the resume
        await until(pilot, lambda: not isinstance(app.screen, HeldScreen))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, HeldScreen))
        await pilot.press("k")  # the retry goes, and completes, still keeping them
        pane = app.controllers[0].panes["t"]
        await until(pilot, lambda: pane.attempt == 2 and pane.state is PaneState.COMPLETED)
        assert [m.id for m in left_held(run)["t"]] == [1, 2]
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, HeldScreen))
        question = str(app.screen.query_one(".question", Static).render())
        assert question == "t completed while it kept 2 message(s) sent to it, not sent yet:"
        listed = str(app.screen.query_one("#held-list Static", Static).render())
        assert "#1 queued from you: Then say goodbye." in listed
        assert "#2 queued from ada: In French." in listed
        await pilot.press("s")
        await until(pilot, lambda: pane.attempt == 4 and pane.state is PaneState.COMPLETED)
        assert left_held(run) == {}
    (ticket,) = load_recorded(db, run_id).tickets
    assert [a.prompt for a in ticket.attempts[1:]] == ["Say hello.", "Then say goodbye.", "In French."]


async def test_send_held_says_what_it_does_with_a_steer_left_held_for_a_retried_turn(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: `send_held` said "sending what t held" of a steer a cancelled tool loop left unsent
    and a queued message alike, though the turn is retried and the steer goes into it at its safe
    point, the queued message a turn after it. It now says what becomes of each, as it happens."""
    tooled = (
        f'[[ticket]]\nid = "t"\nprompt = "x"\nprovider = "sim"\nmodel = "writer"\nworkdir = "{tmp_path}"\n'
        'tools = ["write_file"]\nauto_approve = ["write_file"]\n'
    )
    steered = lambda run: [run.steer("t", "In French.", by="ada"), run.queue("t", "Then go.")]  # noqa: E731
    db, run_id, _ = await cancelled_holding(sim, tmp_path, steered, tickets=tooled)
    async with resumed(sim, db, run_id) as (run, events):
        assert [(m.text, m.steer) for m in left_held(run)["t"]] == [("In French.", True), ("Then go.", False)]
        assert send_held(run, "t") is None
    said = [e.message for e in events if isinstance(e, Holding)]
    assert said[0] == (
        "retrying t with what it held when the run stopped: #1 steer from ada, for the retried turn: "
        "In French.; #2 queued from you, a turn after it: Then go."
    ), said
    assert [(e.attempt, e.text) for e in events if isinstance(e, Steered)] == [(2, "In French.")], "as said"
    assert [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)] == [(2, "x"), (3, "Then go.")]
