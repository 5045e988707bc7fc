"""The metrics of many runs as one: a broker worker's (`lfg worker --metrics`), which runs each
attempt it takes in a `Run` of its own.

Each run's events are counted by a `Metered` of its own, reading that run's metrics book (two runs
of different coordinators may both have a ticket `t` at attempt 1, which one book or one tally would
mix up), and all of them record into the same instruments. The tickets' gauges add up the tallies of
the runs under way; each provider's quota, and each coding agent provider's context, is the latest
any run saw, kept after the run ends. Light:
it imports neither OpenTelemetry nor prometheus-client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from lfgtui.telemetry.metered import Instruments, Key, Metered, provider_kinds

if TYPE_CHECKING:
    from lfgtui.cost.metrics import AgentUsage
    from lfgtui.events import QuotaSeen
    from lfgtui.run import Run


class Said(Protocol):
    """What a provider said of itself, at a time on the runs' clock (a quota, an agent's usage)."""

    @property
    def t(self) -> float: ...


S = TypeVar("S", bound=Said)


class RunsMetered:
    """Counts each run between `count` and `done`; `tally`, `quotas` and `agents` are what the gauges
    read."""

    def __init__(self) -> None:
        self.instruments: list[Instruments] = []
        self.live: dict[int, Metered] = {}
        """The runs under way, by `id` of the run."""
        self.ended: dict[str, dict[str, Any]] = {"quotas": {}, "agents": {}}
        """Each of the books' `quotas` and `agents` as the ended runs last said them."""
        self.tally = _Tallies(self)
        self.quotas: Mapping[str, QuotaSeen] = _Latest(self, "quotas")
        self.agents: Mapping[str, AgentUsage] = _Latest(self, "agents")

    def count(self, run: Run) -> None:
        """Count `run`'s events from now on (before it starts)."""
        sink = Metered(run.book, provider_kinds(run))
        sink.instruments = self.instruments
        self.live[id(run)] = sink
        run.sinks.append(sink)

    def done(self, run: Run) -> None:
        """`run` has ended: its tally leaves the gauges, what its providers said stays."""
        sink = self.live.pop(id(run), None)
        if sink is not None:
            for kind, kept in self.ended.items():
                self.ended[kind] = _latest(kept, getattr(sink.book, kind))


class _Tallies:
    """The tallies of the runs under way, counted as one `Tally`."""

    def __init__(self, runs: RunsMetered) -> None:
        self.runs = runs

    def _keys(self, which: str) -> list[Key]:
        return [key for sink in list(self.runs.live.values()) for key in getattr(sink.tally, which)]

    @property
    def running(self) -> list[Key]:
        return self._keys("running")

    @property
    def queued(self) -> list[Key]:
        return self._keys("queued")

    @property
    def waiting(self) -> list[Key]:
        return self._keys("waiting")


class _Latest(Mapping[str, S], Generic[S]):
    """What each provider said (the books' `kind`: `quotas` or `agents`) as the latest of the runs'
    said it, ended runs' included."""

    def __init__(self, runs: RunsMetered, kind: str) -> None:
        self.runs = runs
        self.kind = kind

    def _now(self) -> dict[str, S]:
        latest = self.runs.ended[self.kind]
        for sink in list(self.runs.live.values()):
            latest = _latest(latest, getattr(sink.book, self.kind))
        return latest

    def __getitem__(self, provider: str) -> S:
        return self._now()[provider]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


def _latest(kept: Mapping[str, S], seen: Mapping[str, S]) -> dict[str, S]:
    """`kept` with each of `seen`'s that is newer (all runs of a process share one clock)."""
    merged = dict(kept)
    for provider, said in list(seen.items()):
        if provider not in merged or said.t >= merged[provider].t:
            merged[provider] = said
    return merged
