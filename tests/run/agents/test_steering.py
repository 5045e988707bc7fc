"""Steering a coding agent's running turn over ACP (`_session/steering`, session/steering.py), through
the run as a person drives it, against the sim agent under `--steering OUTCOME`: each of the four
answers. The turn is held open by the agent's permission request: the steer is sent when it is asked,
the request answered once the agent's answer to the steer is said, so the steer arrives mid-turn
whatever the machine's speed."""

from __future__ import annotations

import copy
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    CallEnded,
    Event,
    Holding,
    Outcome,
    PromptSent,
    Status,
    Steered,
    TextDelta,
)
from lfgtui.history.writer import open_run_history
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.agents import agent_processes, run_through, text
from tests.support.recording import load_recorded

STEER = "Also say the word PELICAN."
MID_TURN = f"(steered mid-turn, idleBehavior promptRequired: {STEER})"


async def steered_run(
    tmp_path: Path, *sim_args: str, then: Callable[[Run], None] | None = None
) -> tuple[Run, list[Event], list[str | None]]:
    """A sim agent's ticket steered while its first permission request waits (and `then` done to the
    run); every request answered yes once the run has said what became of the steer."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "t"\nprompt = "Write the notes."\nprovider = "sim-acp"\n'
        f'model = "writer:ttft_ms=0,tokens_per_s=0"\nworkdir = "{tmp_path}"\n'
    )
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, *sim_args))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    said: list[str | None] = []
    waiting: list[str] = []
    settled = False

    async with Providers({"sim-acp": config}) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            nonlocal settled
            events.append(event)
            if isinstance(event, ApprovalAsked):
                waiting.append(event.call_id)
                if not said:
                    said.append(run.steer("t", STEER, by="ada"))
                    if then is not None:
                        then(run)
            if isinstance(event, Holding) and (
                event.sent or "the agent" in event.message or "queued as" in event.message
            ):
                settled = True
            if settled:
                while waiting:
                    run.approvals.answer("t", waiting.pop(), True, "you")

        await run_through(run, heard)
    return run, events, said


def holding(events: list[Event]) -> list[str]:
    return [e.message for e in events if isinstance(e, Holding)]


async def test_a_steer_the_agent_injects_is_a_user_turn_in_the_same_attempt(tmp_path: Path) -> None:
    run, events, said = await steered_run(tmp_path, "--steering", "injected")
    assert said == [None]
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one attempt"
    (steered,) = [e for e in events if isinstance(e, Steered)]
    assert (steered.attempt, steered.text, steered.by) == (1, STEER, "ada")
    first, sent, read = holding(events)
    assert first == f"steer from ada, for lfg simulator (ACP)'s running turn: {STEER}", "no safe point"
    assert sent.startswith("steer from ada sent to lfg simulator (ACP) (message 1), into its running turn")
    assert "read the steer(s) (message 1) into this turn before it ended" in read
    assert "order" not in read, "one steer: no order to speak of"
    answer = text(events)
    assert MID_TURN in answer, "the agent had it mid-turn, asked for idleBehavior promptRequired"
    assert answer.index(MID_TURN) < answer.index("Done: the notes"), "before the turn's last words"
    at = events.index(steered)
    assert isinstance(events[at - 1], CallEnded), "recorded once its prompt was answered, not when sent"
    assert "Done: the notes" in text(events[:at]), "after everything the agent streamed"
    assert [e.text for e in events if isinstance(e, PromptSent)] == ["Write the notes."], "no second prompt"
    assert not run.states["t"].inbox.held
    sent_at = next(n for n, e in enumerate(events) if isinstance(e, Holding) and e.sent)
    answered_at = next(n for n, e in enumerate(events) if isinstance(e, ApprovalAnswered))
    assert sent_at < answered_at, "an agent other than Claude Code is sent a steer while its permission waits"


@pytest.mark.parametrize(
    ("outcome", "why"),
    [("promptRequired", "its turn had ended (promptRequired)"), ("failed", "it could not take it (failed)")],
)
async def test_a_steer_the_agent_does_not_take_is_queued_as_the_next_turn_saying_why(
    tmp_path: Path, outcome: str, why: str
) -> None:
    _, events, said = await steered_run(tmp_path, "--steering", outcome)
    assert said == [None]
    assert not any(isinstance(e, Steered) for e in events)
    assert any(
        f"the agent did not take the steer from ada: {why}; queued as the next turn" in m
        for m in holding(events)
    )
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    prompts = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Write the notes.", None), (2, STEER, 1)]
    assert MID_TURN not in text(events)


def queue_then(run: Run) -> None:
    """Queue the next turn's words, then change them while held (they go as changed)."""
    assert run.queue("t", "Then say hi.", by="bo") is None
    (queued,) = [m for m in run.states["t"].inbox.held if not m.steer]
    assert run.edit_queued("t", queued.id, NEXT, by="bo") is None


