"""A recorded run as Markdown (to read) or JSON (lossless, loadable again with `import`).

The JSON holds every column of every row under the selection, nested run → tickets → attempts →
requests and parts, with `chunks` in base64; only the file-local integer keys are left out, and
`import` assigns new ones (it reads the format's first version too). Markdown is for people: a
metrics table, then each attempt's prompt, reasoning, answer and tool calls (in `<details>` blocks
when exporting, inline when shown).
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import time
from typing import Any

from lfgtui.config.validation import RUN_ID_PATTERN
from lfgtui.cost.cache import hit_rate
from lfgtui.cost.prices import format_usd
from lfgtui.events import AgentDetails, ContextUsed, ErrorKind, SubagentChanged
from lfgtui.formats import fenced, ms, rate, share, tokens, when
from lfgtui.history.database import StoreError, transaction
from lfgtui.history.notes import NOTES, agent_note
from lfgtui.history.reviews import insert_rows
from lfgtui.history.row_json import RECORD_ID, InvalidExport, brief, row_from_json, row_json
from lfgtui.history.rows import (
    AttemptRecord,
    AttemptRow,
    CheckRow,
    LandingRow,
    PartRow,
    RequestRow,
    ReviewRow,
    RunRecord,
    RunRow,
    SubagentTextRow,
    TicketRecord,
    TicketRow,
    VerdictRow,
    search_lead,
    subagent_words,
)
from lfgtui.history.schema import PartKind
from lfgtui.history.store import Store
from lfgtui.history.values import BAD_TEXT
from lfgtui.inert import inert
from lfgtui.worktrees.size import diff_size

FORMAT = "lfgtui-history"
VERSION = 2
V1_NAMES = {"requests": "turns", "request": "turn", "max_calls": "max_turns"}
"""What version 1 called the keys version 2 names: an attempt's `requests`, a part's `request`, a
ticket's `max_calls`; its `max_turns` error kind is now `max_calls`. Both versions are imported."""
SHOWN_OUTPUT_LINES = 20

# --- JSON ------------------------------------------------------------------------------------------


def _attempt_json(attempt: AttemptRecord) -> dict[str, Any]:
    """An attempt with its requests and parts, and its tournament `check` when it had one."""
    data = row_json(attempt.row) | {
        "requests": [row_json(request) for request in attempt.requests],
        "parts": [row_json(part) for part in attempt.parts],
    }
    if attempt.check is not None:
        data["check"] = row_json(attempt.check)
    if attempt.subagents:
        data["subagent_texts"] = [row_json(said) for said in attempt.subagents]
    return data


def to_json(record: RunRecord) -> dict[str, Any]:
    """The lossless export document; a run with tournaments has their `verdicts` (the ranking as its
    JSON text, as recorded)."""
    run = row_json(record.row) | {
        "tickets": [
            row_json(ticket.row)
            | {
                "attempts": [_attempt_json(attempt) for attempt in ticket.attempts],
                "landings": [row_json(landing) for landing in ticket.landings],
            }
            | ({"reviews": [row_json(review) for review in ticket.reviews]} if ticket.reviews else {})
            for ticket in record.tickets
        ]
    }
    if record.verdicts:
        run["verdicts"] = [row_json(verdict) for verdict in record.verdicts]
    return {"format": FORMAT, "version": VERSION, "run": run}


# --- checking an export before it is imported (each row: row_json.py) -------------------------------


