"""What the stats report: per provider and model, and per day, with the arithmetic that sums them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lfgtui.events import AgentLimit, ContextUsed, QuotaSeen, Retrying
from lfgtui.history.notes import NOTES


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class ModelStats:
    provider: str
    model: str
    attempts: int
    completed: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    tokens_per_s_p50: float | None
    output_tokens: int
    cost_usd: float | None = None
    """The sum of the priced attempts' costs; None when none was priced."""
    unpriced: int = 0
    """Attempts that made requests but have no cost (no price was known for the model)."""
    cost_estimated: bool = False
    waited_s: float | None = None
    """How long its tickets waited for the person, summed (None: none measured, recorded before)."""
    ended_early: dict[str, int] = field(default_factory=dict)
    """Attempts a stop reason ended early (run/stops.py), by error kind (`refused`, `content_filter`,
    `context_window`, `max_tokens`): the model's answers that were not the whole answer."""


ENDED_EARLY = ("refused", "content_filter", "context_window", "max_tokens")
"""The error kinds of the attempts a stop reason ended early, in the order the stats show them."""


def ended_early(kinds: Sequence[str | None]) -> dict[str, int]:
    """How many of the attempts' error kinds are each of `ENDED_EARLY` (those with none left out)."""
    counts = Counter(kind for kind in kinds if kind in ENDED_EARLY)
    return {kind: counts[kind] for kind in ENDED_EARLY if counts[kind]}


@dataclass(frozen=True)
class DayCost:
    """What one day's attempts cost (local time), with the same meaning of the fields as above."""

    day: str
    attempts: int
    cost_usd: float | None
    unpriced: int
    cost_estimated: bool


@dataclass(frozen=True)
class StatsRow:
    """One attempt's figures as the stats read them."""

    outcome: str | None
    ttft: float | None
    rate: float | None
    tokens: int
    cost: float | None
    estimated: bool
    waited: float | None = None
    error_kind: str | None = None


def summed_costs(rows: Sequence[StatsRow]) -> tuple[float | None, int, bool]:
    """The summed cost of the priced rows (None: none priced), how many that streamed had no price,
    and whether any of the sum is an estimate."""
    priced = [r for r in rows if r.cost is not None and math.isfinite(r.cost)]
    total = sum(r.cost for r in priced if r.cost is not None) if priced else None
    unpriced = sum(1 for r in rows if r.cost is None and r.tokens)
    return total, unpriced, any(r.estimated for r in priced)


@dataclass(frozen=True)
class ContestantStats:
    """One provider and model (a coding agent: its provider) as a tournament contestant, over each
    tournament's latest verdict: how often it entered, won and passed its check, and what it cost."""

    provider: str
    model: str
    tournaments: int
    """Contestants it was in the verdicts read (a model fanned out `attempts = N` times enters N)."""
    wins: int
    passed: int
    """Of those, how many passed their check."""
    cost_usd: float | None
    """What those contestants' attempts cost, summed (None: none was priced)."""
    unpriced: int
    cost_estimated: bool

    @property
    def win_rate(self) -> float:
        return self.wins / self.tournaments if self.tournaments else 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.tournaments if self.tournaments else 0.0

    @property
    def cost_per_win(self) -> float | None:
        """The cost of all it entered over its wins (None: no win, or nothing priced)."""
        return None if not self.wins or self.cost_usd is None else self.cost_usd / self.wins

    def json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "tournaments": self.tournaments,
            "wins": self.wins,
            "win_rate": self.win_rate,
            "passed": self.passed,
            "pass_rate": self.pass_rate,
            "cost_usd": self.cost_usd,
            "cost_per_win_usd": self.cost_per_win,
            "unpriced": self.unpriced,
            "cost_estimated": self.cost_estimated,
        }


def contestant_stats(entries: Sequence[tuple[str, str, bool, bool, StatsRow]]) -> list[ContestantStats]:
    """The leaderboard from each contestant's (provider, model, won, passed, its attempt's figures):
    most wins first, then the higher pass rate, then the name."""
    groups: dict[tuple[str, str], list[tuple[bool, bool, StatsRow]]] = {}
    for provider, model, won, passed, row in entries:
        groups.setdefault((provider, model), []).append((won, passed, row))
    board = []
    for (provider, model), rows in groups.items():
        cost, unpriced, estimated = summed_costs([row for _, _, row in rows])
        wins, passed = sum(won for won, _, _ in rows), sum(ok for _, ok, _ in rows)
        board.append(ContestantStats(provider, model, len(rows), wins, passed, cost, unpriced, estimated))
    return sorted(board, key=lambda s: (-s.wins, -s.pass_rate, s.provider, s.model))


