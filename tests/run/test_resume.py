"""Resuming a recorded run: follow-ups carry the whole earlier conversation to the server, retries
are recorded into the same run, and the replay timeline keeps the recorded pace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lfgtui.events import AttemptStarted, Outcome, PromptSent, TextDelta
from lfgtui.history.database import StoreError
from lfgtui.history.recorded import IDLE_GAP_S, ReplayClock, play, replay_events
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import reopen_run_history
from lfgtui.providers.base import AssistantMessage, ToolResultMessage, UserMessage
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.seeds import earlier_of, earlier_of_each
from lfgtui.sim.server import SimServer
from tests.support.recording import FAST_AGENT, exchange, load_recorded, record_tickets, tickets_file
from tests.support.streams import write_scenario


@pytest.fixture(autouse=True)
def fast_agent(scenario_dir: Path) -> None:
    write_scenario(scenario_dir, "fast-agent", FAST_AGENT)


async def follow_up(sim: SimServer, db: Path, run_id: str, ticket: str, prompt: str) -> Run:
    """Resume a recorded run in-process, as `lfg resume` does, and follow a ticket up once."""
    recorded = load_recorded(db, run_id)
    problems: list[str] = []
    async with (
        reopen_run_history(db, run_id, problems.append) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None, problems
        run = Run(
            recorded.as_tickets, providers, Approvals(yes=True), [], earlier=earlier_of_each(recorded.tickets)
        )
        run.record(history)
        run.start()
        assert not any(state.running for state in run.states.values()), "a resumed run starts nothing"
        assert run.continue_with(ticket, prompt)
        await run.wait()
    return run


@pytest.mark.parametrize("provider", ["sim", "sim-anthropic", "sim-responses"])
async def test_a_follow_up_sends_the_earlier_tool_calls_and_results(
    sim: SimServer, tmp_path: Path, provider: str
) -> None:
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path, provider=provider), db)
    first = [r for r in sim.log if r.model == "fast-agent"]
    assert len(first) == 3, "the agent made three model calls: two with tools, then the answer"
    calls_before, results_before, _ = exchange(first[-1])
    assert [name for _, name in calls_before] == ["list_dir", "read_file"]
    assert "A tiny service that renders widgets." in results_before[calls_before[1][0]]

    run = await follow_up(sim, db, run_id, "explore", "Now say which file matters most.")

    assert run.states["explore"].outcome is Outcome.COMPLETED
    request = sim.log[-1]
    assert request.model == "fast-agent" and len(sim.log) == len(first) + 2, "hi's call and the follow-up"
    calls, results, last_user = exchange(request)
    assert calls == calls_before, "every earlier tool call, with its id and name"
    assert results == results_before, "every earlier tool result, word for word"
    assert last_user == "Now say which file matters most."
    with Store.open(db) as store:
        (ticket,) = store.load(Selection(run_id, ticket="explore")).tickets
    assert [(a.row.number, a.row.outcome) for a in ticket.attempts] == [(1, "completed"), (2, "completed")]
    assert ticket.attempts[0].parts[0].info == {}, "a first attempt continues nothing"
    prompt = ticket.attempts[1].parts[0]
    assert (prompt.kind, prompt.text, prompt.info) == (
        "prompt",
        "Now say which file matters most.",
        {"continues": 1},
    )


async def test_a_second_follow_up_carries_both_earlier_attempts(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path), db)
    await follow_up(sim, db, run_id, "explore", "First follow-up.")
    await follow_up(sim, db, run_id, "explore", "Second follow-up.")
    messages = sim.log[-1].body["messages"]
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users == ["What is this project?", "First follow-up.", "Second follow-up."]
    assert sum(len(m.get("tool_calls") or []) for m in messages) == 2
    recorded = load_recorded(db, run_id)
    (explore,) = [t for t in recorded.tickets if t.ticket.id == "explore"]
    conversation = explore.conversation(3)
    assert [type(m).__name__ for m in conversation].count("ToolResultMessage") == 2
    assert isinstance(conversation[-1], AssistantMessage) and conversation[-1].text
    earlier = earlier_of(explore)
    assert earlier.attempts == 3 and earlier.conversation == conversation


async def test_retries_in_a_resumed_run_are_new_attempts_of_the_same_run(
    sim: SimServer, tmp_path: Path, scenario_dir: Path
) -> None:
    write_scenario(
        scenario_dir,
        "flaky",
        'ttft_ms = 1\n[[call]]\ntext = "ok"\n[[fault]]\nkind = "http"\nstatus = 401\ntimes = 1\n',
    )
    toml = '[[ticket]]\nid = "flaky"\nprompt = "x"\nprovider = "sim"\nmodel = "flaky"\n\n'
    toml += '[[ticket]]\nid = "after"\nprompt = "{{ outputs.flaky }}!"\nprovider = "sim"\nmodel = "hello"\n'
    toml += 'depends_on = ["flaky"]\n'
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path, toml), db)
    recorded = load_recorded(db, run_id)
    earlier = earlier_of_each(recorded.tickets)
    assert (earlier["flaky"].outcome, earlier["after"].outcome) == (Outcome.FAILED, Outcome.SKIPPED)

    async with reopen_run_history(db, run_id, pytest.fail) as history, Providers(sim=sim) as providers:
        assert history is not None
        run = Run(recorded.as_tickets, providers, Approvals(yes=True), [], earlier=earlier)
        run.record(history)
        assert run.retry_all() == ["flaky", "after"]
        outcomes = await run.wait()
    assert outcomes == {"flaky": Outcome.COMPLETED, "after": Outcome.COMPLETED}
    with Store.open(db) as store:
        assert [r.id for r in store.list_runs()] == [run_id], "no new run"
        record = store.load(Selection(run_id))
        (ended_at,) = store.conn.execute("SELECT ended_at FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert ended_at is not None, "the run is closed again"
    attempts = {t.row.ticket: [(a.row.number, a.row.outcome) for a in t.attempts] for t in record.tickets}
    assert attempts == {
        "flaky": [(1, "failed"), (2, "completed")],
        "after": [(1, "skipped"), (2, "completed")],
    }
    after = record.tickets[1].attempts[1].parts[0]
    assert after.text == "ok!", "the dependency's new answer filled the dependent's prompt"


async def test_restore_and_replay_events_keep_order_time_and_follow_ups(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path), db)
    await follow_up(sim, db, run_id, "explore", "And then?")
    with sqlite3.connect(db) as conn:  # the follow-up came a day later
        conn.execute("UPDATE attempts SET started_at = started_at + 86400 WHERE number = 2")
    recorded = load_recorded(db, run_id)

    steps = replay_events(recorded)
    explore = [s for s in steps if s.ticket == "explore"]
    prompts = [(i, s) for i, s in enumerate(explore) if isinstance(s, PromptSent)]
    assert [(p.attempt, p.text, p.continues) for _, p in prompts] == [
        (1, "What is this project?", None),
        (2, "And then?", 1),
    ]
    marker = prompts[1][0]
    assert isinstance(explore[marker - 1], AttemptStarted) and explore[marker - 1].attempt == 2

    times = [s.t for s in steps]
    assert times == sorted(times) and times[0] == 0.0
    first_end = max(s.t for s in steps if s.attempt == 1)
    second = next(s for s in steps if isinstance(s, AttemptStarted) and s.attempt == 2)
    assert second.t == pytest.approx(first_end + IDLE_GAP_S), (
        "a day without any stream is cut to a short pause"
    )
    (hi,) = (
        attempt for ticket in recorded.tickets if ticket.ticket.id == "hi" for attempt in ticket.attempts
    )
    text = "".join(s.text for s in steps if isinstance(s, TextDelta) and s.ticket == "hi")
    assert text == "".join(s.text for s in hi.events if isinstance(s, TextDelta))

    clock = ReplayClock(speed=1000)
    delivered: list[object] = []
    await play(steps, clock, delivered.append)
    assert delivered == steps
    assert clock() >= steps[-1].t, "nothing was delivered before its (scaled) time"

    middle = steps[len(steps) // 2].t
    late = ReplayClock(speed=1, clock=lambda: 0.0, start=middle)  # `lfg replay --from`, time frozen
    assert late() == middle
    due = [step for step in steps if step.t <= middle]
    shown: list[object] = []
    await play(due, late, shown.append)  # up to there at once: the frozen clock never reaches a later t
    assert shown == due


async def test_the_recorded_conversation_is_what_the_agent_sent(sim: SimServer, tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path), db)
    recorded = load_recorded(db, run_id)
    (explore,) = [t for t in recorded.tickets if t.ticket.id == "explore"]
    conversation = explore.conversation(1)
    assert isinstance(conversation[0], UserMessage) and conversation[0].text == "What is this project?"
    sent = [m for m in sim.log if m.model == "fast-agent"][-1].body["messages"]
    tool_results = [m for m in conversation if isinstance(m, ToolResultMessage)]
    assert [r.output for r in tool_results] == [m["content"] for m in sent if m["role"] == "tool"]


def test_a_read_only_store_reads_and_refuses_what_it_cannot(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    with pytest.raises(StoreError, match="no history recorded yet"):
        Store.open_read_only(missing)
    assert not missing.exists(), "looking never creates the file"
    db = tmp_path / "h.sqlite3"
    Store.open(db).close()
    store = Store.open_read_only(db)
    assert store.list_runs() == []
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.conn.execute("DELETE FROM runs")
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer than this lfg"):
        Store.open_read_only(db)