def _object(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidExport(where, f"must be an object, not {brief(data)}")
    return data


def _objects(data: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """The objects of the list `data[key]`, each with where it is."""
    items = data.get(key)
    if not isinstance(items, list):
        raise InvalidExport(f"{where}.{key}", f"must be a list, not {brief(items)}")
    return [(f"{where}.{key}[{i}]", _object(item, f"{where}.{key}[{i}]")) for i, item in enumerate(items)]


def _label(what: str, value: Any, pattern: re.Pattern[str]) -> str:
    """` (ticket explore)` after a list index, so a message says which one; nothing for a bad id."""
    return f" ({what} {value})" if isinstance(value, str) and pattern.fullmatch(value) else ""


def from_json(document: Any) -> RunRecord:
    """Check and parse an export document: every field of every row must have its column's type and a
    value this lfg can show (ids as lfg makes them, finite numbers, known outcomes). Raises
    `StoreError` (an `InvalidExport` says where) when it is not one this lfg can load."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StoreError('not an lfg history export (no "format": "lfgtui-history")')
    version = document.get("version")
    if type(version) is not int or version not in (1, VERSION):
        raise StoreError(f"history export version {brief(version)} is not supported")
    names = V1_NAMES if version == 1 else {}
    run = _object(document.get("run"), "run")
    run_row = row_from_json(RunRow, run, "run")
    tickets = []
    for ticket_where, ticket in _objects(run, "tickets", "run"):
        ticket_where += _label("ticket", ticket.get("ticket"), RUN_ID_PATTERN)
        ticket_row = row_from_json(TicketRow, ticket, ticket_where, names)
        attempts = []
        for attempt_where, attempt in _objects(ticket, "attempts", ticket_where):
            attempt_where += _label("attempt", attempt.get("id"), RECORD_ID)
            if version == 1 and attempt.get("error_kind") == "max_turns":
                attempt = {**attempt, "error_kind": ErrorKind.MAX_CALLS.value}
            attempt_row = row_from_json(AttemptRow, attempt, attempt_where)
            requests = tuple(
                row_from_json(RequestRow, r, w)
                for w, r in _objects(attempt, names.get("requests", "requests"), attempt_where)
            )
            parts = tuple(
                row_from_json(PartRow, p, w, names) for w, p in _objects(attempt, "parts", attempt_where)
            )
            check = attempt.get("check")
            checked = (
                None
                if check is None
                else row_from_json(
                    CheckRow, _object(check, f"{attempt_where}.check"), f"{attempt_where}.check"
                )
            )
            said = attempt.get("subagent_texts")  # an export from before the history kept them has none
            listed = [] if said is None else _objects(attempt, "subagent_texts", attempt_where)
            subagents = tuple(row_from_json(SubagentTextRow, text, w) for w, text in listed)
            attempts.append(AttemptRecord(attempt_row, requests, parts, checked, subagents))
        if "isolation" not in ticket and any(a.row.worktree is not None for a in attempts):
            ticket_row = dataclasses.replace(ticket_row, isolation="worktree")  # as migration 4 infers
        landed = _objects(ticket, "landings", ticket_where) if "landings" in ticket else []  # from lfg 0.1
        landings = tuple(row_from_json(LandingRow, landing, where) for where, landing in landed)
        listed = _objects(ticket, "reviews", ticket_where) if "reviews" in ticket else []
        reviews = tuple(row_from_json(ReviewRow, r, w) for w, r in listed)
        tickets.append(TicketRecord(ticket_row, tuple(attempts), landings=landings, reviews=reviews))
    verdicts = () if "verdicts" not in run else _objects(run, "verdicts", "run")
    return RunRecord(run_row, tuple(tickets), tuple(row_from_json(VerdictRow, v, w) for w, v in verdicts))


def _subagent_values(attempt_id: str, pieces: tuple[SubagentTextRow, ...]) -> list[tuple[Any, ...]]:
    """An imported attempt's sub-agent rows, each with its search lead as the recorder makes it."""
    said: dict[str, str] = {}
    return [(attempt_id, search_lead(said, p.child, p.text), *p.to_db()) for p in pieces]


def import_record(store: Store, record: RunRecord) -> int:
    """Insert an exported run (or part of one) into the store, marked imported now whatever the file
    says (so that resuming it grants nothing, see resume.py); returns the number of attempts."""
    conn = store.conn
    run = dataclasses.replace(record.row, imported_at=time.time())
    try:
        with transaction(conn):
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run.id,)).fetchone():
                raise StoreError(f"run {run.id} is already in the history")
            conn.execute(RunRow.insert_sql(), run.to_db())
            for ticket in record.tickets:
                ticket_key = conn.execute(
                    TicketRow.insert_sql("run_id"), (record.row.id, *ticket.row.to_db())
                ).lastrowid
                conn.executemany(
                    LandingRow.insert_sql("ticket_id"),
                    [(ticket_key, *row.to_db()) for row in ticket.landings],
                )
                for attempt in ticket.attempts:
                    conn.execute(AttemptRow.insert_sql("ticket_id"), (ticket_key, *attempt.row.to_db()))
                    conn.executemany(
                        RequestRow.insert_sql("attempt_id"),
                        [(attempt.row.id, *r.to_db()) for r in attempt.requests],
                    )
                    conn.executemany(
                        PartRow.insert_sql("attempt_id"),
                        [(attempt.row.id, *p.to_db()) for p in attempt.parts],
                    )
                    conn.executemany(
                        SubagentTextRow.insert_sql("attempt_id", "lead"),
                        _subagent_values(attempt.row.id, attempt.subagents),
                    )
                    if attempt.check is not None:
                        conn.execute(
                            CheckRow.insert_sql("attempt_id"), (attempt.row.id, *attempt.check.to_db())
                        )
                insert_rows(conn, ticket_key, ticket.reviews)
            conn.executemany(VerdictRow.insert_sql("run_id"), [(run.id, *v.to_db()) for v in record.verdicts])
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"cannot import run {record.row.id}: {exc}") from exc
    return sum(len(ticket.attempts) for ticket in record.tickets)


