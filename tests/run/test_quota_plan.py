"""Planning around a provider's quota window: the shared limiter counts what an answer's headers could
not yet see, projects when the quota runs out at the current burn, and holds requests so a window is
never overrun; at exhaustion each ticket's `on_quota` waits, moves to its fallback, or pauses until
the person resumes it. End to end on the sim's quota windows, and on an injected clock for the
arithmetic."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from lfgtui.commands.headless import JsonLines
from lfgtui.config.load import Config, load_config
from lfgtui.config.validation import ValidationError
from lfgtui.cost.metrics import AgentUsage
from lfgtui.events import (
    PAUSED,
    AgentLimit,
    AttemptEnded,
    AttemptStarted,
    ContextUsed,
    ErrorKind,
    Event,
    Outcome,
    Queued,
    QuotaSeen,
    Retrying,
    Status,
)
from lfgtui.formats import agent_usage_text
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.failover import every_provider
from lfgtui.run.ratelimit import ProviderLimiter, Wait, WaitReason
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import TicketFile
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.run import FakeTime
from tests.support.streams import write_scenario


def limiter(time: FakeTime) -> ProviderLimiter:
    return ProviderLimiter(ProviderConfig(name="sim", kind="openai"), time, time.sleep)  # type: ignore[arg-type]


def said(time: FakeTime, **quota: int | float) -> QuotaSeen:
    return QuotaSeen(ticket="t", attempt=1, seq=0, t=time.now, provider="sim", **quota)  # type: ignore[arg-type]


async def test_an_answers_headers_are_less_the_requests_sent_after_its_request() -> None:
    """Three requests went together before the provider said anything; the second one's answer comes
    first and says 5 of 6 are left, counted when it arrived: the third, sent after it, and the first,
    whose answer has not come, may not be in that count yet."""
    time = FakeTime()
    lim = limiter(time)
    first, second, third = lim.enter(10), lim.enter(10), lim.enter(10)
    assert first.granted and second.granted and third.granted, "nothing known yet: all go"
    second.saw(said(time, requests_limit=6, requests_remaining=5, requests_reset_s=10))
    more = [lim.enter(10) for _ in range(4)]
    assert [p.granted for p in more] == [True, True, True, False], (
        "5 left, less the third sent after it and the first not heard of yet (it may arrive late)"
    )
    assert more[3].wait == Wait(WaitReason.QUOTA_REQUESTS, time.now + 10), "the window's 6 went"
    first.saw(said(time, requests_limit=6, requests_remaining=4, requests_reset_s=10))
    assert more[3].wait is not None, "an answer that counted two: the five sent after it are taken off"
    await time.advance(10)
    assert more[3].granted, "the reset came"


async def test_the_summary_projects_when_a_quota_runs_out_at_the_current_burn() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.saw(said(time, requests_limit=100, requests_remaining=20, requests_reset_s=60))
    for _ in range(4):
        lim.enter(1).release()
        await time.advance(0.5)
    running = lim.enter(1)
    assert running.granted
    assert lim.state().summary(time.now) == "sim: quota ~6s", "15 left at 2.5 a second (5 in 2 s)"
    running.release()
    assert lim.state().summary(time.now) is None, "nothing of it runs: no projection to make"

    time2 = FakeTime()
    slow = limiter(time2)
    slow.saw(said(time2, requests_limit=100, requests_remaining=50, requests_reset_s=5))
    slow.enter(1).release()
    await time2.advance(1)
    busy = slow.enter(1)
    assert busy.granted
    assert slow.state().summary(time2.now) is None, "48 left at 2 a second outlast the reset in 4 s"


async def test_a_spent_quota_shows_its_reset_and_who_waits_for_it() -> None:
    time = FakeTime()
    lim = limiter(time)
    lim.saw(said(time, requests_limit=2, requests_remaining=1, requests_reset_s=9))
    going, waiting = lim.enter(1), lim.enter(1)
    assert going.granted and not waiting.granted
    assert lim.state().summary(time.now) == "sim: quota spent, resets in 9 s, 1 queued"
    await time.advance(9)
    assert waiting.granted


QUOTA_20 = 'ttft_ms = 1\nratelimit_requests = 20\nratelimit_window_ms = 5000\n[[call]]\ntext = "ok"\n'
"""Five seconds a window: twenty requests of 1 ms fill it even on a loaded machine, so it is spent."""


def tickets(tmp_path: Path, body: str, config: Config | None = None) -> TicketFile:
    path = tmp_path / "tickets.toml"
    path.write_text(body)
    return load_tickets(path, config or Config(path=None), BUILTIN_TOOLS, env={})


async def test_fifty_tickets_through_a_twenty_request_window_finish_with_no_429_shown(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """The done-when of the quota plan: 50 tickets, 8 at a time, on a provider allowing 20 requests a
    window. The limiter learns the quota from the first answers and holds the rest for each reset:
    the sim never answers 429, and NDJSON shows no retry, only waits for the reset."""
    write_scenario(scenario_dir, "quota", QUOTA_20)
    body = "".join(f'[[ticket]]\nid = "t{n}"\nprompt = "go"\nmodel = "quota"\n\n' for n in range(50))
    loaded = tickets(tmp_path, body)
    out = io.StringIO()
    async with Providers(Config(path=None).providers, sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [])
        run.sinks.append(JsonLines(out, run.book, run.clock()))
        run.start()
        outcomes = await run.wait()

    assert set(outcomes.values()) == {Outcome.COMPLETED}
    assert [record.status for record in sim.log] == [200] * 50, "not one request met the sim's 429"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sum(line["type"] == "attempt_started" for line in lines) == 50, "no ticket needed a second attempt"
    statuses = [line for line in lines if line["type"] == "status"]
    assert not [s for s in statuses if "rate_limited" in s["message"] or "retrying" in s["message"]]
    spent = [q for q in lines if q["type"] == "quota" and q["requests"]["remaining"] == 0]
    assert spent, "a window was spent to its last request: the limit was reached, not missed"
    waits = [s for s in statuses if s.get("reason") == "quota_requests"]
    assert all(s["wait_s"] is not None and s["wait_s"] > 0 for s in waits), "each says how long"
    assert all("has no requests left, its quota resets in" in s["message"] for s in waits)


ONE_A_WINDOW = 'ttft_ms = 1\nratelimit_requests = 1\nratelimit_window_ms = {ms}\n[[call]]\ntext = "ok"\n'
"""A window of one request: the first ticket spends it, the second (after it) meets the spent quota."""


def after_the_first(on_quota: str, extra: str = "") -> str:
    first = '[[ticket]]\nid = "first"\nprompt = "go"\nmodel = "quota"\n\n'
    second = f'[[ticket]]\nid = "second"\nprompt = "go"\nmodel = "quota"\ndepends_on = ["first"]\n{extra}'
    return first + second + f'on_quota = "{on_quota}"\n'


async def run_two(sim: SimServer, loaded: TicketFile, pauses: bool = False) -> tuple[Run, list[Event]]:
    events: list[Event] = []
    providers = Providers(Config(path=None).providers, sim=sim)
    run = Run(loaded.tickets, providers, Approvals(), [events.append])
    run.pauses = pauses
    return run, events


async def test_on_quota_fallback_moves_to_the_next_link_instead_of_waiting_for_the_reset(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "quota", ONE_A_WINDOW.format(ms=600_000))
    loaded = tickets(tmp_path, after_the_first("fallback", 'fallback = ["sim-anthropic/hello"]\n'))
    run, events = await run_two(sim, loaded)
    async with run.providers:
        run.start()
        assert await run.wait() == {"first": Outcome.COMPLETED, "second": Outcome.COMPLETED}

    assert [r.status for r in sim.log] == [200, 200], "no 429: the spent quota was never sent to"
    assert [(e.ticket, e.provider) for e in events if isinstance(e, AttemptStarted)] == [
        ("first", "sim"),
        ("second", "sim"),
        ("second", "sim-anthropic"),
    ]
    moved = next(e for e in events if isinstance(e, AttemptEnded) and e.ticket == "second")
    assert moved.outcome is Outcome.FAILED and moved.error is not None
    assert moved.error.kind is ErrorKind.RATE_LIMITED
    assert moved.error.message.startswith("sim/quota holds requests for ")
    assert moved.error.message.endswith('(its quota); the ticket\'s on_quota is "fallback"')


async def test_on_quota_fallback_with_no_link_left_waits_and_says_so(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "quota", ONE_A_WINDOW.format(ms=1500))
    run, events = await run_two(sim, tickets(tmp_path, after_the_first("fallback")))
    out = io.StringIO()
    run.sinks.append(JsonLines(out, run.book, run.clock()))
    async with run.providers:
        run.start()
        assert set((await run.wait()).values()) == {Outcome.COMPLETED}
    assert [r.status for r in sim.log] == [200, 200]
    notes = [e.message for e in events if type(e) is Status and e.ticket == "second"]
    assert 'on_quota = "fallback", but the ticket has no fallback link left: it waits for the reset' in notes
    (waited,) = [
        line
        for line in map(json.loads, out.getvalue().splitlines())
        if line["type"] == "status" and line.get("reason") == "quota_requests"
    ]
    assert waited["ticket"] == "second" and 0 < waited["wait_s"] <= 1.5, "NDJSON says it waits, and how long"


async def test_on_quota_pause_with_no_one_to_resume_it_waits_for_the_reset(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """Headless (no TUI): nobody could press the key, so a pause would be forever; it waits instead."""
    write_scenario(scenario_dir, "quota", ONE_A_WINDOW.format(ms=1500))
    run, events = await run_two(sim, tickets(tmp_path, after_the_first("pause")))
    async with run.providers:
        run.start()
        assert set((await run.wait()).values()) == {Outcome.COMPLETED}
    notes = [e.message for e in events if type(e) is Status and e.ticket == "second"]
    assert 'on_quota = "pause", but no one here can resume the ticket: it waits for the reset' in notes
    assert not [e for e in events if isinstance(e, Queued) and e.reason == PAUSED]
    assert not [e for e in events if isinstance(e, Retrying)]


async def test_on_quota_pause_leaves_the_line_until_the_person_resumes_it(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "quota", ONE_A_WINDOW.format(ms=1500))
    run, events = await run_two(sim, tickets(tmp_path, after_the_first("pause")), pauses=True)
    async with run.providers:
        run.start()
        second = run.states["second"]
        while second.paused is None:
            await asyncio.sleep(0.01)
        limiter = run.limiters["sim"]
        while limiter.held_s() is not None or limiter.queued:  # the reset passes: still paused
            await asyncio.sleep(0.01)
        assert len(sim.log) == 1 and second.running, "paused: nothing sent though the quota reset"
        assert run.resume("second") and not run.resume("second")
        assert set((await run.wait()).values()) == {Outcome.COMPLETED}
    assert [r.status for r in sim.log] == [200, 200]
    (paused,) = [e for e in events if isinstance(e, Queued) and e.reason == PAUSED]
    assert paused.message.startswith("paused: sim/quota holds requests for ") and paused.until is None
    assert "resumed by you" in [e.message for e in events if type(e) is Status]
    assert not run.resume("first"), "only a paused ticket resumes"


def test_on_quota_is_a_tickets_or_its_providers_and_names_one_of_three(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[providers.sim]\non_quota = "pause"\n')
    config = load_config(tmp_path / "config.toml", env={})
    body = '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n\n'
    body += '[[ticket]]\nid = "b"\nprompt = "x"\nmodel = "hello"\non_quota = "fallback"\n\n'
    body += '[[ticket]]\nid = "c"\nprompt = "x"\nprovider = "sim-anthropic"\nmodel = "hello"\n'
    loaded = tickets(tmp_path, body, config)
    assert [t.on_quota for t in loaded.tickets] == ["pause", "fallback", "wait"]

    (tmp_path / "config.toml").write_text('[providers.sim]\non_quota = "later"\n')
    with pytest.raises(ValidationError) as raised:
        load_config(tmp_path / "config.toml", env={})
    assert '"wait", "fallback" or "pause"' in str(raised.value)
    with pytest.raises(ValidationError):
        tickets(tmp_path, '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\non_quota = "soon"\n')


def test_the_providers_made_ready_before_a_run_include_every_fallback_link(tmp_path: Path) -> None:
    """`lfg run` and `lfg resume` warm these in the provider worker while the UI loads: a ticket that
    moves on mid-run finds its next provider's SDK already imported."""
    body = '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\nfallback = ["sim-anthropic/hello"]\n\n'
    body += '[[ticket]]\nid = "b"\nprompt = "x"\nmodel = "hello"\n'
    assert every_provider(tickets(tmp_path, body).tickets) == {"sim", "sim-anthropic"}


