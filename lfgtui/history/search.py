"""What a search asks for: the user's words as a safe FTS5 query, the filters as SQL, and each
matching part as a hit with its highlighted spans, shown as `snippet_text`."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lfgtui.inert import inert

if TYPE_CHECKING:
    from rich.text import Text

SNIPPET_OPEN, SNIPPET_CLOSE = "\x02", "\x03"  # what snippet() puts around a match; see `split_marks`
_PHRASE = re.compile(r'"([^"]*)"')

MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 64
MAX_QUERY_PREFIXES = 8
_WORDS = re.compile(r"[^\W_]+")  # what FTS5 unicode61 makes tokens of: letters and digits


class QueryTooLarge(sqlite3.OperationalError):
    """A search too big to run: FTS5's time grows with every term, and more than linearly with
    prefix terms (sixty-four `w*` take a minute over a few thousand answers). An `OperationalError`,
    as SQLite's own query errors are, so whatever shows a failed search (the history screen) shows
    this one too."""


def fts_query(text: str) -> str | None:
    """A user's words as a safe FTS5 query: every term quoted, `"exact phrases"` kept, all ANDed.

    FTS5 syntax in the input (NEAR, OR, -, ^, col:, brackets, stray quotes) is searched for as plain
    words, never interpreted; a bare term ending in `*` is a prefix search. A term that repeats
    another (whatever its case or punctuation) is dropped. None when nothing in the text could match
    a token. Raises `QueryTooLarge` beyond `MAX_QUERY_CHARS` characters, `MAX_QUERY_TERMS` terms (a
    phrase is one term) or `MAX_QUERY_PREFIXES` prefix terms.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryTooLarge(
            f"the search is {len(text)} characters long; at most {MAX_QUERY_CHARS} are searched"
        )
    terms: dict[tuple[tuple[str, ...], bool], str] = {}
    text = text.replace("\x00", " ")  # FTS5 reads the query as a C string: NUL would end it

    def add(term: str, prefix: bool = False) -> None:
        words = tuple(_WORDS.findall(term.casefold()))
        if words:
            terms.setdefault((words, prefix), '"' + term.replace('"', '""') + '"' + ("*" if prefix else ""))

    last = 0
    for match in _PHRASE.finditer(text):
        for word in text[last : match.start()].split():
            add(word.rstrip("*"), word.endswith("*"))
        add(match.group(1))
        last = match.end()
    for word in text[last:].split():
        add(word.rstrip("*"), word.endswith("*"))
    prefixes = sum(prefix for _, prefix in terms)
    if len(terms) > MAX_QUERY_TERMS or prefixes > MAX_QUERY_PREFIXES:
        raise QueryTooLarge(
            f"the search has {len(terms)} terms, {prefixes} of them prefixes (word*); "
            f"at most {MAX_QUERY_TERMS} terms and {MAX_QUERY_PREFIXES} prefixes are searched"
        )
    return " ".join(terms.values()) or None


def split_marks(marked: str) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Strip snippet() markers, returning the plain text and the marked spans."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    start = 0
    for ch in marked:
        if ch == SNIPPET_OPEN:
            start = at
        elif ch == SNIPPET_CLOSE:
            spans.append((start, at))
        else:
            plain.append(ch)
            at += 1
    return "".join(plain), tuple(spans)


@dataclass(frozen=True)
class Filters:
    """Narrow a search or the stats; `status` is an outcome, or `running` for open attempts."""

    ticket: str | None = None
    model: str | None = None
    provider: str | None = None
    status: str | None = None
    since: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on `a` (attempts) and `t` (tickets), and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.ticket is not None:
            clauses.append("t.ticket = ?")
            params.append(self.ticket)
        if self.model is not None:
            clauses.append("coalesce(a.model, t.model) = ?")
            params.append(self.model)
        if self.provider is not None:
            clauses.append("coalesce(a.provider, t.provider) = ?")
            params.append(self.provider)
        if self.status == "running":
            clauses.append("a.outcome IS NULL")
        elif self.status is not None:
            clauses.append("a.outcome = ?")
            params.append(self.status)
        if self.since is not None:
            clauses.append("a.started_at >= ?")
            params.append(self.since)
        return "".join(f" AND {c}" for c in clauses), params


@dataclass(frozen=True)
class SearchHit:
    """One matching part; `highlights` are (start, end) offsets of the matches within `snippet`."""

    attempt_id: str
    run_id: str
    ticket: str
    attempt: int
    kind: str
    name: str | None
    provider: str | None
    model: str | None
    outcome: str | None
    started_at: float
    snippet: str
    highlights: tuple[tuple[int, int], ...]


SUBAGENT = "subagent"
"""A hit's kind when a sub-agent said it; its `name` is the child's task (its session id without one)."""
_TASK = (
    "SELECT nullif(json_extract(p.meta, '$.subagent[1]'), '') FROM parts p "
    "WHERE p.attempt_id = s.attempt_id AND p.kind = 'status' AND json_valid(p.meta) "
    "AND json_extract(p.meta, '$.subagent[0]') = s.child ORDER BY p.seq DESC LIMIT 1"
)
_BEST_OF_EACH_CHILD = (
    "SELECT id FROM (SELECT s.id, subagent_fts.rank AS r, "
    "row_number() OVER (PARTITION BY s.attempt_id, s.child ORDER BY subagent_fts.rank) AS nth "
    "FROM subagent_fts JOIN subagent_texts s ON s.id = subagent_fts.rowid "
    "JOIN attempts a ON a.id = s.attempt_id JOIN tickets t ON t.id = a.ticket_id "
    "WHERE subagent_fts MATCH ? {where}) WHERE nth = 1 ORDER BY r LIMIT ?"
)
SUBAGENT_HITS = (
    f"SELECT a.id, t.run_id, t.ticket, a.number, '{SUBAGENT}', coalesce(({_TASK}), s.child), a.provider, "
    "a.model, a.outcome, a.started_at, snippet(subagent_fts, 0, '{open}', '{close}', '…', 16), "
    "subagent_fts.rank FROM subagent_fts JOIN subagent_texts s ON s.id = subagent_fts.rowid "
    "JOIN attempts a ON a.id = s.attempt_id JOIN tickets t ON t.id = a.ticket_id "
    f"WHERE subagent_fts MATCH ? AND s.id IN ({_BEST_OF_EACH_CHILD}) ORDER BY subagent_fts.rank"
)
"""Sub-agents' words matching a search, as rows of a `SearchHit` (kind `subagent`, named by the
child's task from its last record note) and their rank: the best of each child's rows (a run of its
words each, schema.py's V31), so a child is one hit, as an answer (one part) is. (FTS5's snippet()
cannot be called beside a window function: the best rows are chosen in a query of their own.) Its
`?`: the match twice, the filters', the limit."""


def snippet_text(hit: SearchHit, indent: str = "") -> Text:
    """A hit's snippet made inert, its matches highlighted (for `lfg history search` and the history
    screen: `inert` may lengthen the text, so the highlights are placed piece by piece)."""
    from rich.text import Text  # only showing a hit needs rich

    text = Text(indent)
    at = 0
    for start, end in hit.highlights:
        text.append(inert(hit.snippet[at:start]))
        text.append(inert(hit.snippet[start:end]), "bold reverse")
        at = end
    text.append(inert(hit.snippet[at:]))
    return text