# --- Markdown ----------------------------------------------------------------------------------------


def count(value: int) -> str:
    """An attempt's number; `?` for a bad value in the file (see `BAD_COUNT`)."""
    return str(value) if value >= 0 else BAD_TEXT


def cost(row: AttemptRow) -> str:
    """`$0.0123`, `~` when estimated, `$?` when no price was known for the model."""
    return format_usd(row.cost_usd, row.cost_estimated)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?=\s|$)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
NESTED_LEVELS = 2
"""How far a model's headings are moved down: below the attempt's `##`, so that an answer's own
`#` or `##` can never read as the start of another ticket."""


def _nested(text: str) -> str:
    """A model's Markdown with each heading `NESTED_LEVELS` deeper (at most `######`): `# Plan`
    becomes `### Plan`, an underlined heading an ATX one; code fences are left as they are."""
    lines = text.split("\n")
    out: list[str] = []
    fence = ""
    for line in lines:
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            out.append(line)
        elif opened:
            fence = opened.group(1)
            out.append(line)
        elif (atx := _ATX.match(line)) is not None:
            level = min(len(atx.group(1)) + NESTED_LEVELS, 6)
            out.append("#" * level + line[atx.end() :])
        elif (setext := _SETEXT.match(line)) and out and out[-1].strip() and not _ATX.match(out[-1]):
            level = (1 if setext.group(1)[0] == "=" else 2) + NESTED_LEVELS
            out[-1] = "#" * level + " " + out[-1].strip()
        else:
            out.append(line)
    return "\n".join(out)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.rstrip().splitlines())


def _shown(output: str, full: bool) -> str:
    lines = output.rstrip().splitlines()
    if full or len(lines) <= SHOWN_OUTPUT_LINES:
        return output
    more = len(lines) - SHOWN_OUTPUT_LINES
    return "\n".join([*lines[:SHOWN_OUTPUT_LINES], f"… ({more} more lines)"])


