"""`lfg resume` runs a ticket as the tickets file said: every field of a `Ticket` is recorded and comes
back, a worktree ticket's retry works in its own worktree, and a run imported from elsewhere grants
nothing here."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import lfgtui.sim
from lfgtui.config.mcp import McpServer
from lfgtui.events import Outcome
from lfgtui.history.database import StoreError
from lfgtui.history.export import from_json, import_record, to_json
from lfgtui.history.recorded import NOT_KEPT_BEFORE, withheld
from lfgtui.history.store import Selection, Store
from lfgtui.history.ticket_rows import ticket_from_row
from lfgtui.history.writer import reopen_run_history
from lfgtui.providers.base import Reasoning
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.seeds import earlier_of_each
from lfgtui.sim.server import SimServer
from lfgtui.tickets.ticket import DEFAULT_MAX_OUTPUT_CHARS, Ticket
from lfgtui.tools.box_limits import Limits
from lfgtui.tools.sandbox import limits_of
from tests.support.git import git, repository
from tests.support.recording import (
    ADDED_IN_V4,
    ADDED_IN_V5,
    as_schema_3,
    as_schema_35,
    load_recorded,
    record,
    record_tickets,
    sample_attempt,
    tickets_file,
)
from tests.support.streams import write_scenario

EVERY_FIELD: dict[str, Any] = {
    "id": "fix@gpt",
    "prompt": "Fix {{ outputs.plan }}",
    "title": "Fix the bug",
    "system": "Be brief.",
    "provider": "sim",
    "model": "gpt",
    "tools": ("read_file", "write_file", "run_command"),
    "max_calls": 7,
    "max_tokens": 900,
    "temperature": 0.25,
    "workdir": Path("/srv/project/sub"),
    "depends_on": ("plan",),
    "auto_approve": frozenset({"write_file", "run_command"}),
    "auto_approve_all": True,
    "line": 12,
    "env_passthrough": ("GOPATH", "CARGO_HOME"),
    "allow_git_writes": True,
    "max_output_chars": 5000,
    "isolation": "worktree",
    "setup": "npm ci",
    "sandbox": "bwrap",
    "sandbox_network": False,
    "sandbox_home": "readable",
    "sandbox_readable": (Path("/srv/shared/keys-for-tests"),),
    "sandbox_memory_mb": 3000,
    "sandbox_processes": 300,
    "sandbox_cpus": 1.5,
    "sandbox_tmp_mb": 200,
    "max_cost_usd": 0.05,
    "group": "fix",
    "mode": "plan",
    "resume_session": "sess-0123456789ab",
    "additional_directories": (Path("/srv/shared/docs"), Path("/srv/shared/schemas")),
    "mcp_servers": (
        McpServer("docs", "stdio", command="/usr/bin/docs-mcp", args=("--root", "."), env=("DOCS_TOKEN",)),
        McpServer(
            "search", "sse", url="https://mcp.example.com/sse", headers=(("Authorization", "Bearer ${T}"),)
        ),
    ),
    "check": "python -m pytest -q",
    "check_timeout_s": 90.0,
    "fallback": (("sim-anthropic", "gpt"), ("openai", "gpt-4.1/mini")),
    "max_wait_s": 30.0,
    "judges": "fix",
    "fork_of": ("plan", 2),
    "fork_turn": 2,
    "on_quota": "pause",
    "judge_max_chars": 50_000,
    "reasoning": Reasoning(effort="high", thinking="adaptive", show_thinking=False),
    "lead": True,
    "lead_max_live": 2,
    "lead_max_added": 7,
    "lead_max_per_minute": 5,
    "lead_budget_usd": 2.5,
}
"""A ticket with every field set, each default field to something else than its default."""


def test_every_field_of_a_ticket_is_set_here() -> None:
    """A field added to `Ticket` fails this until it is set above, and then the round trip below
    fails until the history records it."""
    assert set(EVERY_FIELD) == {field.name for field in dataclasses.fields(Ticket)}
    for field in dataclasses.fields(Ticket):
        if field.default is not dataclasses.MISSING:
            assert EVERY_FIELD[field.name] != field.default, f"{field.name} is set to its default"


def test_every_field_of_a_ticket_is_recorded_and_restored(tmp_path: Path) -> None:
    full = Ticket(**EVERY_FIELD)
    plan = dataclasses.replace(full, id="plan", depends_on=(), group=None)
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, sample_attempt("fix@gpt"), tickets=(plan, full))
    recorder.finish()
    restored = {t.ticket.id: t.ticket for t in load_recorded(db, recorder.run_id).tickets}
    assert dataclasses.asdict(restored["fix@gpt"]) == dataclasses.asdict(full)
    assert dataclasses.asdict(restored["plan"]) == dataclasses.asdict(plan)


def recorded_full(tmp_path: Path) -> tuple[Path, str]:
    """A finished run of the ticket with every field set, whose attempt worked in a worktree."""
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, sample_attempt("fix@gpt"), tickets=(Ticket(**EVERY_FIELD),))
    recorder.finish()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE attempts SET worktree = '/trees/run/fix=gpt', branch = 'lfg/run/fix=gpt'")
    return db, recorder.run_id


def test_a_resumed_ticket_keeps_its_boxs_bounds_and_an_older_one_gets_the_defaults(tmp_path: Path) -> None:
    """Recorded (migration 36), a ticket's bounds come back; a file of schema 35 kept none: migrated,
    its box takes this machine's defaults (`sandbox_of`'s `limits_of`)."""
    db, run_id = recorded_full(tmp_path)
    (ticket,) = load_recorded(db, run_id).as_tickets
    assert limits_of(ticket) == Limits(memory_mb=3000, processes=300, cpus=1.5, tmp_mb=200)
    with sqlite3.connect(db) as conn:
        as_schema_35(conn)
    (older,) = load_recorded(db, run_id).as_tickets
    assert limits_of(older) == Limits()


def test_a_ticket_an_older_lfg_recorded_runs_with_the_defaults_and_says_so(tmp_path: Path) -> None:
    """A file of schema 3 kept few of a ticket's fields: migrated, its ticket still works in a worktree
    (its attempts say it did), grants nothing, and resuming says what was not kept."""
    db, run_id = recorded_full(tmp_path)
    with sqlite3.connect(db) as conn:
        as_schema_3(conn)
    recorded = load_recorded(db, run_id)
    (ticket,) = recorded.as_tickets
    assert ticket.isolation == "worktree", "known by the worktree its attempt worked in"
    assert (ticket.auto_approve, ticket.auto_approve_all, ticket.env_passthrough) == (frozenset(), False, ())
    assert (ticket.max_cost_usd, ticket.max_output_chars, ticket.allow_git_writes) == (
        None,
        DEFAULT_MAX_OUTPUT_CHARS,
        False,
    )
    assert recorded.older == ("fix@gpt",) and not recorded.imported
    notice = recorded.notice()
    assert notice is not None and f"did not keep the {NOT_KEPT_BEFORE} of fix@gpt" in notice
    assert load_recorded(*recorded_full(tmp_path / "new")).notice() is None, "a new run says nothing"


def test_an_imported_run_keeps_every_field_but_grants_nothing_here(tmp_path: Path) -> None:
    db, run_id = recorded_full(tmp_path)
    with Store.open(db) as store:
        document = to_json(store.load(Selection(run_id)))
    document["run"]["imported_at"] = None  # the sender cannot pass its run off as recorded here
    other = tmp_path / "other.sqlite3"
    with Store.open(other) as store:
        import_record(store, from_json(json.loads(json.dumps(document))))
        (row,) = store.load(Selection(run_id)).tickets
    assert ticket_from_row(row) == Ticket(**EVERY_FIELD), "the history keeps what the file said"
    recorded = load_recorded(other, run_id)
    (ticket,) = recorded.as_tickets
    assert ticket == withheld(Ticket(**EVERY_FIELD)) and recorded.imported
    assert (ticket.isolation, ticket.max_cost_usd, ticket.max_output_chars) == ("worktree", 0.05, 5000)
    assert not (
        ticket.auto_approve_all
        or ticket.auto_approve
        or ticket.env_passthrough
        or ticket.allow_git_writes
        or ticket.mcp_servers
        or ticket.additional_directories
        or ticket.check
        or ticket.sandbox_readable
        or ticket.sandbox_memory_mb
        or ticket.sandbox_processes
        or ticket.sandbox_cpus
        or ticket.sandbox_tmp_mb
    ), "an imported box's bounds are this machine's defaults"
    assert ticket.sandbox_home == "no-secrets", "an imported sandbox hides the home's secrets again"
    notice = recorded.notice()
    granted = (
        "auto_approve, env_passthrough, allow_git_writes, mcp_servers, additional_directories, check, setup, "
        "a sandbox's view of your home"
    )
    assert notice is not None and f"are not applied here, and risky tools ask: {granted}." in notice
    assert recorded.outside(tmp_path) == [ticket], "/srv/project/sub is not under the current folder"
    assert recorded.outside(Path("/srv")) == []
    assert load_recorded(db, run_id).outside(tmp_path) == [], "a run recorded here asks nothing"


def test_an_export_older_than_the_fields_imports_with_the_defaults(tmp_path: Path) -> None:
    db, run_id = recorded_full(tmp_path)
    with Store.open(db) as store:
        document = to_json(store.load(Selection(run_id)))
    (ticket,) = document["run"]["tickets"]
    for _, column in ADDED_IN_V4 + ADDED_IN_V5:
        ticket.pop(column, None)
        document["run"].pop(column, None)
    with Store.open(tmp_path / "other.sqlite3") as store:
        import_record(store, from_json(document))
    recorded = load_recorded(tmp_path / "other.sqlite3", run_id)
    assert recorded.older == ("fix@gpt",)
    assert recorded.as_tickets[0].isolation == "worktree", "its attempt worked in a worktree"
    document["run"]["tickets"][0]["isolation"] = "elsewhere"
    with pytest.raises(StoreError, match=r"isolation: must be one of none, worktree"):
        from_json(document)


FLAKY_WRITER = (Path(lfgtui.sim.__file__).parent / "scenarios" / "writer.toml").read_text() + (
    '[[fault]]\nkind = "http"\nstatus = 401\ntimes = 1\n'
)
"""The writer scenario, whose first request is refused: the ticket fails, a retry writes."""


async def test_a_retry_of_a_worktree_ticket_works_in_its_own_worktree(
    sim: SimServer, tmp_path: Path, scenario_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resumed, the ticket is still `isolation = "worktree"`: its retry writes in the worktree it had,
    on its branch, never in the repository it started from."""
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    write_scenario(scenario_dir, "flaky-writer", FLAKY_WRITER)
    repo = repository(tmp_path / "repo")
    toml = '[[ticket]]\nid = "one"\nprompt = "write"\nprovider = "sim"\nmodel = "flaky-writer"\n'
    toml += f'workdir = "{repo}"\nisolation = "worktree"\ntools = ["write_file", "run_command"]\n'
    db = tmp_path / "history.sqlite3"
    run_id = await record_tickets(sim, tickets_file(tmp_path / "work", toml), db)
    recorded = load_recorded(db, run_id)
    assert earlier_of_each(recorded.tickets)["one"].outcome is Outcome.FAILED
    async with reopen_run_history(db, run_id, pytest.fail) as history, Providers(sim=sim) as providers:
        assert history is not None
        run = Run(
            recorded.as_tickets, providers, Approvals(yes=True), [], earlier=earlier_of_each(recorded.tickets)
        )
        run.record(history)
        assert run.retry("one")
        assert (await run.wait())["one"] is Outcome.COMPLETED
    assert not (repo / "notes").exists(), "nothing was written in the user's checkout"
    assert git(repo, "status", "--porcelain") == ""
    with Store.open(db) as store:
        (ticket,) = store.load(Selection(run_id, ticket="one")).tickets
    first, retry = (attempt.row for attempt in ticket.attempts)
    assert first.worktree is not None and (retry.worktree, retry.branch) == (first.worktree, first.branch)
    assert (Path(first.worktree) / "notes" / "summary.md").is_file()
    assert retry.branch == f"lfg/{run_id}/one" and retry.diff_files == 1
