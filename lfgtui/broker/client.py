"""A connection to the broker (redis-py's asyncio client), and what its failures mean to a person.

redis-py is the `lfgtui[broker]` extra: it is imported here, when a command uses the broker, and
its absence is said as the command to install it. The client retries nothing itself: a publisher
and a watcher each have their own policy for a broker that goes away, and a first connection that
fails says why at once. Behind Sentinel the client is the primary's (`broker/sentinel.py`); a Redis
Cluster is refused at connect, in one line (`CLUSTER_REFUSED`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from lfgtui.cancels import raise_swallowed_cancel
from lfgtui.config.broker import CLUSTER_REFUSED, Broker, BrokerError
from lfgtui.extras import install_hint
from lfgtui.run.retry import RetryPolicy

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.sentinel import SentinelRefused

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5.0
"""How long a connection (TLS handshake included) may take."""
AWAY = RetryPolicy(max_retries=0, base_delay_s=0.5, max_delay_s=5.0)
"""Waits before asking a broker that failed again: 0.5 s doubling to 5 s; never given up."""


def require_redis() -> None:
    """Raise `BrokerError` naming the extra to install when redis-py is not there."""
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        raise BrokerError(
            f"using a broker needs redis-py, which is not installed: {install_hint('broker')}"
        ) from None


def client(broker: Broker, read_timeout_s: float | None) -> Redis:
    """A client of `broker` (no connection is made until it is used); `read_timeout_s` bounds each
    answer's wait (None: a blocking read may wait as long as it asked to)."""
    require_redis()
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    settings = broker.settings
    tls: dict[str, object] = {}
    if broker.url.tls:
        tls = {
            "ssl": True,
            "ssl_ca_certs": str(settings.ca_file) if settings.ca_file else None,
            "ssl_certfile": str(settings.cert_file) if settings.cert_file else None,
            "ssl_keyfile": str(settings.key_file) if settings.key_file else None,
        }
    reaching: dict[str, object] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "retry": Retry(NoBackoff(), 0),
        "client_name": "lfg",
        **tls,
    }
    options = reaching | {
        "db": broker.url.db,
        "username": broker.username,
        "password": broker.password,
        "socket_timeout": read_timeout_s,
    }
    if broker.url.sentinels:
        from lfgtui.broker.sentinel import primary

        asking = reaching | {
            "socket_timeout": CONNECT_TIMEOUT_S,
            "username": settings.sentinel_username,
            "password": broker.sentinel_password,
        }
        return primary(broker.url.sentinels, broker.url.master, options, asking)
    return Redis(host=broker.url.host, port=broker.url.port, **options)  # type: ignore[arg-type]


async def connect(broker: Broker, read_timeout_s: float | None = CONNECT_TIMEOUT_S) -> Redis:
    """A client of `broker` whose first command (PING) was answered; raises `BrokerError` saying why not."""
    redis = client(broker, read_timeout_s)
    try:
        await redis.ping()
        if await is_cluster(redis):
            raise BrokerError(f"the broker at {broker.where}: {CLUSTER_REFUSED}")
    except BaseException as exc:
        await redis.aclose()
        if isinstance(exc, Exception) and (problem := explain(exc, broker, first=True)) is not None:
            raise BrokerError(problem) from None
        raise
    return redis


async def is_cluster(redis: Redis) -> bool:
    """Whether `redis` is a node of a Redis Cluster (`INFO cluster`), whose slots would split a run's
    keys; False where an ACL denies INFO (its cluster's replies are then explained as they come)."""
    from redis.exceptions import NoPermissionError

    try:
        info = await redis.info("cluster")
    except NoPermissionError:
        return False
    return bool(info.get("cluster_enabled"))


