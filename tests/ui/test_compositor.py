"""The run screen's compositor sends the terminal what Textual's own would, for any changed box."""

from __future__ import annotations

from copy import copy
from pathlib import Path

from rich.segment import Segment
from textual._compositor import Compositor
from textual.geometry import Region

from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.drawing.compositor import CoveredCompositor
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import make_app, pane, tickets, until

TICKETS = "".join(
    f'[[ticket]]\nid = "{name}"\nprompt = "x"\nmodel = "{model}"\n{extra}\n'
    for name, model, extra in (
        ("long", "long-answer:repeat=40,tokens_per_s=400", ""),
        ("hi", "hello", ""),
        ("think", "reasoning", ""),
        ("w", "writer", 'tools = ["write_file", "run_command"]\n'),
        ("more", "long-answer:repeat=40,tokens_per_s=400", ""),
    )
)


def sent(app: LfgApp, regions: list[Region] | None, plain: bool) -> list[Segment]:
    """What the run screen's compositor (or Textual's, `plain`, in the same state) writes to the
    terminal to update `regions` (None: the whole screen), but for cursor moves that nothing
    written follows (Textual's sends one at the end of some spans)."""
    compositor = app.screen._compositor
    if plain:
        compositor = copy(compositor)
        compositor.__class__ = Compositor
    pending, compositor._dirty_regions = compositor._dirty_regions, set(regions or ())
    update = compositor.render_partial_update() if regions else compositor.render_full_update()
    compositor._dirty_regions = pending
    assert update is not None
    segments = list(app.console.render(update))
    following = [*segments[1:], Segment.line()]
    return [s for s, then in zip(segments, following, strict=True) if not (s.control and blank(then))]


def blank(segment: Segment) -> bool:
    """Nothing is written at a cursor move followed by this."""
    return bool(segment.control) or segment.text == "\n"


def boxes(app: LfgApp) -> list[list[Region]]:
    """Changed boxes as the run screen gets them: each widget on it, a body's last line, two panes'
    bodies at once, a band across the panes, and everything."""
    compositor = app.screen._compositor
    widgets = [[region] for region, clip in compositor.visible_widgets.values() if region.overlaps(clip)]
    bodies = [view.body.region for view in (pane(app, "long").shown, pane(app, "w").shown)]
    band = Region(0, 5, compositor.size.width, 3)
    last_line = Region(bodies[0].x, bodies[0].bottom - 1, bodies[0].width, 1)
    return [*widgets, bodies, [band], [last_line, bodies[1]], [compositor.size.region]]


async def test_updates_match_textuals_compositor(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, TICKETS))
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen._compositor, CoveredCompositor)
        await until(pilot, lambda: pane(app, "long").body.length > 2000 and pane(app, "w").tools.rows)
        await until(pilot, lambda: pane(app, "hi").state is PaneState.COMPLETED)
        writer, long = pane(app, "w"), pane(app, "long")
        compositor = app.screen._compositor
        for _ in range(2):  # streaming, then with a pane focused (its border) and a tool log unfolded
            await pilot.pause()
            for regions in [*boxes(app), None]:
                assert sent(app, regions, plain=False) == sent(app, regions, plain=True), regions
            # the same boxes again, with the lines the panes drew since: each replays its plan
            layout = compositor.visible_widgets
            shown = long.body.length
            await until(pilot, lambda s=shown: long.body.length > s or long.state is not PaneState.RUNNING)
            assert compositor.visible_widgets is layout, "the layout changed: nothing would be replayed"
            for regions in boxes(app):
                assert frozenset(regions) in compositor._plans, regions
                assert sent(app, regions, plain=False) == sent(app, regions, plain=True), regions
            # boxes that never changed together: put together from each box's own plan
            apart = [pane(app, name).shown.body.region for name in ("long", "more", "think")]
            assert sent(app, apart, plain=False) == sent(app, apart, plain=True), apart
            own = [compositor._plans[frozenset((region,))] for region in sorted(apart)]
            together = compositor._plans[frozenset(apart)]
            drawn = [draw for plan in own for draw in plan.draws]
            assert len(together.draws) == len(drawn) and all(
                a is b for a, b in zip(together.draws, drawn, strict=True)
            ), "each box's own draws, not made anew"
            compositor._cuts = compositor._visible_widgets = None  # the layout made anew, the same
            assert sent(app, apart, plain=False) == sent(app, apart, plain=True), apart
            assert compositor._plans[frozenset(apart)] is together, "every widget is where it was: kept"
            overlapping = [apart[0], Region(apart[0].x, apart[0].y, 3, 1)]
            assert sent(app, overlapping, plain=False) == sent(app, overlapping, plain=True), overlapping
            assert frozenset(overlapping) in compositor._plans, "boxes that overlap: a plan of their own"
            await pilot.press("tab")
            writer.tools.collapsed = False
            writer.dirty = writer.urgent = True
