"""`lfg mcp`'s tools: what an agent's MCP client asks of the tickets of a run another lfg serves.

A `Desk` follows one served run as `lfg attach` does (attach.py `Attachment`: the same description,
event stream and `POST /v1/requests`, no other client), and keeps of each ticket what the tools answer
from: its attention state (alerts/states.py `Attentions`, the state machine the TUI and the inbox
use), its tokens and cost (cost/metrics.py `MetricsBook`, priced with the run's own card), and its
latest attempt's events, from which a report builds the answer, the transcript and the diff when one
is asked for. Per streamed token it appends to a list, nothing more.

The MCP server (commands/mcp.py) is only the wire: each tool is a method here that returns JSON-ready
data or raises `Refused` in words, which the agent gets as a tool error. Text from the run's agents
goes back as it came (JSON carries any character losslessly): showing it is the client's business.

Nothing is read before the first call, so an agent's client may start this before the run is served;
a connection lost is made again at the next call. Each call waits until the watcher has taken what
the run had said when it connected (`Attachment.caught_up`), so no tool answers from the run's past.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfgtui.alerts.states import NEEDS_YOU, Attentions, Standing, State
from lfgtui.contest import Diff
from lfgtui.conversation import conversation_of
from lfgtui.cost.metrics import MetricsBook
from lfgtui.events import (
    AttemptEnded,
    DiffUpdated,
    Event,
    HeldMessage,
    Holding,
    PromptSent,
    RequestSent,
    Status,
    Steered,
    SteerOffer,
    TextDelta,
)
from lfgtui.providers.base import AssistantMessage, Message, ToolResultMessage, UserMessage
from lfgtui.remote.attach import Attachment
from lfgtui.remote.following import AttachError
from lfgtui.remote.tokens import ServeError, token_in
from lfgtui.run.requests import AddTicket, Cancel, FollowUp, Request, Steer
from lfgtui.run.steer_words import for_turn
from lfgtui.tickets.ticket import Ticket

WAIT_S = 30.0
"""How long `wait_for_tickets` waits when not told: agents' MCP clients cut a call off after 30 to
300 seconds, and a wait that returns can be asked again."""
MAX_WAIT_S = 120.0
"""The longest `wait_for_tickets` waits, whatever it is asked."""
PROGRESS_S = 5.0
"""How often a wait says how far it is (an MCP progress notification), besides at each change."""
CATCH_UP_S = 20.0
"""How long a call waits for the watcher to take what the run had said when it connected."""
SEEN_S = 5.0
"""How long `message_ticket` watches the ticket's events for what became of its message."""
PAGE_CHARS = 20_000
"""Characters of an answer, a transcript or a diff in one page of `read_ticket`."""
SUMMARY_CHARS = 300
"""Characters of a completed ticket's answer in its summary."""
FROM_FILE = "the tickets file"
"""Who added a ticket the run started with."""
FROM_RUN = "added while the run ran"
"""Who added a ticket the run took on later (a fork, a synthesis, an added ticket)."""
NAMED = 20
"""The most tickets an error names when it says which tickets the run has."""
ADDED_BY = "added by "
"""How an added ticket's events say who added it (run/decisions.py `_add_ticket`)."""
ENDED = frozenset({State.UNREAD, State.DONE, State.FAILED, State.CANCELLED})
"""The states of a ticket whose latest attempt has ended, needing nobody."""
STOPS_A_WAIT = NEEDS_YOU | {State.FAILED}
"""A ticket in one of these ends a wait at once: it needs a person, or it failed."""
PARTS = ("report", "answer", "transcript", "diff")
"""What `read_ticket` reads: the short report, or one of the long texts in pages."""
MODES = ("steer", "queue")
UNCOUNTED = (
    "its cost is not known ($?: no price, and its agent reported none): no budget counts it "
    "(lead_budget_usd, max_cost_usd)"
)
"""What a report says of a ticket that worked at a cost no budget could count."""


class Refused(Exception):
    """What a tool cannot do, in words for the agent (an MCP tool error)."""