def _metrics_table(record: RunRecord) -> list[str]:
    lines = [
        "| ticket | # | attempt id | outcome | provider/model | TTFT | tok/s | tokens | cost | cache "
        "| duration |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ticket in record.tickets:
        for attempt in ticket.attempts:
            row = attempt.row
            duration = "-" if row.duration_s is None else f"{rate(row.duration_s)} s"
            outcome = row.outcome or "running"
            speed = rate(row.tokens_per_s, row.tokens_per_s_estimated)
            lines.append(
                f"| {_cell(ticket.row.ticket)} | {count(row.number)} | `{row.id}` | {outcome} "
                f"| {_cell(_model(ticket.row, attempt))} | {ms(row.ttft_ms)} | {speed} "
                f"| {tokens(row.output_tokens, row.tokens_estimated)} | {cost(row)} "
                f"| {share(hit_rate(attempt.requests))} | {duration} |"
            )
    return lines


def _cache(attempt: AttemptRecord) -> str:
    """` · cache 83%`: the share of the attempt's prompts the provider's prompt cache read, as its
    requests' usage said (`Metrics.cache_hit`); "" when none said."""
    hit = hit_rate(attempt.requests)
    return "" if hit is None else f" · cache {share(hit)}"


def _model(ticket: TicketRow, attempt: AttemptRecord) -> str:
    """The attempt's provider and model as asked, and the model its coding agent last reported
    running when that is another."""
    row = attempt.row
    asked = row.model or ticket.model
    notes = [agent_note(part.info) for part in attempt.parts if part.kind == PartKind.STATUS]
    models = [note[1]["model"] for note in notes if note is not None and note[0] is AgentDetails]
    reported = models[-1] if models else None
    said = f" (the agent reports {reported})" if reported and reported.casefold() != asked.casefold() else ""
    return f"{row.provider or ticket.provider}/{asked}{said}"


def _tool_block(
    call: PartRow | None, notes: list[PartRow], result: PartRow | None, details: bool
) -> list[str]:
    """A tool call, what happened to it before its result (its approval asked and answered, in
    order), then the result."""
    name = (call.name if call else None) or (result.name if result else None) or "unknown tool"
    title = f"Tool call: {name}"
    body: list[str] = []
    if call is not None:
        error = call.info.get("error")
        body.append(fenced(call.text or "{}", "json"))
        if error:
            body.append(f"*Unusable arguments:* {error}")
    body += [f"*{note.text}*" for note in notes]
    if result is not None:
        label = "Result (error)" if result.is_error else "Result"
        body += [f"*{label}:*", fenced(_shown(result.text, details) or "(empty)")]
    else:
        body.append("*No result recorded.*")
    if details:
        return [f"<details><summary>{title}</summary>", "", *_paragraphs(body), "</details>", ""]
    return [f"**→ {name}**", "", *_paragraphs(body)]


def _approval_of(part: PartRow) -> str | None:
    """The call an approval note (asked or answered) is about; None for any other part."""
    info = part.info if part.kind == PartKind.STATUS else {}
    call_id = info.get("approval", info.get("answered"))
    return call_id if isinstance(call_id, str) else None


def _offered(part: PartRow) -> str:
    """An agent's details note as a list of its commands (empty for any other part)."""
    note = agent_note(part.info)
    if note is None or note[0] is not AgentDetails:
        return ""
    return "\n".join(f"- `/{c.name}` {c.description}".rstrip() for c in note[1]["commands"])


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>&|~])")


