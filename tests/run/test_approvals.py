"""Approvals in a real run on the sim server: asked and answered as events, by whoever answers first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAnswered, ApprovalAsked, AttemptEnded, Event, Outcome, ToolResult
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE
from tests.support.run import Answerer, run_writer, writer_tickets


async def test_a_call_waits_for_the_first_answer_and_both_question_and_answer_are_events(
    sim: SimServer, tmp_path: Path
) -> None:
    answerer = Answerer([True, False])
    run = await run_writer(sim, tmp_path, Approvals(askable=True), answerer)
    assert run.states["w"].outcome is Outcome.COMPLETED
    assert answerer.late == [False, False], "a second answer to the same call changes nothing"
    events = answerer.events
    asked = [e for e in events if isinstance(e, ApprovalAsked)]
    answered = [e for e in events if isinstance(e, ApprovalAnswered)]
    assert [(a.name, a.message) for a in asked] == [
        ("write_file", "write_file waits for approval"),
        ("run_command", "run_command waits for approval"),
    ]
    assert asked[0].arguments["path"] == "notes/summary.md"
    assert [(a.call_id, a.allowed, a.by, a.message) for a in answered] == [
        (
            asked[0].call_id,
            True,
            "203.0.113.9 (lfg attach)",
            "write_file approved by 203.0.113.9 (lfg attach)",
        ),
        (
            asked[1].call_id,
            False,
            "203.0.113.9 (lfg attach)",
            "run_command denied by 203.0.113.9 (lfg attach)",
        ),
    ]
    results = {e.call_id: e for e in events if isinstance(e, ToolResult)}
    assert not results[asked[0].call_id].is_error
    assert results[asked[1].call_id].output == "denied: the user did not approve this run_command call"
    assert (tmp_path / "notes" / "summary.md").exists()
    seqs = [e.seq for e in events if e.ticket == "w"]
    assert seqs == sorted(seqs) == list(range(len(seqs))), "approvals take their place in the attempt's order"
    for ask, answer in zip(asked, answered, strict=True):
        assert events.index(ask) < events.index(answer) < events.index(results[ask.call_id])


async def test_a_run_nobody_can_answer_refuses_and_says_how_to_allow_it(
    sim: SimServer, tmp_path: Path
) -> None:
    answerer = Answerer([])
    run = await run_writer(sim, tmp_path, Approvals(), answerer)
    assert run.states["w"].outcome is Outcome.COMPLETED
    assert not [e for e in answerer.events if isinstance(e, ApprovalAsked | ApprovalAnswered)]
    refused = next(e.output for e in answerer.events if isinstance(e, ToolResult))
    assert refused.startswith("denied: write_file needs approval and nobody can approve it in a headless run")
    assert "--yes" in refused and "auto_approve" in refused and "--control" in refused
    assert not (tmp_path / "notes").exists()


async def test_yes_runs_every_call_without_asking(sim: SimServer, tmp_path: Path) -> None:
    answerer = Answerer([])
    await run_writer(sim, tmp_path, Approvals(yes=True, askable=True), answerer)
    assert not [e for e in answerer.events if isinstance(e, ApprovalAsked)]
    assert all(not e.is_error for e in answerer.events if isinstance(e, ToolResult))


async def test_a_ticket_cancelled_while_it_waits_ends_and_its_question_cannot_be_answered(
    sim: SimServer, tmp_path: Path
) -> None:
    loaded = load_tickets(writer_tickets(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    waiting = asyncio.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, ApprovalAsked):
            waiting.set()

    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [sink])
        run.start()
        await asyncio.wait_for(waiting.wait(), 10 * PATIENCE)
        asked = next(e for e in events if isinstance(e, ApprovalAsked))
        assert run.cancel("w")
        await asyncio.wait_for(run.wait(), 10 * PATIENCE)
        assert not run.approvals.answer("w", asked.call_id, True, "you")
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.CANCELLED]
    assert not [e for e in events if isinstance(e, ApprovalAnswered)]
    assert not (tmp_path / "notes").exists()
