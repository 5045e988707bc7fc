"""A recorded run as Markdown (to read) or JSON (lossless, loadable again with `import`).

The JSON holds every column of every row under the selection, nested run → tickets → attempts →
turns and parts, with `chunks` in base64; only the file-local integer keys are left out, and
`import` assigns new ones. Markdown is for people: a metrics table, then each attempt's prompt,
reasoning, answer and tool calls (in `<details>` blocks when exporting, inline when shown).
"""

from __future__ import annotations

import base64
import re
import sqlite3
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, TypeVar

from lfgtui.history.schema import PartKind
from lfgtui.history.store import (
    AttemptRecord,
    AttemptRow,
    PartRow,
    Row,
    RunRecord,
    RunRow,
    Store,
    StoreError,
    TicketRecord,
    TicketRow,
    TurnRow,
    transaction,
)

FORMAT = "lfgtui-history"
VERSION = 1
SHOWN_OUTPUT_LINES = 20

R = TypeVar("R", bound=Row)


# --- JSON ------------------------------------------------------------------------------------------


def _row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    if "chunks" in data:
        data["chunks"] = base64.b64encode(data["chunks"]).decode("ascii")
    for name in ("tools", "depends_on"):
        if name in data:
            data[name] = list(data[name])
    return data


def to_json(record: RunRecord) -> dict[str, Any]:
    """The lossless export document."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "run": _row_json(record.row)
        | {
            "tickets": [
                _row_json(ticket.row)
                | {
                    "attempts": [
                        _row_json(attempt.row)
                        | {
                            "turns": [_row_json(turn) for turn in attempt.turns],
                            "parts": [_row_json(part) for part in attempt.parts],
                        }
                        for attempt in ticket.attempts
                    ]
                }
                for ticket in record.tickets
            ]
        },
    }


def _row_from_json(cls: type[R], data: dict[str, Any]) -> R:
    values = {f.name: data[f.name] for f in fields(cls)}
    if "chunks" in values:
        values["chunks"] = base64.b64decode(values["chunks"])
    for name in ("tools", "depends_on"):
        if name in values:
            values[name] = tuple(values[name])
    return cls(**values)


def from_json(document: Any) -> RunRecord:
    """Parse an export document; raises `StoreError` when it is not one this lfg can read."""
    try:
        if document.get("format") != FORMAT:
            raise StoreError('not an lfg history export (no "format": "lfgtui-history")')
        if document.get("version") != VERSION:
            raise StoreError(f"history export version {document.get('version')} is not supported")
        run = document["run"]
        return RunRecord(
            _row_from_json(RunRow, run),
            tuple(
                TicketRecord(
                    _row_from_json(TicketRow, ticket),
                    tuple(
                        AttemptRecord(
                            _row_from_json(AttemptRow, attempt),
                            tuple(_row_from_json(TurnRow, turn) for turn in attempt["turns"]),
                            tuple(_row_from_json(PartRow, part) for part in attempt["parts"]),
                        )
                        for attempt in ticket["attempts"]
                    ),
                )
                for ticket in run["tickets"]
            ),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"not a valid lfg history export: {exc!r}") from exc


def import_record(store: Store, record: RunRecord) -> int:
    """Insert an exported run (or part of one) into the store; returns the number of attempts."""
    conn = store.conn
    try:
        with transaction(conn):
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (record.row.id,)).fetchone():
                raise StoreError(f"run {record.row.id} is already in the history")
            conn.execute(RunRow.insert_sql(), record.row.to_db())
            for ticket in record.tickets:
                ticket_key = conn.execute(
                    TicketRow.insert_sql("run_id"), (record.row.id, *ticket.row.to_db())
                ).lastrowid
                for attempt in ticket.attempts:
                    conn.execute(AttemptRow.insert_sql("ticket_id"), (ticket_key, *attempt.row.to_db()))
                    conn.executemany(
                        TurnRow.insert_sql("attempt_id"),
                        [(attempt.row.id, *t.to_db()) for t in attempt.turns],
                    )
                    conn.executemany(
                        PartRow.insert_sql("attempt_id"),
                        [(attempt.row.id, *p.to_db()) for p in attempt.parts],
                    )
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"cannot import run {record.row.id}: {exc}") from exc
    return sum(len(ticket.attempts) for ticket in record.tickets)


# --- Markdown ----------------------------------------------------------------------------------------


def when(timestamp: float | None) -> str:
    """A Unix time as local `YYYY-MM-DD HH:MM:SS`, or `-`."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def tokens(row: AttemptRow) -> str:
    if row.output_tokens is None:
        return "-"
    return f"{'~' if row.tokens_estimated else ''}{row.output_tokens}"


