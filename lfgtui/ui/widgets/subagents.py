"""The sub-agent tree of a pane: a coding agent's children (ACP child sessions), one row each under
the parent's answer, with the child's task, state, tokens and cost; a row expands to the child's own
tool calls and text.

`Subagents` is what the pane keeps (fed its events, O(1) per token: a child's text is appended to a
list); `SubagentLog` draws it, only when something changed and only at the pane's pace for its lines
(`TicketPane.render_frame`), never per token. A row is mounted once, when its child is announced.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from lfgtui.cost.tokens import tokens_in
from lfgtui.events import SubagentChanged, SubagentDelta, SubagentToolCall
from lfgtui.formats import tokens as shown_tokens
from lfgtui.inert import inert, revealed
from lfgtui.ui.widgets.tool_log import folded

TEXT_TAIL = 2000
"""The most of a child's text its expanded row shows (its last characters)."""
ROWS = 20
"""The rows the tree mounts at first, for its latest children; the earlier ones are folded into one
line, which unfolds this many more each time: a tree of thousands mounts a pane's worth of widgets."""
STATE_GLYPHS = {"running": "▸", "idle": "·", "done": "✓", "failed": "✗"}
CALL_GLYPHS = {"pending": "○", "in_progress": "▸", "completed": "✓", "failed": "✗", "ended": "·"}


@dataclass
class Child:
    """One child as the pane holds it."""

    task: str
    state: str = "running"
    cost_usd: float | None = None
    text: list[str] = field(default_factory=list)
    """The end of its text, in the pieces it came in (at most about twice `TEXT_TAIL` of it)."""
    kept: int = 0
    """The characters `text` holds."""
    chars: int = 0
    """The characters of all its text: its tokens' estimate."""
    calls: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Each of its tool calls' (title, state), by its own id, in the order they came."""
    changes: int = 0

    @property
    def tokens(self) -> int:
        return tokens_in(self.chars, None)

    def heading(self) -> Content:
        """Its row's one line (state, task, tokens and cost), as literal text: the task and state are the
        agent's words, never markup (a `[/]` in it would end the app), on one line. The tokens are
        lfg's estimate from its text (`~`, as the gauges mark one)."""
        glyph = STATE_GLYPHS.get(self.state, "?")
        cost = "" if self.cost_usd is None else f" · ${self.cost_usd:.4f}"
        task = revealed(self.task).replace("\n", "⏎") or "sub-agent"
        counted = shown_tokens(self.tokens, estimated=True)  # from its text: agents report no count
        return Content(f"{glyph} {task} · {revealed(self.state)} · {counted} tok{cost}")

    def detail(self) -> Text:
        """Its tool calls, a line each, then the end of its text."""
        lines = [
            Text(f"{CALL_GLYPHS.get(state, '?')} {inert(title)}", "dim")
            for title, state in self.calls.values()
        ]
        said = "".join(self.text)[-TEXT_TAIL:]
        if said:
            lines.append(Text(inert(said)))
        return Text("\n").join(lines) if lines else Text("(nothing yet)", "dim")


@dataclass
class Subagents:
    """A pane's children, by their session ids, for its latest attempt."""

    children: dict[str, Child] = field(default_factory=dict)
    changes: int = 0
    collapsed: bool = False
    rows: int = ROWS
    """How many of the latest children have rows; the earlier ones are folded into one line."""

    def latest(self) -> list[str]:
        """The children that have rows, oldest first: the latest `rows` announced."""
        return list(itertools.islice(reversed(self.children), self.rows))[::-1]

    def unfold_earlier(self) -> None:
        """`ROWS` more of the folded children get rows."""
        self.rows += ROWS
        self.changes += 1

    def earlier(self) -> Content | None:
        """The line the folded children are drawn as (None: none folded): how many, in what states."""
        folded = list(itertools.islice(self.children.values(), max(0, len(self.children) - self.rows)))
        if not folded:
            return None
        states = Counter(child.state for child in folded)
        said = ", ".join(f"{count} {revealed(state)}" for state, count in states.most_common())
        more = min(ROWS, len(folded))
        return Content(f"{len(folded)} earlier sub-agents ({said}): unfold for {more} more")

    def changed(self, event: SubagentChanged) -> None:
        child = self.children.get(event.child)
        if child is None:
            child = self.children[event.child] = Child(event.task)
        child.task, child.state, child.cost_usd = event.task or child.task, event.state, event.cost_usd
        self._touch(child)

    def text(self, event: SubagentDelta) -> None:
        child = self.children.get(event.child)
        if child is None:  # its announcement was lost (a watcher's gap): a row of its own still
            child = self.children[event.child] = Child("")
        child.text.append(event.text)
        child.chars += len(event.text)
        child.kept += len(event.text)
        if child.kept > 2 * TEXT_TAIL:  # only the tail is shown: the rest goes, now and then
            child.text = ["".join(child.text)[-TEXT_TAIL:]]
            child.kept = TEXT_TAIL
        self._touch(child)

    def tool(self, event: SubagentToolCall) -> None:
        child = self.children.get(event.child)
        if child is None:
            child = self.children[event.child] = Child("")
        child.calls[event.call_id] = (event.title, event.state)
        self._touch(child)

    def clear(self) -> None:
        self.children.clear()
        self.rows = ROWS
        self.changes += 1

    def _touch(self, child: Child) -> None:
        child.changes += 1
        self.changes += 1

    @property
    def title(self) -> str:
        """The tree's heading: how many children, how many still running, their tokens and cost."""
        count = len(self.children)
        running = sum(child.state == "running" for child in self.children.values())
        tokens = sum(child.tokens for child in self.children.values())
        costs = [child.cost_usd for child in self.children.values() if child.cost_usd is not None]
        cost = f" · ${sum(costs):.4f}" if costs else ""
        busy = f", {running} running" if running else ""
        return f"sub-agents: {count}{busy} · {shown_tokens(tokens, estimated=True)} tok{cost}"


