"""What the person should know of now (`Attention`: a ticket waits for approval, asked them a
question, fails, or the run ends), and its text made safe for wherever it goes.

Titles and bodies carry untrusted text (ticket titles, error messages, a model's tool arguments):
everything that reaches an escape sequence or a hook is reduced to printable characters first
(`printable`), so nothing in it can end the sequence early or start another one.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["approval", "asked", "failed", "done"]

TITLE_LIMIT = 80
BODY_LIMIT = 200
"""Characters of title and body in a terminal notification: a desktop banner shows little more."""

JSON_TITLE_LIMIT = 200
JSON_BODY_LIMIT = 2000
"""A hook may forward more (a whole error message to Slack), but never an unbounded amount."""

_SCAN_LIMIT = 16_384
"""Characters looked at before cleaning: a megabyte of error output is cut before it is scanned."""

_DROPPED_CATEGORIES = frozenset({"Cf"})
"""Format characters (bidi overrides and isolates, zero-width joiners, tag characters): invisible,
some reorder what is shown, so they are removed."""

_SPACED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
"""C0 and C1 controls (ESC, BEL, ST `\\x9c`, newline, DEL) and line/paragraph separators: each
becomes a space, so words either side stay apart."""


def printable(text: str, limit: int) -> str:
    """`text` as one line of printable characters, at most `limit` long: controls become spaces,
    format characters go, lone surrogates become `�`, runs of whitespace become one space, and a cut
    ends in `…` (never between a character and the accents that follow it).

    Stricter than `inert.inert`, which shows controls as visible symbols but keeps newline and tab and
    the bidirectional controls: inside an escape sequence's payload only printable text is safe."""
    kept: list[str] = []
    for char in text[:_SCAN_LIMIT]:
        category = unicodedata.category(char)
        if category in _SPACED_CATEGORIES:
            kept.append(" ")
        elif category == "Cs":
            kept.append("\ufffd")
        elif category not in _DROPPED_CATEGORIES:
            kept.append(char)
    line = " ".join("".join(kept).split())
    if len(line) <= limit:
        return line
    cut = max(limit - 1, 0)
    while cut > 0 and unicodedata.combining(line[cut]):
        cut -= 1
    return line[:cut].rstrip() + "…" if limit > 0 else ""


@dataclass(frozen=True)
class Attention:
    """Something the person should know of now: which run, which ticket, and a title and body to show.

    `title` and `body` may hold untrusted text as it came; every way out of here (`terminal_alert`,
    `to_json`) cleans and caps them."""

    kind: Kind
    run_id: str
    ticket: str | None
    title: str
    body: str
    counts: tuple[tuple[str, int], ...] = ()
    """For "done": how many tickets ended with each outcome, in the order given."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def approval(
        cls, run_id: str, ticket: str, tool: str, detail: str, at: datetime | None = None
    ) -> Attention:
        """A ticket waits for the person to allow a tool call (`detail`: its arguments in short)."""
        title = f"lfg: {ticket} needs approval"
        return cls("approval", run_id, ticket, title, f"{tool}: {detail}", at=at or datetime.now(UTC))

    @classmethod
    def asked(cls, run_id: str, ticket: str, question: str, at: datetime | None = None) -> Attention:
        """A ticket's turn ended on a question to the person (`question`: the line it ended on)."""
        title = f"lfg: {ticket} asked you"
        return cls("asked", run_id, ticket, title, question, at=at or datetime.now(UTC))

    @classmethod
    def failed(cls, run_id: str, ticket: str, error: str, at: datetime | None = None) -> Attention:
        return cls("failed", run_id, ticket, f"lfg: {ticket} failed", error, at=at or datetime.now(UTC))

    @classmethod
    def done(cls, run_id: str, counts: Mapping[str, int], at: datetime | None = None) -> Attention:
        """The whole run ended; `counts` by outcome, e.g. {"succeeded": 3, "failed": 1}."""
        body = ", ".join(f"{count} {outcome}" for outcome, count in counts.items()) or "no tickets"
        at = at or datetime.now(UTC)
        return cls("done", run_id, None, "lfg: run finished", body, tuple(counts.items()), at)

    def as_dict(self) -> dict[str, Any]:
        """What a hook receives: the event, where it came from, when, and text it can show as it is."""
        event: dict[str, Any] = {
            "kind": self.kind,
            "run": self.run_id,
            "ticket": self.ticket,
            "title": printable(self.title, JSON_TITLE_LIMIT),
            "body": printable(self.body, JSON_BODY_LIMIT),
            "at": self.at.astimezone(UTC).isoformat(timespec="milliseconds"),
        }
        if self.kind == "done":
            event["counts"] = dict(self.counts)
        return event

    def to_json(self) -> str:
        """One line of ASCII JSON (every other character escaped), newline-terminated."""
        return json.dumps(self.as_dict(), ensure_ascii=True) + "\n"
