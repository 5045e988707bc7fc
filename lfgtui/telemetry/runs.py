"""The metrics of many runs as one: a broker worker's (`lfg worker --metrics`), which runs each
attempt it takes in a `Run` of its own.

Each run's events are counted by a `Metered` of its own, reading that run's metrics book (two runs
of different coordinators may both have a ticket `t` at attempt 1, which one book or one tally would
mix up), and all of them record into the same instruments. The tickets' gauges add up the tallies of
the runs under way; each provider's quota is the latest any run saw, kept after the run ends. Light:
it imports neither OpenTelemetry nor prometheus-client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from lfgtui.telemetry.metered import Instruments, Key, Metered, provider_kinds

if TYPE_CHECKING:
    from lfgtui.events import QuotaSeen
    from lfgtui.run import Run


class RunsMetered:
    """Counts each run between `count` and `done`; `tally` and `quotas` are what the gauges read."""

    def __init__(self) -> None:
        self.instruments: list[Instruments] = []
        self.live: dict[int, Metered] = {}
        """The runs under way, by `id` of the run."""
        self.ended_quotas: dict[str, QuotaSeen] = {}
        self.tally = _Tallies(self)
        self.quotas = _LatestQuotas(self)

    def count(self, run: Run) -> None:
        """Count `run`'s events from now on (before it starts)."""
        sink = Metered(run.book, provider_kinds(run))
        sink.instruments = self.instruments
        self.live[id(run)] = sink
        run.sinks.append(sink)

    def done(self, run: Run) -> None:
        """`run` has ended: its tally leaves the gauges, its providers' quotas stay."""
        sink = self.live.pop(id(run), None)
        if sink is not None:
            self.ended_quotas = _latest(self.ended_quotas, sink.book.quotas)


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


class _LatestQuotas(Mapping[str, "QuotaSeen"]):
    """Each provider's quota as the latest of the runs' said it, ended runs' included."""

    def __init__(self, runs: RunsMetered) -> None:
        self.runs = runs

    def _now(self) -> dict[str, QuotaSeen]:
        latest = self.runs.ended_quotas
        for sink in list(self.runs.live.values()):
            latest = _latest(latest, sink.book.quotas)
        return latest

    def __getitem__(self, provider: str) -> QuotaSeen:
        return self._now()[provider]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


def _latest(kept: Mapping[str, QuotaSeen], seen: Mapping[str, QuotaSeen]) -> dict[str, QuotaSeen]:
    """`kept` with each of `seen`'s quotas that is newer (all runs of a process share one clock)."""
    merged = dict(kept)
    for provider, quota in list(seen.items()):
        if provider not in merged or quota.t >= merged[provider].t:
            merged[provider] = quota
    return merged
