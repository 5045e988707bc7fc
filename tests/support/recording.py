"""Helpers for the history tests: tickets, and one hand-stamped attempt whose every time is known."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lfgtui.config.load import Config
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.history.lock import RunLock
from lfgtui.history.recorded import RecordedRun, recorded_run
from lfgtui.history.recorder import Item, Recorder, Started
from lfgtui.history.rows import take_tails
from lfgtui.history.store import Store
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import RequestRecord, SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import Ticket, TicketFile
from lfgtui.tools import BUILTIN_TOOLS

WALL = 1_700_000_000.0
PROMPT = "What is this project?"
ANSWER = "## Widget\nIt renders **widgets** for dashboards."


def ticket(ticket_id: str, model: str = "agent-demo") -> Ticket:
    return Ticket(
        id=ticket_id,
        prompt=PROMPT,
        title=ticket_id,
        system=None,
        provider="sim",
        model=model,
        tools=("list_dir",),
        max_calls=20,
        max_tokens=None,
        temperature=None,
        workdir=Path("/tmp"),
        depends_on=(),
        auto_approve=frozenset(),
        auto_approve_all=False,
        line=1,
    )


def ticket_file(tmp_path: Path, *tickets: Ticket) -> TicketFile:
    return TicketFile(path=tmp_path / "tickets.toml", tickets=tickets, offline_default=False)


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sample_attempt(
    ticket_id: str = "explore", attempt: int = 1, ended: bool = True, error: ErrorInfo | None = None
) -> list[Item]:
    """Reasoning, a streamed tool call and its result, then a two-chunk answer; t0 = 100 s. With an
    `error`, the attempt ends failed with it."""
    clock = Clock()
    ev = EventFactory(ticket_id, attempt, clock=clock)
    items: list[Item] = []

    def at(t: float, event_type: type[Event], **fields: object) -> None:
        clock.now = 100.0 + t
        items.append(ev(event_type, **fields))

    at(0.0, AttemptStarted, provider="sim", model="agent-demo")
    started = items.pop()
    assert isinstance(started, AttemptStarted)
    items.append(Started(started, WALL))
    at(0.0, PromptSent, text=PROMPT)
    at(0.001, RequestSent, call=0)
    at(0.3004, ReasoningDelta, text="Look at ")
    at(0.3106, ReasoningDelta, text="the files.")
    at(0.400, TextDelta, text="Let me ")
    at(0.410, TextDelta, text="look.")
    at(0.500, ToolCallStarted, call_id="c1", name="list_dir")
    at(0.510, ToolCallArgsDelta, call_id="c1", fragment='{"path"')
    at(0.520, ToolCallArgsDelta, call_id="c1", fragment=': "."}')
    raw = '{"path": "."}'
    at(0.530, ToolCallReady, call_id="c1", name="list_dir", arguments={"path": "."}, raw_arguments=raw)
    at(0.540, Usage, input_tokens=10, output_tokens=12)
    at(0.545, CallEnded, stop_reason="tool_use")
    if not ended:
        return items
    at(0.600, ToolResult, call_id="c1", output="README.md\nsrc/")
    at(0.700, RequestSent, call=1)
    at(1.000, TextDelta, text=ANSWER[:10])
    at(1.020, TextDelta, text=ANSWER[10:30])
    at(1.040, TextDelta, text=ANSWER[30:])
    at(1.050, Usage, input_tokens=30, output_tokens=8)
    at(1.060, CallEnded, stop_reason="stop")
    at(1.070, AttemptEnded, outcome=Outcome.FAILED if error else Outcome.COMPLETED, error=error)
    return items


def turn_around_a_call(
    call: Callable[[EventFactory], list[Event]],
    reported: int,
    per_char: float | None = None,
    counted_per_char: float | None = None,
) -> list[Event]:
    """A coding agent's turn on a clock from t = 100 s: a request (estimated at `per_char`), two runs
    of 11 chunks of 4 characters 0.1 s apart with `call`'s events between (the tool then runs 2 s),
    its count of `reported` tokens (with the calibration's `counted_per_char`) and its end. Each run
    streams 40 characters over 1 s."""
    clock = Clock()
    ev = EventFactory("explore", 1, clock=clock)
    events: list[Event] = [
        ev(AttemptStarted, provider="agent", model="m"),
        ev(RequestSent, call=0, tokens_per_char=per_char),
    ]
    for step in range(2):
        for _ in range(11):
            clock.now += 0.1
            events.append(ev(TextDelta, text=" tok"))
        if step == 0:
            events += call(ev)
            clock.now += 2.0
    counted = ev(Usage, output_tokens=reported, tokens_per_char=counted_per_char)
    return [*events, counted, ev(AttemptEnded, outcome=Outcome.COMPLETED)]


def events_of(items: list[Item]) -> list[Event]:
    return [item.event if isinstance(item, Started) else item for item in items]


def record(path: Path, tmp_path: Path, *batches: list[Item], tickets: tuple[Ticket, ...] = ()) -> Recorder:
    """A recorder for a run of `tickets` (default: one `explore`) that has written `batches`."""
    recorder = Recorder.begin(path, ticket_file(tmp_path, *(tickets or (ticket("explore"),))), "lfg run")
    for batch in batches:
        recorder.write(batch)
    return recorder


def recorded_and_rebuilt(db: Path, tmp_path: Path, live: list[Event]) -> list[Event]:
    """`live` (an attempt's events from its start) recorded into `db`, and rebuilt from its rows."""
    started = live[0]
    assert isinstance(started, AttemptStarted)
    record(db, tmp_path, [Started(started, WALL), *live[1:]]).finish()
    with Store.open(db) as store:
        (attempt_id,) = store.conn.execute("SELECT id FROM attempts").fetchone()
        return store.attempt_events(attempt_id)


FAST_AGENT = """
description = "A quick coding agent: lists the folder, reads the README, then answers."
ttft_ms = 5
tokens_per_s = 50

[[call]]
reasoning = "Look at the files first."
text = "Let me look around."
[[call.tool_call]]
name = "list_dir"
arguments = { path = "." }

[[call]]
[[call.tool_call]]
name = "read_file"
arguments = { path = "README.md" }

[[call]]
text = "## Widget\\nIt renders **widgets** for dashboards."
"""

TICKETS = """
[defaults]
provider = "{provider}"

[[ticket]]
id = "explore"
prompt = "What is this project?"
model = "fast-agent"
tools = ["list_dir", "read_file"]

[[ticket]]
id = "hi"
prompt = "Say hello."
model = "hello"
"""


def tickets_file(tmp_path: Path, toml: str = TICKETS, provider: str = "sim") -> Path:
    """A tickets file in a folder with a README, for the tools to find."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "README.md").write_text("# Widget\nA tiny service that renders widgets.\n")
    path = tmp_path / "tickets.toml"
    path.write_text(toml.replace("{provider}", provider))
    return path


async def record_tickets(sim: SimServer, path: Path, db: Path) -> str:
    """Run a tickets file against the sim, recorded into `db` as `lfg run` does; returns the run id."""
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    problems: list[str] = []
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None, problems
        run = Run(loaded.tickets, providers, Approvals(yes=True), [])
        run.record(history)
        run.start()
        await run.wait()
    assert not problems
    return history.run_id


def load_recorded(db: Path, ref: str) -> RecordedRun:
    with Store.open(db) as store:
        return recorded_run(store.load(store.resolve(ref)))


def without_imported_at(document: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """An export document without its run's `imported_at` (which `import` sets), and that value."""
    run = dict(document["run"])
    return document | {"run": run}, run.pop("imported_at")


def exchange(request: RequestRecord) -> tuple[list[tuple[str, str]], dict[str, str], str]:
    """What a request carried, whatever its protocol: (tool call id, name) pairs, each call's
    result text by id, and the text of its last user message."""
    body = request.body
    calls: list[tuple[str, str]] = []
    results: dict[str, str] = {}
    if request.path.endswith("/chat/completions"):
        for message in body["messages"]:
            for call in message.get("tool_calls") or []:
                calls.append((call["id"], call["function"]["name"]))
            if message["role"] == "tool":
                results[message["tool_call_id"]] = message["content"]
        last = body["messages"][-1]
        return calls, results, last["content"] if last["role"] == "user" else ""
    if request.path.endswith("/messages"):
        for message in body["messages"]:
            blocks = message["content"] if isinstance(message["content"], list) else []
            for block in blocks:
                if block["type"] == "tool_use":
                    calls.append((block["id"], block["name"]))
                elif block["type"] == "tool_result":
                    content = block["content"]
                    text = content if isinstance(content, str) else "".join(c["text"] for c in content)
                    results[block["tool_use_id"]] = text
        last: Any = body["messages"][-1]
        content = last["content"]
        text = content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
        return calls, results, text if last["role"] == "user" else ""
    assert request.path.endswith("/responses"), request.path
    for item in body["input"]:
        if item.get("type") == "function_call":
            calls.append((item["call_id"], item["name"]))
        elif item.get("type") == "function_call_output":
            results[item["call_id"]] = item["output"]
    last = body["input"][-1]
    content = last.get("content")
    text = content if isinstance(content, str) else "".join(c.get("text", "") for c in content or [])
    return calls, results, text if last.get("role") == "user" else ""


ADDED_IN_V4 = [
    ("tickets", column)
    for column in (
        "auto_approve",
        "auto_approve_all",
        "env_passthrough",
        "allow_git_writes",
        "max_output_chars",
        "isolation",
        "max_cost_usd",
        "fanned_from",
        "line",
        "mode",
        "every_field",
    )
] + [("runs", "imported_at")]


ADDED_IN_V5 = [("tickets", "mcp_servers")]
ADDED_IN_V6 = [("attempts", "tokens_per_s_estimated")]
ADDED_IN_V7 = [("requests", "tokens_per_char")]
ADDED_IN_V11 = [("attempts", "waited_s")]
ADDED_IN_V13 = [("tickets", "judges"), ("verdicts", "judge_error")]
ADDED_IN_V14 = [("tickets", "forked_from"), ("tickets", "forked_attempt")]


def as_schema_13(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 13 wrote: tickets that say of no fork
    (migration `V14`)."""
    as_schema_14(conn)
    for table, column in ADDED_IN_V14:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 13")


UNDO_V15 = """
DROP TABLE review_fts;
DROP TABLE review_comments;
PRAGMA user_version = 14;
"""


def as_schema_14(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 14 wrote: no review comments (migration `V15`)."""
    as_schema_15(conn)
    conn.executescript(UNDO_V15)


def as_schema_12(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 12 wrote: tickets without the tournament a
    judge ranks (migration `V13`)."""
    as_schema_13(conn)
    for table, column in ADDED_IN_V13:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 12")


ADDED_IN_V18 = [("tickets", "judge_max_chars")]


ADDED_IN_V20 = [("requests", "counted_chars")]


ADDED_IN_V21 = [("requests", "counted_per_char")]


ADDED_IN_V22 = [("requests", "turn_wire"), ("requests", "turn_source"), ("requests", "turn_body")]
ADDED_IN_V23 = [("tickets", "effort"), ("tickets", "thinking"), ("tickets", "show_thinking")]
ADDED_IN_V24 = [("requests", "output_unseen")]
ADDED_IN_V25 = [("tickets", "resume_session")]
ADDED_IN_V26 = [("tickets", "additional_directories")]
ADDED_IN_V27 = [("tickets", "setup"), ("tickets", "sandbox"), ("tickets", "sandbox_network")]
ADDED_IN_V28 = [("tickets", "sandbox_home"), ("tickets", "sandbox_readable")]
ADDED_IN_V29 = [("tickets", "forked_turn")]
ADDED_IN_V30 = ["subagent_texts"]
"""The tables migration `V30` added (its index goes with its table)."""


ADDED_IN_V35 = [("tickets", "lead_max_per_minute"), ("tickets", "lead_budget_usd")]
ADDED_IN_V36 = [
    ("tickets", column)
    for column in ("sandbox_memory_mb", "sandbox_processes", "sandbox_cpus", "sandbox_tmp_mb")
]


def as_schema_35(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 35 wrote: no box's bounds (`V36`)."""
    for table, column in ADDED_IN_V36:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 35")


def as_schema_34(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 34 wrote: no lead's rate or budget (`V35`)."""
    as_schema_35(conn)
    for table, column in ADDED_IN_V35:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 34")


def as_schema_33(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 33 wrote: no run keeps its `[defaults]`
    (migration `V34`)."""
    as_schema_34(conn)
    conn.execute("ALTER TABLE runs DROP COLUMN ticket_defaults")
    conn.execute("PRAGMA user_version = 33")


def as_schema_32(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 32 wrote: no ticket says which lead added it
    (migration `V33`)."""
    as_schema_33(conn)
    conn.execute("ALTER TABLE tickets DROP COLUMN added_by_lead")
    conn.execute("PRAGMA user_version = 32")


ADDED_IN_V32 = [("tickets", "lead"), ("tickets", "lead_max_live"), ("tickets", "lead_max_added")]


def as_schema_31(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 31 wrote: no lead tickets (migration `V32`)."""
    as_schema_32(conn)
    for table, column in ADDED_IN_V32:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 31")


ADDED_IN_V31 = [("subagent_texts", "seq"), ("subagent_texts", "t_ms"), ("subagent_texts", "chunks")]
ADDED_IN_V31 += [("subagent_texts", "lead")]
UNDO_V31 = """
DROP TRIGGER subagent_fts_insert;
DROP TRIGGER subagent_fts_update;
DROP TRIGGER subagent_fts_delete;
DROP TABLE subagent_fts;
DROP VIEW subagent_search;
"""


def as_schema_30(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 30 wrote: a sub-agent's words a row a batch,
    with no times and not searched (migration `V31`)."""
    as_schema_31(conn)
    conn.executescript(UNDO_V31)
    for table, column in ADDED_IN_V31:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 30")


def as_schema_29(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 29 wrote: no sub-agent's words kept (migration
    `V30`)."""
    as_schema_30(conn)
    for table in ADDED_IN_V30:
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 29")


def as_schema_28(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 28 wrote: forks without the turn they were cut
    after (migration `V29`)."""
    as_schema_29(conn)
    for table, column in ADDED_IN_V29:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 28")


def as_schema_27(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 27 wrote: tickets without what their sandbox
    hides of the home (migration `V28`)."""
    as_schema_28(conn)
    for table, column in ADDED_IN_V28:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 27")


def as_schema_26(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 26 wrote: tickets without their worktree's
    setup command (migration `V27`)."""
    as_schema_27(conn)
    for table, column in ADDED_IN_V27:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 26")


def as_schema_25(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 25 wrote: tickets without the folders beside
    their workdir (migration `V26`)."""
    as_schema_26(conn)
    for table, column in ADDED_IN_V26:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 25")


def as_schema_24(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 24 wrote: tickets without the agent session
    they continue (migration `V25`)."""
    as_schema_25(conn)
    for table, column in ADDED_IN_V25:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 24")


def as_schema_23(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 23 wrote: requests without whether their count
    holds output that never streamed (migration `V24`)."""
    as_schema_24(conn)
    for table, column in ADDED_IN_V24:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 23")


def as_schema_22(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 22 wrote: tickets without their reasoning
    settings (migration `V23`)."""
    as_schema_23(conn)
    for table, column in ADDED_IN_V23:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 22")


def as_schema_21(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 21 wrote: requests without their provider's
    own account of the call (migration `V22`)."""
    as_schema_22(conn)
    for table, column in ADDED_IN_V22:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 21")


def as_schema_20(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 20 wrote: requests without the worth their
    counts came with (migration `V21`)."""
    as_schema_21(conn)
    for table, column in ADDED_IN_V21:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 20")


def as_schema_19(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 19 wrote: requests without the characters
    their counts hold (migration `V20`)."""
    as_schema_20(conn)
    for table, column in ADDED_IN_V20:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 19")


def as_schema_18(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 18 wrote: no tails of streaming parts (migration
    `V19`), each part holding all its text (any tails folded into it first)."""
    as_schema_19(conn)
    for (part_id,) in conn.execute("SELECT DISTINCT part_id FROM part_tails").fetchall():
        text, chunks = take_tails(conn, part_id)
        conn.execute(
            "UPDATE parts SET text = text || ?, chunks = CAST(chunks || ? AS BLOB) WHERE id = ?",
            (text, chunks, part_id),
        )
    conn.execute("DROP TABLE part_tails")
    conn.execute("PRAGMA user_version = 18")


def as_schema_17(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 17 wrote: tickets without their
    `judge_max_chars` (migration `V18`)."""
    as_schema_18(conn)
    for table, column in ADDED_IN_V18:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 17")


ADDED_IN_V17 = [("requests", "models")]


def as_schema_16(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 16 wrote: requests without the split of their
    counts by model (migration `V17`)."""
    as_schema_17(conn)
    for table, column in ADDED_IN_V17:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 16")


ADDED_IN_V16 = [("tickets", "on_quota")]


def as_schema_15(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 15 wrote: tickets without their `on_quota`
    (migration `V16`)."""
    as_schema_16(conn)
    for table, column in ADDED_IN_V16:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 15")


ADDED_IN_V12 = ("checks", "verdicts")


def as_schema_11(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 11 wrote: no tournament checks, verdicts or
    syntheses (migration `V12`)."""
    as_schema_12(conn)
    for table in ADDED_IN_V12:
        conn.execute(f"DROP TABLE {table}")
    conn.execute("ALTER TABLE tickets DROP COLUMN synthesis_of")
    conn.execute("PRAGMA user_version = 11")


def as_schema_10(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 10 wrote: attempts without the time they
    waited for the person."""
    as_schema_11(conn)
    for table, column in ADDED_IN_V11:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 10")


ADDED_IN_V9 = [("tickets", "check_command"), ("tickets", "check_timeout_s")]
ADDED_IN_V10 = [("tickets", "fallback"), ("tickets", "max_wait_s")]


def as_schema_9(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 9 wrote: tickets without a failover chain."""
    as_schema_10(conn)
    for table, column in ADDED_IN_V10:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 9")


def as_schema_8(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 8 wrote: tickets without a tournament's check."""
    as_schema_9(conn)
    for table, column in ADDED_IN_V9:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 8")


def as_schema_7(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 7 wrote: no landings."""
    as_schema_8(conn)
    conn.execute("DROP TABLE landings")
    conn.execute("PRAGMA user_version = 7")


def as_schema_6(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 6 wrote: requests without their estimate's
    tokens per character."""
    as_schema_7(conn)
    for table, column in ADDED_IN_V7:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 6")


def as_schema_5(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 5 wrote: attempts without a rate's mark."""
    as_schema_6(conn)
    for table, column in ADDED_IN_V6:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 5")


def as_schema_4(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 4 wrote: tickets without MCP servers."""
    as_schema_5(conn)
    for table, column in ADDED_IN_V5:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 4")


def as_schema_3(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 3 wrote: tickets with a few of their fields."""
    as_schema_4(conn)
    for table, column in ADDED_IN_V4:
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 3")


UNDO_V3 = """
ALTER TABLE requests RENAME TO turns;
ALTER TABLE parts RENAME COLUMN request TO turn;
ALTER TABLE tickets RENAME COLUMN max_calls TO max_turns;
UPDATE attempts SET error_kind = 'max_turns' WHERE error_kind = 'max_calls';
PRAGMA user_version = 2;
"""


def as_schema_2(conn: sqlite3.Connection) -> None:
    """Make a file of this schema what an lfg of schema 2 wrote: `requests` called `turns`, a part's
    `request` its `turn`, `max_calls` `max_turns`, and an attempt stopped by it `max_turns`."""
    as_schema_3(conn)
    conn.executescript(UNDO_V3)


@contextlib.contextmanager
def older_lfg_recording(db: Path, folder: Path) -> Iterator[str]:
    """A history file of schema 2 with a run an older lfg is still recording (its lock held, as that
    lfg holds it while it lives), for as long as the block runs; yields the run's id."""
    record(db, folder, sample_attempt()).finish()
    with Store.open(db) as store:
        (run,) = store.list_runs()
    with sqlite3.connect(db) as conn:
        as_schema_2(conn)
        conn.execute("UPDATE runs SET ended_at = NULL")
    lock = RunLock(db, run.id)
    try:
        yield run.id
    finally:
        lock.release()
