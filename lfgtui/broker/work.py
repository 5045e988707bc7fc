"""What crosses the broker between a coordinator and its workers: an attempt to run, and the
commands that follow it.

A `WorkItem` is one entry of a work stream (`PREFIX:work:PROVIDER`): the run, the ticket as the
history records it (its workdir relative to the tickets file's folder, since each worker has its
own `--root`), the attempt's number, the answers of the tickets it depends on (its prompt is filled
in on the worker, as here), who asked for it, and the run's approval policy. A follow-up (and a retry
of one) carries what a local one sends: the whole earlier conversation (`base`, each message as
remote/codec.py writes it), the follow-up prompt, the attempt it continues and, for a coding agent,
the session to load. A `ControlEntry` is one
entry of the run's control stream: a person's request that must reach the worker (cancel a taken
work entry's attempt, cancel one sub-agent of the coding agent it runs, answer a call that waits for
approval), as the request's own JSON, which the worker hands to its run's `Run.ask` as the
coordinator's run was handed it (a sub-agent's cancel is answered on the reply key it names). An
`AttemptEnd` is what a worker records of an attempt it ran to its end (`PREFIX:run:RUN:ended`), so
the end is known when the run's event stream was trimmed before its coordinator read it, and a work
entry whose attempt ended is never run again.
Both are read as strictly as a watcher reads a description: a writer of the broker is trusted to
give work, not to crash a worker, name its keys or files, or flood its terminal: a run id is one
lfg made, every number and text has a bound, and the worker says what it refused in one inert line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfgtui.broker.layout import dumps, loads
from lfgtui.config.validation import RUN_ID_PATTERN
from lfgtui.events import ErrorInfo, ErrorKind, Outcome
from lfgtui.history.row_json import InvalidExport, row_from_json, row_json
from lfgtui.history.rows import ID_FORM, TicketRecord, TicketRow
from lfgtui.history.ticket_rows import ticket_from_row, ticket_row
from lfgtui.providers.base import Message
from lfgtui.remote.codec import CodecError, decode_message, encode_message
from lfgtui.run.attempts import Earlier
from lfgtui.run.decisions import DECISIONS
from lfgtui.run.requests import Request, RequestError, Steer, decode, encode
from lfgtui.run.steering import MAX_MESSAGE_CHARS
from lfgtui.tickets.ticket import Ticket

REPLY_TOKEN = re.compile(r"[0-9a-f]{16,64}")
"""A reply key's token as a coordinator makes it: a worker writes to no other key of its choosing."""
MAX_ATTEMPT = 100_000
"""No ticket is tried more often: a larger attempt number is not lfg's."""
MAX_NOTE = 2_000
"""The longest `why` or agent session id an entry may carry (a prompt or an answer has no bound)."""


class WorkError(ValueError):
    """An entry that is not work (or a command) lfg can act on: the message says what is wrong."""


