"""A served run's token and the error a server that cannot start raises: what `lfg mcp`, `lfg attach`
and a worker's lead door need of remote/server.py without importing its HTTP server (aiohttp)."""

from __future__ import annotations

import secrets
from pathlib import Path


class ServeError(Exception):
    """The server cannot start: a bad address, a port in use, an unreadable token file."""


def token_in(token_file: Path) -> str:
    """The token in `token_file` (a byte-order mark and surrounding blanks left out); raises
    `ServeError` when it cannot be read or is not printable ASCII without spaces, which is all
    an HTTP header can carry."""
    try:
        token = token_file.read_text(encoding="utf-8-sig").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServeError(f"cannot read the token file {token_file}: {exc}") from exc
    if not token_problem(token):
        return token
    raise ServeError(f"the token in {token_file} {token_problem(token)}")


def token_problem(token: str) -> str | None:
    """What makes `token` unusable in an `Authorization` header, or None."""
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        return "must be printable ASCII characters, no spaces"
    return None


def read_token(token_file: Path | None) -> str:
    """The token in `token_file`, or a new random one."""
    if token_file is None:
        return secrets.token_urlsafe(32)
    token = token_in(token_file)
    if len(token) < 16:
        raise ServeError(f"the token in {token_file} must be at least 16 characters")
    return token
