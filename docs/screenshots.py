"""Make the documentation's screenshots from the real app: `python docs/screenshots.py`.

Runs examples/demo.toml on the offline sim in the TUI (Textual's headless `run_test`, nothing drawn on
your terminal), as `lfg run` would (its prices included: the sim is free), waits until every ticket
has ended, and writes Textual's own SVG screenshot of it to docs/images/. Re-run it after a change to
the TUI or the demo; the pictures are never edited by hand. A test (tests/ui/test_hero_image.py) makes
the picture again and compares its text with the one committed, the measured numbers left out
(`outline`), so a stale picture fails the build.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.cost.prices import run_prices
from lfgtui.providers.registry import Providers
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
DEMO = ROOT / "examples" / "demo.toml"
SIZE = (140, 40)
WAIT_S = 120
TITLE = "lfg run examples/demo.toml"


async def screenshot(ready: Callable[[LfgApp], bool], providers: Providers | None = None) -> str:
    """The demo's TUI as an SVG once `ready` holds; `providers`: where the sim runs (else lfg's own)."""
    demo = load_tickets(DEMO, Config(path=None), BUILTIN_TOOLS, env={})
    async with providers or Providers() as shared:
        services = Services(shared, prices=run_prices(shared.configs, demo.tickets))
        app = LfgApp(services, RunController.live(services, demo.tickets, "demo"))
        async with app.run_test(size=SIZE) as pilot:
            async with asyncio.timeout(WAIT_S):
                while not ready(app):
                    await asyncio.sleep(0.05)
            await pilot.pause(0.15)  # a few frames, so that what is ready is drawn
            svg = app.export_screenshot(title=TITLE)
            app.exit(0)
    return svg


def ended(app: LfgApp) -> bool:
    """Every ticket has ended: the explorer's answer quotes what its tools found, the summary quotes
    it, beside a reasoned answer and a long Markdown one; nothing left depends on timing but the
    measures."""
    return all(pane.finished for pane in app.controller.panes.values())


_TEXT = re.compile(r'<text[^>]*?x="([\d.]+)"[^>]*?y="([\d.]+)"[^>]*>(.*?)</text>', re.DOTALL)
_MEASURED = re.compile(r"\d+(?:[.,:]\d+)*|[\u2581-\u2588]+")  # numbers, and the rate's sparkline


def outline(svg: str) -> list[str]:
    """The picture's text, line by line, with what a run measures (times, rates, counts and the
    sparkline) left out and spaces collapsed: the same for every run of the demo."""
    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in _TEXT.findall(svg):
        rows.setdefault(float(y), []).append((float(x), html.unescape(re.sub("<[^>]+>", "", text))))
    lines = ("".join(text for _, text in sorted(cells)) for _, cells in sorted(rows.items()))
    return [" ".join(_MEASURED.sub("#", line.replace("\xa0", " ")).split()) for line in lines]


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / "demo.svg"
    path.write_text(asyncio.run(screenshot(ended)), encoding="utf-8")
    print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
