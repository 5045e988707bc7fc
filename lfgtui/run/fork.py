"""Forking a ticket: a new ticket of the same run that starts from the ticket's conversation as it
is now, and goes on with a prompt of its own (`Run.fork`).

The fork is the parent ticket as written, under a new id (`<id>-fork<N>`), maybe on another model,
with no dependencies (its conversation holds what they answered), `fork_of` naming the parent and
its attempt. Its first attempt is a continuation of the parent's whole conversation, as a follow-up
is, but in a ticket of its own:

- a coding agent that can fork sessions (ACP `session/fork`) forks the parent's session in a new
  agent process; one that cannot is told the conversation in its prompt, as a follow-up on another
  worker is (run/agents/attempt.py);
- an API ticket sends the recorded conversation, then the fork's prompt;
- a ticket with a worktree gets a worktree of its own holding the parent's as it is then,
  uncommitted changes included (worktrees/tree.py `fork_worktree`); the parent's is not touched.
  When the parent's worktree was removed (`lfg worktrees clean`), its work is gone and the fork is
  refused saying so (`work_gone`), rather than started from the repository's HEAD.

A fork may start from an earlier turn (`at`): the conversation cut after the person's user turn N
(conversation.py `cut_after`: the prompt, each follow-up, steer and queued turn is a turn), its
provider turns kept verbatim. A coding agent's session can only be forked whole, so a fork cut short
of the last turn is told the conversation so far in its prompt instead.

Only a ticket whose latest attempt completed can be forked: a running one has no settled
conversation to start from yet, and a failed one none that ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from lfgtui.conversation import cut_after, user_turns
from lfgtui.events import FORKED_AT
from lfgtui.outcome import Outcome
from lfgtui.run.attempts import TicketState


class CannotFork(ValueError):
    """Why a ticket cannot be forked now; its text is for the person."""


def fork_id(parent: str, taken: Collection[str]) -> str:
    """The first `<parent>-fork<N>` no ticket of the run has."""
    number = 1
    while f"{parent}-fork{number}" in taken:
        number += 1
    return f"{parent}-fork{number}"


def check_forkable(parent: TicketState) -> None:
    """Raise CannotFork when `parent` cannot be forked now."""
    name = parent.ticket.id
    if parent.running:
        raise CannotFork(f"{name} is still working: fork it once its turn has ended")
    if parent.outcome is not Outcome.COMPLETED or not parent.conversation:
        raise CannotFork(f"{name} has no completed conversation to start from: only a completed ticket forks")


def check_turn(parent: TicketState, at: int) -> None:
    """Raise CannotFork when `parent`'s conversation has no user turn `at` to cut after."""
    turns = len(user_turns(parent.conversation))
    if not 1 <= at <= turns:
        raise CannotFork(
            f"{parent.ticket.id} has {turns} turn(s): fork it at a turn from 1 to {turns}, not {at}"
        )


def forked(
    parent: TicketState, ticket_id: str, prompt: str, model: str | None = None, at: int | None = None
) -> TicketState:
    """The state of a fork of `parent` named `ticket_id` that sends `prompt` after the parent's whole
    conversation, or after its user turn `at` (on `model` when given, else the parent's); raises
    CannotFork."""
    if not prompt.strip():
        raise CannotFork("a fork needs a prompt: what the fork is asked after the conversation")
    check_forkable(parent)
    if at is not None:
        check_turn(parent, at)
        if at == len(user_turns(parent.conversation)):
            at = None  # its last turn: the whole conversation, forked as any fork is
    name, written = parent.ticket.id, parent.written
    ticket = dataclasses.replace(
        written,
        id=ticket_id,
        model=model or written.model,
        depends_on=(),
        group=None,  # not one of the models of a fanned-out ticket, nor a tournament's contestant
        check=None,
        fork_of=(name, parent.attempt),
        fork_turn=at,
    )
    state = TicketState(ticket)
    base = parent.conversation if at is None else cut_after(parent.conversation, at)
    state.base, state.follow_up, state.continues = base, prompt, None
    state.forks = parent
    return state


def cut_said(parent: TicketState, at: int, agent: bool) -> str:
    """What a fork cut at turn `at` says it starts from: the provider's turns up to there, or (a coding
    `agent`, whose session forks only whole) the conversation so far in its prompt."""
    turns = len(user_turns(parent.conversation))
    if agent:
        return (
            f"{FORKED_AT}{at} of {turns}: the conversation so far goes in the prompt "
            "(an agent's session forks only whole, at its last turn)"
        )
    return f"{FORKED_AT}{at} of {turns}: its provider messages up to there, verbatim"
