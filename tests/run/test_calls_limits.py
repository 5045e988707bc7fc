"""Model calls held to their provider's shared limits, over the real adapter and the sim server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.events import (
    AttemptEnded,
    CallEnded,
    Event,
    EventFactory,
    Outcome,
    Queued,
    RequestSent,
    Retrying,
    TextDelta,
    Usage,
)
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.run.calls import run_call
from lfgtui.run.ratelimit import Limiters, ProviderLimiter
from lfgtui.run.retry import RetryPolicy
from lfgtui.run.tool_loop import AttemptTask, run_tool_loop
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.run import FakeTime, Sleeps, settle
from tests.support.streams import ask, write_scenario


def sim_config(sim: SimServer, **limits: int) -> ProviderConfig:
    return ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1", **limits)  # type: ignore[arg-type]


async def gather_events(stream: AsyncIterator[Event], into: list[Event]) -> None:
    async for event in stream:
        into.append(event)


async def test_a_call_in_line_is_announced_once_per_wait_then_sent(sim: SimServer) -> None:
    time = FakeTime()
    config = sim_config(sim, max_concurrency=1)
    limiter = ProviderLimiter(config, time, time.sleep)
    provider = OpenAIChatProvider(config)
    other_ticket = limiter.enter(0)
    events: list[Event] = []
    stream = run_call(provider, ask("hello"), EventFactory("t", 1), 0, RetryPolicy(), limiter=limiter)
    task = asyncio.create_task(gather_events(stream, events))
    await settle()
    behind = limiter.enter(0)  # a later request joins the line: nothing new for this call to say
    await settle()
    (queued,) = events
    assert isinstance(queued, Queued)
    assert (queued.reason, queued.until, queued.message) == (
        "concurrency",
        None,
        "queued: sim allows 1 at once",
    )
    assert sim.log == [] and (limiter.queued, limiter.streaming) == (2, 1)

    limiter.pause(3)
    await settle()
    paused = events[-1]
    assert len(events) == 2 and isinstance(paused, Queued)
    assert (paused.reason, paused.until) == ("rate_limited", time.now + 3)
    assert paused.message == "paused: sim rate limited, resumes in 3 s"
    other_ticket.release()
    await settle()
    assert len(events) == 2 and sim.log == [], "the pause still holds it"

    await time.advance(3)
    await task
    assert [type(e) for e in events[2:4]] == [RequestSent, TextDelta]
    assert isinstance(events[-1], CallEnded)
    assert behind.granted and limiter.streaming == 1, "its slot went to the next in line"
    await provider.aclose()


async def test_tokens_are_settled_with_the_usage_the_provider_reports(sim: SimServer) -> None:
    time = FakeTime()
    config = sim_config(sim, tokens_per_minute=1000)
    limiter = ProviderLimiter(config, time, time.sleep)
    provider = OpenAIChatProvider(config)
    events: list[Event] = []
    await gather_events(
        run_call(provider, ask("hello"), EventFactory("t", 1), 0, RetryPolicy(), limiter=limiter), events
    )
    usage = [e for e in events if isinstance(e, Usage)][-1]
    assert usage.input_tokens is not None and usage.output_tokens is not None
    used = usage.input_tokens + usage.output_tokens
    assert used > 1, "more than the one-token estimate of 'hi', or this test could not tell"
    whole_bucket = limiter.enter(1000).wait
    assert whole_bucket is not None and whole_bucket.until is not None
    assert whole_bucket.until - time.now == pytest.approx(used * 60 / 1000), (
        "what the provider counted is charged, no more"
    )
    await provider.aclose()


async def test_cancelling_a_call_gives_back_its_place_or_its_slot(sim: SimServer) -> None:
    config = sim_config(sim, max_concurrency=1)
    limiter = ProviderLimiter(config)
    provider = OpenAIChatProvider(config)
    first_token = asyncio.Event()

    async def call(model: str, events: list[Event]) -> None:
        async for event in run_call(
            provider, ask(model), EventFactory("t", 1), 0, RetryPolicy(), limiter=limiter
        ):
            events.append(event)
            if isinstance(event, TextDelta):
                first_token.set()

    streaming_events: list[Event] = []
    waiting_events: list[Event] = []
    streaming = asyncio.create_task(call("long-answer:tokens_per_s=20", streaming_events))
    await asyncio.wait_for(first_token.wait(), 10 * PATIENCE)
    waiting = asyncio.create_task(call("hello", waiting_events))
    await settle()
    assert [type(e) for e in waiting_events] == [Queued]

    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert (limiter.queued, limiter.streaming) == (0, 1)
    streaming.cancel()
    await asyncio.gather(streaming, return_exceptions=True)
    assert (limiter.queued, limiter.streaming) == (0, 0)
    assert limiter.enter(0).granted
    await asyncio.wait_for(sim.log[0].disconnected.wait(), 10 * PATIENCE)
    await provider.aclose()


async def test_two_agents_of_one_provider_stream_one_after_the_other(sim: SimServer) -> None:
    config = sim_config(sim, max_concurrency=1)
    limiter = Limiters({"sim": config})["sim"]
    provider = OpenAIChatProvider(config)
    streams = {
        name: run_tool_loop(provider, AttemptTask(ask("hello")), EventFactory(name, 1), limiter=limiter)
        for name in ("a", "b")
    }
    events: dict[str, list[Event]] = {"a": [], "b": []}
    await asyncio.gather(*(gather_events(streams[name], events[name]) for name in streams))
    await provider.aclose()

    waited = [name for name in events if any(isinstance(e, Queued) for e in events[name])]
    assert len(waited) == 1, "one went at once, the other waited"
    second = events[waited[0]]
    first = events["b" if waited[0] == "a" else "a"]
    types = [type(e) for e in second]
    assert types.count(Queued) == 1 and types.index(Queued) < types.index(RequestSent)
    first_ended = next(e.t for e in first if isinstance(e, CallEnded))
    second_first_token = next(e.t for e in second if isinstance(e, TextDelta))
    assert second_first_token > first_ended
    assert len(sim.log) == 2 and sim.log[0].ended_at is not None
    assert sim.log[1].received_at >= sim.log[0].ended_at, "the server saw them one after the other"
    for stream_events in events.values():
        end = stream_events[-1]
        assert isinstance(end, AttemptEnded) and end.outcome is Outcome.COMPLETED


async def test_a_429_received_by_one_agent_pauses_the_other_s_next_request_of_its_model(
    sim: SimServer, scenario_dir: Path
) -> None:
    """Both agents talk to one model, whose second call meets one 429: the agent that got it and the
    other one, whose next request is of the same model, wait out the one pause in the line."""
    model = write_scenario(
        scenario_dir,
        "two-calls",
        'ttft_ms = 10\ntokens_per_s = 1000\n[[call]]\ntext = "Let me look."\n'
        '[[call.tool_call]]\nname = "read_file"\narguments = { path = "x" }\n'
        '[[call]]\ntext = "Done."\n'
        '[[fault]]\nkind = "http"\ncall = 1\nstatus = 429\nretry_after = 5\ntimes = 1\n',
    )
    time = FakeTime()
    config = sim_config(sim)
    limiter = Limiters({"sim": config}, time, time.sleep)["sim"]
    provider = OpenAIChatProvider(config)
    sleeps = Sleeps()

    def agent(name: str, model: str) -> AsyncIterator[Event]:
        task = AttemptTask(ask(model))
        return run_tool_loop(
            provider, task, EventFactory(name, 1), None, RetryPolicy(), sleeps, limiter=limiter
        )

    b_stream = agent("b", model)
    b_events: list[Event] = []

    async def pull_b_until(kind: type[Event]) -> Event:
        while not isinstance(event := await anext(b_stream), kind):
            b_events.append(event)
        b_events.append(event)
        return event

    await pull_b_until(CallEnded)  # b's first call is done; it sends its next only when pulled

    a_events: list[Event] = []
    a_task = asyncio.create_task(gather_events(agent("a", model), a_events))
    async with asyncio.timeout(10 * PATIENCE):
        while not any(isinstance(e, Queued) for e in a_events):
            await asyncio.sleep(0.01)
    (a_retrying,) = [e for e in a_events if isinstance(e, Retrying)]
    assert a_retrying.delay_s == 5 and "HTTP 429" in a_retrying.message
    assert limiter.paused_until == time.now + 5

    b_queued = await pull_b_until(Queued)
    assert isinstance(b_queued, Queued)
    assert (b_queued.reason, b_queued.until) == ("rate_limited", time.now + 5)
    b_next = asyncio.create_task(anext(b_stream))
    await settle()
    assert not b_next.done() and [r.status for r in sim.log] == [200, 200, 429]

    await time.advance(5)
    assert isinstance(await b_next, RequestSent)
    await gather_events(b_stream, b_events)
    await a_task
    await provider.aclose()

    for events in (a_events, b_events):
        end = events[-1]
        assert isinstance(end, AttemptEnded) and end.outcome is Outcome.COMPLETED
    a_types = [type(e) for e in a_events]
    assert a_types.index(Retrying) < a_types.index(Queued) < a_types.index(RequestSent, a_types.index(Queued))
    assert sleeps.delays == [], "the pause is waited out in the line, not by a sleep of its own"
    assert sorted(r.status for r in sim.log) == [200, 200, 200, 200, 429]