class SubagentRow(Collapsible):
    """One child's row: its heading; unfolded, its tool calls and text. The tree's rows are kept and
    given the children that come into view (`shows`), never mounted again for each."""

    def __init__(self, child_id: str, child: Child) -> None:
        self.detail = Static(classes="subagent-detail")
        self._changes = -1
        self.child_id = child_id
        super().__init__(self.detail, title=child.heading(), collapsed=True, classes="subagent-row")
        self.show(child)

    def shows(self, child_id: str, child: Child) -> None:
        """Show `child` from now on (folded, when it was another's: its detail is not this one's)."""
        if child_id != self.child_id:
            self.child_id, self._changes = child_id, -1
            self.collapsed = True
        self.show(child)

    def show(self, child: Child) -> None:
        """Draw the child as it is now: its heading always, its detail only while unfolded."""
        if child.changes == self._changes:
            return
        heading = child.heading()
        if heading != self.title:
            self.title = heading
        self.set_class(child.state == "failed", "-failed")
        if not self.collapsed:
            self._changes = child.changes
            self.detail.update(child.detail())


class EarlierRows(Collapsible):
    """The line the tree's earlier children are folded into: unfolding it (a click, or enter on it)
    gives `ROWS` more of them rows, and it folds again."""

    def __init__(self) -> None:
        super().__init__(title="", collapsed=True, classes="subagent-earlier")
        self.display = False


class SubagentLog(Collapsible):
    """The widgets of a pane's `Subagents`: a row for each of its latest children (`Subagents.rows`),
    mounted when it is announced and removed when it is no longer among them; the earlier ones are
    one line (`EarlierRows`), so the widgets stay a pane's worth however many children there are."""

    def __init__(self, subagents: Subagents) -> None:
        collapsed = subagents.collapsed
        self.earlier = EarlierRows()
        super().__init__(
            self.earlier,
            title=subagents.title,
            collapsed=collapsed,
            classes=folded("subagent-log", collapsed),
        )
        self.subagents = subagents
        self.rows: dict[str, SubagentRow] = {}
        self._changes = -1
        self._mounted = False

    def on_mount(self) -> None:
        self._mounted = True
        self.show()

    def selected(self) -> str | None:
        """The child a person means: the one whose row is unfolded (the last of them), else the one
        running child; None when neither says which."""
        unfolded = [child_id for child_id, row in self.rows.items() if not row.collapsed]
        if unfolded:
            return unfolded[-1]
        running = [c for c, child in self.subagents.children.items() if child.state == "running"]
        return running[0] if len(running) == 1 else None

    def on_collapsible_expanded(self, event: Collapsible.Expanded) -> None:
        """A row unfolded: its detail is drawn now (a folded row's is not kept up to date). The
        earlier line unfolded: more rows, and it folds again."""
        if event.collapsible is self.earlier:
            event.stop()
            self.earlier.collapsed = True
            self.subagents.unfold_earlier()
            self.show()
            return
        for child_id, row in self.rows.items():
            if row is event.collapsible and (child := self.subagents.children.get(child_id)) is not None:
                row.show(child)

    def show(self) -> None:
        """Bring the rows up to date with the children, once mounted."""
        subagents = self.subagents
        if subagents.changes == self._changes or not self._mounted:
            return
        contents = self.query_one_optional(Collapsible.Contents)
        if contents is None:
            return
        self._changes = subagents.changes
        latest = subagents.latest()
        rows = list(self.rows.values())
        for row in rows[len(latest) :]:  # a new attempt's tree: fewer children
            row.remove()
        children = subagents.children
        for row, child_id in zip(rows, latest, strict=False):  # a row shows the child in its place
            row.shows(child_id, children[child_id])
        more = [SubagentRow(child_id, children[child_id]) for child_id in latest[len(rows) :]]
        if more:
            contents.mount_all(more)
        self.rows = dict(zip(latest, [*rows, *more], strict=False))
        earlier = subagents.earlier()
        if earlier is not None:
            self.earlier.title = earlier
        self.earlier.display = earlier is not None
        if self.title != subagents.title:
            self.title = subagents.title
        self.display = bool(subagents.children)