NEXT = "Then say GANNET."
QUEUED_BY_AGENT = "(this prompt waited, queued behind the session's running turn)"


async def test_a_steer_that_started_a_turn_of_its_own_is_kept_and_said(tmp_path: Path) -> None:
    """The agent's own turn, which no prompt of lfg's owns, holds nothing up: the ticket's turn ends
    when its prompt is answered, and its queued next turn goes (the agent queues it behind its own)."""
    switches = ("--steering", "startedNewTurn", "--prompt-queueing")
    _, events, _ = await steered_run(tmp_path, *switches, then=queue_then)
    assert [e.text for e in events if isinstance(e, Steered)] == [STEER]
    assert any("(startedNewTurn)" in e.message for e in events if type(e) is Status)
    assert f"(a turn of its own, which no prompt owns: {STEER})" in text(events)
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    assert [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)] == [
        (1, "Write the notes."),
        (2, NEXT),
    ]


async def test_an_agent_that_queues_prompts_is_sent_a_queued_message_only_once_its_turn_ends(
    tmp_path: Path,
) -> None:
    """lfg holds a queued message itself, editable until its turn comes, though the agent advertises
    prompt queueing (claude-agent-acp's `promptQueueing`): the agent is never sent a prompt mid-turn."""
    switches = ("--steering", "injected", "--prompt-queueing")
    run, events, said = await steered_run(tmp_path, *switches, then=queue_then)
    assert said == [None]
    assert [e.text for e in events if isinstance(e, Steered)] == [STEER]
    prompts = [(e.attempt, e.text, e.continues) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Write the notes.", None), (2, NEXT, 1)], "the words as edited while held"
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    answer = text(events)
    assert QUEUED_BY_AGENT not in answer, "sent once the turn had ended, not into the agent's queue"
    first = "".join(e.text for e in events if isinstance(e, TextDelta) and e.attempt == 1)
    assert MID_TURN in first, "the steer went into the first turn"
    assert not run.states["t"].inbox.held


async def test_an_agent_without_steering_gets_the_steer_queued_saying_so(tmp_path: Path) -> None:
    _, events, said = await steered_run(tmp_path)
    assert said == [None]
    assert "has no safe point to steer at" in holding(events)[0]
    prompts = [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Write the notes."), (2, STEER)]
    assert not any(isinstance(e, Steered) for e in events)


async def test_a_steer_that_cuts_the_agents_answer_off_leaves_its_rate_at_what_streamed(
    tmp_path: Path,
) -> None:
    """Issue 73: steered mid-answer, Claude Code cuts that model call off and counts none of it (the
    sim agent under `--steer-cuts`); lfg read the cut count over the whole time, 3.01 tok/s for a
    true 25. Ticket `a` streams unsteered first (the run learns a character's worth from its count);
    `b`, the same answer, is steered mid-way: its rate, of what streamed at that worth, is `a`'s,
    marked estimated, and teaches the calibration nothing."""
    path = tmp_path / "tickets.toml"
    model = 'model = "long-answer:tokens_per_s=200,ttft_ms=300,repeat=2"\n'
    path.write_text(
        f'[defaults]\nprovider = "sim-acp"\nworkdir = "{tmp_path}"\n{model}'
        '[[ticket]]\nid = "a"\nprompt = "Answer."\n'
        '[[ticket]]\nid = "b"\nprompt = "Answer."\ndepends_on = ["a"]\n'
    )
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, "--steering", "injected", "--steer-cuts"))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    db = tmp_path / "history.sqlite3"
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers({"sim-acp": config}) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [], keep_agents=True)
        run.record(history)

        def heard(event: Event) -> None:
            events.append(event)
            streamed = [e for e in events if isinstance(e, TextDelta) and e.ticket == "b"]
            if isinstance(event, TextDelta) and event.ticket == "b" and len(streamed) == 40:
                assert run.steer("b", STEER, by="ada") is None

        await run_through(run, heard)
    assert [e.ticket for e in events if isinstance(e, Steered)] == ["b"]
    assert MID_TURN in text([e for e in events if e.ticket == "b"]), "steered mid-answer"
    whole, cut = run.book.attempts[("a", 1)], run.book.attempts[("b", 1)]
    assert not whole.rate_estimated and whole.tokens_per_s is not None
    assert cut.rate_estimated
    (request,) = cut.requests
    (unsteered,) = whole.requests
    assert unsteered.counted_tokens is not None and unsteered.counted_chars
    worth = unsteered.counted_tokens / unsteered.counted_chars
    # Tokens, not rates: the wall time each streamed in is the machine's, the tokens are not. Nor is
    # which characters streamed (each stretch's first chunk, and a stretch that came in one burst on
    # a loaded machine, are not): the characters that did, once its last stretch is ended.
    ended = copy.deepcopy(request)
    ended.end_stretch()
    streamed = ended.streamed_chars - ended.streamed_thought_chars
    assert streamed and request.tokens_streamed == pytest.approx(worth * streamed, rel=0.15), "at a's worth"
    assert request.reported_tokens is not None
    assert request.reported_tokens < request.estimated_tokens, "the count left out the part cut off"
    assert [len(counts) for counts in run.book.calibration.counted.values()] == [1], "a's count alone"
    _, recorded = load_recorded(db, run.run_id).tickets
    replayed = Metrics()
    for event in recorded.attempts[0].events:
        replayed.apply(event)
    assert (replayed.tokens_per_s, replayed.rate_estimated) == (cut.tokens_per_s, True), (
        "the history keeps the steer at its place in the answer: a replay reads the same rate"
    )


