"""How a model call retries, and what it does when its provider holds it (`RetryPolicy`).

Apart from the call itself (calls.py), since what only reconnects (the broker's client, a watcher)
takes a policy too, and should not load the providers' errors and limits to get one (issue #77).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.providers.base import MAX_HOLD_S, OnQuota

if TYPE_CHECKING:
    from lfgtui.run.ratelimit import ProviderLimiter, Wait

WAITED = frozenset({ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED})
"""Failures the provider asks to be waited out, which `RetryPolicy.max_wait_s` bounds."""


@dataclass(frozen=True, slots=True)
class Paused:
    """`RetryPolicy.at_quota`'s answer to leave the line until the person resumes the ticket."""

    message: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, up to `max_delay_s`; a provider's Retry-After wins when it is
    given, up to the provider's `max_hold_s` (10 minutes unless it says), as for the model's shared pause.

    `max_wait_s` (a ticket with a fallback link left: its `max_wait_s`; None, no link to move to) is
    the longest a rate-limited or overloaded call waits for what the provider named (its Retry-After,
    else the reset of the quota its headers said is spent): past it the call fails at once, and the
    ticket moves on (run/failover.py). `on_quota` says what a call the provider holds does (see
    `at_quota`); `resume` waits for the person to resume a paused ticket, None where no one can."""

    max_retries: int = 2
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_wait_s: float | None = None
    on_quota: OnQuota = OnQuota.WAIT
    resume: Callable[[], Awaitable[None]] | None = None

    def too_long(
        self, error: ErrorInfo, limiter: ProviderLimiter | None, model: str = ""
    ) -> ErrorInfo | None:
        """The error as the call ends with it when its stated wait (for `model`) is past `max_wait_s`
        (or it is a 429 and the ticket's `on_quota` is "fallback"), else None."""
        if self.max_wait_s is None or error.kind not in WAITED:
            return None
        if self.on_quota is OnQuota.FALLBACK and error.kind is ErrorKind.RATE_LIMITED:
            return replace(error, message=f'{error.message} (the ticket\'s on_quota is "fallback")')
        stated = error.retry_after
        if stated is None and limiter is not None:
            stated = limiter.held_s(model)
        if stated is None or stated <= self.max_wait_s:
            return None
        why = f"it asks to wait {stated:.0f} s, longer than the ticket's max_wait_s of {self.max_wait_s:g} s"
        return replace(error, message=f"{error.message} ({why})")

    def at_quota(self, wait: Wait, limiter: ProviderLimiter) -> ErrorInfo | Paused | str | None:
        """What a call its provider holds (`wait`, a reason `providers` names) does: fail with the
        error its ticket moves on with (on_quota "fallback", or a wait past `max_wait_s`, with a link
        left), leave the line (`Paused`, on_quota "pause" where a person can resume it), or wait,
        saying why when the ticket asked for otherwise (the message) or not (None)."""
        left = None if wait.until is None else max(0.0, wait.until - limiter.now())
        whom = limiter.label(wait.scope)
        spent = f"{whom} holds requests" + ("" if left is None else f" for {left:.0f} s")
        if self.max_wait_s is not None:  # a link is left to move to
            if self.on_quota is OnQuota.FALLBACK:
                why = 'the ticket\'s on_quota is "fallback"'
                return ErrorInfo(ErrorKind.RATE_LIMITED, f"{spent} (its quota); {why}")
            if left is not None and left > self.max_wait_s:
                why = f"longer than the ticket's max_wait_s of {self.max_wait_s:g} s"
                return ErrorInfo(ErrorKind.RATE_LIMITED, f"{spent} (its quota), {why}")
        if self.on_quota is OnQuota.PAUSE:
            if self.resume is None:
                return 'on_quota = "pause", but no one here can resume the ticket: it waits for the reset'
            return Paused(f"paused: {spent} (its quota); it waits for you to resume it")
        if self.on_quota is OnQuota.FALLBACK:
            return 'on_quota = "fallback", but the ticket has no fallback link left: it waits for the reset'
        return None

    def delay(self, retry: int, retry_after: float | None, max_hold_s: float = MAX_HOLD_S) -> float:
        if retry_after is not None:  # the provider's word, up to the longest it may hold a request
            return min(retry_after, max_hold_s)
        backoff = min(self.base_delay_s * 2 ** (retry - 1), self.max_delay_s)
        return backoff * random.uniform(0.5, 1.0)