def _literal(text: str) -> str:
    """An agent's words on one line of Markdown as they are: every character Markdown could read as
    markup (emphasis, a link, HTML, a heading) escaped, newlines shown as `⏎`."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text).replace("\r", "").replace("\n", "⏎")


def _subagent_record(part: PartRow) -> dict[str, Any] | None:
    """A sub-agent's record note's facts (child, task, state, tokens, cost); None for any other part."""
    return NOTES[SubagentChanged].read(part.info) if part.kind == PartKind.STATUS else None


def _subagent_block(child: str, record: dict[str, Any] | None, text: str) -> list[str]:
    """A sub-agent's own words, marked as the child's: its task, state, tokens (lfg's estimate from
    its text, `~` as the pane marks them) and cost, then its text quoted, so none of it reads as the
    parent's answer or as a heading of the run."""
    if record is None:  # its words with no record left of it (a damaged note): named by its session
        heading = f"**Sub-agent** `{child.replace('`', '')}`"
    else:
        cost = "" if record["cost_usd"] is None else f" · ${record['cost_usd']:.4f}"
        counted = tokens(record["output_tokens"], estimated=True)
        heading = f"**Sub-agent** {_literal(record['task']) or 'sub-agent'} · {_literal(record['state'])}"
        heading += f" · {counted} tok{cost}"
    return [heading, "", *([_quote(_nested(text.strip())), ""] if text.strip() else [])]


def _paragraphs(blocks: list[str]) -> list[str]:
    return [line for block in blocks for line in (block, "")]


def _attempt_markdown(ticket: TicketRow, attempt: AttemptRecord, details: bool) -> list[str]:
    row = attempt.row
    title = f" — {ticket.title}" if ticket.title and ticket.title != ticket.ticket else ""
    said = [(part, agent_note(part.info)) for part in attempt.parts if part.kind == PartKind.STATUS]
    contexts = [part for part, note in said if note is not None and note[0] is ContextUsed]
    context = f" · {contexts[-1].text}" if contexts else ""  # the last: how full it ended, what it cost
    speed = rate(row.tokens_per_s, row.tokens_per_s_estimated)
    lines = [
        f"## {ticket.ticket}{title} · attempt {count(row.number)} · {row.outcome or 'running'}",
        "",
        f"`{row.id}` · {_model(ticket, attempt)} · started {when(row.started_at)}"
        + (f" · a synthesis of tournament {ticket.synthesis_of}" if ticket.synthesis_of else "")
        + (f" · fork of {ticket.forked_from} attempt {ticket.forked_attempt}" if ticket.forked_from else "")
        + (f" at turn {ticket.forked_turn}" if ticket.forked_turn is not None else ""),
        "",
        f"TTFT {ms(row.ttft_ms)} (reasoning {ms(row.ttft_reasoning_ms)}, answer {ms(row.ttft_text_ms)}) · "
        f"{speed} tok/s · {tokens(row.output_tokens, row.tokens_estimated)} tokens · "
        f"{cost(row)}{_cache(attempt)}{context}",
        "",
    ]
    shown: set[int] = {part.seq for part in contexts}  # parts shown elsewhere than at their place
    results = {p.call_id: p for p in attempt.parts if p.kind == PartKind.TOOL_RESULT and p.call_id}
    approvals: dict[str, list[PartRow]] = {}
    for part in attempt.parts:
        if (call_id := _approval_of(part)) is not None:
            approvals.setdefault(call_id, []).append(part)
    records = {part.seq: record for part in attempt.parts if (record := _subagent_record(part)) is not None}
    last_record = {record["child"]: seq for seq, record in records.items()}  # its words go after its last
    texts = subagent_words(attempt.subagents)
    for part in attempt.parts:
        if part.seq in shown:
            continue
        if (record := records.get(part.seq)) is not None and last_record[record["child"]] == part.seq:
            lines += [
                f"*{part.text}*",
                "",
                *_subagent_block(record["child"], record, texts.pop(record["child"], "")),
            ]
            continue
        match part.kind:
            case PartKind.PROMPT if isinstance(by := part.info.get("steered_by"), str):
                lines += [f"**Steer** from {inert(by)}", "", _quote(part.text), ""]
            case PartKind.PROMPT:
                lines += ["**Prompt**", "", _quote(part.text), ""]
            case PartKind.REASONING if details:
                lines += [
                    "<details><summary>Reasoning</summary>",
                    "",
                    _nested(part.text.strip()),
                    "",
                    "</details>",
                    "",
                ]
            case PartKind.REASONING:
                lines += ["*Reasoning*", "", _quote(part.text), ""]
            case PartKind.TEXT:
                lines += [_nested(part.text.strip()), ""]
            case PartKind.TOOL_CALL:
                result = results.get(part.call_id)
                notes = [note for note in approvals.get(part.call_id or "", []) if note.seq > part.seq]
                shown.update(note.seq for note in notes)
                if result is not None:
                    shown.add(result.seq)
                lines += _tool_block(part, notes, result, details)
            case PartKind.TOOL_RESULT:
                lines += _tool_block(None, [], part, details)
            case PartKind.STATUS if details and (offered := _offered(part)):
                lines += ["<details><summary>" + part.text + "</summary>", "", offered, "", "</details>", ""]
            case PartKind.STATUS:
                lines += [f"*{part.text}*", ""]
            case PartKind.ERROR:
                lines += [f"**Error:** {part.text}", ""]
    for child, text in texts.items():  # words of a child whose record is lost: kept, at the end
        lines += _subagent_block(child, None, text)
    return lines + _check(attempt, details) + _changes(row)