LATE = "Also say the word GANNET."


CLAUDE = "@agentclientprotocol/claude-agent-acp"
"""The name Claude Code's adapter gives itself: the sim agent taken for it (`--agent-name`)."""


READ = {words: f"(steered mid-turn, idleBehavior promptRequired: {words})" for words in (STEER, LATE)}
"""What the sim agent says as it reads each of the two steers mid-turn."""


async def steered_twice(tmp_path: Path, *sim_args: str) -> list[Event]:
    """The sim agent taken for Claude Code (`--steer-reads-late`, named as claude-agent-acp) steered
    twice: A (`STEER`) while its first permission waits, B (`LATE`) mid-answer after it; its requests
    answered yes once lfg has said what it did with A. Each read once, A first, neither late."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "t"\nprompt = "Write the notes."\nprovider = "sim-acp"\n'
        f'model = "writer:ttft_ms=0,tokens_per_s=20"\nworkdir = "{tmp_path}"\n'
    )
    sim = BUILTIN["sim-acp"]
    late = ("--steering", "injected", "--steer-reads-late", "--agent-name", CLAUDE, *sim_args)
    config = sim.with_agent(command=(*sim.agent.command, *late))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    waiting: list[str] = []
    async with Providers({"sim-acp": config}) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            events.append(event)
            if isinstance(event, ApprovalAsked):
                waiting.append(event.call_id)
                if len(waiting) == 1 and not any(isinstance(e, ApprovalAnswered) for e in events):
                    assert run.steer("t", STEER, by="ada") is None
            settled = any(  # what lfg did with A is said (on main: sent at once; now: kept)
                isinstance(e, Holding) and STEER in e.message and "for lfg simulator" not in e.message
                for e in events
            )
            while settled and waiting:
                run.approvals.answer("t", waiting.pop(), True, "you")
            if (
                isinstance(event, TextDelta)
                and "Done" in event.text
                and not any(isinstance(e, Holding) and LATE in e.message for e in events)
            ):
                assert run.steer("t", LATE, by="bo") is None  # mid-answer

        await run_through(run, heard)
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one turn"
    answer = text(events)
    assert "read after the last answer" not in answer, "no steer was taken while the permission waited"
    assert [answer.count(READ[words]) for words in (STEER, LATE)] == [1, 1], "each read once"
    assert answer.index(READ[STEER]) < answer.index(READ[LATE]), "the agent read them in the order sent"
    return events


async def test_steers_to_claude_code_at_a_permission_and_mid_answer_reach_it_in_the_order_sent(
    tmp_path: Path,
) -> None:
    """Issue 73: the sim agent reads steers where Claude Code does (`--steer-reads-late`, named as
    claude-agent-acp): one it takes while its permission waits only after the turn's last answer, so
    A (sent at the permission) and B (sent mid-answer after it) reached it as B, then A, while lfg
    said each went into the running turn. lfg keeps A until the permission is answered and the agent
    has gone on, then sends it: the agent reads A, then B, each once, and lfg says where each went.
    Its messages carry no ids here: lfg records both once the turn ends."""
    events = await steered_twice(tmp_path)
    said = holding(events)
    (kept,) = [m for m in said if m.startswith("steer(s) kept")]
    assert kept == (
        "steer(s) kept until lfg simulator (ACP) goes on after your answer to its request, then sent: "
        "one it takes while it waits on you it reads only after its turn's last answer: "
        f"message 1 from ada: {STEER}"
    )
    kept_at, answered_at, sent_at = (
        next(
            n
            for n, e in enumerate(events)
            if isinstance(e, Holding) and e.message.startswith("steer(s) kept")
        ),
        next(n for n, e in enumerate(events) if isinstance(e, ApprovalAnswered)),
        next(n for n, e in enumerate(events) if isinstance(e, Holding) and e.sent),
    )
    assert kept_at < answered_at < sent_at, "kept while the permission waited, sent once it was answered"
    steered = [n for n, e in enumerate(events) if isinstance(e, Steered)]
    assert [(events[n].text, events[n].by) for n in steered] == [(STEER, "ada"), (LATE, "bo")], "as sent"
    for n in steered:
        assert READ[events[n].text] in text(events[:n]), "never recorded before the agent read it"
    assert isinstance(events[steered[0] - 1], CallEnded)


async def test_a_steer_to_claude_code_is_recorded_where_its_next_model_call_begins(tmp_path: Path) -> None:
    """Issue 73: Claude Code gives each model call's message an id (`messageId`), and its model reads
    a steer it took at priority `now` at its next call: lfg records each steer there, right before the
    model message that read it, not at the turn's end after the answer it shaped. The sim agent under
    `--message-ids` reads a steer at its next model call, saying so as that call's message begins."""
    events = await steered_twice(tmp_path, "--message-ids")
    steered = [n for n, e in enumerate(events) if isinstance(e, Steered)]
    assert [(events[n].text, events[n].by) for n in steered] == [(STEER, "ada"), (LATE, "bo")], "as sent"
    for n in steered:
        words = events[n].text
        assert READ[words] not in text(events[:n]), "recorded before the call that read it"
        assert text(events[n:]).lstrip().startswith(READ[words]), "right before the message that read it"
        assert not any(isinstance(e, CallEnded) for e in events[:n]), "recorded mid-turn"
    said = holding(events)
    assert [m for m in said if "next model call read" in m] == [
        f"lfg simulator (ACP)'s next model call read the steer(s) (message {n}): recorded where it began"
        for n in (1, 2)
    ]
    assert not [m for m in said if "before it ended" in m], "not recorded again at the turn's end"
    sent = [m for m in said if m.startswith("steer from ada sent to")]
    assert sent and "recorded where that call's message begins" in sent[0]


