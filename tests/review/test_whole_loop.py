"""Issue 36's whole loop in the real app (Pilot), on the sim, a real repository and a real history
file: two tickets in worktrees ask for approval; one then ends on a question, the other finishes
unread (states and the `a` order checked); review comments on two lines go to the second as one
follow-up it answers; it is landed (squash) while the person's checkout has uncommitted work, which
stays untouched, the base moving by exactly one commit; the first is forked, and its worktree is
archived only once the person says so (`--force`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lfgtui.alerts.states import State
from lfgtui.commands.main import main as lfg
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.fork import ForkScreen
from lfgtui.ui.screens.modals import ApprovalScreen, ConfirmScreen
from lfgtui.ui.screens.review import ReviewScreen
from lfgtui.ui.widgets.pane import PaneState, TicketPane
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support.app import keys, pane, tickets, until
from tests.support.git import git, isolate_git, repository
from tests.support.review import comment, open_review, recorded_app
from tests.support.streams import write_scenario

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

[[call]]
text = "Going on with the patch, as you said."
"""


def loop_tickets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenarios: Path) -> tuple[Path, Path]:
    """Ticket q (writes plan.md, asks a question) and ticket w (writes notes/summary.md and reads it
    back), each in its own worktree of one repository: the tickets file and the repository."""
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = repository(tmp_path / "repo")
    model = write_scenario(scenarios, "plans-then-asks", PLANS_THEN_ASKS)
    toml = ""
    for ticket_id, ticket_model, tools in (
        ("q", model, '["write_file"]'),
        ("w", "writer", '["write_file", "run_command"]'),
    ):
        toml += f'[[ticket]]\nid = "{ticket_id}"\nprompt = "work"\nmodel = "{ticket_model}"\n'
        toml += f'workdir = "{repo}"\nisolation = "worktree"\ntools = {tools}\n\n'
    return tickets(tmp_path, toml), repo


def waiting_call(ticket_pane: TicketPane) -> str | None:
    """The tool call the pane's ticket waits on the person's answer for, if any."""
    return next((key for key, row in ticket_pane.tools.rows.items() if row.state is ToolState.WAITING), None)


async def approve_every_request(pilot: object, app: LfgApp, asked: list[str]) -> None:
    """Jump to each ticket that needs an approval (`a`), approve with `y` (and `y` again where the
    request opens whole), until both tickets have completed; `asked` gets each approved ticket."""
    both = (pane(app, "q"), pane(app, "w"))

    def settled() -> bool:
        return all(p.state is PaneState.COMPLETED for p in both)

    while not settled():
        try:
            await until(pilot, lambda: settled() or any(waiting_call(p) for p in both), 30)
        except TimeoutError:  # said with what each pane shows, to tell a stuck ticket from a slow one
            shown = {
                p.ticket.id: (p.state, p.standing.state, [r.state for r in p.tools.rows.values()])
                for p in both
            }
            run = app.controller.run  # a CI run's pane stayed running though the run had ended it
            ended = {p.ticket.id: run.states[p.ticket.id].outcome for p in both} if run else None
            raise AssertionError(
                f"neither completed nor waiting on an approval: {shown}; the run: {ended}"
            ) from None
        if settled():
            return
        for _ in range(len(both) + 1):  # `a` visits what needs the person, the longest-waiting first
            asking = await focus_next_attention(pilot, app)
            if asking is not None and asking.standing.state is State.APPROVAL:
                break
        assert asking is not None and asking.standing.state is State.APPROVAL
        call = waiting_call(asking)
        asked.append(asking.ticket.id)
        await pilot.press("y")  # type: ignore[attr-defined]
        if isinstance(app.screen, ApprovalScreen):
            await pilot.press("y")  # type: ignore[attr-defined]
        await until(pilot, lambda p=asking, c=call: waiting_call(p) != c, 30)


async def focus_next_attention(pilot: object, app: LfgApp) -> TicketPane | None:
    await pilot.press("a")  # type: ignore[attr-defined]
    return app.controller.screen.focused_pane


@pytest.mark.timeout(180)  # four attempts, a review, a landing and a fork: ~30 s here, more when loaded
async def test_attention_review_land_fork_and_archive_in_one_run(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, repo = loop_tickets(tmp_path, monkeypatch, scenario_dir)
    db = tmp_path / "h.sqlite3"
    base = git(repo, "rev-parse", "main")
    async with recorded_app(sim, path, db, yes=False) as app, app.run_test(size=(120, 40)) as pilot:
        q, w = pane(app, "q"), pane(app, "w")
        asked: list[str] = []
        await approve_every_request(pilot, app, asked)
        assert sorted(set(asked)) == ["q", "w"] and asked.count("w") == 2, "w writes and runs a command"
        await until(pilot, lambda: q.standing.state is State.ASKED and w.standing.state is State.UNREAD)
        assert await focus_next_attention(pilot, app) is q, "the question first: it needs the person"
        assert await focus_next_attention(pilot, app) is w, "then the unread one"

        await until(pilot, lambda: w.diff is not None and w.diff.files == 1)
        review = await open_review(pilot, app)
        await pilot.press("f", "n", "down")  # the file, its hunk, its first line
        await comment(pilot, review, "Say what it summarises")
        await pilot.press("down", "down", "down")
        await comment(pilot, review, "Name the scenario")
        asked_before = len(sim.log)
        await pilot.press("S")
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        await until(pilot, lambda: len(sim.log) > asked_before and w.state is PaneState.COMPLETED, 30)
        follow_up = json.dumps(sim.log[asked_before].body)
        assert "Say what it summarises" in follow_up and "Name the scenario" in follow_up
        assert w.attempt == 2, "the comments went as the ticket's next attempt"

        (repo / "README.md").write_text("# Project\n\nthe person's own edit\n")
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("Landed w onto main" in n.message for n in app._notifications), 30)

        for _ in range(3):
            if app.controller.screen.focused_pane is q:
                break
            await pilot.press("tab")
        assert app.controller.screen.focused_pane is q
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, ForkScreen))
        await pilot.press(*keys("Patch it"), "enter")
        await until(pilot, lambda: "q-fork1" in app.controller.panes)
        fork = app.controller.panes["q-fork1"]
        await until(pilot, lambda: fork.state is PaneState.COMPLETED, 30)
        await until(pilot, lambda: "fork of q" in fork.header.text.plain)  # drawn on a frame after
        run_id = app.controller.run_id

    assert git(repo, "rev-list", "--count", f"{base}..main") == "1", "the base moved by one commit"
    assert (repo / "notes" / "summary.md").exists() and not (repo / "plan.md").exists()
    assert (repo / "README.md").read_text() == "# Project\n\nthe person's own edit\n", "untouched"
    assert git(repo, "status", "--porcelain") == "M README.md"
    trees = tmp_path / "trees" / run_id
    assert not (trees / "w").exists(), "landed, then archived"
    assert (trees / "q-fork1" / "plan.md").exists(), "the fork has q's uncommitted plan"
    clean = ["worktrees", "clean", "--run", run_id, "--ticket", "q"]
    assert await asyncio.to_thread(lfg, clean) == 1, "kept: it has work that is not landed"
    assert (trees / "q" / "plan.md").exists()
    assert await asyncio.to_thread(lfg, [*clean, "--force"]) == 0
    assert not (trees / "q").exists(), "archived once the person said so"