@dataclass
class Record:
    """One ticket as the tools see it: who added it, and its latest attempt's events in order."""

    ticket: Ticket
    added_by: str
    attempt: int = 0
    events: list[Event] = field(default_factory=list)
    steered: list[str] = field(default_factory=list)
    """The words of every steer put into its turns, in order (what became of a message)."""
    held: tuple[HeldMessage, ...] = ()
    """What it holds now, unsent."""
    handed: list[HeldMessage] = field(default_factory=list)
    """The steers handed to its coding agent's running turns (`Holding.sent`), in order: held no
    more, and not yet known read."""
    last_held: int = 0
    """The highest id of a message it has held: a message held after a mark has a higher one."""
    end: AttemptEnded | None = None
    """How its latest attempt ended; None while it runs (or before it starts)."""

    def take(self, event: Event) -> None:
        """One event of the ticket: a later attempt starts the record of its events over."""
        if type(event) is TextDelta and event.attempt == self.attempt:  # first: once per token
            self.events.append(event)
            return
        if event.attempt > self.attempt:
            self.attempt, self.events, self.end = event.attempt, [], None
        if event.attempt == self.attempt:
            self.events.append(event)
        if isinstance(event, AttemptEnded) and event.attempt == self.attempt:
            self.end = event
        elif type(event) is Status and self.added_by == FROM_RUN and event.message.startswith(ADDED_BY):
            self.added_by = event.message.removeprefix(ADDED_BY)  # who added it, as its events say
        elif isinstance(event, Steered):
            self.steered.append(event.text)
        elif isinstance(event, Holding):
            self.held = event.held
            self.handed += event.sent
            self.last_held = max((m.id for m in (*event.held, *event.sent)), default=self.last_held)

    def answer(self) -> str:
        """The latest attempt's final answer: its text since its last model call began, as the run
        takes a ticket's answer (run/scheduler.py)."""
        parts: list[str] = []
        for event in reversed(self.events):
            if isinstance(event, RequestSent):
                break
            if type(event) is TextDelta:
                parts.append(event.text)
        return "".join(reversed(parts))

    def diff(self) -> Diff | None:
        """What the latest attempt changed in its worktree, as it last said (None: it has none)."""
        last = next((e for e in reversed(self.events) if isinstance(e, DiffUpdated)), None)
        return None if last is None else Diff.of(last.added, last.removed, last.files, last.text)

    def prompt(self) -> PromptSent | None:
        return next((e for e in self.events if isinstance(e, PromptSent)), None)

    def offer(self) -> SteerOffer | None:
        """What its latest attempt's turn said it takes (who runs it), as its events say."""
        return next((e for e in reversed(self.events) if isinstance(e, SteerOffer)), None)