async def kept_run(
    tmp_path: Path, *sim_args: str, then: Callable[[Run, str], None], tokens_per_s: int = 0
) -> tuple[Run, list[Event]]:
    """The sim agent taken for Claude Code (`--steer-reads-late`, named as claude-agent-acp) steered
    while its first permission request waits; once lfg says it keeps the steer, `then` is done to the
    run (given that request's call), and every later request answered yes."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "t"\nprompt = "Write the notes."\nprovider = "sim-acp"\n'
        f'model = "writer:ttft_ms=0,tokens_per_s={tokens_per_s}"\nworkdir = "{tmp_path}"\n'
    )
    sim = BUILTIN["sim-acp"]
    late = ("--steering", "injected", "--steer-reads-late", "--agent-name", CLAUDE, *sim_args)
    config = sim.with_agent(command=(*sim.agent.command, *late))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with Providers({"sim-acp": config}) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            events.append(event)
            kept = [e for e in events if isinstance(e, Holding) and e.message.startswith("steer(s) kept")]
            if isinstance(event, ApprovalAsked) and not kept:
                assert run.steer("t", STEER, by="ada") is None
            elif isinstance(event, ApprovalAsked):
                run.approvals.answer("t", event.call_id, True, "you")
            if kept == [event]:
                then(run, next(e.call_id for e in events if isinstance(e, ApprovalAsked)))

        await run_through(run, heard)
    return run, events


async def test_a_steer_kept_for_claude_code_whose_turn_ends_before_it_goes_on_is_the_next_turn_said_so(
    tmp_path: Path,
) -> None:
    """Issue 73: an agent taken for Claude Code that ends its turn while lfg keeps a steer for it
    (here it answers its prompt while its permission request waits, `--answers-early`) never goes on
    after an answer in that turn: the steer is sent as the next turn, in words that say why. Before,
    it said '1 steer(s) came after the last tool round', of a turn that had no tool round."""
    run, events = await kept_run(tmp_path, "--answers-early", then=lambda run, call: None)
    said = holding(events)
    assert not [m for m in said if "after the last tool round" in m]
    assert (
        "lfg simulator (ACP)'s turn ended while lfg kept the steer(s) until it went on after your answer "
        f"to its request: not sent into it; each sent as a next turn: message 1 from ada: {STEER}"
    ) in said
    prompts = [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)]
    assert prompts == [(1, "Write the notes."), (2, STEER)], "sent once, as the next turn"
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED] * 2
    assert not any(isinstance(e, Steered) for e in events), "never said to have gone into the first"
    assert not run.states["t"].inbox.held and not run.states["t"].left_held


@pytest.mark.parametrize("stop", ["cancel", "kill"])
async def test_a_steer_kept_for_claude_code_is_left_unsent_when_its_turn_is_cancelled_or_its_agent_dies(
    tmp_path: Path, stop: str
) -> None:
    """A steer lfg keeps while the agent waits on the person is the ticket's still when the turn is
    cancelled or the agent's process dies: listed unsent as a steer, kept for a retry or `lfg resume`."""

    def stopped(run: Run, call: str) -> None:
        if stop == "cancel":
            run.cancel("t")
            return
        for pid in agent_processes(tmp_path):
            os.kill(pid, signal.SIGKILL)

    run, events = await kept_run(tmp_path, then=stopped)
    outcome = Outcome.CANCELLED if stop == "cancel" else Outcome.FAILED
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [outcome]
    unsent = [m for e in events if isinstance(e, Holding) for m in e.unsent]
    assert [(m.text, m.steer, m.by) for m in unsent] == [(STEER, True, "ada")]
    assert [(m.text, m.steer) for m in run.states["t"].left_held] == [(STEER, True)]
    assert not any(isinstance(e, Steered) for e in events)


