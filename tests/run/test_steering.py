"""Steering a running ticket and queueing its next turn (run/steering.py), through the run as a person
drives it, on the sim over each model wire: a steer goes in as a user turn right after a round's tool
results, before the next call, in the same attempt, with the reasoning state sent back whole (the sim
refuses a request that lost it, or whose tool results do not open the user turn); a steer that finds
no safe point is the next turn, said; a queued message is the next turn once this one completes; what
cannot be sent is refused, or said, never dropped in silence; a retry sends the same steers again.

Each steer is sent from a sink the moment the ticket's first call streams its first words: the run
hears it before that call can end, so where it lands does not depend on the machine's speed."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lfgtui.config.load import Config
from lfgtui.events import (
    AttemptEnded,
    Event,
    Holding,
    Outcome,
    PromptSent,
    RequestSent,
    Status,
    Steered,
    TextDelta,
)
from lfgtui.history.export import to_markdown
from lfgtui.history.store import Store
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.seeds import earlier_of_each
from lfgtui.run.steering import MAX_HELD
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.recording import load_recorded
from tests.support.streams import write_scenario

THINKER = "claude-opus-5"
"""A Claude model the sim holds to the Messages API's thinking rules in a tool loop."""
STEER = "Stop after the README, and answer in French."


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    rules = (ModelRule(THINKER, "steer-rounds"),)
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(rules)) as server:
        yield server


def ticket_file(folder: Path, provider: str, model: str, tools: bool = True) -> Path:
    (folder / "README.md").write_text("# A folder\n")
    path = folder / "tickets.toml"
    tooled = 'tools = ["write_file", "list_dir", "read_file"]\nauto_approve = ["write_file"]\n'
    path.write_text(
        f'[[ticket]]\nid = "t"\nprompt = "Look around."\nprovider = "{provider}"\nmodel = "{model}"\n'
        f'workdir = "{folder}"\n' + (tooled if tools else "")
    )
    return path


@contextlib.asynccontextmanager
async def running(
    sim: SimServer, path: Path, on_words: Callable[[Run], None], db: Path | None = None
) -> AsyncIterator[tuple[Run, list[Event]]]:
    """The ticket's run, `on_words` called once, as its first call streams its first words; yields
    once every ticket has ended."""
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with contextlib.AsyncExitStack() as stack:
        history = None
        if db is not None:
            history = await stack.enter_async_context(
                open_run_history(db, loaded, "lfg run", lambda message: None)
            )
        providers = await stack.enter_async_context(Providers(sim=sim))
        run = Run(loaded.tickets, providers, Approvals(), [], keep_agents=True)
        stack.push_async_callback(run.close_agents)

        def heard(event: Event) -> None:
            events.append(event)
            if isinstance(event, TextDelta) and not any(isinstance(e, TextDelta) for e in events[:-1]):
                on_words(run)

        run.sinks.append(heard)
        if history is not None:
            run.record(history)
        run.start()
        await run.wait()
        yield run, events


def user_turns(body: dict[str, Any]) -> list[Any]:
    """What each user turn of a request carries, whatever the wire (Messages, Chat, Responses)."""
    items = body.get("messages", body.get("input", []))
    return [item.get("content", item.get("output")) for item in items if item.get("role") in ("user", "tool")]


async def test_a_steer_goes_in_right_after_the_first_rounds_tool_result_with_the_thinking_whole(
    sim: SimServer, tmp_path: Path
) -> None:
    said: list[str | None] = []
    path = ticket_file(tmp_path, "sim-anthropic", THINKER)
    async with running(sim, path, lambda run: said.append(run.steer("t", STEER))) as (run, events):
        pass
    assert said == [None]
    assert run.states["t"].outcome is Outcome.COMPLETED and run.states["t"].attempt == 1, "the same attempt"
    assert [r.status for r in sim.log] == [200] * 4
    assert all(r.replay is not None and r.replay.whole for r in sim.log), "the thinking came back whole"
    second = sim.log[1].body["messages"]
    assert second[-1]["role"] == "user"
    assert [block["type"] for block in second[-1]["content"]] == ["tool_result", "text"]
    assert second[-1]["content"][1]["text"] == STEER, "after the tool result, in the same user turn"
    later = [m for r in sim.log[2:] for m in r.body["messages"] if m["role"] == "user"]
    assert sum(1 for m in later if STEER in str(m)) == 2, "sent once, then kept in the conversation"
    (steered,) = [e for e in events if isinstance(e, Steered)]
    assert (steered.text, steered.by) == (STEER, "you")
    kinds = [type(e).__name__ for e in events if type(e).__name__ in ("ToolResult", "Steered", "RequestSent")]
    assert kinds[:4] == ["RequestSent", "ToolResult", "Steered", "RequestSent"]
    assert run.states["t"].answer.endswith(f"Your last words to me: {STEER}")
    holding = [e.held for e in events if isinstance(e, Holding)]
    assert [len(held) for held in holding] == [1, 0], "pending until it landed"


