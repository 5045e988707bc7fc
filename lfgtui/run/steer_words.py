"""What Enter does in a running ticket's composer, in words: the TUI's composer (ui/screens/steer.py),
`lfg attach`'s, and the inbox page's (`/v1/inbox`) all say these.

A run here knows whether a steer sent now waits for a safe point of the turn (`Run.steerable`). A
run afar does not: a coordinator's ticket runs on a worker, a served run on its server. There the
composer reads what the turn's run said it takes (`SteerOffer`: who runs it, whether it takes
steers). Until it has said (the attempt waits on the broker for a worker, or its agent has not begun
the turn) nobody here knows: a steer sent then goes into the turn if it takes one when the steer
arrives, else it is held and sent as the next turn, which is what the words say. Whatever a worker
said is shown inert, on one line, its name cut short: a name is the agent's own, and nothing it
holds may move the cursor or stretch the composer.
"""

from __future__ import annotations

from dataclasses import dataclass

from lfgtui.events import HeldMessage, SteerOffer
from lfgtui.inert import inert
from lfgtui.run.steering import summary

MAX_NAME_CHARS = 60
"""The most of an agent's name (or a model's) the composer shows: a name, not a paragraph."""
AGENT_READS = "its model reads it at a call the agent picks: recorded once the turn ends"
"""When a coding agent's model reads a steer it took, as lfg knows it (`sent_to_agent`)."""
MESSAGE_READS = "its model reads it at its next model call: recorded where that call's message begins"
"""When Claude Code's model reads a steer it took (at priority `now`, lfg keeping one while it would
take it `later`), as lfg knows it: the next message it begins (agents/session/steering.py)."""
STEER, NEXT_TURN = "steer", "next_turn"
"""How a steer or queued message was taken (`taken_as`): into the running turn, or as its next."""
ANSWER, CALL = "answer", "call"
"""Why a coding agent's turn keeps a steer sent now rather than sending it at once (`Run.steer_kept`,
"" when it sends it): the agent waits on the person's answer to its request, or a tool call it
announced has not run yet, which a steer would stop if the agent is still writing it
(agents/session/steering.py `_keeps`)."""


@dataclass(frozen=True)
class Composing:
    """A running ticket's composer: what Enter sends at first (`steer` or `queue`) and what it does
    in each of the two, in words."""

    mode: str
    says: dict[str, str]


def shown_name(text: str) -> str:
    """A name from outside as one short inert line."""
    line = " ".join(inert(text).split())
    return line if len(line) <= MAX_NAME_CHARS else line[: MAX_NAME_CHARS - 1] + "…"


def steers_first(steerable: bool | None, offer: SteerOffer | None) -> bool:
    """Whether Enter steers when the composer opens: where a steer would reach the turn now (here),
    or where it may (afar: the turn said it takes steers, or has not said yet)."""
    if steerable is not None:
        return steerable
    return offer is None or offer.steers


def enter_does(
    ticket: str, steer: bool, steerable: bool | None, offer: SteerOffer | None, kept: str | None = None
) -> str:
    """What Enter does for `ticket` (`steer`: sent as a steer, else queued). `steerable`: whether a
    steer sent now waits for the turn's next safe point, None where the turn runs afar; `offer`: what
    the turn said it takes (None: not said yet); `kept`: why a coding agent's turn keeps a steer sent
    now (`ANSWER`, `CALL`; "": it sends it at once: `Run.steer_kept`), None where the turn runs afar."""
    name = inert(ticket)
    if steerable is None and offer is None:
        if not steer:
            return f"Enter queues this as {name}'s next turn, sent once this turn ends."
        return (
            f"Not known yet whether {name} can be steered: its turn has not begun (it waits for a worker, "
            f"or for its agent to start). Enter steers {name} if its turn takes a steer when this arrives; "
            "if not, this is held and sent as its next turn once this turn ends."
        )
    can = offer.steers if steerable is None and offer is not None else bool(steerable)
    if offer is not None and offer.coding_agent:
        return _to_agent(name, steer, can, offer, kept)
    label = name if steerable is not None or offer is None else f"{name} ({shown_name(offer.agent)})"
    if not steer:
        return f"Enter queues this as {name}'s next turn, sent once this turn ends."
    if can:
        return f"Enter steers {label}: sent after this round's tool results, before its next call."
    return f"{label} has no safe point to steer at: Enter queues this as its next turn instead."


