"""A refused or cut-off answer in the TUI: the pane fails, showing the answer that arrived and why it
ended (with, for max_tokens, how to get the whole answer); a paused Anthropic turn completes."""

from __future__ import annotations

from pathlib import Path

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until

TICKETS = """
[[ticket]]
id = "refused"
prompt = "x"
model = "refusal"

[[ticket]]
id = "cut"
prompt = "x"
provider = "sim-anthropic"
model = "max-tokens"
max_tokens = 50

[[ticket]]
id = "paused"
prompt = "x"
provider = "sim-anthropic"
model = "pause-turn"
"""


async def test_a_refused_or_cut_answer_fails_its_pane_keeping_the_text_and_saying_why(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(sim, tickets(tmp_path, TICKETS))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: pane(app, "refused").state is PaneState.FAILED)
        await until(pilot, lambda: pane(app, "cut").state is PaneState.FAILED)
        await until(pilot, lambda: pane(app, "paused").state is PaneState.COMPLETED)
        refused, cut = pane(app, "refused"), pane(app, "cut")
        assert refused.body.source == "I can't help with that request."
        await until(pilot, lambda: "refused: the model refused to answer" in str(refused.notice.render()))
        assert cut.body.source.endswith("third,"), "what arrived is kept"
        await until(pilot, lambda: "max_tokens: the answer was cut off" in str(cut.notice.render()))
        notice = " ".join(str(cut.notice.render()).split())
        assert "Raise max_tokens, up to the model's output limit" in notice
        paused = pane(app, "paused").body.source  # each model call's text a paragraph of its own
        assert paused == "Let me look that up. \n\nFound it: the answer is 42."
