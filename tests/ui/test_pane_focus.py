"""A pane's border shows where the focus is, and moving the focus restyles each pane's widgets once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.widgets._collapsible import CollapsibleTitle

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneView
from tests.support.app import SIZE, make_app, pane, tickets, until


async def test_moving_the_focus_between_panes_restyles_each_of_their_widgets_once(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 77: `PaneView:focus-within` made Textual restyle both panes' widgets on every focus
    change, after the restyle it gives the widgets that take and lose the focus: each twice."""
    toml = "".join(f'[[ticket]]\nid = "t{i}"\nprompt = "x"\nmodel = "hello"\n\n' for i in range(2))
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        t0, t1 = pane(app, "t0"), pane(app, "t1")
        await until(pilot, lambda: t0.finished and t1.finished and not (t0.needs_frame or t1.needs_frame))
        restyled: Counter[int] = Counter()
        stylesheet = app.stylesheet
        update_nodes = stylesheet.update_nodes

        def seen(nodes: Iterable[DOMNode], animate: bool = False) -> None:
            nodes = list(nodes)
            restyled.update(id(node) for node in nodes)
            update_nodes(nodes, animate)

        stylesheet.update_nodes = seen  # type: ignore[method-assign]
        try:
            assert screen.focused_pane is t0
            await pilot.press("tab")
            assert screen.focused_pane is t1
            await pilot.pause()
        finally:
            stylesheet.update_nodes = Stylesheet.update_nodes.__get__(stylesheet)  # type: ignore[method-assign]
        widgets = [id(node) for view in (t0.shown, t1.shown) for node in view.walk_children(with_self=True)]
        assert all(restyled[node] == 1 for node in widgets), sorted(restyled[node] for node in widgets)


async def test_a_pane_whose_fold_title_has_the_focus_is_bordered_as_focused(
    sim: SimServer, tmp_path: Path
) -> None:
    """The border a focused pane has, also while the focus is on one of its widgets (the thinking's
    title, clicked), and not once the focus moves to another pane."""
    toml = '[[ticket]]\nid = "r"\nprompt = "x"\nmodel = "reasoning"\n\n'
    toml += '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        r, hi = pane(app, "r"), pane(app, "hi")
        await until(pilot, lambda: r.finished and hi.finished and r.shown.thinking.display)
        view: PaneView = r.shown
        assert screen.focused_pane is r
        focused_border = view.styles.border_top
        await pilot.press("tab")
        assert screen.focused_pane is hi
        unfocused_border = view.styles.border_top
        assert unfocused_border != focused_border
        view.thinking.query_one(CollapsibleTitle).focus()
        await until(pilot, lambda: view.styles.border_top == focused_border)
        assert screen.focused_pane is r
        assert hi.shown.styles.border_top == unfocused_border
        await pilot.press("tab")
        await until(pilot, lambda: view.styles.border_top == unfocused_border)
        assert screen.focused_pane is not r
