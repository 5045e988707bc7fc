"""Issue 36's whole loop without the TUI, each step a real `python -m lfgtui` process on the sim ACP
agent (`sim-acp`, a real agent process), a real repository and a real history file: `lfg run --json`
with two tickets in worktrees, served with `--control` so that each approval waits for an answer
(given over HTTP, as a watcher gives it); one ends on a question, the other finishes unread (states
and their order read from the `attention` events); `lfg review --comment … --comment … --send` and
the agent's follow-up; `lfg land --squash` beside the person's uncommitted edit (untouched, the base
one commit further); `lfg fork`; `lfg worktrees clean`, which keeps the work not landed until
`--force`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from lfgtui.history.schema import PartKind
from lfgtui.history.store import Selection, Store
from tests.support import warm_lfg
from tests.support.git import git, isolate_git, repository
from tests.support.lfg import Lfg, command, recorded_run
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN

PLANS_THEN_ASKS = """
    ttft_ms = 20
    tokens_per_s = 400

    [[call]]
    text = "I'll write the plan down first."
    [[call.tool_call]]
    name = "write_file"
    arguments = { path = "plan.md", content = "# Plan\\n\\n1. Patch the parser.\\n" }

    [[call]]
    text = "The plan is in plan.md. Should I patch the parser, or rewrite the tokenizer?"
"""


def states(events: list[dict[str, Any]], ticket: str) -> list[str]:
    """The ticket's attention states in the order it entered them."""
    return [e["state"] for e in events if e["type"] == "attention" and e["ticket"] == ticket]


def run_answering_approvals(lfg: Lfg, tickets: Path, db: Path) -> tuple[list[dict[str, Any]], str]:
    """`lfg run --json` served with `--control`; every approval it asks is approved over HTTP once it
    is on stdout. Its events and stderr."""
    (lfg.workdir / "token").write_text(TOKEN)
    args = lfg.args(tickets, "--json", "--db", str(db), "--serve", "0", "--control")
    args += ["--token-file", str(lfg.workdir / "token")]
    process = warm_lfg.popen(args, env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    try:
        served = re.search(r"serving this run at (\S+)", process.stderr.readline())
        assert served is not None
        events = []
        for line in process.stdout:
            events.append(json.loads(line))
            if events[-1]["type"] == "approval":
                at = f"{served.group(1)}/v1/tickets/{events[-1]['ticket']}/calls/"
                at += f"{quote(events[-1]['id'], safe='')}/approve"
                assert httpx2.post(at, headers={"Authorization": f"Bearer {TOKEN}"}).json() == {"ok": True}
        stderr = process.stderr.read()
        assert process.wait(timeout=60 * PATIENCE) == 0, stderr
    finally:
        process.kill()
    return events, stderr


@pytest.mark.timeout(180)  # six lfg processes and their agents: a loaded machine takes its time
def test_run_review_land_fork_and_clean_headless_on_the_sim_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    lfg = Lfg(tmp_path)
    lfg.env["LFG_WORKTREES"] = str(tmp_path / "trees")
    lfg.scenario("plans-then-asks", PLANS_THEN_ASKS)
    repo, db = repository(tmp_path / "repo"), tmp_path / "h.sqlite3"
    base = git(repo, "rev-parse", "main")
    tickets = lfg.tickets(
        f'[defaults]\nprovider = "sim-acp"\nisolation = "worktree"\nworkdir = "{repo}"\n'
        '[[ticket]]\nid = "q"\nprompt = "plan the fix"\nmodel = "plans-then-asks"\n'
        '[[ticket]]\nid = "w"\ntitle = "Write the notes"\nprompt = "write notes"\nmodel = "writer"\n'
    )

    events, stderr = run_answering_approvals(lfg, tickets, db)
    run_id = recorded_run(stderr)
    assert states(events, "q") == ["working", "approval", "working", "asked"]
    assert states(events, "w") == ["working", "approval", "working", "approval", "working", "unread"]
    (asked,) = [e for e in events if e["type"] == "attention" and e["state"] == "asked"]
    assert asked["needs_you"] and asked["detail"].endswith("or rewrite the tokenizer?")
    trees = tmp_path / "trees" / run_id
    assert (trees / "q" / "plan.md").exists() and (trees / "w" / "notes" / "summary.md").exists()

    comments = ["notes/summary.md:1: Say what it summarises", "notes/summary.md:3: Name the scenario"]
    review = ["review", run_id, "w", "--send", "--yes", "--json", "--db", str(db)]
    done = command(lfg, *review, *(arg for text in comments for arg in ("--comment", text)))
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    assert sent["sent"]["attempt"] == 2 and sent["sent"]["outcome"] == "completed"
    assert "notes/summary.md" in sent["sent"]["answer"], "the agent's answer to the comments"
    assert [(c["line"], c["sent_attempt"]) for c in sent["comments"]] == [(1, 2), (3, 2)]
    with Store.open(db) as store:
        (ticket,) = store.load(Selection(run_id, ticket="w")).tickets
    prompt = next(p.text for p in ticket.attempts[1].parts if p.kind == PartKind.PROMPT)
    assert "Say what it summarises" in prompt and "Name the scenario" in prompt

    (repo / "README.md").write_text("# Project\n\nthe person's own edit\n")
    done = command(lfg, "land", run_id, "w", "--squash", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert git(repo, "rev-list", "--count", f"{base}..main") == "1", "the base moved by one commit"
    assert git(repo, "log", "-1", "--format=%s", "main") == "Write the notes"
    assert (repo / "README.md").read_text() == "# Project\n\nthe person's own edit\n", "untouched"
    assert git(repo, "status", "--porcelain") == "M README.md"
    assert not (trees / "w").exists(), "landed, then archived"

    done = command(lfg, "fork", run_id, "q", "--prompt", "Patch it", "--yes", "--json", "--db", str(db))
    assert done.returncode == 0, done.stderr
    forked = [json.loads(line) for line in done.stdout.splitlines()]
    (ended,) = [e for e in forked if e["type"] == "attempt_ended"]
    assert (ended["ticket"], ended["outcome"]) == ("q-fork1", "completed")
    assert (trees / "q-fork1" / "plan.md").exists(), "the fork has q's uncommitted plan"

    clean = ["worktrees", "clean", "--run", run_id, "--ticket", "q"]
    kept = command(lfg, *clean)
    assert kept.returncode == 1 and (trees / "q" / "plan.md").exists(), "kept: its work is not landed"
    assert command(lfg, *clean, "--force").returncode == 0
    assert not (trees / "q").exists(), "archived once the person said so"
