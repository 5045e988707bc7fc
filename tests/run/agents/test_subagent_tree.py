"""A coding agent's sub-agents as a tree in the parent's pane, in the real app through Pilot, against
the sim agent's scripted sub-agent (`--subagent`, in the background amid the parent's answer or in
the foreground after it), and the child's record read from today's Claude Code's shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets._collapsible import CollapsibleTitle

from lfgtui.cost.tokens import tokens_in
from lfgtui.events import EventFactory, SubagentChanged, SubagentDelta, SubagentToolCall, TextDelta
from lfgtui.run.agents.subagents import ChildUpdate
from lfgtui.run.agents.updates import UpdateReader, session_update
from lfgtui.sim.acp_stable import SUBAGENT_TEXT
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.subagents import ROWS, TEXT_TAIL, SubagentLog, SubagentRow, Subagents
from tests.support.agents import DELEGATING_TICKET, agent_app, delegating, delegating_as, no_agent_left
from tests.support.app import SIZE, until

HELLO = "Hello! I am the **lfg simulator**, answering offline over a real HTTP stream."


@pytest.mark.parametrize("flags", [(), ("--subagent-foreground",)], ids=["background", "foreground"])
async def test_a_sub_agent_is_a_row_of_the_parents_tree_with_its_own_calls_text_tokens_and_cost(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    """The child is one row under the parent's answer: its task, `done`, its tokens and cost, and
    unfolded its own tool call and text; the parent's answer is whole and unsplit, its tool log
    empty, and nobody is called for the child's finish."""
    app = agent_app(tmp_path, DELEGATING_TICKET, delegating(*flags))
    async with app.run_test(size=SIZE) as pilot:
        p = app.controller.panes["p"]
        await until(pilot, lambda: p.state is PaneState.COMPLETED, 20)
        tree = p.shown.subagents
        tokens = tokens_in(len(SUBAGENT_TEXT), None)
        heading = f"✓ Read the notes · done · ~{tokens} tok · $0.0042"
        await until(pilot, lambda: [str(row.title) for row in tree.rows.values()] == [heading], 5)
        assert str(tree.title) == f"sub-agents: 1 · ~{tokens} tok · $0.0042" and tree.display
        assert p.body.source == HELLO, "the child's text is not the parent's, nor splits it"
        assert not p.tools.rows, "the child's tool call is in its row, not the parent's tool log"
        assert p.metrics.subagent_tokens == tokens
        assert not p.needs_attention, "a child's finish needs nobody"
        [row] = tree.rows.values()
        assert row.collapsed
        row.collapsed = False
        await until(pilot, lambda: SUBAGENT_TEXT in str(row.detail.render()), 5)
        assert str(row.detail.render()) == f"✓ Write notes.txt\n{SUBAGENT_TEXT}"
    assert await no_agent_left(tmp_path)


CLAUDE_CODE_CHILD = [
    {
        "sessionUpdate": "subagent_update",
        "sessionId": "ad9a0dfa",
        "title": "Read the notes",
        "description": "general-purpose",
        "capabilities": {"cancel": {}},
        "state": {"state": "running"},
    },
    {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "Sub-agent here."}},
    {
        "_meta": {"claudeCode": {"toolName": "Read", "parentToolUseId": "toolu_sim0x0"}},
        "toolCallId": "toolu_sim0x0",
        "sessionUpdate": "tool_call",
        "rawInput": {"file_path": "notes.txt"},
        "status": "pending",
        "title": "Read notes.txt",
        "kind": "read",
        "content": [],
        "locations": [{"path": "notes.txt", "line": 1}],
    },
    {
        "_meta": {"claudeCode": {"toolResponse": {"type": "text"}, "toolName": "Read"}},
        "toolCallId": "toolu_sim0x0",
        "sessionUpdate": "tool_call_update",
    },
    {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": " Red. SUB-DONE"}},
    {
        "sessionUpdate": "subagent_update",
        "sessionId": "ad9a0dfa",
        "state": {"state": "idle", "stopReason": "cancelled"},
    },
]
"""A background sub-agent as claude-agent-acp 0.101.0 sent it (recorded 2026-11-26, ids shortened,
one line of each kind): the announcement on the parent, then the child's own text and tool call on
its session, whose id the parent's (`toolu_sim0x0`) may share, its call's end with no status; here
its finish made a cancel."""