@dataclass(frozen=True)
class WorkItem:
    """One attempt for a worker to run (see the module docstring)."""

    run_id: str
    ticket: Ticket
    attempt: int
    outputs: dict[str, str]
    """The final answer of each ticket it depends on."""
    why: str | None = None
    """Who asked for this attempt from elsewhere (a retry), said in its events."""
    yes: bool = False
    askable: bool = False
    """Whether someone at the coordinator answers calls that wait for approval."""
    base: tuple[Message, ...] = ()
    """The conversation a follow-up is sent after (`TicketState.base`)."""
    follow_up: str | None = None
    continues: int | None = None
    agent_session: str | None = None
    """The coding agent's session a follow-up loads (ACP `session/load`)."""

    def fields(self) -> dict[str, bytes]:
        data = {
            "run": self.run_id,
            "ticket": row_json(ticket_row(self.ticket)),
            "attempt": self.attempt,
            "outputs": self.outputs,
            "why": self.why,
            "yes": self.yes,
            "askable": self.askable,
        }
        if self.follow_up is not None:
            data |= {
                "base": [encode_message(message) for message in self.base],
                "follow_up": self.follow_up,
                "continues": self.continues,
                "agent_session": self.agent_session,
            }
        return {"data": dumps(data)}

    @classmethod
    def read(cls, fields: dict[bytes, bytes]) -> WorkItem:
        data = _object(fields.get(b"data"), "work entry")
        run_id, attempt, outputs = data.get("run"), data.get("attempt"), data.get("outputs")
        if not isinstance(run_id, str) or not ID_FORM.fullmatch(run_id):
            raise WorkError(f"the work entry's run is not a run id lfg makes: {run_id!r:.40}")
        if type(attempt) is not int or not 1 <= attempt <= MAX_ATTEMPT:
            raise WorkError(
                f"the work entry's attempt is not a number from 1 to {MAX_ATTEMPT}: {attempt!r:.40}"
            )
        if not isinstance(outputs, dict) or not all(
            isinstance(v, str) and RUN_ID_PATTERN.fullmatch(k) for k, v in outputs.items()
        ):
            raise WorkError("the work entry's outputs are not answers by ticket id")
        why, ticket = data.get("why"), data.get("ticket")
        if isinstance(why, str) and len(why) > MAX_NOTE:
            raise WorkError(f"the work entry's why is longer than {MAX_NOTE} characters")
        if not isinstance(ticket, dict):
            raise WorkError("the work entry holds no ticket")
        try:
            row = row_from_json(TicketRow, ticket, "ticket")
        except InvalidExport as exc:
            raise WorkError(f"the work entry's ticket is not valid: {exc}") from None
        ticket = ticket_from_row(TicketRecord(row, ()))
        return cls(
            run_id,
            ticket,
            attempt,
            {str(k): v for k, v in outputs.items()},
            why if isinstance(why, str) else None,
            data.get("yes") is True,
            data.get("askable") is True,
            *_follow_up(data, attempt),
        )

    def earlier(self, attempt: int) -> Earlier:
        """What the worker's run of the ticket starts from, so that retrying it starts `attempt`:
        a follow-up's base, prompt and agent session (what `Run.continue_with` leaves)."""
        return Earlier(
            attempt - 1,
            None,
            base=self.base,
            follow_up=self.follow_up,
            continues=self.continues,
            agent_session=self.agent_session,
        )

    def placed(self, root: Path) -> Ticket:
        """The ticket as this worker runs it: its workdir and its coding agent's additional
        directories under `root`; raises `WorkError` when one would leave `root` or is not a folder
        there (an entry is anyone's who may write the broker: nothing it names leads out)."""
        workdir = _placed(root, Path(self.ticket.workdir), "workdir")
        folders = tuple(
            _placed(root, Path(folder), "additional directory")
            for folder in self.ticket.additional_directories
        )
        return dataclasses.replace(self.ticket, workdir=workdir, additional_directories=folders)


def _placed(root: Path, relative: Path, what: str) -> Path:
    """`relative` (a folder the ticket names) under `root`, resolved; `WorkError` outside it."""
    folder = (root / relative).resolve()
    if relative.is_absolute() or not folder.is_relative_to(root.resolve()):
        raise WorkError(f"the ticket's {what} {str(relative)!r} is outside this worker's --root {root}")
    if not folder.is_dir():
        raise WorkError(f"the ticket's {what} {str(relative)!r} is not a folder under --root {root}")
    return folder


def _follow_up(
    data: dict[str, Any], attempt: int
) -> tuple[tuple[Message, ...], str | None, int | None, str | None]:
    """A follow-up's base, prompt, the attempt it continues and the agent's session; all empty when
    the entry is no follow-up. Raises `WorkError` naming the field at fault."""
    follow_up = data.get("follow_up")
    if follow_up is None:
        return (), None, None, None
    base, continues, session = data.get("base"), data.get("continues"), data.get("agent_session")
    if not isinstance(follow_up, str):
        raise WorkError("the work entry's follow_up is not text")
    if type(continues) is not int or not 1 <= continues < attempt:
        raise WorkError(f"the work entry's continues is not an attempt before {attempt}: {continues!r:.40}")
    if session is not None and (not isinstance(session, str) or len(session) > MAX_NOTE):
        raise WorkError(f"the work entry's agent_session is not text of at most {MAX_NOTE} characters")
    if not isinstance(base, list) or not base:
        raise WorkError("the work entry's base is not a conversation (a list of messages)")
    messages = []
    for index, message in enumerate(base):
        try:
            messages.append(decode_message(message))
        except CodecError as exc:
            problem = exc.inside(f"[{index}]")
            raise WorkError(f"the work entry's base is not a conversation: base{problem}") from None
    return tuple(messages), follow_up, continues, session


def relative_to(ticket: Ticket, folder: Path) -> Ticket:
    """The ticket with its workdir and additional directories relative to `folder` (the tickets
    file's), as workers take it."""
    folders = tuple(Path(os.path.relpath(path, folder)) for path in ticket.additional_directories)
    return dataclasses.replace(
        ticket, workdir=Path(os.path.relpath(ticket.workdir, folder)), additional_directories=folders
    )


