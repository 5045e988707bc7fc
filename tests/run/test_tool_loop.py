"""Attempts through the tool loop over the real adapter and sim: outcomes, retries, measurement, tools."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from pathlib import Path

import pytest

from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    RequestSent,
    Status,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolResult,
)
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.sse import AgentSSEProvider
from lfgtui.run.retry import RetryPolicy
from lfgtui.run.tool_loop import AttemptTask, run_tool_loop
from lfgtui.sim.server import SimServer
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tools.base import ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.patience import PATIENCE
from tests.support.run import Sleeps
from tests.support.streams import CannedServer, ask, write_scenario


async def attempt(sim: SimServer, model: str, sleeps: Sleeps) -> list[Event]:
    provider = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    stream = run_tool_loop(
        provider, AttemptTask(ask(model)), EventFactory("t", 1), None, RetryPolicy(max_retries=2), sleeps
    )
    events = [event async for event in stream]
    await provider.aclose()
    return events


def ending(events: list[Event]) -> AttemptEnded:
    assert isinstance(events[0], AttemptStarted)
    last = events[-1]
    assert isinstance(last, AttemptEnded)
    return last


async def test_completed_attempt(sim: SimServer) -> None:
    events = await attempt(sim, "hello", Sleeps())
    assert ending(events).outcome is Outcome.COMPLETED
    assert [e.seq for e in events] == list(range(len(events)))


async def test_rate_limit_is_retried_after_retry_after_and_said_so(sim: SimServer) -> None:
    sleeps = Sleeps()
    events = await attempt(sim, "fault-429", sleeps)
    assert ending(events).outcome is Outcome.COMPLETED
    assert sleeps.delays == [1.0]
    (status,) = [e for e in events if isinstance(e, Status)]
    assert "HTTP 429" in status.message and "retrying in 1.0s (1/2)" in status.message
    assert len([e for e in events if isinstance(e, RequestSent)]) == 2
    assert [r.status for r in sim.log] == [429, 200]


def rate_limited(scenario_dir: Path, retry_after: str) -> str:
    """A scenario whose first request gets a 429 with `Retry-After: retry_after` (TOML)."""
    toml = (
        'ttft_ms = 0\ntokens_per_s = 0\n[[call]]\ntext = "After the wait."\n'
        f'[[fault]]\nkind = "http"\nstatus = 429\nretry_after = {retry_after}\ntimes = 1\n'
    )
    return write_scenario(scenario_dir, "limited", toml)


@pytest.mark.parametrize(("seconds", "waited"), [(240, 240.0), (3600, 600.0)])
async def test_a_retry_after_of_minutes_is_waited_up_to_ten_minutes(
    sim: SimServer, scenario_dir: Path, seconds: int, waited: float
) -> None:
    """What the README and the shared limiter say; the retry policy cut it to 30 s."""
    sleeps = Sleeps()
    events = await attempt(sim, rate_limited(scenario_dir, str(seconds)), sleeps)
    assert ending(events).outcome is Outcome.COMPLETED
    assert sleeps.delays == [waited]


async def test_a_retry_after_http_date_is_waited_until_that_moment(
    sim: SimServer, scenario_dir: Path
) -> None:
    """RFC 9110 allows an HTTP-date; it was ignored, and the retry came after a second's backoff."""
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    sleeps = Sleeps()
    events = await attempt(sim, rate_limited(scenario_dir, json.dumps(when)), sleeps)
    assert ending(events).outcome is Outcome.COMPLETED
    [delay] = sleeps.delays
    assert 60 < delay <= 120, "until the date: the whole seconds that were left of it when the 429 came"


async def test_server_errors_back_off_then_fail_with_the_last_error(sim: SimServer) -> None:
    sleeps = Sleeps()
    end = ending(await attempt(sim, "fault-503", sleeps))
    assert end.outcome is Outcome.FAILED
    assert end.error is not None and end.error.status == 503
    assert len(sleeps.delays) == 2
    assert 0.5 <= sleeps.delays[0] <= 1.0 and 1.0 <= sleeps.delays[1] <= 2.0
    assert len(sim.log) == 3


