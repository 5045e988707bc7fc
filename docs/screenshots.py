"""Make the documentation's screenshots from the real app: `python docs/screenshots.py`.

Runs examples/demo.toml on the offline sim in the TUI (Textual's headless `run_test`, nothing drawn on
your terminal), waits for a moment worth showing, and writes Textual's own SVG screenshot of it to
docs/images/. Re-run it after a change to the TUI; the pictures are never edited by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.providers.registry import Providers
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services
from lfgtui.ui.widgets.pane import PaneState

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
SIZE = (140, 40)
WAIT_S = 60


async def shoot(name: str, ready: Callable[[LfgApp], bool]) -> Path:
    """The demo's TUI, saved as `docs/images/NAME.svg` once `ready` holds."""
    demo = load_tickets(ROOT / "examples" / "demo.toml", Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers() as providers:
        services = Services(providers)
        app = LfgApp(services, RunController.live(services, demo.tickets, "demo"))
        async with app.run_test(size=SIZE) as pilot:
            async with asyncio.timeout(WAIT_S):
                while not ready(app):
                    await asyncio.sleep(0.05)
            await pilot.pause(0.15)  # a few frames, so that what is ready is drawn
            path = IMAGES / f"{name}.svg"
            path.write_text(app.export_screenshot(title="lfg run examples/demo.toml"), encoding="utf-8")
            app.exit(0)
    return path


def mid_run(app: LfgApp) -> bool:
    """The explorer, done with its tools, streams its answer while the summary waits for it: tools,
    Markdown, live gauges, a finished pane and a waiting one at once."""
    explore = app.controller.panes["explore"]
    return explore.state is PaneState.RUNNING and len(explore.body.source) > 400


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    print(asyncio.run(shoot("demo", mid_run)).relative_to(ROOT))


if __name__ == "__main__":
    main()
