"""Which broker, and how to reach it: the URL (`--broker`/`--publish`, `LFG_BROKER`, `[broker] url`), the
user and password, TLS, and how much of a run the broker keeps.

The URL is written as the Redis ecosystem writes it (`REDIS_URL`): `redis://[USER[:PASSWORD]@]HOST
[:PORT][/DB]`, `rediss://` for TLS; a primary behind Redis Sentinel as redisvl and the `limits`
library write it, `redis+sentinel://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB]` (the
user and password are the primary's). Redis Cluster is refused, by its scheme here and by what the
server says at connect (`broker/client.py`): lfg's scripts join keys of different hash slots. A
password is best kept out of the URL (one given on the command line is seen in `ps` and shell
history): it comes from an environment variable (`LFG_BROKER_PASSWORD` unless `[broker]
password_env` names another) or a file (`[broker] password_file`) just as well, and whatever lfg
says of a URL never holds its password (`shown_url`, `where`). Light to import: the config reads
this module, and nothing here loads redis-py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit

BROKER_ENV = "LFG_BROKER"
PASSWORD_ENV = "LFG_BROKER_PASSWORD"
SENTINEL_PASSWORD_ENV = "LFG_SENTINEL_PASSWORD"
DEFAULT_PORT = 6379
SENTINEL_PORT = 26379
SCHEMES = ("redis", "rediss")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
CLUSTER_REFUSED = (
    "Redis Cluster is not supported (lfg's scripts join keys a cluster puts in different hash slots): "
    "use a single primary, with replicas behind Sentinel (redis+sentinel://HOST[:PORT][,…]/MASTER), "
    "or a managed Redis in non-cluster mode"
)
"""What lfg says of a cluster, wherever it finds one: its scheme, `INFO cluster`, a cluster's reply."""
DB_PATH = re.compile("[0-9]{1,9}")
"""A path that is a database number; any other names a run, as `lfg attach redis://HOST/RUN` always
has (a run id is 12 hex digits: one of only digits is not taken for a database)."""


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
    sentinel_username: str | None = None
    """The sentinels' own ACL user, for sentinels that ask for one (not the primary's)."""
    sentinel_password_env: str = SENTINEL_PASSWORD_ENV
    sentinel_password_file: Path | None = None
    """Where the sentinels' own password (their `requirepass`) is: never in the URL, whose password
    is the primary's."""
    ca_file: Path | None = None
    """The CA that signed a `rediss://` broker's certificate (default: the system's)."""
    cert_file: Path | None = None
    key_file: Path | None = None
    """A client certificate and its key, for a broker that asks for one (`tls-auth-clients yes`)."""
    prefix: str = "lfg"
    """Every key lfg writes starts with `PREFIX:`, so an ACL can give a team its own keys."""
    max_len: int = 100_000
    """Entries kept per run's event stream (one entry is ~50 ms of one publisher's events), trimmed
    approximately; fewer when `max_bytes` says so."""
    max_bytes: int = 1024 * 1024 * 1024
    """About what a run's event stream may hold: an entry holds at most `ENTRY_BYTES` of events (one
    larger event alone), so the stream keeps at most `max_bytes / ENTRY_BYTES` entries."""
    max_age_s: float = 86_400.0
    """Entries and runs older than this are trimmed; a run's keys expire this long after its last word."""
    queue_bytes: int = 32 * 1024 * 1024
    """What a publisher holds for a broker that is slow or away; past it, events are dropped (a gap)."""
    lease_s: float = 30.0
    """How long a worker holds a ticket without renewing its lease (it renews every quarter of it,
    and stops the attempt itself past 0.9 of it unrenewed); past it another worker takes the ticket
    over, as the next attempt."""


@dataclass(frozen=True)
class BrokerUrl:
    """`redis[s]://[USER[:PASSWORD]@]HOST[:PORT][/DB][#RUN]`: where the broker is, which of its
    databases, and for `attach` which run (also `…/RUN`, a path that is not a database number).
    Behind Sentinel (`redis[s]+sentinel://…/MASTER[/DB][#RUN]`) `host` and `port` are the first
    sentinel's, `sentinels` all of them and `master` the name they know the primary by."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    db: int
    run: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""

    @property
    def tls(self) -> bool:
        return self.scheme in ("rediss", "rediss+sentinel")

    @property
    def where(self) -> str:
        """The broker's URL as people read it: its user and database, never its password, not the run."""
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        db = f"/{self.db}" if self.db else ""
        if self.sentinels:
            hosts = ",".join(_host_port(host, port) for host, port in self.sentinels)
            return f"{self.scheme}://{user}{hosts}/{quote(self.master, safe='')}{db}"
        return f"{self.scheme}://{user}{_host_port(self.host, self.port)}{db}"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_broker_url(text: str) -> bool:
    """Whether `text` names a broker (rather than an `lfg serve` URL): a cluster's too, to be refused
    as one."""
    return text.partition("://")[0].lower() in SCHEMES + SENTINEL_SCHEMES + CLUSTER_SCHEMES


def shown_url(text: str) -> str:
    """`text`, a URL someone gave, as a message may quote it: a password in it (before the host, or
    in a ?query) is left out, even from a URL too broken to parse."""
    scheme, sep, rest = text.strip().partition("://")
    userinfo, at, rest = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        shown = "***" if any(mark in user for mark in "/?#") else user + (":***" if colon else "")
        rest = f"{shown}@{rest}"
    before, query, after = rest.partition("?")
    if query:
        rest = f"{before}?***" + (f"#{after.partition('#')[2]}" if "#" in after else "")
    return f"{scheme}{sep}{rest}"


