"""One model call with honest retries.

The SDKs' own retries are off (see providers/clients.py): a retry here is announced with a `Status`
event and a fresh `RequestSent`, so the user sees why nothing is streaming yet. Only failures before
the first token are retried; after it, the partial answer is kept and the attempt fails. Every error
leaves here through `errors.for_user`, so no key reaches a status line, the history or the output.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from lfgtui.events import (
    Event,
    EventFactory,
    ReasoningDelta,
    RequestSent,
    Retrying,
    TextDelta,
    ToolCallStarted,
)
from lfgtui.providers.base import ModelCall, Provider, ProviderError
from lfgtui.providers.errors import for_user

FIRST_OUTPUT = (TextDelta, ReasoningDelta, ToolCallStarted)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter; a provider's Retry-After wins when it is given."""

    max_retries: int = 2
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay_s)
        backoff = min(self.base_delay_s * 2 ** (retry - 1), self.max_delay_s)
        return backoff * random.uniform(0.5, 1.0)


async def run_call(
    provider: Provider,
    call: ModelCall,
    ev: EventFactory,
    call_index: int,
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[Event]:
    """Stream one model call, retrying retryable failures that happen before any output."""
    retry = 0
    while True:
        yield ev(RequestSent, call=call_index)
        got_output = False
        try:
            async with contextlib.aclosing(provider.stream(call, ev)) as events:  # closed when we are
                async for event in events:
                    got_output = got_output or isinstance(event, FIRST_OUTPUT)
                    yield event
            return
        except ProviderError as exc:
            error = for_user(exc.info, provider.config)
            if got_output or not error.retryable or retry >= policy.max_retries:
                raise ProviderError(error) from exc
            retry += 1
            wait = policy.delay(retry, error.retry_after)
            yield ev(
                Retrying,
                message=f"{error.describe()}; retrying in {wait:.1f}s ({retry}/{policy.max_retries})",
                error=error,
                retry=retry,
                max_retries=policy.max_retries,
                delay_s=wait,
            )
            await sleep(wait)
