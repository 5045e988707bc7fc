"""`lfg web` in a real browser: headless Chromium, driven by Playwright, on the demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lfgtui.history.store import Selection, Store
from lfgtui.remote.following import watcher_name
from tests.support.browsing import CHROMIUM, CHROMIUM_FLAGS, Frames, lfg_web
from tests.support.fleet import until

playwright = pytest.importorskip("playwright.async_api", reason="the browser test needs playwright (.[test])")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the browser test needs Chromium from the distribution (Debian: apt-get install chromium)",
)
EXAMPLES = Path(__file__).parents[2] / "examples"


def demo(tmp_path: Path) -> Path:
    """The demo, its long answer slowed down so that it is still running when the browser presses c."""
    text = (EXAMPLES / "demo.toml").read_text()
    text = text.replace("long-answer:tokens_per_s=20,repeat=5", "long-answer:tokens_per_s=10,repeat=5")
    text = text.replace("[defaults]\n", f"[defaults]\nworkdir = {str(EXAMPLES)!r}\n", 1)
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path


def tour_attempts(db: Path) -> list[tuple[str | None, list[str]]]:
    """The tour ticket's attempts as recorded: outcome and status notes."""
    with Store.open_read_only(db) as store:
        (run,) = store.list_runs()
        record = store.load(Selection(run.id))
    (tour,) = [t for t in record.tickets if t.row.ticket == "tour"]
    return [(a.row.outcome, [p.text for p in a.parts if p.kind == "status"]) for a in tour.attempts]


async def test_lfg_web_shows_the_demo_in_chromium_and_c_cancels_a_running_ticket(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    (tmp_path / "config.toml").write_text("")
    env = {**os.environ, "LFG_DB": str(db), "LFG_CONFIG": str(tmp_path / "config.toml")}
    frames = Frames()
    async with lfg_web([str(demo(tmp_path))], env) as web, playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("websocket", lambda ws: ws.on("framereceived", frames.take))
        await page.goto(web.url)
        await frames.until_shown(
            "greatest common divisor of 1071 and 462", "TTFT", "tok/s", "tour", "attached to"
        )
        await frames.until_shown("Here is the gist")  # the summary ticket, after its dependency
        await page.mouse.click(300, 650)  # the tour pane: bottom left of the 2 x 2 grid
        await page.keyboard.press("c")
        await until(lambda: (attempts := tour_attempts(db)) and attempts[-1][0] is not None, 30)
        attempts = tour_attempts(db)
        await page.screenshot(path=tmp_path / "web.png")
        await browser.close()
    assert attempts == [("cancelled", [f"cancel asked by 127.0.0.1 ({watcher_name()})"])]