def url_problem(text: str) -> str | None:
    """What is wrong with a broker URL that names no run (`--broker`, `--publish`, `LFG_BROKER`,
    `[broker] url`), or None."""
    try:
        parsed = parse_url(text)
    except BrokerError as exc:
        return str(exc)
    if not parsed.run:
        return None
    return f"{shown_url(text)!r} names a run ({parsed.run}): give the broker only, {parsed.where}"


def parse_url(text: str) -> BrokerUrl:
    """A broker URL, read strictly (raises `BrokerError` saying what is wrong, never quoting a password)."""
    shown = repr(shown_url(text))
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme in CLUSTER_SCHEMES:
        raise BrokerError(f"{shown}: {CLUSTER_REFUSED}")
    if scheme in SENTINEL_SCHEMES:
        return _parse_sentinel_url(parts, shown)
    if scheme not in SCHEMES:
        raise BrokerError(
            f"{shown} is not a broker URL: expected redis://HOST[:PORT][/DB], rediss://… or "
            "redis+sentinel://HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB]"
        )
    if "@" in parts.path + parts.query + parts.fragment:
        raise BrokerError(f"{shown}: an @ after the host: in a password, write / ? # @ as %2F %3F %23 %40")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise BrokerError(f"{shown}: the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise BrokerError(f"{shown} names no host")
    if parts.query:
        raise BrokerError(
            f"{shown}: a broker URL takes no ?query: the database is its path (/DB), the rest in [broker]"
        )
    path = parts.path.strip("/")
    if "/" in path:
        raise BrokerError(f"{shown}: expected at most a database number (or a run id) after the host")
    db, run = (int(path), "") if DB_PATH.fullmatch(path) else (0, path)
    if run and parts.fragment:
        raise BrokerError(f"{shown} names two runs: give the run once, as #RUN")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return BrokerUrl(scheme, parts.hostname, port, username, password, db, run or parts.fragment)


def _parse_sentinel_url(parts: SplitResult, shown: str) -> BrokerUrl:
    """`redis[s]+sentinel://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB][#RUN]`."""
    if "@" in parts.path + parts.query + parts.fragment:
        raise BrokerError(f"{shown}: an @ after the host: in a password, write / ? # @ as %2F %3F %23 %40")
    if parts.query:
        raise BrokerError(
            f"{shown}: a broker URL takes no ?query: the master and database are its path, the "
            f"sentinels' own password ${SENTINEL_PASSWORD_ENV} or [broker] sentinel_password_file"
        )
    sentinels = []
    for hostport in parts.netloc.rpartition("@")[2].split(","):
        one = urlsplit(f"//{hostport}")
        try:
            port = one.port or SENTINEL_PORT
        except ValueError:
            raise BrokerError(f"{shown}: a sentinel's port must be a number from 1 to 65535") from None
        if not one.hostname:
            raise BrokerError(f"{shown}: a sentinel with no host (the list is HOST[:PORT],HOST[:PORT]…)")
        sentinels.append((one.hostname, port))
    master_text, _, db_text = parts.path.strip("/").partition("/")
    master = unquote(master_text)
    if not master:
        raise BrokerError(f"{shown} names no master: the sentinels know it by name, …/MASTER[/DB]")
    if db_text and not DB_PATH.fullmatch(db_text):
        raise BrokerError(f"{shown}: expected a database number after the master's name (give a run as #RUN)")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    host, port = sentinels[0]
    db = int(db_text) if db_text else 0
    return BrokerUrl(
        parts.scheme.lower(), host, port, username, password, db, parts.fragment, tuple(sentinels), master
    )


@dataclass(frozen=True)
class Broker:
    """A broker to connect to, with everything resolved: its URL, its user, its password, TLS files."""

    url: BrokerUrl
    settings: BrokerSettings
    username: str | None
    password: str | None = field(repr=False)
    """The URL's, else the environment's, else the password file's."""
    sentinel_password: str | None = field(default=None, repr=False)
    """The sentinels' own (behind Sentinel only): the environment's, else its file's."""

    @property
    def where(self) -> str:
        return self.url.where


def chosen_url(given: str | None, env: Mapping[str, str], settings: BrokerSettings) -> str | None:
    """The broker's URL: the one given on the command line, else `LFG_BROKER`, else `[broker] url`."""
    return given or env.get(BROKER_ENV) or settings.url


def resolve(url: str, env: Mapping[str, str], settings: BrokerSettings) -> Broker:
    """The broker `url` names, with its password from the URL, the environment or the password file."""
    parsed = parse_url(url)
    password = parsed.password or _secret(env.get(settings.password_env), settings.password_file, "broker's")
    sentinel_password = None
    if parsed.sentinels:
        given = env.get(settings.sentinel_password_env)
        sentinel_password = _secret(given, settings.sentinel_password_file, "sentinels'")
    if not parsed.tls and (settings.cert_file or settings.key_file):
        raise BrokerError(f"[broker] cert_file and key_file are for TLS: use rediss:// (not {parsed.where})")
    return Broker(parsed, settings, parsed.username or settings.username, password, sentinel_password)


def _secret(given: str | None, file: Path | None, whose: str) -> str | None:
    """A password from the environment (`given`), else from `file`; None if neither gives one."""
    if given or file is None:
        return given or None
    try:
        password = file.read_text(encoding="utf-8-sig").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise BrokerError(f"cannot read the {whose} password file {file}: {exc}") from None
    if password is None:
        raise BrokerError(f"the {whose} password file {file} is empty")
    return password
