"""One way to read a public JSON document (the registry's index, the model catalogue): fetched from a
real HTTP server on 127.0.0.1 and kept with its date, then the cached copy when the server is gone,
then lfg's bundled copy; a document `check` refuses is treated like one that could not be read; the
cache's age is what its date says. And one list of proxy and certificate variables, given to npm and
to every coding agent."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lfgtui.agents_registry.npm import npm_environment
from lfgtui.network.environment import PROXY_AND_CERTIFICATES
from lfgtui.network.kept import DATE_FORMAT, Document
from lfgtui.providers.catalog import AGENT_ENV
from tests.support.patience import PATIENCE


@contextmanager
def serving(body: bytes) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/doc.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _names(document: object, where: str) -> list[str]:
    if not isinstance(document, dict) or not isinstance(document.get("names"), list):
        raise ValueError(f"{where}: no names")
    return [str(name) for name in document["names"]]


def _document(url: str, cache: Path) -> Document[list[str]]:
    return Document(url, cache, 1024 * 1024, _names, lambda: (["bundled"], "2026-01-02"), "lfg's own copy")


def test_fetched_then_cached_then_bundled_each_with_its_date(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "doc.json"
    with serving(json.dumps({"names": ["a", "b"]}).encode()) as url:
        fetched = _document(url, cache).read(timeout=10 * PATIENCE)
    assert (fetched.value, fetched.source, fetched.why) == (["a", "b"], "fetched", None)
    assert fetched.describe("the list") == f"the list at {url}, fetched {fetched.date}"

    cached = _document(url, cache).read(timeout=10 * PATIENCE)  # the server is gone
    assert (cached.value, cached.source, cached.date) == (["a", "b"], "cache", fetched.date)
    assert cached.describe("the list").startswith(f"a cached copy of {fetched.date} (the list at {url} could")

    bundled = _document(url, tmp_path / "none.json").read(timeout=10 * PATIENCE)
    assert (bundled.value, bundled.source, bundled.date) == (["bundled"], "bundled", "2026-01-02")
    assert bundled.describe("the list").startswith("lfg's own copy of 2026-01-02 (the list at ")


def test_a_document_check_refuses_falls_back_and_is_not_cached(tmp_path: Path) -> None:
    cache = tmp_path / "doc.json"
    with serving(b'{"not": "it"}') as url:
        read = _document(url, cache).read(timeout=10 * PATIENCE)
    assert (read.source, read.why) == ("bundled", f"{url}: no names")
    assert not cache.exists()


def test_the_caches_age_is_read_from_its_date(tmp_path: Path) -> None:
    cache = tmp_path / "doc.json"
    url = "http://127.0.0.1:9/doc.json"
    document = _document(url, cache)
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert document.age(now) is None, "no cache"
    written = (now - timedelta(days=3)).strftime(DATE_FORMAT)
    cache.write_text(json.dumps({"url": url, "fetched": written, "document": {"names": []}}))
    assert document.age(now) == timedelta(days=3)
    assert _document("http://127.0.0.1:9/other.json", cache).age(now) is None, "another URL's cache"


def test_npm_and_every_coding_agent_get_the_same_proxy_and_certificate_variables() -> None:
    given = {name: "x" for name in PROXY_AND_CERTIFICATES}
    assert npm_environment({**given, "OPENAI_API_KEY": "sk"}) == given
    assert set(PROXY_AND_CERTIFICATES) <= set(AGENT_ENV)
    assert {"HTTPS_PROXY", "https_proxy", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"} <= set(given)