def explain(exc: Exception, broker: Broker, first: bool = False) -> str | None:
    """What a failure of the broker's client means, in a person's terms; None for anything that is
    not the broker's (a bug). `first`: it failed the connection's first exchange (`connect`'s PING),
    the only one a TLS broker asked without TLS fails, by closing the connection."""
    from redis import exceptions
    from redis.asyncio.sentinel import MasterNotFoundError

    from lfgtui.broker.sentinel import SentinelRefused

    where = broker.where
    text = str(exc)
    if isinstance(exc, SentinelRefused):
        return _sentinel_refused(exc, broker)
    if isinstance(exc, exceptions.AuthenticationError):
        side = (
            f"the primary {broker.url.master!r} that the sentinels at {where} name"
            if broker.url.sentinels
            else f"the broker at {where}"
        )
        if broker.password is None:
            return f"{side} needs a password: set ${broker.settings.password_env} or [broker] password_file"
        user = broker.username or "default"
        return f"{side} refused user {user!r} with that password (wrong, or the user is disabled)"
    cluster_replies = (
        exceptions.AskError,  # and MOVED, its subclass
        exceptions.TryAgainError,
        exceptions.ClusterDownError,
        exceptions.ClusterCrossSlotError,
    )
    if isinstance(exc, cluster_replies) or "cluster mode" in text:
        return f"the broker at {where}: {CLUSTER_REFUSED}"
    if isinstance(exc, exceptions.NoPermissionError):
        return f"the broker at {where} does not let user {broker.username or 'default'!r} do that: {text}"
    if isinstance(exc, MasterNotFoundError):
        return f"no sentinel at {where} names a primary {broker.url.master!r} that answers ({text})"
    if isinstance(exc, exceptions.ConnectionError | exceptions.TimeoutError | OSError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            return (
                f"the broker at {where} has a certificate this machine does not trust ({text}): "
                "name its CA with [broker] ca_file"
            )
        if (refused := _client_certificate(text, broker)) is not None:
            return refused
        if first and broker.url.tls and "Connection reset by peer" in text:  # TLS 1.3's alert may race it
            return _reset_as_it_opened(text, broker)
        closed = first and not isinstance(exc, exceptions.TimeoutError) and "reading from" in text
        if closed and not broker.url.tls:
            return (
                f"the broker at {where} closed the connection without answering ({text}): "
                f"a broker that takes TLS does that, so try {_scheme(broker, tls=True)}://"
            )
        if broker.url.tls and isinstance(exc, exceptions.TimeoutError):
            return (
                f"the broker at {where} did not complete a TLS handshake ({text}): "
                f"if it does not take TLS, use {_scheme(broker, tls=False)}://"
            )
        return f"cannot reach the broker at {where}: {text}"
    if isinstance(exc, exceptions.RedisError):
        return f"the broker at {where} answered with an error: {text}"
    return None


NAME_ONE = "name it with [broker] cert_file and key_file"
CHECK_IT = (
    "check [broker] cert_file and key_file, and that the CA the broker trusts (its tls-ca-cert-file) "
    "signed it"
)
"""What to do about a client certificate a broker asks for, or refused."""


def _client_certificate(text: str, broker: Broker) -> str | None:
    """A TLS alert about the client's certificate (a broker with `tls-auth-clients yes`), said as the
    files that name it, or None."""
    where = broker.where
    if "CERTIFICATE_REQUIRED" in text:
        return f"the broker at {where} asks for a client certificate ({text}): {NAME_ONE}"
    if any(
        alert in text for alert in ("ALERT_BAD_CERTIFICATE", "ALERT_UNKNOWN_CA", "ALERT_CERTIFICATE_UNKNOWN")
    ):
        return f"the broker at {where} refused this machine's client certificate ({text}): {CHECK_IT}"
    return None


def _reset_as_it_opened(text: str, broker: Broker) -> str:
    """The broker reset a TLS connection at its first exchange: how one refusing the client's
    certificate (or the lack of one) is seen when its alert, sent after the handshake in TLS 1.3,
    loses the race with the reset (a loaded CI machine saw it so)."""
    where = broker.where
    reset = f"the broker at {where} reset the TLS connection as it opened ({text}): a broker that"
    if broker.settings.cert_file is None:
        return f"{reset} asks for a client certificate does that; {NAME_ONE}"
    return f"{reset} refused this machine's client certificate does that; {CHECK_IT}"


def _scheme(broker: Broker, tls: bool) -> str:
    """The scheme of `broker`'s kind (behind Sentinel or not), with or without TLS."""
    return ("rediss" if tls else "redis") + ("+sentinel" if broker.url.sentinels else "")


def _sentinel_refused(exc: SentinelRefused, broker: Broker) -> str:
    """What a sentinel's refusal of lfg's password (or of none) means, naming the sentinel's side."""
    settings = broker.settings
    where = broker.where
    if broker.sentinel_password is None:
        return (
            f"the sentinels at {where} need a password of their own: set ${settings.sentinel_password_env} "
            "or [broker] sentinel_password_file (the URL's password is the primary's)"
        )
    user = settings.sentinel_username or "default"
    return (
        f"the sentinel at {exc.sentinel} (of {where}) refused user {user!r} with the sentinels' password "
        f"from ${settings.sentinel_password_env} or [broker] sentinel_password_file: {exc.reply}"
    )


async def until_answered(
    ask: Callable[[], Awaitable[T]],
    explain: Callable[[Exception], str | None],
    said: Callable[[str], None],
    consequence: str,
) -> T:
    """`ask` the broker until it answers, saying once what waits for it meanwhile: a broker that went
    away stalls the asker, never fails it. A failure that is not the broker's is raised."""
    failures = 0
    while True:
        try:
            answer = await ask()
        except Exception as exc:
            if (problem := explain(exc)) is None:
                raise
            failures += 1
            if failures == 1:
                said(f"{problem}: {consequence}")
            await asyncio.sleep(AWAY.delay(failures, None))
        else:
            raise_swallowed_cancel()
            return answer
