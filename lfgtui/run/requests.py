"""What a person may ask of a run, as typed requests: one small frozen dataclass per request, the same
whether the run runs here or another lfg serves it.

The run screen's keys make them; the UI carries each to its run by one path (ui/run/controller.py
`REQUESTS` declares, per request, its key, its local and its remote handler or why it has none); a
served run's watchers send those a watcher may make as JSON (`encode`) to `POST /v1/requests`, which
the server reads back with `decode` (remote/server.py); a coordinated run sends those that must reach
its worker the same way, on the broker's control stream (broker/work.py `ControlEntry`). Wherever it
comes from, a request meets the run in one place, `Run.ask` (run/decisions.py `DECISIONS`), which
answers None or a `Refusal`. A new request is a new class here, which tests/ui/test_requests.py and
tests/run/test_decisions.py then ask to be declared and decided.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from lfgtui.run.approvals import Reply

YOU = "you"
"""Who asks at this lfg's own terminal: an answer is by "you", and a cancel or a retry says nothing of
who asked (a request from elsewhere names its asker: a watcher's address, a coordinator's name)."""


class Lead(str):
    """Who asks when a lead ticket's own token asks (remote/server.py): `lead ID` as any asker's
    name, carrying the lead's id. Only the server makes one, from the token: no request's field and
    no watcher's name can, so what a lead may do (run/decisions.py `forbidden`) cannot be claimed."""

    ticket: str

    def __new__(cls, ticket: str) -> Lead:
        asker = super().__new__(cls, f"lead {ticket}")
        asker.ticket = ticket
        return asker


@dataclass(frozen=True)
class Refusal:
    """Why the run would not do what was asked, in words for whoever asked (the person, a watcher, the
    coordinator a worker answers)."""

    said: str


@dataclass(frozen=True)
class Pending:
    """Asked of where the attempt runs, which has not answered yet (a worker paused, or cut off from
    the broker): neither done nor refused. What it answers when it does stands; `said` tells the person
    so, in words."""

    said: str


@dataclass(frozen=True)
class Added:
    """Done, and it made a ticket the asker needs the id of: the one an add-ticket added (lfg names
    one that came without an id), and who added it, as its events say (`added by ...`)."""

    ticket: str
    by: str | None = None
    """Who added it (an add-ticket asked again with its key: who asked first); None where the
    answer does not say (a server that does not)."""


Told = Refusal | Pending | Added | None
"""What the run answers a request: None once done (or asked of where the attempt runs), `Pending`
while that has not answered, `Added` once an add-ticket is done, else why not."""


class RequestError(ValueError):
    """A request read from the wire that is not one: its words say which field is wrong."""


@dataclass(frozen=True)
class Request:
    """A person's request of a run. `kind`: its name on the wire and in the declarations."""

    kind: ClassVar[str] = ""
    served: ClassVar[bool] = False
    """Whether a watcher of a served run may send it (`--control`)."""


@dataclass(frozen=True)
class Cancel(Request):
    kind: ClassVar[str] = "cancel"
    served: ClassVar[bool] = True
    ticket: str
    keep_tickets: bool = False
    """A lead's cancel: whether the tickets it added that are still at work keep running (else they
    stop with it), as the person at the run's terminal chooses when it asks."""


@dataclass(frozen=True)
class CancelChild(Request):
    """Cancel one sub-agent of a ticket's coding agent (`child`: its session id), the ticket going on,
    where the agent offered that sub-agent's cancel."""

    kind: ClassVar[str] = "cancel-child"
    served: ClassVar[bool] = True
    ticket: str
    child: str


@dataclass(frozen=True)
class Retry(Request):
    """A new attempt of a ticket that ended without completing (the old one is kept)."""

    kind: ClassVar[str] = "retry"
    served: ClassVar[bool] = True
    ticket: str


@dataclass(frozen=True)
class Resume(Request):
    """Go on with a ticket paused for its provider's quota (`on_quota = "pause"`)."""

    kind: ClassVar[str] = "resume"
    ticket: str


