"""Which broker, and how to reach it: the URL (`--broker`/`--publish`, `LFG_BROKER`, `[broker] url`), the
user and password, TLS, and how much of a run the broker keeps.

A password never goes in a URL: a URL is seen in `ps`, shell history and logs, so one that holds a
password is refused. It comes from an environment variable (`LFG_BROKER_PASSWORD` unless
`[broker] password_env` names another) or a file (`[broker] password_file`). Light to import: the
config reads this module, and nothing here loads redis-py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

BROKER_ENV = "LFG_BROKER"
PASSWORD_ENV = "LFG_BROKER_PASSWORD"
DEFAULT_PORT = 6379
SCHEMES = ("redis", "rediss")


class BrokerError(Exception):
    """The broker cannot be used: a bad URL, no password, refused, unreachable, redis-py missing."""


@dataclass(frozen=True)
class BrokerSettings:
    """`[broker]` in config.toml."""

    url: str | None = None
    username: str | None = None
    """The ACL user (`AUTH user password`); a user in the URL wins."""
    password_env: str = PASSWORD_ENV
    password_file: Path | None = None
    ca_file: Path | None = None
    """The CA that signed a `rediss://` broker's certificate (default: the system's)."""
    cert_file: Path | None = None
    key_file: Path | None = None
    """A client certificate and its key, for a broker that asks for one (`tls-auth-clients yes`)."""
    prefix: str = "lfg"
    """Every key lfg writes starts with `PREFIX:`, so an ACL can give a team its own keys."""
    max_len: int = 100_000
    """Entries kept per run's event stream (one entry is ~50 ms of events), trimmed approximately."""
    max_age_s: float = 86_400.0
    """Entries and runs older than this are trimmed; a run's keys expire this long after its last word."""
    queue_bytes: int = 32 * 1024 * 1024
    """What a publisher holds for a broker that is slow or away; past it, events are dropped (a gap)."""
    lease_s: float = 30.0
    """How long a worker holds a ticket without renewing its lease (it renews every third of it);
    past it another worker takes the ticket over, as the next attempt."""


@dataclass(frozen=True)
class BrokerUrl:
    """`redis[s]://[USER@]HOST[:PORT][/RUN]`: where the broker is, and for `attach` which run."""

    scheme: str
    host: str
    port: int
    username: str | None
    run: str

    @property
    def tls(self) -> bool:
        return self.scheme == "rediss"

    @property
    def where(self) -> str:
        """The broker's URL without the run, as people read it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{host}:{self.port}"


def is_broker_url(text: str) -> bool:
    """Whether `text` names a broker (rather than an `lfg serve` URL)."""
    return text.partition("://")[0].lower() in SCHEMES


def url_problem(text: str) -> str | None:
    """What is wrong with a broker URL that names no run (`[broker] url`, `--publish`), or None."""
    try:
        parsed = parse_url(text)
    except BrokerError as exc:
        return str(exc)
    return f"{text!r} names a run ({parsed.run}): give the broker only" if parsed.run else None


def parse_url(text: str) -> BrokerUrl:
    """A broker URL, read strictly (raises `BrokerError` saying what is wrong)."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BrokerError(
            f"{text!r} is not a broker URL: expected redis://HOST[:PORT] or rediss://HOST[:PORT]"
        )
    if parts.password is not None:
        raise BrokerError(
            "a broker URL may not hold a password (it would show in ps, shell history and logs): "
            f"put it in ${PASSWORD_ENV} or in a file named by [broker] password_file"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise BrokerError(f"{text!r}: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise BrokerError(f"{text!r} names no host")
    if parts.query or parts.fragment:
        raise BrokerError(f"{text!r}: a broker URL takes no ?query or #fragment ([broker] settings do)")
    run = parts.path.strip("/")
    if "/" in run:
        raise BrokerError(f"{text!r}: expected at most one run id after the host")
    return BrokerUrl(scheme, parts.hostname, port, parts.username or None, run)


@dataclass(frozen=True)
class Broker:
    """A broker to connect to, with everything resolved: its URL, its user, its password, TLS files."""

    url: BrokerUrl
    settings: BrokerSettings
    username: str | None
    password: str | None = field(repr=False)

    @property
    def where(self) -> str:
        return self.url.where


def chosen_url(given: str | None, env: Mapping[str, str], settings: BrokerSettings) -> str | None:
    """The broker's URL: the one given on the command line, else `LFG_BROKER`, else `[broker] url`."""
    return given or env.get(BROKER_ENV) or settings.url


def resolve(url: str, env: Mapping[str, str], settings: BrokerSettings) -> Broker:
    """The broker `url` names, with its password from the environment or the password file."""
    parsed = parse_url(url)
    password = env.get(settings.password_env) or None
    if password is None and settings.password_file is not None:
        try:
            password = settings.password_file.read_text(encoding="utf-8-sig").strip() or None
        except (OSError, UnicodeDecodeError) as exc:
            raise BrokerError(
                f"cannot read the broker's password file {settings.password_file}: {exc}"
            ) from None
        if password is None:
            raise BrokerError(f"the broker's password file {settings.password_file} is empty")
    if not parsed.tls and (settings.cert_file or settings.key_file):
        raise BrokerError(f"[broker] cert_file and key_file are for TLS: use rediss:// (not {parsed.where})")
    return Broker(parsed, settings, parsed.username or settings.username, password)