@dataclass(frozen=True)
class QuotaStats:
    """One provider's quota as its rate-limit headers last said it in the attempts read (times are
    wall-clock seconds; None where nothing was said), and how often those attempts waited for it; for
    a coding agent, what its sessions last reported of their context, and what they cost by its count."""

    provider: str
    seen_at: float | None
    """When the headers last spoke (None: they never did, only waits or 429s were recorded)."""
    requests_remaining: int | None
    requests_limit: int | None
    requests_reset_at: float | None
    tokens_remaining: int | None
    tokens_limit: int | None
    tokens_reset_at: float | None
    quota_waits: int
    """Requests held until a quota's reset because its headers said none was left."""
    rate_limited: int
    """Requests that met a 429: each retried one and each attempt that failed on one."""
    context_used: int | None = None
    """A coding agent's context as its sessions last reported it (ACP `usage_update`): tokens in it..."""
    context_size: int | None = None
    """...of its window's."""
    context_at: float | None = None
    """When the agent last reported its context."""
    agent_cost_usd: float | None = None
    """What its attempts cost by the agent's own count (each attempt's last report, summed)."""
    limit: AgentLimit | None = None
    """The account's limit as the agent last said it (Claude Code's), its reset counted from..."""
    limit_at: float | None = None
    """...when the agent said it."""


QUOTA_WAITS = frozenset({"quota_requests", "quota_tokens"})
"""The reasons of a `Queued` (run/ratelimit.py's `WaitReason`) that are a wait for a quota's reset."""


@dataclass
class QuotaCounts:
    """What the attempts' notes say of each provider's quota, taken note by note."""

    seen: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    """Each provider's latest quota: when, and its `QuotaSeen` fields."""
    waits: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    contexts: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    """Each coding agent provider's latest context: when, and its `ContextUsed` fields."""
    limits: dict[str, tuple[float, AgentLimit]] = field(default_factory=dict)
    """Each coding agent provider's latest account limit: when it said it, and the limit."""
    agent_costs: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    """Each attempt's latest cost by its agent's count: its provider, when, and the cost."""

    def note(self, provider: str, attempt: str, at: float, info: dict[str, Any]) -> None:
        """A note of `attempt` (its id) of `provider`, written at `at` (wall clock), its meta `info`."""
        if (quota := NOTES[QuotaSeen].read(info)) is not None:
            said = quota["provider"]
            if said not in self.seen or self.seen[said][0] <= at:
                self.seen[said] = (at, quota)
        elif (context := NOTES[ContextUsed].read(info)) is not None:
            if provider not in self.contexts or self.contexts[provider][0] <= at:
                self.contexts[provider] = (at, context)
            limit = context["limit"]
            if limit is not None and (provider not in self.limits or self.limits[provider][0] <= at):
                self.limits[provider] = (at, limit)
            cost = context["cost_usd"]
            if cost is not None and (attempt not in self.agent_costs or self.agent_costs[attempt][1] <= at):
                self.agent_costs[attempt] = (provider, at, cost)
        elif info.get("queued") in QUOTA_WAITS:
            self.waits[provider] += 1
        elif (retry := NOTES[Retrying].read(info)) is not None and retry["error"].status == 429:
            self.refused[provider] += 1

    def stats(self) -> list[QuotaStats]:
        """One row per provider that any of it concerns, by name."""
        costs: dict[str, float] = {}
        for provider, _, cost in self.agent_costs.values():
            costs[provider] = costs.get(provider, 0.0) + cost
        rows = []
        said = self.seen.keys() | self.waits.keys() | self.refused.keys() | self.contexts.keys()
        for provider in sorted(said):
            at, quota = self.seen.get(provider, (None, {}))
            context_at, context = self.contexts.get(provider, (None, {}))
            limit_at, limit = self.limits.get(provider, (None, None))
            rows.append(
                QuotaStats(
                    provider=provider,
                    seen_at=at,
                    requests_remaining=quota.get("requests_remaining"),
                    requests_limit=quota.get("requests_limit"),
                    requests_reset_at=_reset_at(at, quota, "requests"),
                    tokens_remaining=quota.get("tokens_remaining"),
                    tokens_limit=quota.get("tokens_limit"),
                    tokens_reset_at=_reset_at(at, quota, "tokens"),
                    quota_waits=self.waits[provider],
                    rate_limited=self.refused[provider],
                    context_used=context.get("used"),
                    context_size=context.get("size"),
                    context_at=context_at,
                    agent_cost_usd=costs.get(provider),
                    limit=limit,
                    limit_at=limit_at,
                )
            )
        return rows


def _reset_at(at: float | None, quota: dict[str, Any], kind: str) -> float | None:
    """When a quota seen at `at` said its `kind` (requests, tokens) would be whole again."""
    after = quota.get(f"{kind}_reset_s")
    return None if at is None or after is None else at + after
