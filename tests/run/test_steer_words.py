"""What Enter does in a running ticket's composer, for each kind of turn, here and afar
(run/steer_words.py): the words every composer says."""

from __future__ import annotations

from lfgtui.events import HeldMessage, SteerOffer
from lfgtui.run.steer_words import (
    ANSWER,
    CALL,
    MAX_NAME_CHARS,
    composing,
    enter_does,
    for_turn,
    kept_for,
    kept_past_turn,
    shown_name,
    steers_first,
)

STEERS_AGENT = (
    "Enter steers t: sent to {agent} now, which reads it in this turn at a call it picks; what it is "
    "still writing may be cut off there, a tool call in it then not run."
)


def offer(agent: str, coding_agent: bool, steers: bool) -> SteerOffer:
    return SteerOffer(
        ticket="t", attempt=1, seq=1, t=0.0, agent=agent, coding_agent=coding_agent, steers=steers
    )


def test_a_turn_afar_without_a_safe_point_names_its_model_and_opens_on_queueing() -> None:
    loop = offer("openai/gpt-5", coding_agent=False, steers=False)
    assert not steers_first(None, loop)
    assert composing("t", None, loop).says == {
        "steer": "t (openai/gpt-5) has no safe point to steer at: Enter queues this as its next turn "
        "instead.",
        "queue": "Enter queues this as t's next turn, sent once this turn ends.",
    }


def test_a_turn_not_begun_afar_opens_on_steering_and_queues_as_before() -> None:
    assert steers_first(None, None) and composing("t", None, None).mode == "steer"
    assert (
        enter_does("t", False, None, None) == "Enter queues this as t's next turn, sent once this turn ends."
    )
    assert enter_does("t", True, None, None).startswith("Not known yet whether t can be steered")


def test_here_the_run_says_whether_a_steer_reaches_the_turn_now_and_an_api_ticket_is_not_named() -> None:
    loop = offer("sim/steer-rounds", coding_agent=False, steers=True)
    assert not steers_first(False, loop), "here, what the run says now wins over what the turn said"
    assert enter_does("t", True, True, loop) == (
        "Enter steers t: sent after this round's tool results, before its next call."
    )
    agent = offer("Claude Agent", coding_agent=True, steers=True)
    assert enter_does("t", True, True, agent) == STEERS_AGENT.format(agent="Claude Agent"), (
        "issue 73: it did not warn that the agent may cut off what it is writing, a tool call too"
    )
    assert enter_does("t", True, False, agent) == (
        "Claude Agent has no turn running to steer: Enter queues this as t's next prompt."
    )


def test_a_name_from_outside_is_one_short_inert_line() -> None:
    name = shown_name("\x1b[31mred\x1b[0m\n\tname " + "y" * 500)
    assert name.startswith("␛[31mred␛[0m name yyy") and len(name) == MAX_NAME_CHARS and name.endswith("…")
    assert shown_name("Codex") == "Codex"


def test_a_steer_to_claude_code_says_it_is_kept_here_and_that_it_may_be_afar() -> None:
    """Issue 73: Claude Code's adapter reads a steer taken while it waits on the person only after its
    turn's last answer, so lfg keeps one sent then until it goes on after the answer. Here the run
    knows (`kept`); afar, its turn's offer says it keeps steers, and the words say when."""
    claude = SteerOffer(
        ticket="t",
        attempt=1,
        seq=1,
        t=0.0,
        agent="Claude Agent",
        coding_agent=True,
        steers=True,
        keeps_for_answer=True,
    )
    assert enter_does("t", True, True, claude, kept=ANSWER).startswith(
        "Enter steers t: kept until Claude Agent goes on after your answer to its request (a steer it "
        "takes while it waits on you it reads only after its turn's last answer), then sent to Claude "
        "Agent, which reads it in this turn at a call it picks;"
    )
    assert enter_does("t", True, True, claude, kept=CALL).startswith(
        "Enter steers t: kept until the tool call Claude Agent is writing or running has run (a steer it "
        "takes while it writes a tool call stops that call before it runs), then sent to Claude Agent,"
    ), "issue 73: a steer would stop a Write Claude Code is still writing"
    assert enter_does("t", True, True, claude, kept="") == STEERS_AGENT.format(agent="Claude Agent")
    assert enter_does("t", True, None, claude) == (
        "Enter steers t: sent to Claude Agent now (or, while it waits on your answer to its request, or "
        "writes or runs a tool call, once it has gone on), which reads it in this turn at a call it "
        "picks; what it is still writing may be cut off there, a tool call in it then not run."
    )
    codex = offer("Codex", coding_agent=True, steers=True)
    assert enter_does("t", True, None, codex) == STEERS_AGENT.format(agent="Codex"), "Codex: at once"
    assert for_turn(claude, kept=ANSWER).startswith("kept until Claude Agent goes on after your answer")
    assert for_turn(claude, kept=CALL).startswith("kept until the tool call Claude Agent is writing or")


def test_a_steer_kept_for_a_tool_call_says_so_and_so_does_its_turn_ending_first() -> None:
    """Issue 73: a steer kept while Claude Code has a tool call to run (one it takes while it writes
    the call stops it) is said kept for that, not for an answer nobody was asked for; and a turn that
    ends before the call ran sends it as the next turn, saying what lfg waited for."""
    steer = HeldMessage(1, "Also say PELICAN.", True, "ada")
    assert kept_for([steer], "Claude Agent", CALL) == (
        "steer(s) kept until the tool call Claude Agent is writing or running has run, then sent: one it "
        "takes while it writes a tool call stops that call before it runs: message 1 from ada: Also say "
        "PELICAN."
    )
    assert kept_past_turn([steer], "Claude Agent", CALL).startswith(
        "Claude Agent's turn ended while lfg kept the steer(s) until its tool call had run: not sent into it;"
    )
    assert kept_past_turn([steer], "Claude Agent", ANSWER).startswith(
        "Claude Agent's turn ended while lfg kept the steer(s) until it went on after your answer to its "
        "request: not sent into it;"
    )