async def test_auth_errors_are_not_retried(sim: SimServer) -> None:
    sleeps = Sleeps()
    end = ending(await attempt(sim, "fault-401", sleeps))
    assert end.error is not None and end.error.kind is ErrorKind.AUTH
    assert sleeps.delays == [] and len(sim.log) == 1


async def test_a_drop_after_the_first_token_is_not_retried_and_keeps_the_text(sim: SimServer) -> None:
    sleeps = Sleeps()
    events = await attempt(sim, "fault-drop", sleeps)
    end = ending(events)
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.CONNECTION
    assert (
        "".join(e.text for e in events if isinstance(e, TextDelta)) == "This answer will be cut off part of"
    )
    assert sleeps.delays == [] and len(sim.log) == 1


async def test_measured_ttft_and_rate_match_what_lfg_received(sim: SimServer, scenario_dir: Path) -> None:
    text = " ".join(f"w{i}" for i in range(40))
    model = write_scenario(
        scenario_dir, "paced", f'ttft_ms = 300\ntokens_per_s = 50\n[[call]]\ntext = "{text}"\n'
    )
    metrics = Metrics()
    events = await attempt(sim, model, Sleeps())
    for event in events:
        metrics.apply(event)
    record = sim.log[0]
    assert record.first_token_at is not None
    server_ttft = record.first_token_at - record.received_at
    sent = next(e.t for e in events if isinstance(e, RequestSent))
    texts = [e.t for e in events if isinstance(e, TextDelta) and e.text]
    # what lfg received, on its own stamps: a loaded machine may read the sim's paced sends late
    assert metrics.ttft_s == pytest.approx(texts[0] - sent, abs=0.002)  # whole milliseconds
    assert metrics.ttft_s >= server_ttft * 0.99, "no sooner than the sim sent its first token"
    after_first = len(record.token_times) - record.token_times.count(record.token_times[0])
    assert metrics.tokens_per_s == pytest.approx(after_first / (texts[-1] - texts[0]), rel=0.05)
    assert not metrics.tokens_estimated and metrics.output_tokens == 40


async def never_asked(call: ToolCallReady) -> str | None:
    raise AssertionError(f"{call.name} should not need approval")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "README.md").write_text("# Widget\nRenders widgets.\n")
    return tmp_path.resolve()


async def test_the_tool_loop_runs_tools_and_sends_results_back(sim: SimServer, workdir: Path) -> None:
    provider = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    tools = {name: BUILTIN_TOOLS[name] for name in ("list_dir", "read_file")}
    toolbox = Toolbox(tools, ToolContext(workdir=workdir, env={}), never_asked)
    events = [
        e
        async for e in run_tool_loop(provider, AttemptTask(ask("agent-demo")), EventFactory("t", 1), toolbox)
    ]
    await provider.aclose()
    assert ending(events).outcome is Outcome.COMPLETED
    results = [e for e in events if isinstance(e, ToolResult)]
    assert "README.md" in results[0].output and "Renders widgets." in results[1].output
    assert len(sim.log) == 3
    last_request = sim.log[-1].body["messages"]
    assert last_request[-1] == {
        "role": "tool",
        "tool_call_id": results[1].call_id,
        "content": results[1].output,
    }


async def test_tools_an_agent_service_ran_itself_are_not_run_again(sim: SimServer) -> None:
    provider = AgentSSEProvider(ProviderConfig(name="agent", kind="sse", base_url=sim.url + "/agent"))
    events = [e async for e in run_tool_loop(provider, AttemptTask(ask("agent-demo")), EventFactory("t", 1))]
    await provider.aclose()
    assert ending(events).outcome is Outcome.COMPLETED
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.output.splitlines()[0] for r in results] == ["README.md", "# Widget"]
    assert len(sim.log) == 1


