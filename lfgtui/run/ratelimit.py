"""Shared per-provider limits: requests streaming at once, requests and tokens a minute, and the
pause a 429 asks for, over every ticket of a run.

A provider counts one key's requests together, so tickets keeping their own budgets would together
send many times what the account allows and all meet 429s. Here every request of a provider waits in
one first-come-first-served line, and a request goes when
- nothing the provider said holds its model (below): a 429's Retry-After pauses every new request of
  the model it answered (the longest pause wins), while requests already streaming go on; and what the
  provider's rate-limit headers said is left (a `QuotaSeen`) leaves a request and the request's
  estimate of tokens before its quota resets: a model its provider said has none left is not sent to
  until the reset it named, rather than meeting a 429. What it said is counted down by what went
  since, so requests sent together do not all take the last one; and what an answer's headers say is
  less what they may not have counted yet (`ProviderLimiter.saw`);
- fewer than `max_concurrency` of the provider's requests are streaming;
- the requests bucket holds one request and the tokens bucket holds the request's estimate.

What a provider says is kept per (provider, model) where its limits are (`ProviderKind.limits_per_model`:
OpenAI's rate limits are per model, Anthropic's per model or model class, and their headers speak of
the model the request named), else for the whole provider. A request its model's hold keeps back is
passed by the requests of other models behind it: a fallback to another model of the provider, or
another ticket on one, goes at once. Among one model's requests, and for lfg's own limits
(concurrency and the buckets, which count the whole provider), a later request never overtakes an
earlier one, so no ticket is starved by smaller ones behind it.

Nothing a provider says holds its requests longer than its `max_hold_s` (`MAX_HOLD_S`, ten minutes,
by default): not a 429's Retry-After, not a rate-limit header's reset, whatever form it comes in
(seconds, a duration, a date, through a gateway). A broken or hostile header (`1e15` s, the year
9999) thus cannot stop a run for ever, and the wait says that it was cut and from what.

The limiter also projects when a quota runs out at the model's current burn (what went over the
last `BURN_S`, every ticket's requests together, answers' reported tokens included) and says so in
the summary bar while it would run out before it resets (`LimiterState.summary`).

Each bucket holds a minute's allowance and refills continuously at that much a minute: a full
minute's worth may go at once, after which requests are spread evenly. Tokens are charged before
sending as an estimate of the prompt (`estimate_prompt_tokens`; nothing for the answer, which is not
known yet) and settled with the usage the provider reports (input + output) as it arrives, so the
bucket follows what the provider counts; a request that reports no usage keeps its estimate charged.
A request estimated above the whole bucket goes once the bucket is full and leaves it in debt, since
waiting for more than a full bucket would be waiting forever.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType

from lfgtui.cost.tokens import estimate_tokens
from lfgtui.events import QuotaSeen
from lfgtui.formats import countdown
from lfgtui.providers.base import AssistantMessage, ModelCall, ProviderConfig, ToolResultMessage, UserMessage
from lfgtui.providers.kinds import kind_of

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

BURN_S = 30.0
"""How far back the burn a quota's projection rests on looks: long enough to span several requests,
short enough to follow the run as tickets start and end."""
WHOLE_PROVIDER = ""
"""The scope of what a provider says of all its models (a kind whose limits are not per model, or a
word given without a model)."""
_TOLERANCE = 1e-9
"""Bucket levels this close to what is needed count as enough, so float rounding cannot keep a timer
waking for nanoseconds."""


class WaitReason(StrEnum):
    """Which shared limit a request waits for (the `reason` of a `Queued` event)."""

    CONCURRENCY = "concurrency"
    REQUESTS_PER_MINUTE = "requests_per_minute"
    TOKENS_PER_MINUTE = "tokens_per_minute"
    RATE_LIMITED = "rate_limited"
    QUOTA_REQUESTS = "quota_requests"
    QUOTA_TOKENS = "quota_tokens"

    @property
    def providers(self) -> bool:
        """Whether the provider itself holds the request (a 429's pause, a quota it said is spent),
        not a limit configured in lfg: what a ticket's `on_quota` decides about."""
        return self in _PROVIDERS_HOLDS


_PROVIDERS_HOLDS = frozenset({WaitReason.RATE_LIMITED, WaitReason.QUOTA_REQUESTS, WaitReason.QUOTA_TOKENS})


@dataclass(frozen=True, slots=True)
class Wait:
    """Why a request cannot go yet and, when known, the monotonic time it may go. A provider's hold
    names its `scope` (the model, or `WHOLE_PROVIDER`) and, when `max_hold_s` cut it, the seconds the
    provider `said`."""

    reason: WaitReason
    until: float | None = None
    scope: str = WHOLE_PROVIDER
    said: float | None = None

    def supersedes(self, shown: Wait) -> bool:
        """Worth announcing after `shown`: another reason, or a pause that now ends later."""
        if self.reason is not shown.reason:
            return True
        later = self.until is not None and (shown.until is None or self.until > shown.until)
        return self.reason is WaitReason.RATE_LIMITED and later


@dataclass(frozen=True, slots=True)
class LimiterState:
    """What a summary bar shows of one provider's limits (or of one of its models'), read in O(1)."""

    provider: str
    """The provider's name, or `provider/model` for what holds one model."""
    queued: int
    streaming: int
    paused_until: float | None
    pause_reason: str | None
    """The error that caused the pause, in the provider's words: untrusted, `inert` it before showing."""
    spent_until: float | None = None
    """When a quota the provider said is spent resets (monotonic), None while none is."""
    runs_out_at: float | None = None
    """When a quota runs out at the current burn (monotonic), when that is before it resets."""

    def summary(self, now: float) -> str | None:
        """'openai: rate limited, resumes in 12 s', 'openai: quota spent, resets in 9 s, 3 queued',
        'openai: quota ~40s' (it runs out in about that at the current burn), 'openai: 2 streaming, 3
        queued', or None when idle."""
        if self.paused_until is not None and self.paused_until > now:
            return f"{self.provider}: rate limited, resumes in {math.ceil(self.paused_until - now)} s"
        if self.spent_until is not None and self.spent_until > now:
            queued = f", {self.queued} queued" if self.queued else ""
            return f"{self.provider}: quota spent, resets in {math.ceil(self.spent_until - now)} s{queued}"
        projected = ""
        if self.runs_out_at is not None and self.runs_out_at > now:
            projected = f"quota ~{countdown(self.runs_out_at - now)}"
        if self.queued:
            queued = f"{self.streaming} streaming, {self.queued} queued"
            return f"{self.provider}: {queued}{', ' + projected if projected else ''}"
        return f"{self.provider}: {projected}" if projected else None


@dataclass(slots=True)
class Left:
    """What a provider said is left of one allowance, less what went since, until it resets."""

    left: float
    limit: float | None
    resets_at: float
    """Monotonic: the reset it named, or `max_hold_s` from when it said it, whichever comes first."""
    said: float | None = None
    """The seconds to the reset it named, when `max_hold_s` cut them (None: not cut)."""

    def short(self, need: float, now: float) -> bool:
        """Whether `need` (capped at the whole allowance) is more than is left before the reset."""
        wanted = need if self.limit is None else min(need, self.limit)
        return now < self.resets_at and self.left < wanted


def capped(seconds: float, max_hold_s: float) -> tuple[float, float | None]:
    """A wait a provider stated, as lfg keeps to it: at most `max_hold_s` (infinite and NaN
    included), and the stated seconds when they were cut (else None)."""
    if not seconds <= max_hold_s:  # also NaN, which compares false
        return max_hold_s, seconds
    return max(0.0, seconds), None


def _left(
    limit: int | None, remaining: int | None, reset_s: float | None, t: float, max_hold_s: float
) -> Left | None:
    if remaining is None or reset_s is None:
        return None
    wait_s, said = capped(reset_s, max_hold_s)
    return Left(float(remaining), None if limit is None else float(limit), t + wait_s, said)


def said_note(said: float | None, max_hold_s: float) -> str:
    """What a wait `max_hold_s` cut says of it: ' (it said 3,600 s; lfg waits at most max_hold_s =
    600 s)', or '' when nothing was cut."""
    if said is None:
        return ""
    stated = f"{said:,.0f} s" if math.isfinite(said) and said < 1e18 else "for ever"
    return f" (it said {stated}; lfg waits at most max_hold_s = {max_hold_s:g} s)"


class TokenBucket:
    """`per_minute` units, refilled continuously at `per_minute` a minute. The level may go below zero:
    a settled usage above its estimate, or a request larger than the bucket, is a debt repaid by time."""

    __slots__ = ("capacity", "level", "updated")

    def __init__(self, per_minute: int, now: float) -> None:
        if per_minute <= 0:
            raise ValueError(f"a per-minute limit must be positive, got {per_minute}")
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.level = min(self.capacity, self.level + elapsed * self.capacity / 60.0)
        self.updated = max(self.updated, now)

    def wait_s(self, cost: float, now: float) -> float:
        """Seconds until `cost` fits; a cost above the capacity fits once the bucket is full."""
        self._refill(now)
        short = min(cost, self.capacity) - self.level
        return short * 60.0 / self.capacity if short > _TOLERANCE else 0.0

    def take(self, cost: float, now: float) -> None:
        """Charge `cost` (negative to give some back)."""
        self._refill(now)
        self.level = min(self.capacity, self.level - cost)


@dataclass(slots=True)
class Burn:
    """What a provider's requests took over the last `BURN_S`: each request as it went (its estimate),
    and the tokens its reported usage added (or gave back) since."""

    taken: deque[tuple[float, int, float]]
    """(when, requests, tokens), oldest first."""
    since: float
    """When the first request went: before `BURN_S` has passed, the burn is over this span."""

    def add(self, now: float, requests: int, tokens: float) -> None:
        self.taken.append((now, requests, tokens))
        while self.taken and self.taken[0][0] < now - BURN_S:
            self.taken.popleft()

    def per_s(self, now: float) -> tuple[float, float] | None:
        """Requests and tokens a second, over the span it has seen (at least a second); None before
        two requests went in it, which is no burn to project from."""
        recent = [entry for entry in self.taken if entry[0] >= now - BURN_S]
        if sum(requests for _, requests, _ in recent) < 2:
            return None
        span = max(1.0, min(BURN_S, now - self.since))
        return sum(r for _, r, _ in recent) / span, sum(t for _, _, t in recent) / span


@dataclass(slots=True)
class Hold:
    """What a provider said of one scope (a model, or the whole provider): the pause a 429 asked
    for, what its headers said is left, and what went since that they could not count."""

    paused_until: float | None = None
    pause_reason: str | None = None
    pause_said: float | None = None
    """The seconds the 429 asked for, when `max_hold_s` cut them."""
    requests_left: Left | None = None
    tokens_left: Left | None = None
    sent: tuple[int, float] = (0, 0.0)
    """Requests and estimated tokens of the scope that went, since the run began (`Permit.sent_after`)."""
    unheard: dict[Permit, None] = field(default_factory=dict)
    """Its requests that went and whose answer's headers have not come yet, in the order they went."""
    burn: Burn | None = None
    streaming: int = 0

    def paused(self, now: float) -> bool:
        return self.paused_until is not None and now < self.paused_until

    def wait(self, scope: str, estimate: float, now: float) -> Wait | None:
        """Why a request of `estimate` tokens may not go now for what the provider said, or None."""
        if self.paused(now):
            return Wait(WaitReason.RATE_LIMITED, self.paused_until, scope, self.pause_said)
        if (left := self.requests_left) is not None and left.short(1, now):
            return Wait(WaitReason.QUOTA_REQUESTS, left.resets_at, scope, left.said)
        if (left := self.tokens_left) is not None and left.short(estimate, now):
            return Wait(WaitReason.QUOTA_TOKENS, left.resets_at, scope, left.said)
        return None

    def ends(self, now: float) -> list[float]:
        """When each thing of it that holds a request now ends."""
        ends = [self.paused_until] if self.paused_until is not None and self.paused_until > now else []
        return ends + [
            left.resets_at for left in (self.requests_left, self.tokens_left) if left and left.short(1, now)
        ]

    def projection(self, now: float) -> tuple[float | None, float | None]:
        """When a quota it said is spent resets, and when one not yet spent runs out at the current
        burn (only when that comes before its reset); each None when there is none."""
        spent: float | None = None
        runs_out: float | None = None
        burn = None if self.burn is None else self.burn.per_s(now)
        for left, index in ((self.requests_left, 0), (self.tokens_left, 1)):
            if left is None or now >= left.resets_at:
                continue
            if left.short(1.0, now):
                spent = max(spent or now, left.resets_at)
            elif burn is not None and burn[index] > 0:
                at = now + left.left / burn[index]
                if at < left.resets_at:
                    runs_out = at if runs_out is None else min(runs_out, at)
        return spent, runs_out


class Permit:
    """One request's place in its provider's line, then its hold on the provider's limits.

    Use it as a context manager: leaving it releases the place or the hold however the request ended
    (done, failed, cancelled while waiting or while streaming), so no slot leaks.
    """

    __slots__ = (
        "_input",
        "_limiter",
        "_output",
        "charged",
        "estimate",
        "granted",
        "released",
        "scope",
        "sent_after",
        "waiting",
    )

    def __init__(self, limiter: ProviderLimiter, estimate: int, scope: str) -> None:
        self._limiter = limiter
        self.estimate = estimate
        self.scope = scope
        """Whose holds it waits for besides the whole provider's: its model, where limits are per model."""
        self.charged = 0
        """Tokens this request holds in the tokens bucket: its estimate, then its reported usage."""
        self.granted = False
        self.released = False
        self.sent_after: tuple[int, float] = (0, 0.0)
        """Its scope's requests and estimated tokens that had gone when this one went, itself
        included: what went later its answer's headers could not count yet."""
        self.waiting: Wait | None = None
        """Why it waited at the line's last look (set while it is in the line)."""
        self._input: int | None = None
        self._output: int | None = None

    @property
    def wait(self) -> Wait | None:
        """Why this request waits now; None once it may go (or is released)."""
        if self.granted or self.released:
            return None
        return self.waiting

    async def next_wait(self, shown: Wait) -> Wait | None:
        """Wait until this request may go (None) or its wait changes enough to announce again."""
        while True:
            current = self.wait
            if current is None or current.supersedes(shown):
                return current
            await self._limiter._news.wait()

    def explain(self, wait: Wait) -> str:
        return self._limiter.explain(wait)

    def settle(self, input_tokens: int | None, output_tokens: int | None) -> None:
        """Charge what the provider reports (cumulative within the request) instead of the estimate; an
        unreported input keeps its estimate."""
        if input_tokens is not None:
            self._input = input_tokens
        if output_tokens is not None:
            self._output = output_tokens
        used = (self.estimate if self._input is None else self._input) + (self._output or 0)
        self._limiter._settle(self, used)

    def saw(self, quota: QuotaSeen) -> None:
        """The provider's rate-limit headers on this request's answer (see `ProviderLimiter.saw`)."""
        self._limiter.saw(quota, self)

    def release(self) -> None:
        """Leave the line, or give back the slot; only the first release counts."""
        if not self.released:
            self.released = True
            self._limiter._release(self)

    def __enter__(self) -> Permit:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class ProviderLimiter:
    """The shared limits of one provider. A provider without configured limits still has one, since
    a 429's pause applies to all the requests of its model (or of the provider)."""

    def __init__(
        self, config: ProviderConfig, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if config.max_concurrency is not None and config.max_concurrency <= 0:
            raise ValueError(f"max_concurrency must be positive, got {config.max_concurrency}")
        self.name = config.name
        self.max_concurrency = config.max_concurrency
        self.requests_per_minute = config.requests_per_minute
        self.tokens_per_minute = config.tokens_per_minute
        self.max_hold_s = config.max_hold_s
        self.per_model = kind_of(config).limits_per_model
        self._clock = clock
        self._sleep = sleep
        now = clock()
        rpm, tpm = config.requests_per_minute, config.tokens_per_minute
        self._requests = TokenBucket(rpm, now) if rpm is not None else None
        self._tokens = TokenBucket(tpm, now) if tpm is not None else None
        self._line: deque[Permit] = deque()
        self._streaming = 0
        self._holds: dict[str, Hold] = {WHOLE_PROVIDER: Hold()}
        """What the provider said, by scope: its models' (where limits are per model) and its own."""
        self._news = asyncio.Event()
        """Set (and replaced) whenever a request goes or the line's wait changes: waiters look again."""
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.inf

    def scope_of(self, model: str) -> str:
        """Whose limits a request for `model` counts against: the model's, where the provider's
        limits are per model, else the whole provider's."""
        return model if self.per_model and model else WHOLE_PROVIDER

    def label(self, scope: str) -> str:
        """'openai' or 'openai/gpt-4.1': whom a hold holds, as a person reads it."""
        return self.name if scope == WHOLE_PROVIDER else f"{self.name}/{scope}"

    def _hold(self, scope: str) -> Hold:
        hold = self._holds.get(scope)
        if hold is None:
            hold = self._holds[scope] = Hold()
        return hold

    def _holds_of(self, scope: str) -> tuple[Hold, ...]:
        """The holds a request of `scope` waits for: the whole provider's, and its model's."""
        whole = self._holds[WHOLE_PROVIDER]
        return (whole,) if scope == WHOLE_PROVIDER else (whole, self._hold(scope))

    def enter(self, estimate: int, model: str = "") -> Permit:
        """Join the line for one request for `model` estimated at `estimate` tokens; it may go at once."""
        permit = Permit(self, estimate, self.scope_of(model))
        self._line.append(permit)
        self._advance()
        return permit

    def pause(self, seconds: float, reason: str = "rate limited", model: str = "") -> None:
        """Hold every new request of `model` (of the whole provider, where limits are not per model
        or no model is named) for `seconds`, at most `max_hold_s`; a shorter pause than the one in
        force changes nothing."""
        if not seconds > 0:  # also refuses NaN
            return
        wait_s, said = capped(seconds, self.max_hold_s)
        until = self._clock() + wait_s
        hold = self._hold(self.scope_of(model))
        if hold.paused_until is None or until > hold.paused_until:
            hold.paused_until, hold.pause_reason, hold.pause_said = until, reason, said
            self._advance()

    def saw(self, quota: QuotaSeen, permit: Permit | None = None, model: str = "") -> None:
        """The provider's rate-limit headers (of `permit`'s model, else of `model`): what it has left,
        and when each allowance resets (at most `max_hold_s` from now). On `permit`'s answer they were
        counted when it arrived, so what may have arrived after it is taken off what they say: the
        requests (and estimated tokens) of its model that went after it, and those that went before it
        whose own answer has not come yet. A wave sent together thus does not overrun."""
        hold = self._hold(permit.scope if permit is not None else self.scope_of(model))
        requests_later, tokens_later = 0, 0.0
        if permit is not None and permit.granted:
            earlier = [q for q in hold.unheard if q.sent_after[0] < permit.sent_after[0]]
            requests_later = hold.sent[0] - permit.sent_after[0] + len(earlier)
            tokens_later = hold.sent[1] - permit.sent_after[1] + sum(q.estimate for q in earlier)
            hold.unheard.pop(permit, None)
        cap = self.max_hold_s
        hold.requests_left = _left(
            quota.requests_limit, quota.requests_remaining, quota.requests_reset_s, quota.t, cap
        )
        hold.tokens_left = _left(
            quota.tokens_limit, quota.tokens_remaining, quota.tokens_reset_s, quota.t, cap
        )
        if hold.requests_left is not None:
            hold.requests_left.left -= requests_later
        if hold.tokens_left is not None:
            hold.tokens_left.left -= tokens_later
        self._advance()

    def now(self) -> float:
        """The limiter's clock (monotonic), which every `Wait.until` is on."""
        return self._clock()

    def held_s(self, model: str | None = None) -> float | None:
        """Seconds until nothing the provider said holds requests of `model` (None: of any model) any
        more (its pause, a quota with none left), None when nothing does: how long a retry would wait."""
        now = self._clock()
        holds = self._holds.values() if model is None else self._holds_of(self.scope_of(model))
        ends = [end for hold in holds for end in hold.ends(now)]
        return max(ends) - now if ends else None

    @property
    def queued(self) -> int:
        """Requests waiting in the line."""
        return len(self._line)

    @property
    def streaming(self) -> int:
        """Requests that went and have not ended."""
        return self._streaming

    @property
    def paused_until(self) -> float | None:
        """When the last pause in force ends (monotonic), of any model or the whole provider; None
        when none is."""
        now = self._clock()
        holds = self._holds.values()
        ends = [hold.paused_until for hold in holds if hold.paused_until is not None and hold.paused(now)]
        return max(ends) if ends else None

    @property
    def pause_reason(self) -> str | None:
        """The error behind the last pause in force, in the provider's words (untrusted)."""
        until = self.paused_until
        reasons = [hold.pause_reason for hold in self._holds.values() if hold.paused_until == until]
        return reasons[0] if until is not None and reasons else None

    def state(self) -> LimiterState:
        """The whole provider's state: its line, and what it said of all its models."""
        return self._state(WHOLE_PROVIDER, len(self._line), self._streaming)

    def states(self) -> list[LimiterState]:
        """The whole provider's state, then each model's that the provider said something of."""
        models = [
            self._state(scope, sum(p.scope == scope for p in self._line), hold.streaming)
            for scope, hold in self._holds.items()
            if scope != WHOLE_PROVIDER
        ]
        return [self.state(), *models]

    def _state(self, scope: str, queued: int, streaming: int) -> LimiterState:
        hold, now = self._holds[scope], self._clock()
        paused_until = hold.paused_until if hold.paused(now) else None
        reason = hold.pause_reason if paused_until is not None else None
        spent, runs_out = hold.projection(now)
        busy = bool(queued or streaming)  # a projection only while its tickets burn
        if scope != WHOLE_PROVIDER and paused_until is None and spent is None:
            queued = 0  # its requests in line are the provider's line, which the provider's state shows
        return LimiterState(
            self.label(scope),
            queued,
            streaming,
            paused_until,
            reason,
            spent if busy else None,
            runs_out if busy else None,
        )

    def explain(self, wait: Wait) -> str:
        """A wait as a status line: 'queued: openai allows 2 at once'."""
        match wait.reason:
            case WaitReason.CONCURRENCY:
                return f"queued: {self.name} allows {self.max_concurrency} at once"
            case WaitReason.REQUESTS_PER_MINUTE:
                return f"queued: {self.name} allows {self.requests_per_minute:,} requests a minute"
            case WaitReason.TOKENS_PER_MINUTE:
                return f"queued: {self.name} allows {self.tokens_per_minute:,} tokens a minute"
        left = math.ceil(max(0.0, (wait.until or 0.0) - self._clock()))
        whom, cut = self.label(wait.scope), said_note(wait.said, self.max_hold_s)
        if wait.reason is WaitReason.RATE_LIMITED:
            return f"paused: {whom} rate limited, resumes in {left} s{cut}"
        used_up = "requests" if wait.reason is WaitReason.QUOTA_REQUESTS else "tokens"
        return f"queued: {whom} has no {used_up} left, its quota resets in {left} s{cut}"

    def _held(self, permit: Permit, now: float) -> Wait | None:
        """What the provider said that holds `permit` now (the longest of its holds), or None."""
        scopes = (WHOLE_PROVIDER,) if permit.scope == WHOLE_PROVIDER else (WHOLE_PROVIDER, permit.scope)
        waits = [w for scope in scopes if (w := self._hold(scope).wait(scope, permit.estimate, now))]
        return max(waits, key=lambda w: w.until or 0.0, default=None)

    def _shared(self, permit: Permit, now: float) -> Wait | None:
        """Which of lfg's own limits for the whole provider holds `permit` now, or None."""
        if self.max_concurrency is not None and self._streaming >= self.max_concurrency:
            return Wait(WaitReason.CONCURRENCY)
        if self._requests is not None and (wait_s := self._requests.wait_s(1, now)) > 0:
            return Wait(WaitReason.REQUESTS_PER_MINUTE, now + wait_s)
        if self._tokens is not None and (wait_s := self._tokens.wait_s(permit.estimate, now)) > 0:
            return Wait(WaitReason.TOKENS_PER_MINUTE, now + wait_s)
        return None

    def _advance(self) -> None:
        """Let go, in order, every request that may go now, note why each other one waits, and wake
        the waiters to look again. A request its scope's hold keeps back is passed by those of other
        scopes; one that waits for lfg's own limits keeps every later one behind it."""
        now = self._clock()
        held: dict[str, Wait] = {}
        """Each scope whose first request in the line is held, and why: its later requests wait too."""
        shared: Wait | None = None
        wake = math.inf
        for permit in list(self._line):
            wait = held.get(permit.scope) or held.get(WHOLE_PROVIDER) or self._held(permit, now)
            if wait is not None:
                held.setdefault(permit.scope, wait)
            elif shared is not None:
                wait = Wait(shared.reason)  # behind others: when it may go is not known
            else:
                wait = shared = self._shared(permit, now)
            if wait is None:
                self._grant(permit, now)
            else:
                permit.waiting = wait
                wake = min(wake, wait.until if wait.until is not None else math.inf)
        self._arm_timer(None if wake == math.inf else wake)
        self._news.set()
        self._news = asyncio.Event()

    def _grant(self, permit: Permit, now: float) -> None:
        self._line.remove(permit)
        permit.granted, permit.waiting = True, None
        permit.charged = permit.estimate
        self._streaming += 1
        if self._requests is not None:
            self._requests.take(1, now)
        if self._tokens is not None:
            self._tokens.take(permit.estimate, now)
        holds = self._holds_of(permit.scope)
        for hold in holds:
            if hold.requests_left is not None:
                hold.requests_left.left -= 1
            if hold.tokens_left is not None:
                hold.tokens_left.left -= permit.estimate
        own = holds[-1]
        own.streaming += 1
        own.sent = permit.sent_after = (own.sent[0] + 1, own.sent[1] + permit.estimate)
        own.unheard[permit] = None
        if own.burn is None:
            own.burn = Burn(deque(), now)
        own.burn.add(now, 1, permit.estimate)

    def _arm_timer(self, until: float | None) -> None:
        """Look again at `until`: only time ends a pause or refills a bucket. A release or a
        cancellation looks again by itself, so without a time no timer is needed."""
        if until is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer, self._timer_at = None, math.inf
            return
        if self._timer is not None and self._timer_at <= until:
            return  # it wakes in time, and looks again then
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = until
        self._timer = asyncio.create_task(self._wake_at(until), name=f"rate limit {self.name}")

    async def _wake_at(self, until: float) -> None:
        await self._sleep(max(0.0, until - self._clock()))
        self._timer, self._timer_at = None, math.inf
        self._advance()

    def _settle(self, permit: Permit, used: int) -> None:
        if not permit.granted or permit.released:
            return
        now, extra = self._clock(), used - permit.charged
        permit.charged = used
        burn = self._holds_of(permit.scope)[-1].burn
        if burn is not None:
            burn.add(now, 0, extra)
        if self._tokens is None:
            return
        self._tokens.take(extra, now)
        if extra < 0 and self._line:
            self._advance()

    def _release(self, permit: Permit) -> None:
        if permit.granted:
            self._streaming -= 1
            own = self._holds_of(permit.scope)[-1]
            own.streaming -= 1
            own.unheard.pop(permit, None)
        else:
            self._line.remove(permit)
        self._advance()


class Limiters:
    """Every provider's shared limits for one run, made on first use from its config."""

    def __init__(
        self,
        configs: Mapping[str, ProviderConfig],
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._configs = configs
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[str, ProviderLimiter] = {}

    def __getitem__(self, provider: str) -> ProviderLimiter:
        limiter = self._limiters.get(provider)
        if limiter is None:
            limiter = ProviderLimiter(self._configs[provider], self._clock, self._sleep)
            self._limiters[provider] = limiter
        return limiter

    def __iter__(self) -> Iterator[ProviderLimiter]:
        """The limiters made so far: those of the providers this run has used."""
        return iter(list(self._limiters.values()))

    def summaries(self, now: float) -> list[str]:
        """One line per provider (or model of one) that is paused or has requests waiting, for a
        summary bar."""
        lines = (state.summary(now) for limiter in self._limiters.values() for state in limiter.states())
        return [line for line in lines if line is not None]


def estimate_prompt_tokens(call: ModelCall) -> int:
    """What a request sends, in estimated tokens: the system prompt, the tools and every message's text,
    tool calls and tool results (reasoning is not sent back)."""
    pieces: list[str] = [call.system or ""]
    for tool in call.tools:
        pieces += (tool.name, tool.description, str(tool.parameters))
    for message in call.messages:
        match message:
            case UserMessage(text=text):
                pieces.append(text)
            case AssistantMessage(text=text, tool_calls=tool_calls):
                pieces.append(text)
                pieces += (part for c in tool_calls for part in (c.name, c.raw_arguments))
            case ToolResultMessage(output=output):
                pieces.append(output)
    return sum(estimate_tokens(piece) for piece in pieces if piece)
