"""States are painted in the theme's colours, and a new theme repaints them."""

from __future__ import annotations

from pathlib import Path

from rich.color import Color
from rich.style import Style
from rich.text import Text

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until


def glyph_colour(text: Text) -> str:
    """The colour the header's first character (the state glyph) is painted in."""
    (style,) = [Style.parse(str(span.style)) for span in text.spans if span.start == 0]
    assert style.color is not None and style.color.triplet is not None
    return style.color.triplet.hex


async def test_a_theme_recolours_the_states_and_a_new_theme_repaints_them(
    sim: SimServer, tmp_path: Path
) -> None:
    app = make_app(
        sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'), theme="light"
    )
    async with app.run_test(size=SIZE) as pilot:
        hi = pane(app, "hi")
        await until(pilot, lambda: hi.state is PaneState.COMPLETED and str(hi.header.text).startswith("✓"))
        light = Color.parse(app.get_css_variables()["success"]).triplet
        assert light is not None and glyph_colour(hi.header.text) == light.hex
        app.theme = "dark"
        dark = Color.parse(app.get_css_variables()["success"]).triplet
        assert dark is not None and dark != light
        await until(pilot, lambda: glyph_colour(hi.header.text) == dark.hex)
        assert app.palette.good == app.get_css_variables()["success"]