async def test_a_tool_call_an_agent_service_leaves_without_a_result_is_never_run_here(
    canned: CannedServer, tmp_path: Path
) -> None:
    """A remote service must not get lfg to write local files or read them back to it."""
    call = {"type": "tool_call", "id": "c1", "name": "write_file"}
    call["arguments"] = {"path": "pwned.txt", "content": "x"}
    run = [call, {"type": "done"}]
    stream = "".join(f"id: {n}\ndata: {json.dumps(d)}\n\n" for n, d in enumerate(run, 1)).encode()
    canned.bodies = [stream, stream]  # a second body, so a result posted back would be counted
    approvals: list[ToolCallReady] = []

    async def approve(ready: ToolCallReady) -> str | None:
        approvals.append(ready)
        return None

    toolbox = Toolbox(BUILTIN_TOOLS, ToolContext(workdir=tmp_path, env={}), approve)
    provider = AgentSSEProvider(ProviderConfig(name="agent", kind="sse", base_url=canned.url + "/run"))
    events = [
        e async for e in run_tool_loop(provider, AttemptTask(ask("any")), EventFactory("t", 1), toolbox)
    ]
    await provider.aclose()
    assert ending(events).outcome is Outcome.COMPLETED
    [result] = [e for e in events if isinstance(e, ToolResult)]
    assert result.call_id == "c1" and result.is_error and "did not report one" in result.output
    assert approvals == [] and not (tmp_path / "pwned.txt").exists()
    assert len(canned.headers) == 1, "nothing was posted back to the service"


async def test_an_attempt_that_streams_past_its_output_limit_fails_keeping_what_arrived(
    sim: SimServer,
) -> None:
    provider = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    task = AttemptTask(ask("long-answer:tokens_per_s=2000,ttft_ms=1,repeat=50"), max_output_chars=500)
    events = [e async for e in run_tool_loop(provider, task, EventFactory("t", 1))]
    await provider.aclose()
    end = ending(events)
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.OUTPUT_LIMIT
    assert "more than 500 characters (max_output_chars)" in end.error.message
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert 500 < len(text) < 600, "everything up to the limit is kept, and no more is read"
    [record] = sim.log
    await asyncio.wait_for(record.disconnected.wait(), 5 * PATIENCE)  # the stream was closed, not left to run


async def test_the_output_limit_counts_every_call_of_the_attempt(sim: SimServer) -> None:
    """Tool loops cannot dodge the limit: text of earlier calls and tool arguments add up."""
    provider = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    whole = [e async for e in run_tool_loop(provider, AttemptTask(ask("tool-loop")), EventFactory("t", 1))]
    first_call = next(i for i, e in enumerate(whole) if isinstance(e, ToolResult))
    before = [e for e in whole[:first_call] if isinstance(e, TextDelta | ToolCallArgsDelta)]
    size = sum(len(e.text if isinstance(e, TextDelta) else e.fragment) for e in before)
    task = AttemptTask(ask("tool-loop"), max_output_chars=size + 1)
    events = [e async for e in run_tool_loop(provider, task, EventFactory("t", 1))]
    await provider.aclose()
    assert ending(whole).error is not None and ending(whole).error.kind is ErrorKind.MAX_CALLS
    assert ending(events).outcome is Outcome.FAILED and ending(events).error.kind is ErrorKind.OUTPUT_LIMIT
    assert any(isinstance(e, ToolResult) for e in events), "the first call stayed under the limit"


@pytest.mark.parametrize(("max_calls", "said"), [(1, "1 model call"), (2, "2 model calls")])
async def test_max_calls_says_how_many_calls_in_good_english(
    sim: SimServer, max_calls: int, said: str
) -> None:
    provider = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    task = AttemptTask(ask("tool-loop"), max_calls=max_calls)
    events = [e async for e in run_tool_loop(provider, task, EventFactory("t", 1))]
    await provider.aclose()
    error = ending(events).error
    assert error is not None and error.message.startswith(f"stopped after {said} (max_calls)")