@dataclass(frozen=True)
class ControlEntry:
    """One entry of a run's control stream: a person's request that must reach the worker running the
    ticket (run/decisions.py `reaches`), in the request's own JSON (run/requests.py `encode`), with who
    asked, the work entry whose attempt it is for, and, where the coordinator waits for the worker's
    answer (a sub-agent's cancel), the token of the reply key (`Layout.reply`) it answers on."""

    request: Request
    by: str
    work: str
    reply: str | None = None

    def fields(self) -> dict[str, bytes]:
        data = {"request": encode(self.request), "by": self.by, "work": self.work}
        return {"data": dumps(data if self.reply is None else data | {"reply": self.reply})}

    @classmethod
    def read(cls, fields: dict[bytes, bytes]) -> ControlEntry:
        """An entry read back strictly: only a request that reaches a worker, its texts bounded, a
        reply token as a coordinator makes one; else `WorkError` saying so."""
        data = loads(fields.get(b"data"))
        by, work, reply = data.get("by"), data.get("work"), data.get("reply")
        try:
            request = decode(data.get("request"))
        except RequestError as exc:
            raise WorkError(f"not a request a worker acts on ({exc}): {data!r:.200}") from None
        texts = [v for v in vars(request).values() if isinstance(v, str)]
        longest = MAX_MESSAGE_CHARS if isinstance(request, Steer) else MAX_NOTE  # a steer: a prompt's worth
        if (
            not DECISIONS[type(request)].reaches
            or not all(isinstance(text, str) and 0 < len(text) <= MAX_NOTE for text in (by, work))
            or not all(0 < len(text) <= longest for text in texts)
            or not (reply is None or (isinstance(reply, str) and REPLY_TOKEN.fullmatch(reply)))
        ):
            raise WorkError(f"not a request a worker acts on: {data!r:.200}")
        assert isinstance(by, str) and isinstance(work, str)
        return cls(request, by, work, reply)


@dataclass(frozen=True)
class AttemptEnd:
    """How an attempt a worker ran ended: what the run's event stream said, kept apart from it."""

    ticket: str
    attempt: int
    outcome: Outcome
    error: ErrorInfo | None
    events: int
    """How many events the attempt had (its end's seq + 1): those a coordinator read are fewer when
    the broker trimmed some."""
    input_tokens: int | None = None
    output_tokens: int = 0
    cost_usd: float | None = None
    cost_estimated: bool = False

    def value(self) -> bytes:
        data = dataclasses.asdict(self)
        data["outcome"] = self.outcome.value
        if self.error is not None:
            data["error"] = {"kind": self.error.kind.value, "message": self.error.message}
        return dumps(data)

    @classmethod
    def read(cls, value: object) -> AttemptEnd | None:
        """A recorded end read back strictly; None for anything else (a writer of the broker is
        trusted to give work, not to crash a coordinator)."""
        data = loads(value)
        ticket, attempt, events = data.get("ticket"), data.get("attempt"), data.get("events")
        inputs, outputs, cost = data.get("input_tokens"), data.get("output_tokens"), data.get("cost_usd")
        error = data.get("error")
        try:
            outcome = Outcome(data.get("outcome"))
            info = None if error is None else ErrorInfo(ErrorKind(error["kind"]), str(error["message"]))
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(ticket, str) or type(attempt) is not int or type(events) is not int:
            return None
        if not (inputs is None or type(inputs) is int) or type(outputs) is not int:
            return None
        if not (cost is None or isinstance(cost, int | float)):
            return None
        estimated = data.get("cost_estimated") is True
        return cls(ticket, attempt, outcome, info, events, inputs, outputs, cost, estimated)


def _object(value: bytes | None, what: str) -> dict[str, Any]:
    """An entry's `data` as a JSON object, or `WorkError` saying what it is instead."""
    if value is None:
        raise WorkError(f"the {what} has no data field")
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        raise WorkError(f"the {what}'s data is not JSON") from None
    if not isinstance(data, dict):
        raise WorkError(f"the {what}'s data is not a JSON object but {type(data).__name__}")
    return data


Work = tuple[str, str]
"""A work entry as a run keeps it: its ticket and its id. An id is unique on its stream only: two
providers' work streams give the same id to entries added in the same millisecond, and one kept by id
alone was taken for the other (a resumed run whose `a` ended never looked at `t`'s lost entry again,
and waited for it forever; a broker gone back in time had one of the two ends written back)."""


def ended_field(ticket_id: str, entry: str) -> str:
    """The field of a run's `ended` hash for the attempt a work entry started (or a worker taking it
    over ran): unique in a run, since a ticket's entries are enqueued one after another."""
    return f"{ticket_id}@{entry}"


def ended_work(name: bytes) -> Work:
    """The ticket and entry an `ended` field names (`ended_field`; an entry id holds no `@`)."""
    ticket, _, entry = name.decode().rpartition("@")
    return ticket, entry