def test_a_coding_agents_own_limit_reports_project_when_it_runs_out() -> None:
    """Claude Code says how much of its five-hour window is used: from 50% to 75% in ten minutes, the
    rest goes in ten more, before the window resets; the summary bar says so while a session runs."""

    def report(t: float, used: float, reset_s: float = 3600.0, attempt: int = 1) -> ContextUsed:
        limit = AgentLimit("five_hour", "allowed", used, reset_s)
        return ContextUsed(ticket="t", attempt=attempt, seq=0, t=t, used=1000, size=200_000, limit=limit)

    usage = AgentUsage("claude-code")
    usage.reported(("t", 1), report(0.0, 0.5), None)
    assert usage.limit_runs_out_at() is None, "one report is no burn"
    usage.reported(("t", 1), report(600.0, 0.75, reset_s=3000.0), None)
    assert usage.limit_runs_out_at() == 1200.0
    assert agent_usage_text(usage, 600.0).endswith("· 5h 75% used ↻50m00s, out ~10m00s")
    usage.reported(("t", 1), report(700.0, 0.76, reset_s=600.0), None)
    assert usage.limit_runs_out_at() is None, "at this pace it lasts past the reset"
    usage.reported(("t", 2), report(800.0, 0.1, reset_s=18000.0, attempt=2), None)
    assert usage.limit_since is not None and usage.limit_since.t == 800.0, "a lower share: a new window"
    usage.reported(("t", 2), report(1400.0, 0.9, reset_s=17400.0, attempt=2), None)
    usage.ended(("t", 1))
    usage.ended(("t", 2))
    assert usage.limit_runs_out_at() is not None
    assert "out ~" not in agent_usage_text(usage, 1400.0), "no session runs: nothing burns it"
