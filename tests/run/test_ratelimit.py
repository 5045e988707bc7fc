"""The shared limits' arithmetic and order, on an injected clock: no test waits for real time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from lfgtui.events import QuotaSeen
from lfgtui.providers.base import (
    MAX_HOLD_S,
    AssistantMessage,
    ModelCall,
    ProviderConfig,
    ToolCall,
    ToolResultMessage,
    ToolSpec,
    UserMessage,
)
from lfgtui.run.ratelimit import (
    Limiters,
    Permit,
    ProviderLimiter,
    Wait,
    WaitReason,
    estimate_prompt_tokens,
)
from tests.support.run import FakeTime, settle
from tests.support.streams import ask


def limiter(time: FakeTime, **limits: int) -> ProviderLimiter:
    return ProviderLimiter(ProviderConfig(name="openai", kind="openai", **limits), time, time.sleep)  # type: ignore[arg-type]


async def test_requests_per_minute_lets_a_minute_s_worth_go_then_spreads_the_rest() -> None:
    time = FakeTime()
    lim = limiter(time, requests_per_minute=2)
    first, second, third, fourth = (lim.enter(0) for _ in range(4))
    assert first.granted and second.granted
    assert third.wait == Wait(WaitReason.REQUESTS_PER_MINUTE, time.now + 30)
    assert fourth.wait == Wait(WaitReason.REQUESTS_PER_MINUTE), "behind another: when is not known"
    await time.advance(29.9)
    assert not third.granted
    await time.advance(0.1)
    assert third.granted and not fourth.granted
    assert fourth.wait == Wait(WaitReason.REQUESTS_PER_MINUTE, time.now + 30)
    await time.advance(30)
    assert fourth.granted
    assert (lim.queued, lim.streaming) == (0, 4), "a request rate does not limit how many stream"


async def test_tokens_are_charged_as_estimated_then_settled_with_the_reported_usage() -> None:
    time = FakeTime()
    lim = limiter(time, tokens_per_minute=1000)
    big = lim.enter(600)
    waiting = lim.enter(600)
    assert big.granted
    assert waiting.wait == Wait(WaitReason.TOKENS_PER_MINUTE, time.now + 12), "200 tokens short at 1000/min"
    big.settle(input_tokens=100, output_tokens=None)
    assert waiting.granted, "the prompt was smaller than estimated: the refund lets the next one go"
    waiting.settle(input_tokens=None, output_tokens=700)
    assert waiting.charged == 600 + 700, "an unreported input keeps its estimate; output adds"
    after = lim.enter(100)
    # 1000 - 100 - 1300 = -400 left; 100 more need 500 tokens of refill: 30 s
    assert after.wait == Wait(WaitReason.TOKENS_PER_MINUTE, time.now + 30)


async def test_a_request_larger_than_the_bucket_goes_when_it_is_full_and_leaves_a_debt() -> None:
    time = FakeTime()
    lim = limiter(time, tokens_per_minute=1000)
    lim.enter(300).release()
    huge = lim.enter(5000)
    assert huge.wait == Wait(WaitReason.TOKENS_PER_MINUTE, time.now + 18), "waits for a full bucket only"
    await time.advance(18)
    assert huge.granted
    small = lim.enter(1)
    wait = small.wait
    assert wait is not None and wait.until == pytest.approx(time.now + 4001 * 60 / 1000)


async def test_a_pause_holds_every_new_request_until_its_time_and_the_longest_pause_wins() -> None:
    time = FakeTime()
    lim = limiter(time)
    streaming = lim.enter(0)
    lim.pause(10, "HTTP 429 rate_limited: slow down")
    assert streaming.granted and lim.streaming == 1, "a request already streaming goes on"
    held = [lim.enter(0), lim.enter(0)]
    assert [p.wait for p in held] == [Wait(WaitReason.RATE_LIMITED, time.now + 10)] * 2
    await time.advance(2)
    lim.pause(3)
    assert lim.paused_until == time.now + 8, "a shorter pause changes nothing"
    lim.pause(20)
    assert lim.paused_until == time.now + 20
    assert lim.state().summary(time.now) == "openai: rate limited, resumes in 20 s"
    assert held[0].explain(Wait(WaitReason.RATE_LIMITED, time.now + 11.2)) == (
        "paused: openai rate limited, resumes in 12 s"
    )
    await time.advance(10)
    assert not any(p.granted for p in held)
    await time.advance(10)
    assert all(p.granted for p in held)
    assert lim.paused_until is None and lim.pause_reason is None
    assert lim.state().summary(time.now) is None


async def test_a_pause_is_bounded_and_ignores_nonsense() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.pause(float("nan"))
    lim.pause(-1)
    assert lim.paused_until is None
    lim.pause(float("inf"))
    assert lim.paused_until == time.now + MAX_HOLD_S


async def test_the_line_is_first_come_first_served() -> None:
    time = FakeTime()
    lim = limiter(time, max_concurrency=1)
    first = lim.enter(0)
    line = [lim.enter(0) for _ in range(3)]
    assert [p.wait for p in line] == [Wait(WaitReason.CONCURRENCY)] * 3
    assert (lim.queued, lim.streaming) == (3, 1)
    first.release()
    assert [p.granted for p in line] == [True, False, False]
    line[0].release()
    assert [p.granted for p in line] == [True, True, False]


async def test_a_small_request_does_not_overtake_a_big_one_waiting_for_tokens() -> None:
    time = FakeTime()
    lim = limiter(time, tokens_per_minute=1000)
    lim.enter(900)
    big = lim.enter(500)
    small = lim.enter(50)
    assert not small.granted, "50 tokens are left, but the big request came first"
    await time.advance(24)
    assert big.granted and not small.granted
    await time.advance(3)
    assert small.granted


async def test_cancelling_a_waiting_request_leaves_the_line() -> None:
    time = FakeTime()
    lim = limiter(time, max_concurrency=1, requests_per_minute=1)
    holder = lim.enter(0)

    async def wait_in_line() -> None:
        with lim.enter(0) as permit:
            wait = permit.wait
            while wait is not None:
                wait = await permit.next_wait(wait)
            raise AssertionError("it should never have gone")

    waiters = [asyncio.create_task(wait_in_line()) for _ in range(2)]
    await settle()
    assert lim.queued == 2
    holder.release()  # the head now waits for a request's refill: a timer
    await settle()
    assert lim.queued == 2 and time.sleeping == 1
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    assert (lim.queued, lim.streaming) == (0, 0)
    await settle()
    assert time.sleeping == 0, "nobody waits: the timer is gone"
    await time.advance(60)
    assert lim.enter(0).granted


async def test_cancelling_a_streaming_request_gives_its_slot_back() -> None:
    time = FakeTime()
    lim = limiter(time, max_concurrency=1)
    streaming = asyncio.Event()

    async def stream() -> None:
        with lim.enter(0) as permit:
            assert permit.granted
            streaming.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stream())
    await streaming.wait()
    behind = lim.enter(0)
    assert not behind.granted
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert behind.granted and lim.streaming == 1


async def test_releasing_twice_counts_once() -> None:
    time = FakeTime()
    lim = limiter(time, max_concurrency=2)
    permit = lim.enter(0)
    permit.release()
    permit.release()
    assert lim.streaming == 0
    assert lim.enter(0).granted and lim.enter(0).granted and not lim.enter(0).granted


async def test_a_waiter_hears_only_of_changes_worth_announcing() -> None:
    time = FakeTime()
    lim = limiter(time, max_concurrency=1)
    holder = lim.enter(0)
    permit = lim.enter(0)
    shown = permit.wait
    assert shown == Wait(WaitReason.CONCURRENCY)
    heard: list[Wait | None] = []

    async def listen(permit: Permit, shown: Wait) -> None:
        wait: Wait | None = shown
        while wait is not None:
            wait = await permit.next_wait(wait)
            heard.append(wait)

    listener = asyncio.create_task(listen(permit, shown))
    lim.enter(0)  # another joins behind: nothing new for this one
    await settle()
    assert heard == []
    lim.pause(5)
    await settle()
    assert heard == [Wait(WaitReason.RATE_LIMITED, time.now + 5)]
    lim.pause(2)
    await settle()
    assert len(heard) == 1, "a pause that ends sooner changes nothing"
    await time.advance(5)
    assert heard[-1] == Wait(WaitReason.CONCURRENCY)
    holder.release()
    await listener
    assert heard[-1] is None and permit.granted


async def test_limiters_make_one_limiter_per_provider_on_first_use() -> None:
    time = FakeTime()
    configs = {
        "openai": ProviderConfig(name="openai", kind="openai", max_concurrency=1),
        "local": ProviderConfig(name="local", kind="openai"),
    }
    limiters = Limiters(configs, time, time.sleep)
    assert limiters["openai"] is limiters["openai"]
    assert [lim.name for lim in limiters] == ["openai"]
    limiters["openai"].enter(0)
    limiters["openai"].enter(0)
    unlimited = [limiters["local"].enter(0) for _ in range(50)]
    assert all(p.granted for p in unlimited), "a provider without limits never queues"
    limiters["local"].pause(12)
    assert limiters.summaries(time.now) == [
        "openai: 1 streaming, 1 queued",
        "local: rate limited, resumes in 12 s",
    ]
    with pytest.raises(KeyError):
        limiters["nope"]


async def test_messages_say_which_limit() -> None:
    time = FakeTime()
    lim = limiter(time, max_concurrency=2, requests_per_minute=60, tokens_per_minute=100_000)
    permit = lim.enter(0)
    assert permit.explain(Wait(WaitReason.CONCURRENCY)) == "queued: openai allows 2 at once"
    assert (
        permit.explain(Wait(WaitReason.REQUESTS_PER_MINUTE)) == "queued: openai allows 60 requests a minute"
    )
    assert permit.explain(Wait(WaitReason.TOKENS_PER_MINUTE)) == (
        "queued: openai allows 100,000 tokens a minute"
    )


def test_the_estimate_counts_what_a_request_sends() -> None:
    assert estimate_prompt_tokens(ask("m", "x" * 400)) == 100
    answer = AssistantMessage("y" * 40, reasoning="z" * 4000, tool_calls=(ToolCall("c1", "read", {}, "{}"),))
    messages = (UserMessage("x" * 400), answer, ToolResultMessage("c1", "read", "r" * 80), UserMessage("u"))
    call = ModelCall(model="m", messages=messages, system="s" * 40)
    # 100 prompt + 10 system + 10 answer + 1 tool name + 1 arguments + 20 result + 1 follow-up; no reasoning
    assert estimate_prompt_tokens(call) == 143
    spec = ToolSpec("read", "d" * 38, {"type": "object"})
    assert estimate_prompt_tokens(replace(call, tools=(spec,))) == 143 + 1 + 10 + 5


def test_bad_limits_are_refused() -> None:
    time = FakeTime()
    for limits in ({"max_concurrency": 0}, {"tokens_per_minute": -5}, {"requests_per_minute": 0}):
        with pytest.raises(ValueError):
            limiter(time, **limits)


async def test_a_quota_the_provider_said_is_short_holds_requests_until_its_reset() -> None:
    time = FakeTime()
    lim = limiter(time)
    said = {"ticket": "t", "attempt": 1, "seq": 0, "t": time.now, "provider": "openai"}
    quota = {"requests_remaining": 3, "requests_reset_s": 10, "tokens_remaining": 500, "tokens_reset_s": 4}
    lim.saw(QuotaSeen(**said, **quota))
    first, second = lim.enter(100), lim.enter(300)
    assert first.granted and second.granted, "what went since the headers is counted down"
    third = lim.enter(200)
    assert third.wait == Wait(WaitReason.QUOTA_TOKENS, time.now + 4), "100 tokens left, 200 wanted"
    await time.advance(4)
    assert third.granted, "the tokens' reset came"
    fourth = lim.enter(1)
    assert fourth.wait == Wait(WaitReason.QUOTA_REQUESTS, time.now + 6), "no request left until its reset"
    assert lim.explain(fourth.wait) == "queued: openai has no requests left, its quota resets in 6 s"
    lim.saw(QuotaSeen(**said | {"t": time.now}, requests_limit=5, requests_remaining=4, requests_reset_s=60))
    assert fourth.granted, "the provider's newer word wins"
