"""A ticket that fell back says so in its pane: the provider and model that answered in its header, the
one it left and why in its notice, once the attempt on the fallback has completed."""

from __future__ import annotations

from pathlib import Path

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until


async def test_the_pane_names_the_link_that_answered_and_the_one_it_fell_back_from(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = '[[ticket]]\nid = "t"\nprompt = "x"\nmodel = "fault-401"\nfallback = ["sim/hello"]\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        shown = pane(app, "t")
        await until(pilot, lambda: shown.state is PaneState.COMPLETED)
        await until(
            pilot, lambda: "attempt 2" in str(shown.header.text) and "fell back" in str(shown.notice.render())
        )
        header, notice = str(shown.header.text), str(shown.notice.render())
    assert "sim/hello  attempt 2" in header
    assert notice.startswith("↪ fell back after sim/fault-401: HTTP 401 auth: Incorrect API key")
