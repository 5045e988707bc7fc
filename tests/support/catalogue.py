"""models.dev's `api.json` served from 127.0.0.1, as `lfg models --refresh` and a run's daily refresh
read it; `hold()` keeps every answer back until `release()`, so a test can see what a run does while
the catalogue has not answered."""

from __future__ import annotations

import http.server
import threading


class CatalogueServer:
    def __init__(self, body: bytes) -> None:
        served = body
        self.asked = threading.Event()
        """Set when the first request has come (the state a test waits for)."""
        self.answering = threading.Event()
        self.answering.set()
        asked, answering = self.asked, self.answering

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked.set()
                answering.wait()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(served)))
                self.end_headers()
                self.wfile.write(served)

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def hold(self) -> None:
        self.answering.clear()

    def release(self) -> None:
        self.answering.set()

    def __enter__(self) -> CatalogueServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
