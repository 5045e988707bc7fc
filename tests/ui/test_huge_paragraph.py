"""The real app streaming one huge paragraph from the sim: it stays responsive and shows it all."""

from __future__ import annotations

from pathlib import Path

from lfgtui.events import Outcome
from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.modals import ConfirmScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.compose import first_run

HELLO = "Hello! I am the **lfg simulator**, answering offline over a real HTTP stream."
HUGE = "hello:repeat=100000,chunk_chars=65536,tokens_per_s=0,ttft_ms=0"
"""About 7.8 MB of one line, in 64 KB chunks, as fast as the sim sends them."""


def huge_ticket(tmp_path: Path) -> Path:
    return tickets(tmp_path, f'[[ticket]]\nid = "huge"\nprompt = "x"\nmodel = "{HUGE}"\n')


async def test_an_8_mb_paragraph_streams_whole_and_scrolls_to_its_start(
    sim: SimServer, tmp_path: Path
) -> None:
    """Its end is shown as it arrives and its start once scrolled to; the rest is rendered over the
    next frames, within each frame's budget, so `q` is answered at once."""
    app = make_app(sim, huge_ticket(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        huge = pane(app, "huge")
        body = huge.shown.body
        await until(pilot, lambda: huge.state is PaneState.COMPLETED, timeout=30)
        assert huge.body.source == HELLO * 100_000
        # The view takes the pane's text frame by frame; its end alone cannot say it has taken it all
        # (every 77 chunks of 65,536 characters end on a whole greeting, as the last one does).
        await until(pilot, lambda: len(body.source) == huge.body.length)
        assert body.source == HELLO * 100_000
        last = body.size.height - 1
        await until(pilot, lambda: body.render_line(last).text.rstrip().endswith("real HTTP stream."))
        await pilot.press("home")
        await until(pilot, lambda: body.render_line(0).text.startswith("Hello! I am the **lfg simulator**"))
        await pilot.press("q")
        await until(pilot, lambda: app.return_value is not None)
    assert app.return_value == 0


async def test_q_quits_while_an_8_mb_paragraph_streams(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, huge_ticket(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        huge = pane(app, "huge")
        await until(pilot, lambda: len(huge.body.source) > 6_000_000, timeout=40)
        await pilot.press("q")  # the rest may have come meanwhile: then `q` quits without asking
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) or app.return_value is not None)
        if app.return_value is None:
            await pilot.press("y")
            await until(pilot, lambda: app.return_value is not None)
    assert app.return_value in (0, 1)
    assert first_run(app).states["huge"].outcome in (Outcome.CANCELLED, Outcome.COMPLETED)