def _to_agent(name: str, steer: bool, can: bool, offer: SteerOffer, kept: str | None) -> str:
    """What Enter does for a coding agent's ticket: the agent steers itself (kept first while it
    waits on the person, where it would read a steer late, or while a tool call it began has not
    run: `held_until`), or cannot."""
    agent = shown_name(offer.agent)
    if steer and can:
        return (
            f"Enter steers {name}: {held_until(agent, offer, kept)}, which reads it in this turn at a call "
            "it picks; what it is still writing may be cut off there, a tool call in it then not run."
        )
    if not offer.steers:
        return (
            f"{agent} cannot be steered: Enter queues this as {name}'s next prompt, sent once this turn ends."
        )
    if not steer:
        return f"Enter queues this as {name}'s next prompt, sent to {agent} once this turn ends."
    return f"{agent} has no turn running to steer: Enter queues this as {name}'s next prompt."


def held_until(agent: str, offer: SteerOffer, kept: str | None) -> str:
    """When a steer held now goes to a coding agent: at once, or once the agent has gone on after
    the person's answer to its request (`kept` `ANSWER`), or once the tool call it began has run
    (`CALL`: agents/session/steering.py `_keeps`); afar, where that is not known here (`kept` None),
    each as the agent's turn said it keeps steers."""
    if kept == ANSWER:
        return (
            f"kept until {agent} goes on after your answer to its request (a steer it takes while it "
            f"waits on you it reads only after its turn's last answer), then sent to {agent}"
        )
    if kept == CALL:
        return (
            f"kept until the tool call {agent} is writing or running has run (a steer it takes while "
            f"it writes a tool call stops that call before it runs), then sent to {agent}"
        )
    if kept is None and offer.keeps_for_answer:
        waits = "while it waits on your answer to its request, or writes or runs a tool call"
        return f"sent to {agent} now (or, {waits}, once it has gone on)"
    return f"sent to {agent} now"


def for_turn(offer: SteerOffer | None, kept: str | None = None) -> str:
    """What becomes of a steer held for a running turn, as lfg knows it: lfg's tool loop sends it
    at its next safe point; a coding agent (`offer.coding_agent`) is sent it at once, or once it goes
    on (`kept`: `held_until`), and its model reads it when the agent chooses, which lfg learns only
    as the turn ends (`sent_to_agent`)."""
    if offer is not None and offer.coding_agent:
        reads = MESSAGE_READS if offer.keeps_for_answer else AGENT_READS
        return f"{held_until(shown_name(offer.agent), offer, kept)}; {reads}"
    return "for its next safe point"


def taken_as(
    ticket: str, steer: bool, message: HeldMessage | None, offer: SteerOffer | None, kept: str | None = None
) -> tuple[str, str]:
    """How a steer (`steer`) or queued message just held was taken, for whoever sent it: `STEER` or
    `NEXT_TURN`, and in words. `message` is the one the ticket now holds for it, None where the
    ticket's turn runs on a worker, which holds it for that turn; `offer`, what the turn said it
    takes (who runs it); `kept`, why its agent's turn keeps the steer for now (`for_turn`)."""
    if message is None:
        return STEER, f"steered: carried to the worker running {ticket}'s turn, which holds it for that turn"
    if message.steer:
        held = f"held for {ticket}'s running turn (message {message.id})"
        return STEER, f"steered: {held}, {for_turn(offer, kept)}"
    if steer:
        return NEXT_TURN, (
            f"queued as {ticket}'s next turn (message {message.id}), not steered: its running turn "
            "cannot take a steer now"
        )
    return NEXT_TURN, f"queued as {ticket}'s next turn (message {message.id}), sent once this turn completes"


def composing(
    ticket: str, steerable: bool | None, offer: SteerOffer | None, kept: str | None = None
) -> Composing:
    """The composer of a running ticket, as a page shows it (`/v1/inbox`)."""
    return Composing(
        "steer" if steers_first(steerable, offer) else "queue",
        {
            "steer": enter_does(ticket, True, steerable, offer, kept),
            "queue": enter_does(ticket, False, steerable, offer, kept),
        },
    )


