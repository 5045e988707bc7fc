"""The proxy and certificate variables: without them a program behind a corporate proxy reaches nothing.
Given to every coding agent (`providers/catalog.py` `AGENT_ENV`) and to npm (`agents_registry/npm.py`)."""

from __future__ import annotations

PROXY_AND_CERTIFICATES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
