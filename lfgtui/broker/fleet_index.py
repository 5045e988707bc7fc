"""The broker's run index and the workers' presence, read for `lfg runs` and the fleet view: what
is on the broker, in two round trips however many runs there are. Everything read is untrusted
(written by others' lfg): a field that does not parse reads as missing.

Apart from following a run (broker/watch.py), so that listing the runs does not import what
following one needs (the history's row codec, the remote attachment, its HTTP client).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lfgtui.broker.client import CONNECT_TIMEOUT_S, client, explain
from lfgtui.broker.layout import Layout, field_text, loads
from lfgtui.broker.presence import MAX_ERROR, ask_live, live
from lfgtui.remote.codec import CodecError, finite

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.config.broker import Broker

MAX_RUNS = 1_000
"""The most runs `lfg runs` lists, newest first."""
INDEX_FIELDS = (
    *("who", "host", "title", "started", "updated", "ended", "states", "waiting", "cost", "tok_s"),
    "attention",
    "cache",
)
WORKER_FIELDS = ("host", "serves", "running", "error", "error_at")


@dataclass(frozen=True)
class IndexedRun:
    """One run of the run index, as `lfg runs` and the fleet view show it (its text untrusted)."""

    run_id: str
    who: str
    host: str
    title: str
    started: float
    updated: float | None
    ended: float | None
    states: dict[str, int]
    waiting: dict[str, float] = field(default_factory=dict)
    """Its tickets waiting for an approval, each since when (the runner's wall clock)."""
    cost: float | None = None
    tok_s: float | None = None
    needs_you: dict[str, float] = field(default_factory=dict)
    """Its tickets that need the person (an approval, a question), each since when (wall clock);
    a runner of an older lfg says only `waiting`."""
    unread: int = 0
    """Its tickets that ended and that nobody has looked at in the runner's TUI."""
    subagents: tuple[int, int] = (0, 0)
    """Its tickets' sub-agents (their latest attempts'): how many, how many running."""
    cache_hit: float | None = None
    """The share of its prompts the providers' prompt caches read (`MetricsBook.cache_hit`); None
    until a provider said, or from an older lfg."""

    @property
    def needing(self) -> dict[str, float]:
        """The tickets that need the person, as the runner says them (its approvals, from an older lfg)."""
        return self.needs_you or self.waiting

    def attention(self) -> str:
        """`2 need you, 1 unread`, or empty when nothing waits for the person."""
        said = [f"{len(self.needing)} need you"] if self.needing else []
        return ", ".join([*said, f"{self.unread} unread"] if self.unread else said)

    def json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "who": self.who,
            "host": self.host,
            "title": self.title,
            "started": self.started,
            "updated": self.updated,
            "ended": self.ended,
            "states": self.states,
            "waiting": self.waiting,
            "cost": self.cost,
            "tok_s": self.tok_s,
            "needs_you": self.needing,
            "unread": self.unread,
            "subagents": {"count": self.subagents[0], "running": self.subagents[1]},
            "cache_hit": self.cache_hit,
        }


@dataclass(frozen=True)
class OnlineWorker:
    """A worker whose presence has not lapsed (`lfg worker`), and the providers it serves."""

    name: str
    host: str
    serves: tuple[str, ...]
    running: int
    error: str = ""
    """What last went wrong on it, as it said (cut to `MAX_ERROR`; shown inert), or ""."""
    error_at: float | None = None
    """When it said that, on the broker's clock."""


@dataclass(frozen=True)
class FleetIndex:
    """What is on the broker: its runs, newest first, and the workers online."""

    runs: list[IndexedRun]
    workers: list[OnlineWorker]


async def fleet_index(redis: Redis, layout: Layout, limit: int = MAX_RUNS) -> FleetIndex:
    """The run index and the workers' presence in two round trips however many runs there are: the
    names, then every run's and worker's hash in one pipeline. A run or worker whose hash expired is
    left out."""
    pipe = redis.pipeline(transaction=False)
    pipe.zrevrange(layout.runs, 0, limit - 1, withscores=True)
    ask_live(pipe, layout)
    members, clock, lapses = await pipe.execute()
    names = live(clock, lapses)
    pipe = redis.pipeline(transaction=False)
    for run_id, _ in members:
        pipe.hmget(layout.run(run_id.decode()), list(INDEX_FIELDS))
    for name in names:
        pipe.hmget(layout.worker(name.decode()), list(WORKER_FIELDS))
    rows = await pipe.execute()
    runs = [
        run
        for (run_id, started), values in zip(members, rows[: len(members)], strict=True)
        if (run := _indexed_run(field_text(run_id), started, values)) is not None
    ]
    workers = [
        worker
        for name, values in zip(names, rows[len(members) :], strict=True)
        if (worker := _online_worker(field_text(name), values)) is not None
    ]
    return FleetIndex(runs, sorted(workers, key=lambda worker: worker.name))


