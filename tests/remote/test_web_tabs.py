"""What an `lfg web` tab shows when it cannot show the run live: the finished run, or why not."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import httpx2
import pytest

from lfgtui.history.store import Selection, Store
from tests.support import warm_lfg
from tests.support.browsing import CHROMIUM, CHROMIUM_FLAGS, ESCAPES, Frames, LfgWeb, lfg_web
from tests.support.patience import PATIENCE

QUICK = """
[defaults]
provider = "sim"

[[ticket]]
id = "hi"
prompt = "Say hello."
model = "hello"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config.toml").write_text("")
    return {**os.environ, "LFG_DB": str(tmp_path / "h.sqlite3"), "LFG_CONFIG": str(tmp_path / "config.toml")}


async def shown_in_tab(websocket: aiohttp.ClientWebSocketResponse, text: str) -> str:
    """What the tab's terminal received until it shows `text` (bounded: a tab that stays blank fails)."""
    received = ""
    async with asyncio.timeout(45 * PATIENCE):
        while text not in ESCAPES.sub("", received):
            message = await websocket.receive()
            assert message.type == aiohttp.WSMsgType.BINARY, f"the tab closed showing {received!r}"
            received += message.data.decode("utf-8", "replace")
    return ESCAPES.sub("", received)


async def test_a_tab_whose_lfg_attach_cannot_start_shows_why(env: dict[str, str]) -> None:
    async with (
        lfg_web(["--attach", "http://127.0.0.1:9", "--token", "t" * 20, "--max-tabs", "1"], env) as served,
        aiohttp.ClientSession() as client,
    ):
        headers = served.cookie() | {"Origin": served.origin}
        tab = await client.ws_connect(served.origin + "/ws", headers=headers)
        shown = await shown_in_tab(tab, "Reload the page to try again")
        assert "this tab's lfg attach did not start" in shown
        assert "cannot reach http://127.0.0.1:9" in shown
        await tab.close()
        again = await client.ws_connect(served.origin + "/ws", headers=headers)  # its place is free
        assert "cannot reach" in await shown_in_tab(again, "Reload the page to try again")
        await again.close()


def run_gone(web: LfgWeb) -> bool:
    """Whether the `lfg run` that `lfg web FILE` started has exited (its child processes, on Linux)."""
    children = Path(f"/proc/{web.process.pid}/task/{web.process.pid}/children").read_text().split()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"run" in command and b"--headless" in command:
            return False
    return True


@pytest.mark.skipif(CHROMIUM is None, reason="the browser test needs Chromium (apt-get install chromium)")
async def test_a_tab_opened_after_the_run_ended_shows_the_recorded_run(
    tmp_path: Path, env: dict[str, str]
) -> None:
    playwright = pytest.importorskip("playwright.async_api", reason="the browser test needs playwright")
    tickets = tmp_path / "quick.toml"
    tickets.write_text(QUICK)
    async with lfg_web([str(tickets), "--start-now"], env) as web:
        async with asyncio.timeout(45 * PATIENCE):
            while not run_gone(web):
                await asyncio.sleep(0.1)
        frames = Frames()
        async with playwright.async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = await browser.new_page(viewport={"width": 1200, "height": 700})
            page.on("websocket", lambda ws: ws.on("framereceived", frames.take))
            await page.goto(web.url)
            await frames.until_shown("Hello! I am the", "attached to")
            await page.reload()  # a reload after the end, too
            frames.received.clear()
            await frames.until_shown("Hello! I am the")
            await browser.close()


def run_started(env: dict[str, str]) -> bool:
    """Whether the run has started a ticket (an attempt recorded)."""
    with Store.open_read_only(Path(env["LFG_DB"])) as store:
        (run,) = store.list_runs()
        return any(ticket.attempts for ticket in store.load(Selection(run.id)).tickets)


async def test_the_run_starts_when_the_first_tab_opens(tmp_path: Path, env: dict[str, str]) -> None:
    tickets = tmp_path / "quick.toml"
    tickets.write_text(QUICK)
    async with lfg_web([str(tickets)], env) as web, aiohttp.ClientSession() as client:
        assert b"the run starts when the first browser tab opens" in web.terminal.output
        assert not run_started(env), "the run waits, recorded, for its first watcher"
        tab = await client.ws_connect(web.origin + "/ws", headers=web.cookie() | {"Origin": web.origin})
        await shown_in_tab(tab, "Hello! I am the")
        await tab.close()
        assert run_started(env)


def test_start_on_attach_needs_serve(tmp_path: Path, env: dict[str, str]) -> None:
    tickets = tmp_path / "quick.toml"
    tickets.write_text(QUICK)
    done = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "run", str(tickets), "--start-on-attach"],
        env=env,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 2 and "--start-on-attach needs --serve" in done.stderr


def waiting_for_a_watcher(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`lfg run --serve 0 --start-on-attach` of QUICK, once it waits for its first watcher; and what it
    said on stderr until then (where it serves, its inbox's address)."""
    tickets = tmp_path / "quick.toml"
    tickets.write_text(QUICK)
    process = warm_lfg.popen(
        [sys.executable, "-m", "lfgtui", "run", str(tickets), "--serve", "0", "--start-on-attach"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    said = ""
    while "the tickets start when the first watcher attaches" not in said:
        line = process.stderr.readline()
        assert line, f"lfg run ended before waiting for a watcher: {said}"
        said += line
    return process, said


def test_ctrl_c_before_anyone_attached_starts_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    process, _ = waiting_for_a_watcher(tmp_path, env)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=30 * PATIENCE)
    assert process.returncode == 130, rest
    assert "recorded as run" in rest
    assert not run_started(env), "the run is recorded with no attempt"


def test_an_open_inbox_counts_as_attached(tmp_path: Path, env: dict[str, str]) -> None:
    """`--start-on-attach` starts the tickets when the inbox page asks for the run with its token,
    as when `lfg attach` connects: a person with only a phone starts the run by opening its inbox."""
    process, said = waiting_for_a_watcher(tmp_path, env)
    [inbox] = re.findall(r"open its inbox in a browser: (\S+)", said)
    address, token = inbox.split("#token=")
    base = address.removesuffix("/inbox")
    try:
        with httpx2.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30 * PATIENCE
        ) as client:
            assert client.get("/v1/inbox").status_code == 200
        _, rest = process.communicate(timeout=60 * PATIENCE)
    finally:
        process.kill()
    assert process.returncode == 0, rest
    assert run_started(env)
