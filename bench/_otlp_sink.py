#!/usr/bin/env python3
"""A local OTLP/HTTP receiver that takes and drops what it is sent: `render.py --otel`'s, so that
lfg's exporter sends over a real socket without a collector. It answers every POST 200 with an empty
body (what a collector answers a request it took whole), counts the exports per path, and says how
many at `GET /stats` as JSON. It runs in its own process, so its CPU is not lfg's.

    python bench/_otlp_sink.py PORT
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received: dict[str, int] = {}


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received[self.path] = received.get(self.path, 0) + 1
        self._answer(b"", "application/x-protobuf")

    def do_GET(self) -> None:
        self._answer(json.dumps(received).encode(), "application/json")

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one line per export would be noise."""


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
    print("ready", flush=True)
    server.serve_forever()