def test_todays_claude_code_child_is_a_record_of_its_own_never_the_parents_answer() -> None:
    reader = UpdateReader(EventFactory("t", 1))
    shown = []
    for update in CLAUDE_CODE_CHILD:
        is_child = update["sessionUpdate"] != "subagent_update"
        read = session_update({"sessionId": "ad9a0dfa" if is_child else "parent", "update": update})
        shown += reader.events(ChildUpdate("ad9a0dfa", read) if is_child else read)
    assert not [e for e in shown if isinstance(e, TextDelta)]
    assert "".join(e.text for e in shown if isinstance(e, SubagentDelta)) == "Sub-agent here. Red. SUB-DONE"
    calls = [(e.child, e.call_id, e.title, e.state) for e in shown if isinstance(e, SubagentToolCall)]
    assert calls == [
        ("ad9a0dfa", "toolu_sim0x0", "Read notes.txt", "pending"),
        ("ad9a0dfa", "toolu_sim0x0", "Read notes.txt", "ended"),
    ], "its update says no status: once the child stops, the call has ended, how it did unsaid"
    records = [(e.state, e.output_tokens, e.message) for e in shown if isinstance(e, SubagentChanged)]
    assert records == [
        ("running", 0, "sub-agent started: Read the notes"),
        (
            "failed",
            tokens_in(len("Sub-agent here. Red. SUB-DONE"), None),
            "sub-agent finished: Read the notes (cancelled)",
        ),
    ]


def test_a_long_childs_row_keeps_the_end_of_its_text_and_counts_all_of_it() -> None:
    ev = EventFactory("t", 1)
    tree = Subagents()
    tree.changed(ev(SubagentChanged, message="", child="c", task="Scan", state="running"))
    for n in range(2000):
        tree.text(ev(SubagentDelta, child="c", text=f"{n:04d} "))
    child = tree.children["c"]
    assert child.tokens == round(2000 * 5 / 5) and child.heading() == "▸ Scan · running · ~2000 tok"
    assert child.kept <= 2 * TEXT_TAIL and str(child.detail()).endswith("1998 1999 ")
    assert tree.title == "sub-agents: 1, 1 running · ~2000 tok"


async def test_shift_x_cancels_the_unfolded_sub_agent_alone_and_the_parent_goes_on(tmp_path: Path) -> None:
    """The child offers its cancel and waits: `X` on its unfolded row sends `session/cancel` with
    the child's session id; the child ends cancelled, the parent's answer completes."""
    app = agent_app(tmp_path, DELEGATING_TICKET, delegating("--subagent-waits"))
    async with app.run_test(size=SIZE) as pilot:
        p = app.controller.panes["p"]
        tree = p.shown.subagents
        await until(pilot, lambda: len(tree.rows) == 1, 20)
        [row] = tree.rows.values()
        row.collapsed = False
        p.shown.focus()
        await pilot.press("X")
        await until(pilot, lambda: p.state is PaneState.COMPLETED, 20)
        [child] = tree.subagents.children.values()
        assert child.state == "failed", "stopped: idle with stop reason cancelled"
        assert [state for _, state in child.calls.values()] == ["failed"]
        assert p.body.source == HELLO, "the parent went on to the end of its answer"
        assert not p.needs_attention
    assert await no_agent_left(tmp_path)


def test_a_sub_agent_that_offered_no_cancel_is_not_cancelled_and_lfg_says_why() -> None:
    """Claude Code's child offers its cancel (`capabilities.cancel`); one that offers none is refused
    with words saying so (what `X` then tells the person), as is one that ended."""
    reader = UpdateReader(EventFactory("t", 1))
    announced = dict(CLAUDE_CODE_CHILD[0])
    reader.events(session_update({"sessionId": "parent", "update": announced}))
    assert reader.view.children.cannot_cancel("ad9a0dfa") is None, "Claude Code offers its cancel"
    del announced["capabilities"]
    reader = UpdateReader(EventFactory("t", 1))
    reader.events(session_update({"sessionId": "parent", "update": announced}))
    assert reader.view.children.cannot_cancel("ad9a0dfa") == (
        "the agent does not let lfg cancel Read the notes alone (it offered no cancel for it)"
    )
    ended = {"sessionUpdate": "subagent_update", "sessionId": "ad9a0dfa", "state": {"state": "idle"}}
    reader.events(session_update({"sessionId": "parent", "update": ended}))
    assert reader.view.children.cannot_cancel("ad9a0dfa") == "Read the notes is not running (idle)"
    assert reader.view.children.cannot_cancel("nobody") == "no such sub-agent in this ticket's session"