@pytest.mark.parametrize(("provider", "wire"), [("sim", "chat"), ("sim-responses", "responses")])
async def test_a_steer_is_a_user_message_after_the_tool_results_on_each_openai_wire(
    sim: SimServer, tmp_path: Path, provider: str, wire: str
) -> None:
    path = ticket_file(tmp_path, provider, "steer-rounds")
    async with running(sim, path, lambda run: run.steer("t", STEER)) as (run, _):
        pass
    assert run.states["t"].outcome is Outcome.COMPLETED
    items = sim.log[1].body["messages" if wire == "chat" else "input"]
    assert items[-1] == {"role": "user", "content": STEER}
    assert items[-2].get("role") == "tool" or items[-2].get("type") == "function_call_output"
    assert all(r.status == 200 for r in sim.log)


async def test_a_steer_with_no_safe_point_left_is_sent_as_the_next_turn_and_said(
    sim: SimServer, tmp_path: Path
) -> None:
    path = ticket_file(tmp_path, "sim", "hello", tools=False)
    async with running(sim, path, lambda run: run.steer("t", STEER)) as (run, events):
        pass
    state = run.states["t"]
    assert state.outcome is Outcome.COMPLETED and state.attempt == 2
    (queued, sent) = [e for e in events if isinstance(e, Holding)]
    assert "has no safe point to steer at" in queued.message and not queued.held[0].steer
    assert sent.held == () and sent.message.startswith(
        "sending the next turn, a steer from you its turn did not take"
    ), "issue 73: it said 'queued by you' of the person's steer"
    prompts = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Look around.", None), (2, STEER, 1)], "a follow-up of the turn before"
    said = [e.message for e in events if isinstance(e, Status) and e.attempt == 2]
    assert "a steer from you its turn did not take" in said and "queued by you" not in said
    assert sim.log[1].body["messages"][-1] == {"role": "user", "content": STEER}


