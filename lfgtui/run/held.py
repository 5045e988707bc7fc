"""What a ticket held, unsent, when its recorded run stopped: the person's steers and queued messages
a resumed run finds (`TicketState.left_held`, from the history's last `Holding` of the ticket's
latest attempt: seeds.py `left_held`), which `lfg resume` offers to send, drop or keep held.

- **Send**: after a turn that completed, the first is sent as the next turn (a follow-up) and the
  rest are queued after it, each the turn after; after one that did not complete (cancelled, failed,
  lfg died), the turn is retried with them held again as they were: steers at its safe points,
  queued messages as the turns after it.
- **Drop**: none is sent, and the history records that the ticket holds nothing now (a note at the
  end of that attempt), so no later resume offers them again.
- **Keep held**: nothing is done; the next resume offers them again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from lfgtui.events import HeldMessage
from lfgtui.run.steering import summary

if TYPE_CHECKING:
    from lfgtui.run.scheduler import Run


def held_line(message: HeldMessage) -> str:
    """One held message for a list: what it is, who sent it, its words."""
    return f"{'steer' if message.steer else 'queued'} from {message.by}: {summary(message)}"


def dropped_said(messages: tuple[HeldMessage, ...], by: str) -> str:
    """What the history says of held messages the person dropped (`by`: who)."""
    return f"dropped by {by}, unsent: " + "; ".join(held_line(m) for m in messages)


def sending_said(ticket_id: str, left: tuple[HeldMessage, ...], retried: bool) -> str:
    """What `send_held` does with each message, as it does it: after a completed turn each is a turn
    of its own, in order (a steer too: the turn it was for has ended); with a retry, a steer is held
    for the retried turn (at its safe points, or sent into a coding agent's turn; the turn after it
    if that turn cannot take it) and each queued message is a turn after it."""

    def what(message: HeldMessage) -> str:
        if not message.steer:
            return f"queued from {message.by}, a turn after {'it' if retried else 'the one before'}"
        if retried:
            return f"steer from {message.by}, for the retried turn"
        return f"steer from {message.by}, a turn of its own (the turn it was for has ended)"

    listed = "; ".join(f"#{m.id} {what(m)}: {summary(m)}" for m in left)
    if retried:
        return f"retrying {ticket_id} with what it held when the run stopped: {listed}"
    return f"sending what {ticket_id} held when the run stopped as its next turns, in order: {listed}"


def left_held(run: Run) -> dict[str, tuple[HeldMessage, ...]]:
    """Each ticket that holds messages from before the run stopped, and them, in order."""
    return {ticket_id: state.left_held for ticket_id, state in run.states.items() if state.left_held}


def send_held(run: Run, ticket_id: str) -> str | None:
    """Send what the ticket held when the run stopped (see the module docstring): None when started,
    else why not, for the person."""
    state = run.states[ticket_id]
    left = state.left_held
    if not left:
        return f"{ticket_id} holds no message from before the run stopped"
    if state.running:
        return f"{ticket_id} is working: send them once its turn has ended"
    if run.can_continue(ticket_id):
        first, *rest = left
        for message in rest:
            if message.steer:  # its turn has ended: a turn of its own, said so when it is sent
                state.inbox.were_steers.add(message.id)
            state.inbox.hold_again(replace(message, steer=False))
        state.inbox.tell(sending_said(ticket_id, left, retried=False))
        why = f"held when the run stopped, {'a steer' if first.steer else 'queued'} by {first.by}"
        run.continue_with(ticket_id, first.text, why)
    else:
        for message in left:
            state.inbox.hold_again(message)
        state.inbox.tell(sending_said(ticket_id, left, retried=True))
        if not run.retry(ticket_id):
            state.inbox.drop_all()
            state.inbox.take_note()
            return f"{ticket_id} cannot be retried now, so what it held cannot be sent"
    state.left_held = ()
    return None


def drop_held(run: Run, ticket_id: str, by: str = "you") -> str | None:
    """Drop what the ticket held when the run stopped, recorded so no later resume offers it: None
    when done, else why not."""
    state = run.states[ticket_id]
    left = state.left_held
    if not left:
        return f"{ticket_id} holds no message from before the run stopped"
    if run.recording is not None:
        run.recording.held_dropped(ticket_id, state.attempt, dropped_said(left, by))
    state.left_held = ()
    return None