@dataclass(frozen=True)
class Approve(Request):
    """Approve (or, `allowed` false, deny) a ticket's call waiting for the person."""

    kind: ClassVar[str] = "approve"
    served: ClassVar[bool] = True
    ticket: str
    call: str
    allowed: bool


@dataclass(frozen=True)
class Answer(Request):
    """Answer a coding agent's question (its form): accept with content, decline or cancel."""

    kind: ClassVar[str] = "answer"
    served: ClassVar[bool] = True
    ticket: str
    elicitation: str
    reply: Reply


@dataclass(frozen=True)
class FollowUp(Request):
    """Send a completed ticket a follow-up: `text`, or (None) the words the person is asked for. Sent
    to a running ticket, it is queued as its next turn (`Queue`)."""

    kind: ClassVar[str] = "follow-up"
    served: ClassVar[bool] = True
    ticket: str
    text: str | None = None


@dataclass(frozen=True)
class Steer(Request):
    """Put `text` into a running ticket's turn at its next safe point (run/steering.py), queued as its
    next turn where it has none; None: the composer asks for the words (and says which it will be)."""

    kind: ClassVar[str] = "steer"
    served: ClassVar[bool] = True
    ticket: str
    text: str | None = None


@dataclass(frozen=True)
class Queue(Request):
    """Send `text` to a running ticket as its next turn, once this one completes (run/steering.py)."""

    kind: ClassVar[str] = "queue"
    served: ClassVar[bool] = True
    ticket: str
    text: str | None = None


@dataclass(frozen=True)
class EditHeld(Request):
    """Change the words of a message a running ticket holds, unsent (a steer waiting for its safe
    point, or a queued turn), keeping its place; `held` is its id (`HeldMessage.id`, in every
    `Holding` event)."""

    kind: ClassVar[str] = "edit-held"
    served: ClassVar[bool] = True
    ticket: str
    held: int
    text: str


@dataclass(frozen=True)
class RemoveHeld(Request):
    """Take a held message back, unsent (`held`: its id, as `EditHeld`'s)."""

    kind: ClassVar[str] = "remove-held"
    served: ClassVar[bool] = True
    ticket: str
    held: int


@dataclass(frozen=True)
class ReviewSend(Request):
    """Send a ticket its review's comments as one follow-up (the review screen's send)."""

    kind: ClassVar[str] = "review-send"
    ticket: str
    text: str


@dataclass(frozen=True)
class Fork(Request):
    """A new ticket going on from a completed one's conversation, with the person's prompt."""

    kind: ClassVar[str] = "fork"
    ticket: str


@dataclass(frozen=True)
class Land(Request):
    """Land a ticket's change onto its worktree's base branch (asks first)."""

    kind: ClassVar[str] = "land"
    ticket: str


@dataclass(frozen=True)
class Rerun(Request):
    """Run a recorded run's ticket again, as a new run."""

    kind: ClassVar[str] = "rerun"
    ticket: str


@dataclass(frozen=True)
class AddTicket(Request):
    """Add a ticket to the running run: `ticket` is its fields as a `[[ticket]]` table has them (a
    JSON object on the wire), checked as the run's tickets file was (tickets/load.py `load_added`);
    None: the new-ticket form asks for them. Answered `Added` with its id."""

    kind: ClassVar[str] = "add-ticket"
    served: ClassVar[bool] = True
    ticket: dict[str, Any] | None = dataclasses.field(default=None, hash=False)
    key: str | None = None
    """An idempotency key: an add-ticket whose key the run has seen adds nothing, and is answered with
    the ticket that key added (`lfg mcp`'s `add_ticket`, which an agent's client may send again)."""


@dataclass(frozen=True)
class End(Request):
    """End a run kept open for new tickets (`lfg run --open`): it takes no more, and ends once the
    tickets at work have ended (a cancel-all first stops them)."""

    kind: ClassVar[str] = "end"
    served: ClassVar[bool] = True


@dataclass(frozen=True)
class RetryAll(Request):
    kind: ClassVar[str] = "retry-all"