class Desk:
    """The tools' side of one served run (see the module docstring). `token_file` holds the run's
    token, read at each connection, never from the command line or the environment."""

    def __init__(self, url: str, token_file: Path, unix_socket: Path | None = None) -> None:
        self.url = url
        self.token_file = token_file
        self.unix_socket = unix_socket
        self.records: dict[str, Record] = {}
        self.attentions = Attentions()
        self.book = MetricsBook()
        self.control = False
        self._attachment: Attachment | None = None
        self._following: asyncio.Task[None] | None = None
        self._lost: str | None = None
        self._ended = False
        self._changed: asyncio.Future[None] | None = None
        self._connecting = asyncio.Lock()

    async def aclose(self) -> None:
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
        if self._attachment is not None:
            await self._attachment.aclose()

    # The tools

    async def list_tickets(self) -> dict[str, Any]:
        """Every ticket of the run: its id, title, state and who added it; whether the run has ended,
        and whether it takes requests (`control`: served with `--control`)."""
        await self._ready()
        return {
            "tickets": [self._listed(record) for record in self.records.values()],
            "run_ended": self._ended,
            "control": self.control,
        }

    async def read_ticket(self, ticket: str, part: str = "report", page: int = 1) -> dict[str, Any]:
        """The ticket's short report, or a page of its answer, transcript or diff."""
        if part not in PARTS:
            raise Refused(f"part must be one of {', '.join(PARTS)}, not {part!r}")
        await self._ready()
        record = self._record(ticket)
        if part == "report":
            return self._report(record)
        if part == "answer":
            text = record.answer()
        elif part == "transcript":
            text = transcript(conversation_of(record.events))
        else:
            diff = record.diff()
            text = "" if diff is None else diff.text
        return {"ticket": ticket, "attempt": record.attempt, "part": part, **paged(text, page)}

    async def wait_for_tickets(
        self,
        tickets: Sequence[str],
        timeout_s: float = WAIT_S,
        progress: Callable[[float, float, str], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Wait until every ticket named has ended, one needs a person or fails, or `timeout_s` (at
        most `MAX_WAIT_S`) has passed; each one's state and summary. `progress` hears how many have
        ended, of how many, at each change and every `PROGRESS_S`."""
        await self._ready()
        if not tickets:
            raise Refused("tickets: name at least one ticket (list_tickets lists them)")
        records = [self._record(ticket) for ticket in dict.fromkeys(tickets)]
        if math.isnan(timeout_s):
            raise Refused(f"timeout_s must be a number of seconds (at most {MAX_WAIT_S:g}), not NaN")
        waits = min(max(timeout_s, 0.0), MAX_WAIT_S)
        loop = asyncio.get_running_loop()
        until = loop.time() + waits
        told, told_at = -1, loop.time()
        while True:
            standings = [self._standing(record) for record in records]
            ended = sum(standing.state in ENDED for standing in standings)
            stop = next((s for s in standings if s.state in STOPS_A_WAIT), None)
            if stop is not None:
                why = f"{stop.ticket} {'failed' if stop.state is State.FAILED else 'needs a person'}"
            elif ended == len(records):
                why = "every ticket named has ended"
            elif self._lost is not None or self._ended:
                why = self._lost or "the run has ended"
            elif loop.time() >= until:
                why = f"still waiting after {waits:g} s: call again to wait longer"
            else:
                if progress is not None and (ended != told or loop.time() >= told_at + PROGRESS_S):
                    told, told_at = ended, loop.time()  # a change, or a while: never per streamed token
                    await progress(ended, len(records), f"{ended} of {len(records)} ended")
                wake = until if progress is None else min(until, told_at + PROGRESS_S)
                await self._change(wake - loop.time())
                continue
            listed = [self._listed(record) for record in records]
            return {"done": ended == len(records), "why": why, "tickets": listed}

    async def message_ticket(self, ticket: str, text: str, mode: str = "steer") -> dict[str, Any]:
        """Send the ticket words: `steer` into its running turn (run/steer_words.py `for_turn`),
        `queue` as its next turn (a follow-up, to one whose turn has ended); what became of them."""
        if mode not in MODES:
            raise Refused(f"mode must be steer or queue, not {mode!r}")
        if not text.strip():
            raise Refused("text is blank: say something to the ticket")
        await self._ready()
        record = self._record(ticket)
        mark = (len(record.steered), record.last_held, record.attempt)
        asked: Request = Steer(ticket, text) if mode == "steer" else FollowUp(ticket, text)
        await self._ask(asked)
        loop = asyncio.get_running_loop()
        until = loop.time() + SEEN_S
        while (became := _became(record, text, mark)) is None and loop.time() < until:
            await self._change(until - loop.time())
        result, said = became or (
            "sent",
            f"the run took it; {ticket}'s events have not said yet what became of it",
        )
        return {"ticket": ticket, "mode": mode, "result": result, "said": said}

    async def add_ticket(self, ticket: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        """Add a ticket to the run: its fields as a `[[ticket]]` table has them (lfg names one without
        an `id`), checked as the run's tickets file was. Asked again with the same `key`, the run adds
        nothing and answers the same id. Answered once the run has said it took the ticket on."""
        await self._ready()
        assert self._attachment is not None
        if self._ended:
            raise Refused("the run has ended: it takes nothing more")
        try:
            added = await self._attachment.add(AddTicket(ticket, key))
        except AttachError as exc:
            raise Refused(str(exc)) from None
        loop = asyncio.get_running_loop()
        until = loop.time() + SEEN_S
        while added.ticket not in self.records and loop.time() < until:
            await self._change(until - loop.time())
        record = self.records.get(added.ticket)
        if record is not None and record.added_by == FROM_RUN and added.by is not None:
            record.added_by = added.by  # its events say so only as its first attempt starts
        return {"ticket": added.ticket, **({} if record is None else self._listed(record))}

    async def cancel_ticket(self, ticket: str) -> dict[str, Any]:
        """Stop the ticket's running attempt."""
        await self._ready()
        self._record(ticket)
        await self._ask(Cancel(ticket))
        return {"ticket": ticket, "result": "cancel asked: its attempt stops and ends cancelled"}

    # What the tools stand on

    async def _ready(self) -> None:
        """Follow the run (connecting again after a lost connection) and wait until this watcher has
        caught up with it; raises `Refused` saying why it cannot."""
        async with self._connecting:  # calls at once make one connection
            if self._following is None or (self._lost is not None and not self._ended):
                await self._connect()
        attachment = self._attachment
        assert attachment is not None and self._following is not None
        caught_up = asyncio.ensure_future(attachment.caught_up.wait())
        try:
            await asyncio.wait(
                {caught_up, self._following}, timeout=CATCH_UP_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            caught_up.cancel()
        if self._lost is not None and not attachment.caught_up.is_set():
            raise Refused(self._lost)
        if not attachment.caught_up.is_set():
            raise Refused(f"{self.url} has not sent the run's events within {CATCH_UP_S:g} s: try again")

    async def _connect(self) -> None:
        await self.aclose()
        try:
            token = token_in(self.token_file)
        except ServeError as exc:
            raise Refused(str(exc)) from None
        attachment = Attachment(self.url, token, unix_socket=self.unix_socket)
        try:
            run = await attachment.describe()
        except AttachError as exc:
            await attachment.aclose()
            raise Refused(str(exc)) from None
        self._attachment, self._lost, self.control = attachment, None, run.control
        self.records = {ticket.id: Record(ticket, FROM_FILE) for ticket in run.tickets}
        self.attentions = Attentions({t.id: t.depends_on for t in run.tickets}, time.monotonic())
        self.book = MetricsBook(prices=run.prices)
        attachment.added = self._added
        attachment.metrics = self.book.attempts
        self._following = asyncio.create_task(self._follow(attachment))

    async def _follow(self, attachment: Attachment) -> None:
        try:
            await attachment.follow(self._deliver, _quiet)
            self._ended = True
        except AttachError as exc:
            self._lost = str(exc)
        finally:
            self._wake()

    def _added(self, ticket: Ticket) -> None:
        self.records[ticket.id] = Record(ticket, FROM_RUN)
        self.attentions.add(ticket.id, time.monotonic())

    def _deliver(self, event: Event) -> None:
        self.book(event)
        self.attentions.apply(event)
        record = self.records.get(event.ticket)
        if record is not None:
            record.take(event)
        if self._changed is not None:
            self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set_result(None)
            self._changed = None

    async def _change(self, within: float) -> None:
        """Wait for the next event (or the end of the stream), at most `within` seconds."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._changed), max(within, 0.0))

    async def _ask(self, asked: Request) -> None:
        assert self._attachment is not None
        if self._ended:
            raise Refused("the run has ended: it takes nothing more")
        refused = await self._attachment.ask(asked)
        if refused is not None:
            raise Refused(refused)

    def _record(self, ticket: str) -> Record:
        record = self.records.get(ticket)
        if record is None:
            known = ", ".join(list(self.records)[:NAMED]) or "none"
            more = f", and {len(self.records) - NAMED} more" if len(self.records) > NAMED else ""
            raise Refused(f"the run has no ticket {ticket!r} (its tickets: {known}{more})")
        return record

    def _standing(self, record: Record) -> Standing:
        return self.attentions.standings.get(record.ticket.id) or Standing(
            record.ticket.id, State.WAITING, 0.0
        )

    def _listed(self, record: Record) -> dict[str, Any]:
        standing = self._standing(record)
        return {
            "ticket": record.ticket.id,
            "title": record.ticket.title,
            "state": state_name(standing.state),
            "needs_you": standing.needs_you,
            "attempt": record.attempt,
            "summary": self._summary(record, standing),
            "added_by": record.added_by,
        }

    def _summary(self, record: Record, standing: Standing) -> str:
        """A line on where the ticket stands: what it waits on, how it ended, how its answer begins."""
        ended = record.end
        if standing.state in (State.UNREAD, State.DONE) or (
            ended is not None and standing.state is State.ASKED
        ):
            answer = " ".join(record.answer().split())
            cut = answer[:SUMMARY_CHARS] + ("…" if len(answer) > SUMMARY_CHARS else "")
            return f"{standing.label}: {cut}" if cut else f"{standing.label}, with no answer"
        if ended is not None and ended.error is not None:
            return f"{standing.label}: {ended.error.describe()}"
        return (
            f"{standing.label}: {standing.detail}"
            if standing.detail and standing.state is not State.WAITING
            else standing.label
        )

    def _report(self, record: Record) -> dict[str, Any]:
        standing = self._standing(record)
        ended = record.end
        diff = record.diff()
        answer = record.answer()
        costs = [self.book.attempts[key] for key in self.book.attempts if key[0] == record.ticket.id]
        priced = [m.cost_usd for m in costs if m.cost_usd is not None]
        inputs = [m.input_tokens for m in costs if m.input_tokens is not None]
        cost = sum(priced) if priced and len(priced) == len(costs) else None
        return {
            "ticket": record.ticket.id,
            "title": record.ticket.title,
            "state": state_name(standing.state),
            "needs_you": standing.needs_you,
            "waits_for": standing.detail if standing.state not in ENDED else None,
            "attempt": record.attempt,
            "outcome": None if ended is None else ended.outcome.value,
            "error": None if ended is None or ended.error is None else ended.error.describe(),
            "answer": answer[:PAGE_CHARS],
            "answer_pages": pages(answer),
            "files_changed": None if diff is None else list(diff.files),
            "files_count": None if diff is None else diff.count,
            "lines_added": None if diff is None else diff.added,
            "lines_removed": None if diff is None else diff.removed,
            "input_tokens": sum(inputs) if inputs else None,
            "output_tokens": sum(m.output_tokens for m in costs),
            "cost_usd": cost,
            "cost_note": UNCOUNTED if cost is None and any(m.requests for m in costs) else None,
            "held": [{"id": m.id, "text": m.text, "steer": m.steer, "by": m.by} for m in record.held],
            "transcript_pages": pages(transcript(conversation_of(record.events))),
            "diff_pages": 0 if diff is None else pages(diff.text),
            "added_by": record.added_by,
        }


def _became(record: Record, text: str, mark: tuple[int, int, int]) -> tuple[str, str] | None:
    """What became of a message sent to `record`'s ticket after `mark` (its steers, its last held
    message, its attempt then), as its events say; None while they say nothing yet."""
    steered, last_held, attempt = mark
    ticket = record.ticket.id
    if text in record.steered[steered:]:
        return "steered", f"put into {ticket}'s running turn"
    held = next((m for m in (*record.held, *record.handed) if m.id > last_held and m.text == text), None)
    if held is not None and held.steer:
        return "held", f"held for {ticket}'s running turn, {for_turn(record.offer())}"
    if held is not None:
        return "queued", f"{ticket} is sent it as its next turn once this one ends"
    prompt = record.prompt()
    if record.attempt > attempt and prompt is not None and prompt.text == text:
        return "followed up", f"its turn had ended: attempt {record.attempt} goes on from its conversation"
    return None


def _quiet(_: str) -> None:
    """How the connection is doing: nobody is told (a lost one is said at the next call)."""


def state_name(state: State) -> str:
    """A state as the tools say it: a completed ticket is `completed`, read or not."""
    return "completed" if state in (State.UNREAD, State.DONE) else state.value


def pages(text: str) -> int:
    return -(-len(text) // PAGE_CHARS)


def paged(text: str, page: int) -> dict[str, Any]:
    """Page `page` (from 1) of `text` and how many there are; a page past the end is refused."""
    count = pages(text)
    if page < 1 or page > max(count, 1):
        raise Refused(f"page must be from 1 to {max(count, 1)}, not {page}")
    return {"page": page, "pages": count, "text": text[(page - 1) * PAGE_CHARS : page * PAGE_CHARS]}


def transcript(messages: Sequence[Message]) -> str:
    """An attempt's conversation as plain text: each message under a heading that says whose it is."""
    parts: list[str] = []
    for message in messages:
        if isinstance(message, UserMessage):
            parts.append(f"## user\n{message.text}")
        elif isinstance(message, AssistantMessage):
            calls = "".join(f"\n→ {call.name} {call.raw_arguments}" for call in message.tool_calls)
            parts.append(f"## assistant\n{message.text}{calls}")
        elif isinstance(message, ToolResultMessage):
            failed = " (error)" if message.is_error else ""
            parts.append(f"## {message.name or 'tool'} result{failed}\n{message.output}")
    return "\n\n".join(parts)
