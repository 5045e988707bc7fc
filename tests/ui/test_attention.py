"""Attention in the TUI: each pane's attention state in its header, the summary bar and the terminal's
title counting what needs the person, and `a` visiting them oldest first, then the unread ones."""

from __future__ import annotations

from pathlib import Path

from lfgtui.alerts.attention import Attention
from lfgtui.alerts.states import State
from lfgtui.providers.registry import Providers
from lfgtui.run.requests import Cancel
from lfgtui.sim.server import SimServer
from lfgtui.ui.run.handle import LocalHandle
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.compose import resumed_app
from tests.support.recording import load_recorded, record_tickets, tickets_file

TICKETS = """
[[ticket]]
id = "hi"
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


async def test_states_counts_and_the_a_order(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, TICKETS))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        hi, ask, w, after = (pane(app, ticket) for ticket in ("hi", "ask", "w", "after"))
        await until(pilot, lambda: w.standing.state is State.APPROVAL and hi.standing.state is State.UNREAD)
        assert ask.standing.state is State.ASKED and ask.standing.since < w.standing.since
        assert after.standing.label == "waiting on w"
        await until(pilot, lambda: "⚑ 2 need you" in str(screen.summary.render()))
        assert [s.ticket for s in screen.attention.unread()] == ["hi"]
        await until(pilot, lambda: "asked? · <1 min" in str(ask.header.text))
        await until(pilot, lambda: "needs you · <1 min" in str(w.header.text))
        await until(
            pilot, lambda: "waiting on w" in str(after.header.text) and " unread" in str(hi.header.text)
        )
        assert screen.title_shown == "2 need you · lfg"

        visited = []
        for _ in range(4):
            await pilot.press("a")
            visited.append(screen.focused_pane)
        assert visited == [ask, w, hi, ask], "needs you, the longest-waiting first; then the unread"

        await pilot.press("tab")  # from ask to the next pane, w: `a` starts afresh from there
        await pilot.press("a")
        assert screen.focused_pane is ask

        await screen.show_pane(hi)
        await pilot.press("z")  # looking at it: read
        assert hi.standing.state is State.DONE
        assert not screen.attention.unread()
        await until(pilot, lambda: "unread" not in str(hi.header.text))
        await pilot.press("z")

        await screen.show_pane(w)
        await pilot.press("n")  # the first request denied: working, then the second request
        await until(pilot, lambda: w.approval is not None and w.approval.name == "run_command")
        assert w.standing.state is State.APPROVAL
        await pilot.press("n")
        await until(pilot, lambda: after.standing.state is State.UNREAD)
        assert [p.ticket.id for p in screen.attention_order] == ["ask", "w", "after"]
        await until(pilot, lambda: screen.title_shown == "1 need you · lfg")
        assert "⚑ 1 need you" in str(screen.summary.render())


async def test_the_alerts_hear_from_the_screens_tracker(sim: SimServer, tmp_path: Path) -> None:
    """The run screen's attention tracker is the run's only one: its alerts are told each ticket that
    starts to need the person from it, once, those said while the screen came up (`start_early`)
    included, and a ticket that completes needing nobody only when the run is done."""
    told: list[Attention] = []
    path = tickets(tmp_path, TICKETS)
    app = make_app(sim, path, notify=frozenset({"approval", "asked", "done"}), notify_command=told.append)
    async with app.run_test(size=SIZE) as pilot:
        w = pane(app, "w")
        await until(pilot, lambda: w.standing.state is State.APPROVAL)
        handle = app.controller.control
        assert isinstance(handle, LocalHandle) and handle.alerts is not None
        assert handle.alerts.attention is None, "no tracker of its own"
        assert sorted((a.kind, a.ticket) for a in told) == [("approval", "w"), ("asked", "ask")]
        app.controller.screen.keys.ask(Cancel("w"))
        await until(pilot, lambda: any(a.kind == "done" for a in told))
    assert sorted((a.kind, a.ticket) for a in told) == [("approval", "w"), ("asked", "ask"), ("done", None)]


async def test_a_resumed_runs_record_alerts_nobody(sim: SimServer, tmp_path: Path) -> None:
    """What a resumed run's record restores moves the screen's tracker, which its alerts hear from, but
    it is history: only what the run says now is told of."""
    db = tmp_path / "h.sqlite3"
    path = tickets_file(tmp_path, '[[ticket]]\nid = "ask"\nprompt = "x"\nmodel = "asks"\nprovider = "sim"\n')
    run_id = await record_tickets(sim, path, db)
    told: list[Attention] = []
    notify = frozenset({"approval", "asked", "failed", "done"})
    app = resumed_app(
        load_recorded(db, run_id), Providers(sim=sim), notify=notify, notify_command=told.append
    )
    async with app.run_test(size=SIZE) as pilot:
        ask = pane(app, "ask")
        await until(pilot, lambda: ask.standing.state is State.ASKED)
        await pilot.pause(0.1)
    assert told == []
