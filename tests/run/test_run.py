"""The scheduler in-process: cancelling one ticket, retrying it, and what the other tickets see."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    ErrorKind,
    Event,
    Outcome,
    PromptSent,
    RequestSent,
    TextDelta,
)
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import MAX_PROMPT_CHARS
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE


def tickets_file(tmp_path: Path) -> Path:
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        '[[ticket]]\nid = "slow"\nprompt = "go"\nmodel = "long-answer:repeat=8,tokens_per_s=400"\n\n'
        '[[ticket]]\nid = "quick"\nprompt = "go"\nmodel = "long-answer:tokens_per_s=400"\n'
    )
    return path


async def test_cancel_one_ticket_then_retry_it_as_a_new_attempt(sim: SimServer, tmp_path: Path) -> None:
    loaded = load_tickets(tickets_file(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    first_slow_token = asyncio.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, TextDelta) and event.ticket == "slow":
            first_slow_token.set()

    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [sink])
        run.start()
        await asyncio.wait_for(first_slow_token.wait(), 10 * PATIENCE)
        assert run.cancel("slow")
        outcomes = await run.wait()
        assert outcomes == {"slow": Outcome.CANCELLED, "quick": Outcome.COMPLETED}
        kept = "".join(e.text for e in events if isinstance(e, TextDelta) and e.ticket == "slow")
        assert kept

        assert run.retry("slow")
        assert not run.retry("quick"), "a completed ticket is not retried"
        outcomes = await run.wait()
    assert outcomes["slow"] is Outcome.COMPLETED
    slow = [e for e in events if e.ticket == "slow"]
    assert [(type(e).__name__, e.attempt) for e in slow if isinstance(e, AttemptStarted | AttemptEnded)] == [
        ("AttemptStarted", 1),
        ("AttemptEnded", 1),
        ("AttemptStarted", 2),
        ("AttemptEnded", 2),
    ]
    assert [e.outcome for e in slow if isinstance(e, AttemptEnded)] == [Outcome.CANCELLED, Outcome.COMPLETED]
    assert run.states["slow"].attempt == 2
    first_slow = next(r for r in sim.log if "repeat=8" in r.model)
    assert first_slow.disconnected_at is not None, "cancelling closed the slow ticket's connection"


async def test_each_attempt_says_what_it_asked(sim: SimServer, tmp_path: Path) -> None:
    """`PromptSent` follows `AttemptStarted`: the prompt with its dependency's answer filled in, and a
    follow-up with the attempt it continues; a retry of that follow-up asks it again."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        '[[ticket]]\nid = "a"\nprompt = "go"\nmodel = "hello"\n\n'
        '[[ticket]]\nid = "b"\nprompt = "Check: {{ outputs.a }}"\ndepends_on = ["a"]\n'
        'model = "long-answer:tokens_per_s=200"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    follow_up_streams = asyncio.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, TextDelta) and event.ticket == "b" and event.attempt == 2:
            follow_up_streams.set()

    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [sink])
        run.start()
        await run.wait()
        assert run.continue_with("b", "And then?")
        await asyncio.wait_for(follow_up_streams.wait(), 10 * PATIENCE)
        assert run.cancel("b")
        await run.wait()
        assert run.retry("b")
        await run.wait()
    answer = "".join(e.text for e in events if isinstance(e, TextDelta) and e.ticket == "a")
    asked = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert asked == [(1, "go", None), (1, f"Check: {answer}", None), (2, "And then?", 1), (3, "And then?", 1)]
    starts = [i for i, e in enumerate(events) if isinstance(e, AttemptStarted)]
    assert all(isinstance(events[i + 1], PromptSent) and events[i + 1].seq == 1 for i in starts)


async def test_a_prompt_past_the_cap_fails_its_ticket_before_anything_is_sent(
    sim: SimServer, tmp_path: Path
) -> None:
    """Its dependency's answer quoted too many times: `bad_request` naming it, and no request made."""
    quoted = " ".join(["{{ outputs.a }}"] * (MAX_PROMPT_CHARS // 1000))
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        '[[ticket]]\nid = "a"\nprompt = "go"\nmodel = "long-answer:ttft_ms=0,tokens_per_s=0"\n\n'
        f'[[ticket]]\nid = "b"\nprompt = "{quoted}"\ndepends_on = ["a"]\nmodel = "hello"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        await run.wait()
    answer = "".join(e.text for e in events if isinstance(e, TextDelta) and e.ticket == "a")
    assert len(answer) > 1000
    [end] = [e for e in events if isinstance(e, AttemptEnded) and e.ticket == "b"]
    assert end.outcome is Outcome.FAILED and end.error is not None
    assert end.error.kind is ErrorKind.BAD_REQUEST
    assert end.error.message.startswith(f"the prompt with the output of 'a' ({len(answer):,} characters)")
    assert f"longer than {MAX_PROMPT_CHARS:,} characters" in end.error.message
    assert not [e for e in events if e.ticket == "b" and isinstance(e, (RequestSent, PromptSent))]
    assert [r.model for r in sim.log] == ["long-answer:ttft_ms=0,tokens_per_s=0"]