@dataclass(frozen=True)
class CancelAll(Request):
    kind: ClassVar[str] = "cancel-all"


@dataclass(frozen=True)
class Synthesize(Request):
    """Start a ticket combining a decided tournament's best two contestants' diffs."""

    kind: ClassVar[str] = "synthesize"
    served: ClassVar[bool] = True
    tournament: str


@dataclass(frozen=True)
class TakeWinner(Request):
    """Land a decided tournament's winner and archive the others' worktrees (asks first)."""

    kind: ClassVar[str] = "take-winner"
    tournament: str


def request_types() -> tuple[type[Request], ...]:
    """Every request class this module names (every subclass of `Request`, however deep): a class
    `__subclasses__()` still lists after its module let it go (a test's, until collected) is not one."""
    module = vars(sys.modules[__name__])
    found: list[type[Request]] = []
    pending = list(Request.__subclasses__())
    while pending:
        cls = pending.pop(0)
        if module.get(cls.__name__) is cls:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return tuple(found)


def encode(request: Request) -> dict[str, Any]:
    """A request as the JSON body of `POST /v1/requests`: `{"request": kind, field: value, ...}`; a
    field left at its default (None, false) is left out, as `decode` reads it."""
    body: dict[str, Any] = {"request": request.kind}
    for field in fields(request):
        value = getattr(request, field.name)
        if field.default is not dataclasses.MISSING and value is field.default:
            continue
        body[field.name] = (
            {"action": value.action, "content": value.content} if isinstance(value, Reply) else value
        )
    return body


def decode(body: object) -> Request:
    """The request a watcher sent (`encode`'s form); raises `RequestError` naming the bad field. Only
    the requests a watcher may make (`served`) are read."""
    if not isinstance(body, dict):
        raise RequestError('a request is a JSON object: {"request": KIND, ...}')
    kinds = {cls.kind: cls for cls in request_types() if cls.served}
    kind = body.get("request")
    cls = kinds.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise RequestError(f"request: expected one of {', '.join(sorted(kinds))}")
    values: dict[str, Any] = {}
    for field in fields(cls):
        if field.name not in body:
            if field.default is not dataclasses.MISSING:
                continue
            raise RequestError(f"{kind}: {field.name} is missing")
        value = body[field.name]
        if field.type == "Reply":
            value = _reply(kind, value)
        elif field.type == "bool" and not isinstance(value, bool):
            raise RequestError(f"{kind}: {field.name} must be true or false")
        elif field.type.startswith("dict") and not isinstance(value, dict):
            raise RequestError(f"{kind}: {field.name} must be a JSON object")
        elif field.type.startswith("dict") and _deeper(value, MAX_TABLE_DEPTH):
            raise RequestError(f"{kind}: {field.name} nests deeper than a [[ticket]] table's fields do")
        elif field.type == "int" and (type(value) is not int or value < 1):
            raise RequestError(f"{kind}: {field.name} must be a held message's id (a whole number from 1)")
        elif field.type.startswith("str") and not isinstance(value, str):
            raise RequestError(f"{kind}: {field.name} must be text")
        values[field.name] = value
    return cls(**values)


MAX_TABLE_DEPTH = 3
"""How deep a table a request carries may nest (a ticket's: its fields, a list, its items): what is
deeper is no table of lfg's, and is refused before anything walks it (`Run.ask` mends it whole)."""


def _deeper(value: object, depth: int) -> bool:
    """Whether `value`'s lists and objects nest more than `depth` deep, found without recursion."""
    level = [value]
    for _ in range(depth):
        level = [
            item
            for each in level
            if isinstance(each, dict | list)
            for item in (each.values() if isinstance(each, dict) else each)
        ]
    return any(isinstance(each, dict | list) for each in level)


def _reply(kind: str, value: object) -> Reply:
    if not isinstance(value, dict) or value.get("action") not in ("accept", "decline", "cancel"):
        raise RequestError(
            f'{kind}: reply must be {{"action": "accept" | "decline" | "cancel", "content": ...}}'
        )
    return Reply(value["action"], value.get("content"))