def held_to_steer(message: HeldMessage, offer: SteerOffer | None) -> str:
    """What the ticket's events say as a steer is held for its running turn: lfg's tool loop sends
    it at its next safe point; a coding agent's turn (`offer.coding_agent`) sends it to the agent
    and says so (`sent_to_agent`), or keeps it while the agent waits on the person
    (`kept_for`), and then says whether the agent took it, not when its model reads it."""
    if offer is not None and offer.coding_agent:
        return f"steer from {message.by}, for {shown_name(offer.agent)}'s running turn: {summary(message)}"
    return f"steer from {message.by}, for the next safe point: {summary(message)}"


def sent_to_agent(message: HeldMessage, agent: str, at_message: bool = False) -> str:
    """A steer a coding agent took into its running turn (`injected`): handed over, not yet known
    read. Its model reads it at a call of the agent's choosing, and the agent says nothing when: the
    turn's end is the first moment lfg knows it was read, or (`at_message`: Claude Code, which reads
    it at its next model call) the next model message it begins."""
    reads = MESSAGE_READS if at_message else AGENT_READS
    return (
        f"steer from {message.by} sent to {shown_name(agent)} (message {message.id}), into its running "
        f"turn; {reads}: {summary(message)}"
    )


def kept_for(messages: list[HeldMessage], agent: str, why: str) -> str:
    """Steers held while Claude Code waits on the person (`why` `ANSWER`: it would take one now but
    read it only after its turn's last answer, out of the order sent) or while a tool call it began
    has not run (`CALL`: one it takes while it writes the call stops that call), so lfg sends them
    once it has gone on (agents/session/steering.py `_keeps`)."""
    listed = "; ".join(f"message {m.id} from {m.by}: {summary(m)}" for m in messages)
    name = shown_name(agent)
    if why == CALL:
        return (
            f"steer(s) kept until the tool call {name} is writing or running has run, then sent: one it "
            f"takes while it writes a tool call stops that call before it runs: {listed}"
        )
    return (
        f"steer(s) kept until {name} goes on after your answer to its request, then sent: "
        f"one it takes while it waits on you it reads only after its turn's last answer: {listed}"
    )


def kept_past_turn(messages: list[HeldMessage], agent: str, why: str) -> str:
    """Steers kept (`kept_for`) whose turn then ended before the agent went on: never sent into it,
    so each is a next turn (agents/session/steering.py)."""
    listed = "; ".join(f"message {m.id} from {m.by}: {summary(m)}" for m in messages)
    until = "its tool call had run" if why == CALL else "it went on after your answer to its request"
    return (
        f"{shown_name(agent)}'s turn ended while lfg kept the steer(s) until {until}: not sent into it; "
        f"each sent as a next turn: {listed}"
    )


def read_by_turn_end(messages: list[HeldMessage], agent: str) -> str:
    """The steers a coding agent took, recorded at its turn's end: read by then, at calls it did not
    say, and (more than one) in an order it did not say either."""
    ids = ", ".join(f"message {m.id}" for m in messages)
    order = "" if len(messages) == 1 else "; nor in which order (recorded in the order sent)"
    return (
        f"{shown_name(agent)} read the steer(s) ({ids}) into this turn before it ended; "
        f"it does not say at which of its model calls{order}"
    )


def read_at_message(messages: list[HeldMessage], agent: str) -> str:
    """The steers Claude Code took, recorded at the model message it began next, which read them."""
    ids = ", ".join(f"message {m.id}" for m in messages)
    return f"{shown_name(agent)}'s next model call read the steer(s) ({ids}): recorded where it began"


def not_known_read(messages: list[HeldMessage], agent: str) -> str:
    """Steers handed to a coding agent whose turn then did not complete: whether its model read them
    is unknown, so they stay the ticket's, unsent as far as lfg can tell."""
    listed = "; ".join(f"message {m.id} from {m.by}: {summary(m)}" for m in messages)
    return (
        f"{shown_name(agent)}'s turn ended before it said its model read the steer(s) sent to it; "
        f"held again, unsent as far as lfg knows: {listed}"
    )