class FleetReader:
    """The fleet view's reads of one broker, on a connection of its own: a read that fails raises (the
    view keeps what it showed), and the next one connects again. A read whose connection the broker
    had closed (a failover: the primary killed, or demoted before the sentinels' word reached the
    client) is asked once more at once on a new connection, which asks the sentinels: it only reads,
    so asking twice is safe, and the view says no failure where the new primary answers."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.where = broker.where
        self.layout = Layout(broker.settings.prefix)
        self._redis: Redis | None = None

    async def read(self) -> FleetIndex:
        from redis.asyncio.sentinel import MasterNotFoundError
        from redis.exceptions import AuthenticationError, ConnectionError

        if self._redis is None:
            self._redis = client(self.broker, read_timeout_s=CONNECT_TIMEOUT_S)
        try:
            return await fleet_index(self._redis, self.layout)
        except (AuthenticationError, MasterNotFoundError):
            raise  # refused, or no primary named: asking again at once would say the same
        except ConnectionError:
            return await fleet_index(self._redis, self.layout)

    def explain(self, exc: Exception) -> str | None:
        """What a failed read means to a person; None for a bug."""
        return explain(exc, self.broker)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


async def indexed_runs(redis: Redis, layout: Layout, limit: int = MAX_RUNS) -> list[IndexedRun]:
    """The runs of the index, newest first (a run whose entry expired is left out)."""
    return (await fleet_index(redis, layout, limit)).runs


def _indexed_run(run_id: str, started: float, values: list[bytes | None]) -> IndexedRun | None:
    fields = dict(zip(INDEX_FIELDS, (field_text(value) if value else None for value in values), strict=True))
    if fields["started"] is None:
        return None
    return IndexedRun(
        run_id,
        fields["who"] or "?",
        fields["host"] or "?",
        fields["title"] or "",
        started,
        _number(fields["updated"]),
        _number(fields["ended"]),
        _states(fields["states"]),
        _waiting(fields["waiting"]),
        _number(fields["cost"]),
        _number(fields["tok_s"]),
        *_attention(fields["attention"]),
        cache_hit=_number(fields["cache"]),
    )


def _online_worker(name: str, values: list[bytes | None]) -> OnlineWorker | None:
    host, serves, running, error, error_at = (field_text(value) if value else None for value in values)
    if host is None:
        return None
    providers = loads(serves.encode()).get("providers") if serves else None
    served = tuple(p for p in providers if isinstance(p, str)) if isinstance(providers, list) else ()
    count = running if running is not None and running.isdigit() and len(running) < 10 else "0"
    return OnlineWorker(name, host, served, int(count), (error or "")[:MAX_ERROR], _number(error_at))


def _number(text: str | None) -> float | None:
    try:
        return finite(float(text)) if text else None
    except (ValueError, CodecError):
        return None


def _states(text: str | None) -> dict[str, int]:
    data = loads(text.encode()) if text else {}
    return {str(state): count for state, count in data.items() if type(count) is int}


def _attention(text: str | None) -> tuple[dict[str, float], int, tuple[int, int]]:
    """The tickets needing the person (each since when), the count of unread ones and the sub-agents
    (how many, how many running), as the index says them (anything else there is left out)."""
    data = loads(text.encode()) if text else {}
    needs, unread = data.get("needs_you"), data.get("unread")
    count = len(unread) if isinstance(unread, list) else 0
    children = data.get("subagents")
    children = children if isinstance(children, dict) else {}
    counts = tuple(
        n if type(n) is int and 0 <= n < 10**6 else 0 for n in (children.get(k) for k in ("count", "running"))
    )
    return _since_each(needs if isinstance(needs, dict) else {}), count, (counts[0], counts[1])


def _waiting(text: str | None) -> dict[str, float]:
    return _since_each(loads(text.encode()) if text else {})


def _since_each(data: dict[str, Any]) -> dict[str, float]:
    """Each ticket's time, of those whose time is a finite number."""
    waiting = {}
    for ticket, since in data.items():
        with contextlib.suppress(CodecError):
            waiting[str(ticket)] = finite(since)
    return waiting
