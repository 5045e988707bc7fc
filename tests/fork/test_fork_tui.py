"""`f` on a pane forks its ticket in the running app: a new pane that goes on from the ticket's
whole conversation, or from the turn picked in the dialog, its header saying whose fork it is."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import EventFactory, Status
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.fork import ForkScreen
from lfgtui.ui.screens.modals import FollowUpScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, keys, make_app, tickets, until


async def test_the_fork_key_opens_a_new_pane_that_goes_on_from_the_conversation(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "hello there"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        parent = app.controller.panes["hi"]
        await until(pilot, lambda: parent.state is PaneState.COMPLETED)
        await pilot.press("f")
        assert isinstance(app.screen, ForkScreen)
        await pilot.press(*keys("and then"), "enter")
        await until(pilot, lambda: "hi-fork1" in app.controller.panes)
        fork = app.controller.panes["hi-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED)
        await pilot.pause()
        assert app.controller.screen.focused_pane is fork
        await until(pilot, lambda: "fork of hi" in fork.header.text.plain)  # drawn on a frame after
        assert "fork of" not in parent.header.text.plain
        assert [pane.ticket.id for pane in app.controller.screen.panes] == ["hi", "hi-fork1"]
    users = [m["content"] for m in sim.log[-1].body["messages"] if m["role"] == "user"]
    assert users == ["hello there", "and then"]


async def test_the_fork_dialog_picks_an_earlier_turn_and_the_fork_goes_on_from_there(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "hello there"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        parent = app.controller.panes["hi"]
        await until(pilot, lambda: parent.state is PaneState.COMPLETED)
        await pilot.press("i")
        assert isinstance(app.screen, FollowUpScreen)
        await pilot.press(*keys("second words"), "enter")
        await until(pilot, lambda: parent.attempt == 2 and parent.state is PaneState.COMPLETED)
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, ForkScreen)
        assert dialog.says() == "Fork hi, after its whole conversation (2 turns):"
        await pilot.press("up", "up")
        assert dialog.says() == "Fork hi after turn 1 of 2: the turns after it are left out."
        await pilot.press(*keys("or else"), "enter")
        await until(pilot, lambda: "hi-fork1" in app.controller.panes)
        fork = app.controller.panes["hi-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED)
        assert "*forked at turn 1 of 2: its provider messages up to there, verbatim*" in fork.body.source
    users = [m["content"] for m in sim.log[-1].body["messages"] if m["role"] == "user"]
    assert users == ["hello there", "or else"], "turn 2 is after the cut"


async def test_a_view_without_the_forks_pane_says_so_once(sim: SimServer, tmp_path: Path) -> None:
    """A watcher attached before a fork began has no pane for it: its events are said, not a crash."""
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "hello there"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        ev = EventFactory("hi-fork1", 1)
        app.controller.show(ev(Status, message="one"))
        app.controller.show(ev(Status, message="two"))
        await pilot.pause()
        said = [n.message for n in app._notifications if "hi-fork1" in n.message]
        assert said == [
            "hi-fork1 (added as the run ran: a fork, a synthesis or a ticket added to it) is not shown here: "
            "this view has the run's tickets as it began"
        ]
        assert "hi-fork1" not in app.controller.panes
