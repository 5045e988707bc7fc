"""`lfg web` in a real browser: headless Chromium, driven by Playwright, on the demo.

xterm.js draws the terminal on a canvas, so what the browser shows is read from what it received:
the websocket frames of the page, with the terminal's escape codes taken out.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lfgtui.history.store import Selection, Store
from lfgtui.remote.attach import watcher_name
from tests.test_cli import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.async_api", reason="the browser test needs playwright (.[test])")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the browser test needs Chromium from the distribution (Debian: apt-get install chromium)",
)
EXAMPLES = Path(__file__).parents[2] / "examples"
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[\]P_^].*?(?:\x07|\x1b\\)|\x1b.")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def demo(tmp_path: Path) -> Path:
    """The demo, its long answer slowed down so that it is still running when the browser presses c."""
    text = (EXAMPLES / "demo.toml").read_text()
    text = text.replace("long-answer:tokens_per_s=120,repeat=2", "long-answer:tokens_per_s=10,repeat=2")
    text = text.replace("[defaults]\n", f"[defaults]\nworkdir = {str(EXAMPLES)!r}\n", 1)
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path


async def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        assert process.poll() is None, "lfg web ended before it served"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("lfg web never listened")


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
    port = free_port()
    env = {**os.environ, "LFG_DB": str(db), "LFG_CONFIG": str(tmp_path / "config.toml")}
    web = subprocess.Popen(  # noqa: ASYNC220 (it runs beside the test; only polled)
        [sys.executable, "-m", "lfgtui", "web", str(demo(tmp_path)), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    frames: list[str] = []

    def shown() -> str:
        return ESCAPES.sub("", "".join(frames))

    async def until_shown(*texts: str) -> None:
        for _ in range(300):
            if all(text in shown() for text in texts):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"never shown: {[t for t in texts if t not in shown()]}")

    try:
        await wait_for_port(port, web)
        async with playwright.async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "websocket",
                lambda ws: ws.on(
                    "framereceived",
                    lambda frame: frames.append(
                        frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                    ),
                ),
            )
            await page.goto(f"http://127.0.0.1:{port}/")
            await until_shown(
                "greatest common divisor of 1071 and 462", "TTFT", "tok/s", "tour", "attached to"
            )
            await until_shown("Hello! I am the")  # the summary ticket, after its dependency
            await page.mouse.click(300, 650)  # the tour pane: bottom left of the 2 x 2 grid
            await page.keyboard.press("c")
            for _ in range(300):
                attempts = tour_attempts(db)
                if attempts and attempts[-1][0] is not None:
                    break
                await asyncio.sleep(0.1)
            await page.screenshot(path=tmp_path / "web.png")
            await browser.close()
    finally:
        os.killpg(web.pid, signal.SIGINT)
        await asyncio.to_thread(web.wait, 30)
    assert attempts == [("cancelled", [f"cancel asked by 127.0.0.1 ({watcher_name()})"])]
