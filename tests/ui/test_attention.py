"""Attention in the TUI: each pane's attention state in its header, the summary bar and the terminal's
title counting what needs the person, and `a` visiting them oldest first, then the unread ones."""

from __future__ import annotations

from pathlib import Path

from lfgtui.alerts.states import State
from lfgtui.sim.server import SimServer
from tests.support.app import SIZE, make_app, pane, tickets, until

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
