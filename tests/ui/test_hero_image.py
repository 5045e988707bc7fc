"""The README's and the docs' hero image (docs/images/demo.svg) is what docs/screenshots.py makes of
today's demo: made again here on the sim and compared as text, what a run measures left out, so a
change to the TUI or the demo that leaves the picture stale fails until it is made again
(`python docs/screenshots.py`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer

DOCS = Path(__file__).parents[2] / "docs"


def load_screenshots() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_screenshots", DOCS / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCREENSHOTS = load_screenshots()


def test_the_outline_leaves_out_only_what_a_run_measures() -> None:
    line = '<text x="0" y="20">TTFT 412 ms · 13.1 tok/s ▁▃▅█ · 49 tok · $0 · 4.3s</text>'
    other = '<text x="0" y="20">TTFT 9 ms · 120.5 tok/s ▁▁█ · 1,049 tok · $0 · 12.0s</text>'
    assert (
        SCREENSHOTS.outline(line) == SCREENSHOTS.outline(other) == ["TTFT # ms · # tok/s # · # tok · $# · #s"]
    )
    assert SCREENSHOTS.outline(line.replace("$0", "$?")) != SCREENSHOTS.outline(line), (
        "an unpriced cost shows"
    )
    assert SCREENSHOTS.outline('<text x="0" y="1">sim/agent-demo</text>') == ["sim/agent-demo"]


async def test_the_hero_image_is_the_demo_as_it_runs_today(sim: SimServer) -> None:
    made = await SCREENSHOTS.screenshot(SCREENSHOTS.ended, Providers(sim=sim))
    committed = (DOCS / "images" / "demo.svg").read_text(encoding="utf-8")
    assert SCREENSHOTS.outline(made) == SCREENSHOTS.outline(committed), (
        "docs/images/demo.svg is stale: run `python docs/screenshots.py` and commit it"
    )