def _fence(text: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


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
        "| ticket | # | attempt id | outcome | provider/model | TTFT | tok/s | tokens | duration |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ticket in record.tickets:
        for attempt in ticket.attempts:
            row = attempt.row
            duration = "-" if row.duration_s is None else f"{row.duration_s:.1f} s"
            lines.append(
                f"| {_cell(ticket.row.ticket)} | {row.number} | `{row.id}` | {row.outcome or 'running'} "
                f"| {_cell(_model(ticket.row, row))} | {ms(row.ttft_ms)} | {rate(row.tokens_per_s)} "
                f"| {tokens(row)} | {duration} |"
            )
    return lines


def _model(ticket: TicketRow, attempt: AttemptRow) -> str:
    return f"{attempt.provider or ticket.provider}/{attempt.model or ticket.model}"


def _tool_block(call: PartRow | None, result: PartRow | None, details: bool) -> list[str]:
    name = (call.name if call else None) or (result.name if result else None) or "unknown tool"
    title = f"Tool call: {name}"
    body: list[str] = []
    if call is not None:
        error = call.info.get("error")
        body.append(_fence(call.text or "{}", "json"))
        if error:
            body.append(f"*Unusable arguments:* {error}")
    if result is not None:
        label = "Result (error)" if result.is_error else "Result"
        body += [f"*{label}:*", _fence(_shown(result.text, details) or "(empty)")]
    else:
        body.append("*No result recorded.*")
    if details:
        return [f"<details><summary>{title}</summary>", "", *_paragraphs(body), "</details>", ""]
    return [f"**→ {name}**", "", *_paragraphs(body)]


def _paragraphs(blocks: list[str]) -> list[str]:
    return [line for block in blocks for line in (block, "")]


def _attempt_markdown(ticket: TicketRow, attempt: AttemptRecord, details: bool) -> list[str]:
    row = attempt.row
    title = f" — {ticket.title}" if ticket.title and ticket.title != ticket.ticket else ""
    lines = [
        f"## {ticket.ticket}{title} · attempt {row.number} · {row.outcome or 'running'}",
        "",
        f"`{row.id}` · {_model(ticket, row)} · started {when(row.started_at)}",
        "",
        f"TTFT {ms(row.ttft_ms)} (reasoning {ms(row.ttft_reasoning_ms)}, answer {ms(row.ttft_text_ms)}) · "
        f"{rate(row.tokens_per_s)} tok/s · {tokens(row)} tokens",
        "",
    ]
    results = {p.call_id: p for p in attempt.parts if p.kind == PartKind.TOOL_RESULT and p.call_id}
    shown: set[int] = set()
    for part in attempt.parts:
        match part.kind:
            case PartKind.PROMPT:
                lines += ["**Prompt**", "", _quote(part.text), ""]
            case PartKind.REASONING if details:
                lines += [
                    "<details><summary>Reasoning</summary>",
                    "",
                    part.text.strip(),
                    "",
                    "</details>",
                    "",
                ]
            case PartKind.REASONING:
                lines += ["*Reasoning*", "", _quote(part.text), ""]
            case PartKind.TEXT:
                lines += [part.text.strip(), ""]
            case PartKind.TOOL_CALL:
                result = results.get(part.call_id)
                if result is not None:
                    shown.add(result.seq)
                lines += _tool_block(part, result, details)
            case PartKind.TOOL_RESULT if part.seq not in shown:
                lines += _tool_block(None, part, details)
            case PartKind.STATUS:
                lines += [f"*{part.text}*", ""]
            case PartKind.ERROR:
                lines += [f"**Error:** {part.text}", ""]
    return lines


def to_markdown(record: RunRecord, details: bool = True) -> str:
    """The run (or the selected tickets and attempts) for people; `details` folds reasoning and tools."""
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
    for ticket in record.tickets:
        for attempt in ticket.attempts:
            lines += _attempt_markdown(ticket.row, attempt, details)
    return "\n".join(lines).rstrip() + "\n"