async def test_queued_messages_go_in_order_each_as_the_next_turn_and_can_be_changed_until_sent(
    sim: SimServer, tmp_path: Path
) -> None:
    said: list[str | None] = []

    def queue(run: Run) -> None:
        said.append(run.queue("t", "first"))
        said.append(run.queue("t", "dropped", by="127.0.0.1 (ada)"))
        said.append(run.queue("t", "third"))
        ids = [message.id for message in run.states["t"].inbox.held]
        said.append(run.unqueue("t", ids[1]))
        said.append(run.edit_queued("t", ids[2], "second"))
        said.append(run.unqueue("t", 99))
        for n in range(MAX_HELD - 2):
            run.queue("t", f"more {n}")
        said.append(run.queue("t", "one too many"))
        for message in run.states["t"].inbox.held[2:]:
            run.unqueue("t", message.id)

    path = ticket_file(tmp_path, "sim", "hello", tools=False)
    async with running(sim, path, queue) as (run, events):
        pass
    assert said[:5] == [None] * 5 and said[5] == "t holds no message 99: it was sent already, or taken back"
    assert said[6] == f"t holds {MAX_HELD} messages already: take one back, or wait for one to be sent"
    prompts = [(e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert prompts == [("Look around.", None), ("first", 1), ("second", 2)]
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 3
    notes = [e.message for e in events if isinstance(e, Holding)]
    assert "taken back by you: dropped" in notes and "edited by you: second" in notes
    assert run.queue("t", "late") == "t has ended: send it a follow-up instead"
    assert run.steer("nobody", "x") == "the run has no ticket 'nobody'"


async def test_a_message_to_a_cancelled_ticket_is_refused_and_one_held_is_said_not_sent(
    sim: SimServer, tmp_path: Path
) -> None:
    def queue_then_cancel(run: Run) -> None:
        assert run.queue("t", "never sent") is None
        assert run.queue("t", "  ") == "a queued message needs some text"
        run.cancel("t")

    path = ticket_file(tmp_path, "sim", "hello", tools=False)
    async with running(sim, path, queue_then_cancel) as (run, events):
        pass
    assert run.states["t"].outcome is Outcome.CANCELLED and run.states["t"].attempt == 1
    last = [e for e in events if isinstance(e, Holding)][-1]
    assert last.held == () and last.message == (
        "not sent, since t ended cancelled: queued from you: never sent"
        " (kept for the ticket: a retry in the TUI or lfg resume offers them)"
    )
    assert [m.text for m in last.unsent] == ["never sent"] and run.states["t"].left_held == last.unsent
    assert run.steer("t", "x") == "t was cancelled: nothing more is sent to it (retry it first)"


async def test_a_retry_of_a_steered_attempt_sends_the_same_steer_at_the_same_place(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    scenarios = Path(__file__).parents[2] / "lfgtui/sim/scenarios"
    toml = (scenarios / "steer-rounds.toml").read_text(encoding="utf-8")
    fault = '\n[[fault]]\nkind = "http"\nstatus = 400\ncall = 2\ntimes = 1\nmessage = "simulated"\n'
    model = write_scenario(scenario_dir, "steer-rounds-400", toml + fault)
    path = ticket_file(tmp_path, "sim", model)
    async with running(sim, path, lambda run: run.steer("t", STEER)) as (run, events):
        assert run.states["t"].outcome is Outcome.FAILED
        before = len(sim.log)
        assert run.retry("t")
        await run.wait()
    assert run.states["t"].outcome is Outcome.COMPLETED and run.states["t"].attempt == 2
    first, again = sim.log[1].body["messages"], sim.log[before + 1].body["messages"]
    assert first[-1] == again[-1] == {"role": "user", "content": STEER}
    assert [(e.attempt, e.text) for e in events if isinstance(e, Steered)] == [(1, STEER), (2, STEER)]
    said = [e.message for e in events if isinstance(e, Holding) and e.attempt == 2]
    assert said[0] == "the steers of attempt 1 held again, sent as it sent them", "said once"


async def test_the_history_keeps_a_steer_at_its_place_and_its_export_shows_it(
    sim: SimServer, tmp_path: Path
) -> None:
    db = tmp_path / "history.sqlite3"
    path = ticket_file(tmp_path, "sim-anthropic", THINKER)
    async with running(sim, path, lambda run: run.steer("t", STEER, by="127.0.0.1 (ada)"), db) as (run, _):
        run_id = run.run_id
    recorded = load_recorded(db, run_id)
    with Store.open(db) as store:
        shown = to_markdown(store.load(store.resolve(run_id)))
    (ticket,) = recorded.tickets
    rebuilt = ticket.attempts[0].events
    (steered,) = [e for e in rebuilt if isinstance(e, Steered)]
    assert (steered.text, steered.by) == (STEER, "127.0.0.1 (ada)")
    order = [type(e).__name__ for e in rebuilt if type(e).__name__ in ("ToolResult", "Steered")]
    assert order == ["ToolResult", "Steered", "ToolResult", "ToolResult"]
    assert [len(e.held) for e in rebuilt if isinstance(e, Holding)] == [1, 0]
    assert ticket.conversation(1) == run.states["t"].conversation, "the same turns, rebuilt"
    assert (
        shown.index("**Prompt**")
        < shown.index("**Steer** from 127.0.0.1 (ada)")
        < shown.index("Listing the folder")
    )


async def test_a_retry_after_lfg_resume_sends_the_recorded_attempts_steers_again(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    scenarios = Path(__file__).parents[2] / "lfgtui/sim/scenarios"
    toml = (scenarios / "steer-rounds.toml").read_text(encoding="utf-8")
    fault = '\n[[fault]]\nkind = "http"\nstatus = 400\ncall = 2\ntimes = 1\nmessage = "simulated"\n'
    path = ticket_file(tmp_path, "sim", write_scenario(scenario_dir, "steer-rounds-400", toml + fault))
    db = tmp_path / "history.sqlite3"
    async with running(sim, path, lambda run: run.steer("t", STEER, by="ada"), db) as (run, _):
        assert run.states["t"].outcome is Outcome.FAILED
        run_id = run.run_id
    recorded = load_recorded(db, run_id)
    async with Providers(sim=sim) as providers:
        resumed = Run(
            recorded.as_tickets, providers, Approvals(), [], earlier=earlier_of_each(recorded.tickets)
        )
        events: list[Event] = []
        resumed.sinks.append(events.append)
        resumed.start()
        before = len(sim.log)
        assert resumed.retry("t")
        await resumed.wait()
    assert resumed.states["t"].outcome is Outcome.COMPLETED
    assert sim.log[before + 1].body["messages"][-1] == {"role": "user", "content": STEER}
    assert [(e.attempt, e.text, e.by) for e in events if isinstance(e, Steered)] == [(2, STEER, "ada")]


async def test_a_coding_agent_is_sent_a_steer_as_its_next_prompt_saying_so(
    sim: SimServer, tmp_path: Path
) -> None:
    path = ticket_file(tmp_path, "sim-acp", "hello", tools=False)
    async with running(sim, path, lambda run: run.steer("t", STEER)) as (_, events):
        pass
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    (queued, *_) = [e for e in events if isinstance(e, Holding)]
    assert "has no safe point to steer at" in queued.message
    prompts = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Look around.", None), (2, STEER, 1)]
    assert not any(isinstance(e, Steered) for e in events)


async def test_a_watchers_refused_edits_are_said_at_the_1st_2nd_4th_and_8th_not_each_time(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: each refused edit or take-back of a held message wrote a line, without limit: a
    watcher retrying one flooded the ticket's events, its pane and its history. Each asker's refused
    changes are said the 1st, 2nd, 4th, 8th... time, with the count; another asker's have their own."""
    answers: list[str | None] = []

    def refused_again_and_again(run: Run) -> None:
        answers.extend(run.edit_queued("t", 7, "x", by="127.0.0.1 (ada)") for _ in range(10))
        answers.append(run.unqueue("t", 8, by="127.0.0.1 (bo)"))

    path = ticket_file(tmp_path, "sim", "hello", tools=False)
    async with running(sim, path, refused_again_and_again) as (_, events):
        pass
    assert answers == [*["t holds no message 7: it was sent already, or taken back"] * 10, answers[-1]]
    said = [e.message for e in events if isinstance(e, Holding) and "refused" in e.message]
    assert said == [
        "edit by 127.0.0.1 (ada) refused: t holds no message 7: it was sent already, or taken back",
        *(
            f"edit by 127.0.0.1 (ada) refused ({n} of 127.0.0.1 (ada)'s changes refused so far): "
            "t holds no message 7: it was sent already, or taken back"
            for n in (2, 4, 8)
        ),
        "take-back by 127.0.0.1 (bo) refused: t holds no message 8: it was sent already, or taken back",
    ]


async def test_each_steer_is_recorded_just_before_the_first_request_the_sim_saw_carry_it(
    sim: SimServer, tmp_path: Path
) -> None:
    """Issue 73: what lfg records of a steer is where the model got it. lfg makes an API ticket's
    calls itself, so each `Steered` is followed by the `RequestSent` of the call that first carries
    it, read off the requests the sim received: two steers, sent in two rounds, in the order sent."""
    second = "Then list only Markdown files."

    def steer_twice(run: Run) -> None:
        assert run.steer("t", STEER) is None

        def in_the_next_round(event: Event) -> None:
            if isinstance(event, RequestSent):
                calls.append(event.call)
            if isinstance(event, TextDelta) and calls[-1:] == [1] and not steered_again:
                steered_again.append(run.steer("t", second, by="ada"))

        run.sinks.append(in_the_next_round)

    calls: list[int] = []
    steered_again: list[str | None] = []
    path = ticket_file(tmp_path, "sim-anthropic", THINKER)
    async with running(sim, path, steer_twice) as (run, events):
        pass
    assert steered_again == [None] and run.states["t"].outcome is Outcome.COMPLETED
    carried = {
        text: next(n for n, r in enumerate(sim.log) if text in json.dumps(r.body)) for text in (STEER, second)
    }
    landed = []
    for at, event in enumerate(events):
        if isinstance(event, Steered):
            request = next(e for e in events[at:] if isinstance(e, RequestSent))
            landed.append((event.text, request.call))
    assert landed == [(STEER, carried[STEER]), (second, carried[second])] == [(STEER, 1), (second, 2)]