async def round_kept(tmp_path: Path, *sim_args: str, allow: bool) -> list[Event]:
    """`kept_run` of the sim agent as Claude Code announces a round's calls (`--announce-round`),
    its last answer paced so that a steer sent as the round ends reaches its turn; the first request
    answered `allow`. The kept steer reached the agent while nothing waited on the person: it read
    it in the turn, once, not after the turn's last answer."""

    def then(run: Run, call: str) -> None:
        run.approvals.answer("t", call, allow, "you")

    _, events = await kept_run(tmp_path, "--announce-round", *sim_args, then=then, tokens_per_s=20)
    assert [e.outcome for e in events if isinstance(e, AttemptEnded)] == [Outcome.COMPLETED], "one turn"
    answer = text(events)
    assert "read after the last answer" not in answer, answer
    assert answer.count(MID_TURN) == 1, answer
    return events


async def test_an_update_claude_code_wrote_before_it_took_the_answer_does_not_release_the_kept_steer(
    tmp_path: Path,
) -> None:
    """Issue 73: lfg sent a kept steer on the first update it read after the person's answer left.
    The sim agent taken for Claude Code refines the asked call (no status) before it takes the answer
    (`--answer-taken-ms`), as claude-agent-acp does when a call's streamed `tool_use` comes after its
    permission request: that update released the steer while the agent still waited, which read it
    only after the turn's last answer. Now only the answered call's own status change releases it."""
    await round_kept(tmp_path, "--answer-taken-ms", "1500", allow=True)


async def test_a_steer_kept_for_claude_code_waits_for_the_other_calls_of_its_round(tmp_path: Path) -> None:
    """Issue 73: an agent that asks again right after it goes on (the second call of a round, once
    the first was denied) had asked before the steer lfg sent on the first call's end reached it, and
    read it only after the turn's last answer. Claude Code announces a round's calls before it asks
    about the first (`--announce-round`): lfg keeps the steer while a call it announced has not run,
    and sends it once the second call, asked and answered, has run."""
    events = await round_kept(tmp_path, allow=False)
    answered = [n for n, e in enumerate(events) if isinstance(e, ApprovalAnswered)]
    sent = next(n for n, e in enumerate(events) if isinstance(e, Holding) and e.sent)
    assert len(answered) == 2 and answered[1] < sent, "sent once the second call was answered too"
