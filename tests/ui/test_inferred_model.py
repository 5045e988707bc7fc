"""A model lfg's table does not list, placed by its family: the pane's header says its figures are
inferred."""

from __future__ import annotations

from pathlib import Path

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until


async def test_a_model_lfg_knows_only_by_its_family_says_its_figures_are_inferred(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = (
        '[[ticket]]\nid = "unseen"\nprompt = "x"\nmodel = "claude-opus-5-7"\n\n'
        '[[ticket]]\nid = "known"\nprompt = "x"\nmodel = "hello"\n'
    )
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        unseen, known = pane(app, "unseen"), pane(app, "known")
        await until(pilot, lambda: known.state is PaneState.COMPLETED and unseen.state is PaneState.FAILED)
        await pilot.pause(0.1)
        headers = str(unseen.header.text), str(known.header.text)
    assert "sim/claude-opus-5-7 ~inferred" in headers[0]
    assert "inferred" not in headers[1]
