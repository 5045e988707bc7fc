"""Thousands of tickets in the TUI: only the panes in view are mounted, and every frame's work follows
them, not the number of tickets, while every pane stays reachable by keys and shows what it holds."""

from __future__ import annotations

from pathlib import Path

from textual.events import Key, MouseScrollDown, MouseScrollUp

from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.widgets.pane import PaneState, PaneView
from tests.support.app import SIZE, make_app, tickets, until
from tests.support.remote import attached_app
from tests.support.serving import served

MANY = 3000
FAILING = 10
"""The ticket that fails at once (HTTP 401): among the first to run, beyond the panes in view."""
SHOWN = 9
"""Panes in view at SIZE: three columns of panes at least 40 wide, three rows of at least 11 lines."""
WIDGETS_PER_PANE = 20


def many_tickets(count: int = MANY) -> str:
    models = {FAILING: "fault-401"}
    return "".join(
        f'[[ticket]]\nid = "t{n:04d}"\nprompt = "x"\nmodel = "{models.get(n, "hello")}"\n\n'
        for n in range(count)
    )


def assert_bounded(app: LfgApp) -> None:
    """Only the panes in view have widgets, and nothing else grows with the tickets."""
    screen = app.controller.screen
    views = list(screen.query(PaneView))
    assert len(views) <= SHOWN and views == screen.views
    assert len(app.screen.query("*")) <= WIDGETS_PER_PANE * SHOWN + 20
    assert sum(pane.view is not None for pane in screen.panes) == len(views)


async def test_attaching_to_a_run_of_3000_tickets_mounts_only_the_panes_in_view(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = '[defaults]\nprovider = "sim"\n\n' + many_tickets()
    async with served(sim, tmp_path, toml) as run:
        app, attachment = await attached_app(run.url, sim)
        async with app.run_test(size=SIZE) as pilot:
            run.run.start()
            screen = app.controller.screen
            failing, last = app.controller.panes[f"t{FAILING:04d}"], app.controller.panes[f"t{MANY - 1:04d}"]
            await until(pilot, lambda: failing.state is PaneState.FAILED, timeout=20)
            await until(pilot, lambda: "1 failed" in str(screen.summary.render()))
            assert failing.view is None, "beyond the window: no widgets, yet its state is kept"
            assert_bounded(app)
            assert screen.window == f"panes 1\u20139 of {MANY} \u00b7 {MANY - 9} more \u2193"

            await pilot.press("a")
            assert screen.focused_pane is failing and failing.on_screen
            await until(pilot, lambda: "401" in str(failing.notice.render()))
            notice = str(failing.notice.render())
            assert str(failing.header.text).startswith(f"✗ t{FAILING:04d}")
            assert_bounded(app)

            await pilot.press(*["shift+tab"] * (FAILING + 1))
            assert screen.focused_pane is last and last.on_screen, (
                "shift+tab from the first wraps to the last"
            )
            await until(pilot, lambda: "t2999" in str(last.header.text))
            assert failing.view is None and failing.state is PaneState.FAILED
            assert_bounded(app)

            await pilot.press("a")
            assert screen.focused_pane is failing
            await until(pilot, lambda: str(failing.notice.render()) == notice)  # rebuilt as it was
            frames, examined = app.frames, app.frame_work.examined
            await until(pilot, lambda: app.frames >= frames + 10)
            assert app.frame_work.examined - examined <= SHOWN * (app.frames - frames)
            await pilot.press("q")
        await attachment.aclose()


async def test_a_run_of_3000_tickets_counts_them_as_they_change_and_streams_in_view(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, many_tickets()))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        first = app.controller.panes["t0000"]
        await until(pilot, lambda: first.state is PaneState.COMPLETED, timeout=20)
        await until(pilot, lambda: str(first.shown.body.source).startswith("Hello! I am the **lfg"))
        assert_bounded(app)
        counts = {state: sum(p.state is state for p in screen.panes) for state in PaneState}
        assert {state: n for state, n in counts.items() if n} == {
            s: n for s, n in screen.tally.counts.items() if n
        }
        assert set(screen.tally.running) == {p for p in screen.panes if p.running}
        await pilot.press("down")
        assert screen.focused_pane is app.controller.panes["t0003"], "three columns: down is the next row"
        await pilot.press("down", "down")
        assert screen.focused_pane is app.controller.panes["t0009"]
        window = f"panes 4\u201312 of {MANY} \u00b7 {MANY - 9} more \u2191/\u2193"
        assert screen.window == window, "the window moved down a row; the hint names both ways"
        assert first.view is None and first.body.source.startswith("Hello!")
        await pilot.press("up", "up", "up")
        assert first.on_screen
        await until(pilot, lambda: first.shown.body.source == first.body.source)
        assert_bounded(app)
        await pilot.press("q", "y")


async def test_keys_typed_ahead_move_the_focus_through_the_window_one_pane_each(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, many_tickets(15)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        assert screen.focused_pane is app.controller.panes["t0000"]
        for _ in range(SHOWN + 1):  # a burst, as a terminal delivers keys typed ahead of the screen
            app.post_message(Key("tab", None))
        await until(pilot, lambda: screen.focused_pane is app.controller.panes[f"t{SHOWN + 1:04d}"])
        assert screen.window == "panes 4\u201312 of 15 \u00b7 6 more \u2191/\u2193"
        app.post_message(wheel(MouseScrollDown))
        await until(pilot, lambda: screen.window == "panes 7\u201315 of 15 \u00b7 6 more \u2191")
        await until(pilot, lambda: app.controller.panes["t0014"].on_screen)
        assert app.controller.panes["t0005"].view is None, "scrolled away: its widgets are gone"
        for _ in range(3):
            app.post_message(wheel(MouseScrollUp))
        await until(pilot, lambda: screen.window == "panes 1\u20139 of 15 \u00b7 6 more \u2193")
        await until(pilot, lambda: len(screen.query(PaneView)) == SHOWN)  # the others' removal done
        assert_bounded(app)
        await pilot.press("q", "y")


def wheel(kind: type[MouseScrollDown | MouseScrollUp]) -> MouseScrollDown | MouseScrollUp:
    """The mouse wheel turned once over the first pane's header, as the terminal reports it."""
    down = 1 if kind is MouseScrollDown else -1
    return kind(None, x=10, y=2, delta_x=0, delta_y=down, button=0, shift=False, meta=False, ctrl=False)
