"""An agent's question in its pane's notice, as the person reads it: a bidi control in it is shown
(`<U+202E>`), never obeyed, so the question reads in the order it runs, as an approval does."""

from __future__ import annotations

from pathlib import Path

from lfgtui.cost.metrics import Metrics
from lfgtui.events import ElicitationAsked, EventFactory
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until


async def test_an_agents_question_shows_its_bidi_controls_not_their_reordering(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "t"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        asking = pane(app, "t")
        await until(pilot, lambda: asking.state is PaneState.COMPLETED)
        asked = EventFactory("t", 1)(
            ElicitationAsked,
            message="the agent asks you",
            elicitation_id="e1",
            question="Deploy \u202enoitcudorp ot?",
            form={"type": "object", "properties": {}},
        )
        asking.apply(asked, Metrics())
        await until(pilot, lambda: "asks you:" in str(asking.notice.render()))
        assert "asks you: Deploy <U+202E>noitcudorp ot?" in str(asking.notice.render())