async def test_a_sub_agent_task_holding_markup_is_drawn_as_text_and_the_run_goes_on(tmp_path: Path) -> None:
    """A task is the agent's words: `[/]` in it once raised Textual's `MarkupError` in the row's
    heading, which ended the app and cancelled every ticket in it."""
    task = "Summarize the logs [/] and strip the [/b] tags [@click=app.quit]x[/]"
    two = DELEGATING_TICKET + DELEGATING_TICKET.replace('id = "p"', 'id = "q"')
    app = agent_app(tmp_path, two, delegating_as(task))
    async with app.run_test(size=SIZE) as pilot:
        panes = app.controller.panes
        await until(pilot, lambda: all(p.state is PaneState.COMPLETED for p in panes.values()), 60)
        tree = panes["p"].shown.subagents
        # the row is listed as it mounts; its title mounts after it
        await until(pilot, lambda: [len(r.query(CollapsibleTitle)) for r in tree.rows.values()] == [1], 30)
        [row] = tree.rows.values()
        label = row.query_one(CollapsibleTitle).label
        assert label.plain.startswith(f"✓ {task} · done") and not label.spans
        assert app.is_running
    assert await no_agent_left(tmp_path)


class Tree(App[None]):
    def __init__(self, subagents: Subagents) -> None:
        super().__init__()
        self.subagents = subagents

    def compose(self) -> ComposeResult:
        yield SubagentLog(self.subagents)


def shown_rows(log: SubagentLog) -> list[str]:
    """The tasks of the rows as they stand in the tree, top to bottom."""
    return [str(row.title).split(" · ")[0][2:] for row in log.query(SubagentRow)]


async def test_ten_thousand_sub_agents_mount_a_panes_worth_of_rows_and_the_rest_unfold() -> None:
    """A tree of 10,000 children mounts rows for its latest `ROWS` only, the earlier ones one line
    saying how many and in what states; unfolding that line gives `ROWS` more rows above, in order,
    and a child announced after moves the window down."""
    ev = EventFactory("t", 1)
    tree = Subagents()
    for n in range(10_000):
        state = "running" if n % 2 else "done"
        tree.changed(ev(SubagentChanged, message="", child=f"c{n}", task=f"task {n}", state=state))
    async with Tree(tree).run_test(size=(100, 60)) as pilot:
        log = pilot.app.query_one(SubagentLog)
        await pilot.pause()
        assert shown_rows(log) == [f"task {n}" for n in range(10_000 - ROWS, 10_000)]
        assert len(log.rows) == ROWS
        folded = 10_000 - ROWS
        said = (
            f"{folded} earlier sub-agents ({folded // 2} done, {folded // 2} running): unfold for {ROWS} more"
        )
        assert str(log.earlier.title) == said and log.earlier.display
        await pilot.click(log.earlier.query_one(CollapsibleTitle))
        await until(pilot, lambda: len(log.query(SubagentRow)) == 2 * ROWS)
        assert shown_rows(log) == [f"task {n}" for n in range(10_000 - 2 * ROWS, 10_000)]
        assert log.earlier.collapsed, "it folds again, ready for more"
        assert str(log.earlier.title).startswith(f"{folded - ROWS} earlier sub-agents")
        tree.changed(ev(SubagentChanged, message="", child="new", task="task new", state="running"))
        log.show()
        await until(pilot, lambda: shown_rows(log)[-1] == "task new" and len(shown_rows(log)) == 2 * ROWS)
        assert shown_rows(log) == [f"task {n}" for n in range(10_001 - 2 * ROWS, 10_000)] + ["task new"]