def _check(attempt: AttemptRecord, details: bool) -> list[str]:
    """The attempt's tournament check: its command, result, test counts, time and output."""
    check = attempt.check
    if check is None:
        return []
    took = attempt.row.ended_ms
    seconds = "" if took is None else f" in {rate(max(check.checked_ms - took, 0.0) / 1000)} s"
    lines = [f"**Check** `{check.command}`: {_check_label(check)}{seconds}", ""]
    output = fenced(_shown(check.output, details) or "(no output)")
    if details:
        return [*lines, "<details><summary>Check output</summary>", "", output, "", "</details>", ""]
    return [*lines, output, ""]


def _check_label(check: CheckRow) -> str:
    """`passed (3 passed)`, `failed (2 passed, 1 failed)`, as the live table says it."""
    from lfgtui.contest import CheckResult, SuiteCounts

    counts = (check.tests_passed, check.tests_failed, check.tests_errors, check.tests_skipped)
    tests = None if check.tests_passed is None else SuiteCounts(*(n or 0 for n in counts))
    return CheckResult(check.command, check.passed, check.output, tests).label()


def latest_verdicts(record: RunRecord) -> list[VerdictRow]:
    """Each tournament's verdict: the latest decided (a follow-up decides it again)."""
    return list({verdict.tournament: verdict for verdict in record.verdicts}.values())


