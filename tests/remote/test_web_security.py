"""Nobody but the person with the URL `lfg web` printed can drive it: not another page in their
browser, not a DNS-rebinding host name, not a client without the key; and tabs are capped."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support import warm_lfg
from tests.support.browsing import CHROMIUM, CHROMIUM_FLAGS, LfgWeb, lfg_web
from tests.support.lfg import free_port
from tests.support.patience import PATIENCE
from tests.support.serving import on_loopback

NOBODY = "http://127.0.0.1:9"
"""Where `--attach` points when the test is about the web server, not the run: the discard port."""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config.toml").write_text("")
    return {**os.environ, "LFG_DB": str(tmp_path / "h.sqlite3"), "LFG_CONFIG": str(tmp_path / "config.toml")}


@pytest.fixture
async def served(env: dict[str, str]) -> AsyncIterator[LfgWeb]:
    async with lfg_web(["--attach", NOBODY, "--token", "t" * 20], env) as running:
        yield running


async def test_without_the_key_the_page_its_files_and_the_websocket_are_refused(served: LfgWeb) -> None:
    async with aiohttp.ClientSession() as client:
        for path in ("/", "/static/js/textual.js", "/ws"):
            async with client.get(served.origin + path, headers={"Origin": served.origin}) as response:
                assert response.status == 403, path
                assert "open the address lfg web printed" in await response.text()
        async with client.get(served.origin + "/?key=not-the-key") as response:
            assert response.status == 403
            assert "not the one lfg web printed" in await response.text()


async def test_the_key_is_traded_for_an_httponly_strict_cookie_that_lets_the_browser_in(
    served: LfgWeb,
) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(served.url + "&fontsize=20") as response:
            assert response.status == 200
            cookie = response.headers["Set-Cookie"]
            page = await response.text()
        assert f"lfg_web_{served.port}={served.key}" in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert 'location.replace("/?fontsize=20")' in page and served.key not in page
        async with client.get(served.origin + "/", headers=served.cookie()) as response:
            assert response.status == 200
            assert "textual.js" in await response.text()


async def test_a_host_name_it_does_not_serve_is_refused_even_with_the_cookie(served: LfgWeb) -> None:
    """A DNS-rebinding name resolves to 127.0.0.1, but the browser sends it as the Host."""
    async with aiohttp.ClientSession() as client:
        rebound = {**served.cookie(), "Host": f"rebind.example:{served.port}"}
        async with client.get(served.origin + "/", headers=rebound) as response:
            assert response.status == 403
            assert "not to the host name 'rebind.example:" in await response.text()
        alias = {**served.cookie(), "Host": f"localhost:{served.port}"}
        async with client.get(served.origin + "/?x=1", headers=alias, allow_redirects=False) as response:
            assert response.status == 307
            assert response.headers["Location"] == f"{served.origin}/?x=1"


async def test_a_websocket_without_this_pages_origin_is_refused_even_with_the_cookie(served: LfgWeb) -> None:
    async with aiohttp.ClientSession() as client:
        for origin in (f"http://127.0.0.1:{free_port()}", None):
            headers = served.cookie() | ({"Origin": origin} if origin else {})
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(served.origin + "/ws", headers=headers)
            assert refused.value.status == 403


async def test_tabs_past_max_tabs_are_told_why_and_start_nothing(env: dict[str, str]) -> None:
    async with (
        lfg_web(["--attach", NOBODY, "--token", "t" * 20, "--max-tabs", "1"], env) as served,
        aiohttp.ClientSession() as client,
    ):
        headers = served.cookie() | {"Origin": served.origin}
        first = await client.ws_connect(served.origin + "/ws", headers=headers)
        second = await client.ws_connect(served.origin + "/ws", headers=headers)
        message = await second.receive(timeout=30 * PATIENCE)
        assert message.type == aiohttp.WSMsgType.BINARY
        assert "as many tabs as --max-tabs allows (1) are open already" in message.data.decode()
        await second.close()
        await first.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7"])
def test_a_host_others_reach_is_refused_with_the_reason(host: str, env: dict[str, str]) -> None:
    done = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "web", "--attach", NOBODY, "--token", "t" * 20, "--host", host],
        env=env,
        timeout=30 * PATIENCE,
    )
    assert done.returncode == 2
    if host == "0.0.0.0":
        assert "name the address the browser will use" in done.stderr
    else:
        assert "can approve its tool calls" in done.stderr
        assert "add --i-know-this-is-exposed" in done.stderr


HOSTILE_PAGE = """<!DOCTYPE html><script>
const socket = new WebSocket("ws://127.0.0.1:{port}/ws?width=80&height=24");
socket.onopen = () => {{ socket.send(JSON.stringify(["stdin", "y"])); document.title = "opened"; }};
socket.onclose = () => {{ if (document.title !== "opened") document.title = "refused"; }};
</script>"""


@contextlib.asynccontextmanager
async def page_elsewhere(html: str) -> AsyncIterator[int]:
    """A page served on another port of 127.0.0.1, as any other program could: yields the port."""
    app = web.Application()

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app.router.add_get("/", page)
    async with on_loopback(app) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.mark.skipif(CHROMIUM is None, reason="the browser test needs Chromium (apt-get install chromium)")
async def test_a_page_from_another_port_cannot_open_the_websocket_in_the_same_browser(served: LfgWeb) -> None:
    """The browser holds the cookie (the person opened lfg web), and cookies do not tell ports
    apart: only the Origin tells lfg web's page from another page on 127.0.0.1."""
    playwright = pytest.importorskip("playwright.async_api", reason="the browser test needs playwright")
    async with (
        page_elsewhere(HOSTILE_PAGE.format(port=served.port)) as hostile_port,
        playwright.async_playwright() as driver,
    ):
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = await browser.new_context()
        own = await context.new_page()
        await own.goto(served.url)
        await own.wait_for_url(served.origin + "/")
        assert any(c["name"] == f"lfg_web_{served.port}" for c in await context.cookies())
        other = await context.new_page()
        await other.goto(f"http://127.0.0.1:{hostile_port}/")
        await other.wait_for_function("document.title !== ''")
        assert await other.title() == "refused"
        await browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="the browser test needs Chromium (apt-get install chromium)")
async def test_the_printed_url_followed_from_another_sites_link_lets_the_browser_in(served: LfgWeb) -> None:
    """A SameSite=Strict cookie set by a redirect that a link from another site led to would not
    be sent to the page it redirects to: the page takes the browser on instead."""
    playwright = pytest.importorskip("playwright.async_api", reason="the browser test needs playwright")
    async with (
        page_elsewhere(f'<a id="lfg" href="{served.url}">lfg</a>') as chat_port,
        playwright.async_playwright() as driver,
    ):
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = await browser.new_page()
        await page.goto(f"http://localhost:{chat_port}/")  # localhost: another site than 127.0.0.1
        await page.click("#lfg")
        await page.wait_for_url(served.origin + "/")
        assert "textual-terminal" in await page.content()
        await browser.close()
