"""One model call with honest retries.

The SDKs' own retries are off (see providers/clients.py): a retry here is announced with a `Status`
event and a fresh `RequestSent`, so the user sees why nothing is streaming yet. Only failures before
the first token are retried; after it, the partial answer is kept and the attempt fails. Every error
leaves here through `errors.for_user`, so no key reaches a status line, the history or the output.

With a `ProviderLimiter` every request (retries included) first waits for the provider's shared
limits, announced by a `Queued` event, and holds its place until it ends. A 429 with a Retry-After
pauses every request of the call's model (of the provider, where its limits are not per model), this
call's retry included: its wait is the pause. What the provider's rate-limit headers say is left
(`QuotaSeen`) goes to the limiter, which holds the model's next requests until the quota resets when
none is left. No wait a provider states is kept past its `max_hold_s`.

When the provider itself holds a request (a 429's pause, a quota it said is spent), the ticket's
`on_quota` decides (`RetryPolicy.at_quota`): wait for the reset in the line (the pane counts it
down), move to the ticket's next fallback link, or leave the line until the person resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from lfgtui.cost.cache import digest
from lfgtui.cost.tokens import OutputCalibration
from lfgtui.events import (
    PAUSED,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Queued,
    QuotaSeen,
    ReasoningDelta,
    RequestSent,
    Retrying,
    Status,
    TextDelta,
    ToolCallStarted,
    Usage,
)
from lfgtui.providers.base import MAX_HOLD_S, ModelCall, Provider, ProviderError
from lfgtui.providers.errors import for_user
from lfgtui.run.ratelimit import ProviderLimiter, estimate_prompt_tokens, said_note
from lfgtui.run.retry import Paused, RetryPolicy

FIRST_OUTPUT = (TextDelta, ReasoningDelta, ToolCallStarted)


async def run_call(
    provider: Provider,
    call: ModelCall,
    ev: EventFactory,
    call_index: int,
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    limiter: ProviderLimiter | None = None,
    calibration: OutputCalibration | None = None,
) -> AsyncIterator[Event]:
    """Stream one model call, retrying retryable failures that happen before any output."""
    estimate = estimate_prompt_tokens(call)
    retry = 0
    decided = False  # what on_quota says is done once a call: after a resume, it waits
    while True:
        permit = limiter.enter(estimate, call.model) if limiter is not None else None
        with permit or contextlib.nullcontext():  # leaving releases the place or the slot, however
            if permit is not None:  # one `Queued` per wait, another only when its reason changes
                assert limiter is not None
                wait = permit.wait
                paused: Paused | None = None
                while wait is not None:
                    yield ev(Queued, message=permit.explain(wait), reason=wait.reason.value, until=wait.until)
                    if wait.reason.providers and not decided:
                        decided = True
                        match policy.at_quota(wait, limiter):
                            case ErrorInfo() as moving:
                                raise ProviderError(moving)
                            case Paused() as paused:
                                break
                            case str() as note:
                                yield ev(Status, message=note)
                    wait = await permit.next_wait(wait)
                if paused is not None and policy.resume is not None:
                    permit.release()  # out of the line: the others go, the reset passes unused
                    yield ev(Queued, message=paused.message, reason=PAUSED)
                    await policy.resume()
                    yield ev(Status, message="resumed by you")
                    continue
            per_char = (
                None if calibration is None else calibration.tokens_per_char(provider.config.name, call.model)
            )
            prefix = (digest(call.model), digest(call.system or ""), digest(repr(call.tools)))
            yield ev(
                RequestSent,
                call=call_index,
                input_estimate=estimate,
                tokens_per_char=per_char,
                cache_prefix=prefix,
            )
            got_output = False
            try:
                async with contextlib.aclosing(provider.stream(call, ev)) as events:  # closed when we are
                    async for event in events:
                        if type(event) is TextDelta:  # a token: output, and nothing for the limiter
                            got_output = True
                        else:
                            got_output = got_output or isinstance(event, FIRST_OUTPUT)
                            if permit is not None and isinstance(event, Usage):
                                permit.settle(event.input_tokens, event.output_tokens)
                            elif permit is not None and isinstance(event, QuotaSeen):
                                permit.saw(event)
                        yield event
                return
            except ProviderError as exc:
                error = for_user(exc.info, provider.config)
                refused = None if got_output else policy.too_long(error, limiter, call.model)
                if refused is None and (got_output or not error.retryable or retry >= policy.max_retries):
                    raise ProviderError(error) from exc
                max_hold_s = MAX_HOLD_S if limiter is None else limiter.max_hold_s
                wait_s = policy.delay(retry + 1, error.retry_after, max_hold_s)
                asked = error.retry_after
                cut = "" if asked is None or asked <= max_hold_s else said_note(asked, max_hold_s)
                rate_limited = error.kind is ErrorKind.RATE_LIMITED and error.retry_after is not None
                pausing = limiter if rate_limited else None
                if pausing is not None and error.retry_after is not None:  # before this slot is given back
                    pausing.pause(error.retry_after, error.describe(), call.model)
                if refused is not None:  # the others wait for it; this ticket moves on
                    raise ProviderError(refused) from exc
                retry += 1
        yield ev(
            Retrying,
            message=f"{error.describe()}; retrying in {wait_s:.1f}s{cut} ({retry}/{policy.max_retries})",
            error=error,
            retry=retry,
            max_retries=policy.max_retries,
            delay_s=wait_s,
        )
        if pausing is None:  # a pause is waited out in the limiter's line, with everyone else
            await sleep(wait_s)