def _tournaments(record: RunRecord) -> list[str]:
    """Each tournament's table (its contestants best first, the winner marked) and its ranking's
    reasons."""
    attempts = {
        (ticket.row.ticket, attempt.row.number): (ticket.row, attempt)
        for ticket in record.tickets
        for attempt in ticket.attempts
    }
    lines: list[str] = []
    for verdict in latest_verdicts(record):
        who = "the rule" if verdict.judge is None else f"the judge {verdict.judge}"
        if verdict.judge_error is not None:
            who = f"the rule (the judge {verdict.judge} failed: {verdict.judge_error})"
        won = (
            "no winner: no contestant passed its check"
            if verdict.winner is None
            else f"winner {verdict.winner}"
        )
        placings = verdict.placings()
        judged = verdict.judge is not None and verdict.judge_error is None and placings
        if judged and (pick := placings[0][0]) != verdict.winner:  # the judge's pick did not pass its check
            won += f" (the judge's pick {pick} was overruled: only a passed check wins)"
        lines += [
            f"## Tournament {verdict.tournament}",
            "",
            f"Decided {when(verdict.decided_at)} · {won} · ranked by {who}",
            "",
            "| | contestant | model | check | diff | TTFT | tok/s | tokens | cost | cache | wall |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for ticket_id, number, _ in placings:
            mark = "★" if ticket_id == verdict.winner else ""
            found = attempts.get((ticket_id, number or 0))
            if found is None:
                lines.append(f"| {mark} | {_cell(ticket_id)} | | | | | | | | | |")
                continue
            ticket, attempt = found
            row = attempt.row
            check = row.outcome or "running" if attempt.check is None else _check_label(attempt.check)
            diff = (
                "-"
                if row.diff_files is None
                else diff_size(row.diff_added or 0, row.diff_removed or 0, row.diff_files)
            )
            wall = "-" if row.duration_s is None else f"{rate(row.duration_s)} s"
            lines.append(
                f"| {mark} | {_cell(ticket_id)} | {_cell(_model(ticket, attempt))} | "
                f"{_cell(check)} | "
                f"{diff} | {ms(row.ttft_ms)} | {rate(row.tokens_per_s, row.tokens_per_s_estimated)} | "
                f"{tokens(row.output_tokens, row.tokens_estimated)} | {cost(row)} | "
                f"{share(hit_rate(attempt.requests))} | {wall} |"
            )
        lines.append("")
        for place, (ticket_id, _, reasons) in enumerate(placings, 1):
            lines.append(f"{place}. **{_cell(ticket_id)}**: {_cell('; '.join(reasons))}")
        lines.append("")
    return lines


def _changes(row: AttemptRow) -> list[str]:
    """What the attempt changed in its git worktree, and the final diff, when it had one."""
    if row.diff_files is None:
        return []
    size = diff_size(row.diff_added or 0, row.diff_removed or 0, row.diff_files)
    where = f" on branch `{row.branch}`" if row.branch else ""
    lines = [f"**Changes**{where}: {size}", ""]
    if row.diff:
        lines += [fenced(row.diff, "diff"), ""]
    return lines


def _landings(ticket: TicketRecord) -> list[str]:
    """What was landed of the ticket's change, each landing a line."""
    if not ticket.landings:
        return []
    lines = [f"**Landed** ({ticket.row.ticket}):", ""]
    lines += [f"- {when(row.landed_at)}: {row.label()}" for row in ticket.landings]
    return [*lines, ""]


def _reviews_markdown(ticket: TicketRecord) -> list[str]:
    """The ticket's review comments: each where it is, what it quotes, and whether it was sent."""
    if not ticket.reviews:
        return []
    lines = [f"### Review comments on {ticket.row.ticket}", ""]
    for review in ticket.reviews:
        sent = f"sent {when(review.sent_at)}" if review.sent_at is not None else "draft"
        where = f"{review.path}:{review.line}" + (f"-{review.end_line}" if review.end_line else "")
        lines += [f"**`{where}`** ({sent})", "", fenced(review.quote, "diff"), "", _quote(review.body), ""]
    return lines


def to_markdown(record: RunRecord, details: bool = True) -> str:
    """The run (or the selected tickets and attempts) for people; `details` folds reasoning and tools.

    Made inert as a whole: all but its Markdown came from outside (answers, tool I/O, titles,
    messages), and a file someone will `cat`, or its rendering in a terminal, must not carry a single
    escape sequence. `inert` keeps newlines and tabs, so the Markdown itself is unchanged."""
    run = record.row
    lines = [
        f"# Run {run.id}",
        "",
        f"Started {when(run.started_at)} · ended {when(run.ended_at)}"
        + (f" · tickets file `{run.tickets_file}`" if run.tickets_file else ""),
        "",
    ]
    if run.command:
        lines += [f"`{run.command}`", ""]
    lines += [*_metrics_table(record), ""]
    lines += _tournaments(record)
    for ticket in record.tickets:
        for attempt in ticket.attempts:
            lines += _attempt_markdown(ticket.row, attempt, details)
        lines += _landings(ticket)
        lines += _reviews_markdown(ticket)
    return inert("\n".join(lines).rstrip() + "\n")
