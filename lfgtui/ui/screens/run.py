"""The run screen: a summary bar over a grid of ticket panes that adapts to the terminal.

Its keys act on its run through its `RunKeys` (the run controller); leaving it, opening the history and
re-running a recorded ticket as a new run are the app's to do, so the screen posts them as messages.
"""

from __future__ import annotations

import math
import os
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.dom import DOMNode
from textual.events import MouseScrollDown, MouseScrollUp, Resize
from textual.message import Message
from textual.screen import Screen
from textual.widget import AwaitMount

from lfgtui.alerts.attention import Attention
from lfgtui.alerts.states import Attentions, Standing, State
from lfgtui.alerts.terminal import (
    TITLE_RESTORE,
    TITLE_SAVE,
    in_tmux,
    notification_protocols,
    terminal_alert,
    terminal_title,
)
from lfgtui.cost.prices import format_usd
from lfgtui.formats import compared
from lfgtui.history.recorded import ReplayClock
from lfgtui.inert import inert
from lfgtui.run.approvals import Reply
from lfgtui.run.requests import (
    AddTicket,
    Answer,
    Approve,
    Cancel,
    CancelAll,
    CancelChild,
    End,
    FollowUp,
    Fork,
    Land,
    Request,
    Rerun,
    Resume,
    Retry,
    RetryAll,
    Steer,
)
from lfgtui.tickets.ticket import Ticket
from lfgtui.ui.drawing.compositor import CoveredCompositor
from lfgtui.ui.drawing.palette import colours
from lfgtui.ui.markdown.plain_lines import TextLine
from lfgtui.ui.screens.elicitation import ElicitationScreen
from lfgtui.ui.screens.modals import AgentLogScreen, ApprovalScreen, CompareScreen
from lfgtui.ui.widgets.footer import KeysFooter
from lfgtui.ui.widgets.gauges import elapsed_text
from lfgtui.ui.widgets.pane import PaneState, PaneView, Tally, TicketPane
from lfgtui.ui.widgets.tool_log import approval_request

if TYPE_CHECKING:
    from collections.abc import Callable

    from lfgtui.contest import Verdict
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.ui.services import Services

MIN_PANE_WIDTH = 40
MIN_PANE_HEIGHT = 11
"""Two rows of panes in a 24-line terminal: a pane's borders, header and gauges leave its answer
seven lines (fewer while it shows a notice)."""


class Mode(StrEnum):
    """What a run screen shows: a run streaming now, a recorded run taken up again, or just a record."""

    LIVE = "live"  # lfg run, or a ticket re-run from the history
    RESUMED = "resumed"  # lfg resume: retries and follow-ups are recorded into the same run
    READ_ONLY = "read-only"  # a recorded run opened from the history screen
    REPLAY = "replay"  # lfg replay: the record streamed again at its pace
    ATTACHED = "attached"  # lfg attach: a run another lfg serves (cancel, retry and approvals go to it)


ACTING = frozenset(
    {
        "cancel",
        "retry",
        "retry_all",
        "cancel_all",
        "follow_up",
        "steer",
        "approve",
        "land",
        "fork",
        "resume",
        "add_ticket",
    }
)
REPLAYING = frozenset({"replay_pause", "replay_skip"})
HIDDEN = {
    Mode.LIVE: REPLAYING | {"rerun"},
    Mode.RESUMED: REPLAYING | {"rerun"},
    Mode.READ_ONLY: REPLAYING | ACTING,
    Mode.REPLAY: ACTING | {"rerun", "history"},
    Mode.ATTACHED: REPLAYING
    | (ACTING - {"cancel", "retry", "approve", "follow_up", "steer", "add_ticket"})
    | {"rerun", "history"},
}
"""Actions each mode leaves out (they are neither run nor shown in the footer)."""
PANE_ACTIONS = frozenset(
    {"cancel", "diff", "review", "land", "fork", "approve", "answer_question", "steer", "follow_up"}
)
"""Actions on the focused pane the footer shows only where they would act on it (`applies`); the
keys still answer elsewhere, saying why they do nothing there."""

BINDINGS = [  # the footer shows them in this order, dropping the last that do not fit
    Binding("tab,right", "focus_pane(1)", "Next", id="pane.next", show=False, tooltip="focus the next pane"),
    Binding(
        "shift+tab,left",
        "focus_pane(-1)",
        "Previous",
        id="pane.previous",
        show=False,
        tooltip="focus the previous pane",
    ),
    Binding("down", "focus_row(1)", "Down", id="pane.down", show=False, tooltip="focus the pane below"),
    Binding("up", "focus_row(-1)", "Up", id="pane.up", show=False, tooltip="focus the pane above"),
    Binding(
        "y",
        "approve(True)",
        "Approve",
        id="pane.approve",
        tooltip=(
            "approve the focused pane's pending write_file / run_command (one too long for the pane "
            "opens whole first)"
        ),
    ),
    Binding("n", "approve(False)", "Deny", id="pane.deny", tooltip="deny it"),
    Binding(
        "e",
        "answer_question",
        "Answer",
        id="pane.answer",
        tooltip=(
            "answer the focused coding agent's question: fill in its form, then accept, decline or "
            "cancel (ACP elicitation)"
        ),
    ),
    Binding("c", "cancel", "Cancel", id="pane.cancel", tooltip="cancel the focused ticket"),
    Binding(
        "X",
        "cancel_child",
        "Cancel sub-agent",
        id="pane.cancel_child",
        show=False,
        tooltip="cancel the focused pane's sub-agent whose row is unfolded (else its one running one),"
        " the ticket going on, where its agent lets lfg: here, on the worker running it (--broker), or"
        " through the server of a run you attach to (--control)",
    ),
    Binding(
        "r",
        "retry",
        "Retry",
        id="pane.retry",
        tooltip="retry the focused ticket (a new attempt; the old one is kept)",
    ),
    Binding(
        "r",
        "rerun",
        "Re-run",
        id="pane.rerun",
        tooltip="re-run the focused ticket of a recorded run as a new run",
    ),
    Binding(
        "d",
        "diff",
        "Diff",
        id="pane.diff",
        tooltip=(
            "the focused ticket's diff, per file: what it changed in its git worktree (`e` / `c` expand"
            " or collapse every file, escape closes); live while it works, the recorded one after"
        ),
    ),
    Binding(
        "v",
        "review",
        "Review",
        id="pane.review",
        tooltip=(
            "review the focused ticket's diff: comment on lines and hunks, then send every comment to "
            "its agent as one follow-up (drafts are kept in the history)"
        ),
    ),
    Binding(
        "M",
        "land",
        "Land",
        id="pane.land",
        tooltip=(
            "land the focused ticket's change: squash it onto the branch its worktree was made from, "
            "then archive the worktree (asks first; lfg land for the other ways)"
        ),
    ),
    Binding(
        "f",
        "fork",
        "Fork",
        id="pane.fork",
        tooltip=(
            "fork a completed ticket: a new pane that goes on from its whole conversation with a prompt"
            " of its own, in a copy of its worktree (its agent's session forked where it can be); after"
            " the turn picked on its transcript (`k`/`j`) when one is"
        ),
    ),
    Binding(
        "k",
        "pick_turn(-1)",
        "Earlier turn",
        id="pane.turn_up",
        show=False,
        tooltip=(
            "pick one of your turns on the focused pane's transcript, marked there (the first press the"
            " last; again, the one before), for `f` to fork after"
        ),
    ),
    Binding(
        "j",
        "pick_turn(1)",
        "Later turn",
        id="pane.turn_down",
        show=False,
        tooltip=(
            "move the focused pane's turn cursor to your turn after the picked one (the first press"
            " picks the last)"
        ),
    ),
    Binding(
        "escape",
        "unpick_turn",
        "Done",
        id="pane.turn_done",
        show=False,
        tooltip="(a turn picked) leave turn-picking: the focused pane's transcript as it was",
    ),
    Binding(
        "R", "retry_all", "Retry all", id="run.retry_all", tooltip="retry every ticket that did not complete"
    ),
    Binding(
        "p",
        "resume",
        "Resume",
        id="pane.resume",
        show=False,
        tooltip='resume the focused ticket paused for its provider\'s quota (on_quota = "pause")',
    ),
    Binding(
        "i",
        "steer",
        "Steer",
        id="pane.steer",
        tooltip=(
            "steer the running ticket: your words into its turn, or queued as its next turn (the "
            "composer says which Enter does before you press it)"
        ),
    ),
    Binding(
        "i",
        "follow_up",
        "Follow up",
        id="pane.follow_up",
        tooltip="send a completed ticket a follow-up prompt, after its whole conversation",
    ),
    Binding("C", "cancel_all", "Cancel all", id="run.cancel_all", tooltip="cancel every ticket (asks first)"),
    Binding(
        "N",
        "add_ticket",
        "New ticket",
        id="run.add_ticket",
        show=False,  # the footer keeps its room for the focused pane's keys; ? and the palette list it
        tooltip="add a ticket to the running run: its prompt, provider, model and tools (a small form)",
    ),
    Binding(
        "E",
        "end_run",
        "End run",
        id="run.end",
        show=False,
        tooltip="end a run kept open for new tickets (lfg run --open), once its tickets at work have ended",
    ),
    Binding(
        "z,enter",
        "zoom",
        "Zoom",
        id="pane.zoom",
        tooltip="zoom the focused pane to the full screen, and back",
    ),
    Binding("t", "tools", "Tools", id="pane.tools", tooltip="show or hide the focused pane's tool log"),
    Binding(
        "right_square_bracket",
        "tool_row",
        "Tool call",
        id="pane.tool_row",
        show=False,
        tooltip=(
            "open the focused pane's next tool call (its arguments and output), closing the one open; "
            "past the last, none"
        ),
    ),
    Binding(
        "T",
        "thinking",
        "Thinking",
        id="pane.thinking",
        show=False,
        tooltip="show or hide the focused pane's thinking",
    ),
    Binding(
        "L",
        "agent_log",
        "Agent log",
        id="pane.agent_log",
        show=False,
        tooltip="a coding agent's log (its stderr) for the focused pane's attempt",
    ),
    Binding(
        "equals_sign",
        "compare",
        "Compare",
        id="pane.compare",
        show=False,
        tooltip=(
            "compare the models of the focused fanned-out ticket (models = [...]) side by side; a "
            "tournament's verdict once decided"
        ),
    ),
    Binding(
        "a",
        "attention",
        "Attention",
        id="run.attention",
        tooltip=(
            "go to the ticket that has needed you longest (an approval, a question), then to the failed"
            " and the finished ones you have not looked at yet; again: the next one"
        ),
    ),
    Binding(
        "pageup",
        "page(-1)",
        "Page up",
        id="pane.page_up",
        show=False,
        tooltip="scroll the focused pane's answer up a page (it stops following new output)",
    ),
    Binding(
        "pagedown",
        "page(1)",
        "Page down",
        id="pane.page_down",
        show=False,
        tooltip="scroll the focused pane's answer down a page",
    ),
    Binding(
        "home",
        "answer_edge(False)",
        "Top",
        id="pane.top",
        show=False,
        tooltip="scroll the focused pane's answer to its start",
    ),
    Binding(
        "end",
        "answer_edge(True)",
        "Bottom",
        id="pane.bottom",
        show=False,
        tooltip="scroll the focused pane's answer to its end (it follows new output again)",
    ),
    Binding(
        "slash", "history", "History", id="run.history", tooltip="search the history; open a recorded run"
    ),
    Binding(
        "F",
        "fleet",
        "Fleet",
        id="run.fleet",
        show=False,
        tooltip=(
            "the fleet view: every run on the broker this run publishes to or is attached from "
            "(--publish, --broker, lfg attach redis://…)"
        ),
    ),
    Binding(
        "escape",
        "close",
        "Back",
        id="run.close",
        tooltip="leave a run opened from the history screen (a running re-run is cancelled, after asking)",
    ),
    Binding(
        "space",
        "replay_pause",
        "Pause",
        id="replay.pause",
        tooltip="(lfg replay) pause the replay, and play it on",
    ),
    Binding(
        "greater_than_sign",
        "replay_skip(10)",
        "Skip 10 s",
        id="replay.skip",
        tooltip="(lfg replay) skip ten seconds of the record ahead: what was recorded in them shows at once",
    ),
]


class SummaryBar(TextLine):
    """Counts by status, aggregate tok/s, elapsed and the run id.

    Elapsed stops when every ticket has ended, at the last attempt's end (and goes on if one is
    retried), so a finished run shows how long it took, even one attached to after it ended, and an
    idle screen is not redrawn. A record opened from the history is not `timed`: nothing streams
    there, and each pane's gauges show how long its attempt took.

    A `TextLine`: one line of rich text, rendered once per change (a `Static` converted it to
    Textual's content and wrapped it anew each time, ~1 ms at 4 redraws a second).
    """

    def __init__(self, id: str, timed: bool = True) -> None:
        super().__init__(id=id)
        self.timed = timed
        self._ended_at: float | None = None

    def show(
        self,
        tally: Tally,
        now: float,
        started: float,
        run_id: str,
        cost: tuple[float | None, bool],
        limits: list[str],
        window: str = "",
    ) -> None:
        """`limits`: a line per provider that is paused or has calls queued (ratelimit.py), has told
        its quota, or (a coding agent) has reported its sessions' context and cost. `window`:
        which panes the grid shows and how to reach the others, when it cannot show them all (it
        leads the line, so a narrow terminal never cuts it off). `cost`: `MetricsBook.cost_usd`, `$0`
        while no attempt has asked anything. Costs the same for 3 or 3,000
        tickets: the tally counts them as they change, and only running panes have a rate."""
        counts = tally.counts
        running = tally.running
        if tally.finished:
            if self._ended_at is None:  # when the last attempt ended: now, unless watched afterwards
                self._ended_at = tally.last_end(default=now)
        else:
            self._ended_at = None
        rate = sum(p.metrics.live_tokens_per_s(now) for p in running)
        palette = colours(self.app)
        text = Text("lfg ", "bold")
        if window:  # first: cut off at the right edge, a newcomer would never learn of the others
            text.append(window, f"bold {palette.waiting}")
            text.append("  ")
        text.append(f"run {run_id}", "dim")
        text.append("  ")
        if tally.needs_you:  # the approvals among them: each pane's header says which
            text.append(f"⚑ {len(tally.needs_you)} need you", f"bold reverse {palette.attention}")
            text.append("  ")
        parts = [  # the unread are left to the panes' headers and `a`: this line is cut at its end
            (len(tally.stalled), "stalled", palette.attention),
            *(
                (counts[state], label, style)
                for state, label, style in (
                    (PaneState.RUNNING, "running", palette.running),
                    (PaneState.QUEUED, "queued", palette.waiting),
                    (PaneState.WAITING, "waiting", "dim"),
                    (PaneState.COMPLETED, "completed", palette.good),
                    (PaneState.FAILED, "failed", palette.bad),
                    (PaneState.CANCELLED, "cancelled", palette.waiting),
                    (PaneState.SKIPPED, "skipped", "dim"),
                )
            ),
        ]
        for count, label, style in parts:
            if count:
                text.append(f"{count} {label}", style)
                text.append("  ")
        if self.timed:
            text.append(f"{'~' if running else ''}{rate:.0f} tok/s", "bold")  # live rates are estimates
            spent, unknown = cost
            text.append(f"  {format_usd(0.0 if spent is None and not unknown else spent, unknown)}", "bold")
            end = now if self._ended_at is None else self._ended_at
            text.append(f"  {elapsed_text(end - started)}", "dim")
        for limit in limits:
            text.append(f"  {inert(limit)}", palette.waiting)
        text.rstrip()
        if text != self.text:
            self.update(text)


def compare_row(pane: TicketPane, now: float) -> tuple[str, ...]:
    """A pane's attempt as a row of the comparison: its model and the numbers the headless table has."""
    end = pane.ended_at if pane.ended_at is not None else now
    duration = "-" if pane.started_at is None else elapsed_text(end - pane.started_at)
    return (inert(f"{pane.provider}/{pane.model}"), *compared(pane.metrics, pane.state.value, duration))


class RunKeys(Protocol):
    """What the run screen's keys ask of the controller that owns its run: a person's request
    (lfgtui/run/requests.py) carried to the run (ui/run/controller.py `REQUESTS`), and what the
    screen shows of it."""

    def ask(self, request: Request) -> object: ...

    def show_diff(self, ticket_id: str) -> None: ...

    def review(self, ticket_id: str) -> None: ...

    def verdict(self, group: str) -> Verdict | None: ...

    def looked(self, ticket_id: str) -> None: ...

    def turns(self, ticket_id: str) -> tuple[str, ...] | None: ...


class RunScreen(Screen[None]):
    """`first` is the screen the app opened with; any later one (`/` then enter) can be left."""

    BINDINGS = BINDINGS

    class Leave(Message):
        """Back to the screen before this one (a run opened from the history)."""

        def __init__(self, run_screen: RunScreen) -> None:
            super().__init__()
            self.run_screen = run_screen

    class OpenHistory(Message):
        """Search the history, over this screen."""

    class OpenFleet(Message):
        """The fleet view of the broker, over this screen."""

    class Rerun(Message):
        """Run a recorded run's ticket again, as a new run of its own."""

        def __init__(self, ticket: Ticket, recorded: RecordedRun) -> None:
            super().__init__()
            self.ticket = ticket
            self.recorded = recorded

    def __init__(
        self, tickets: tuple[Ticket, ...], keys: RunKeys, services: Services, mode: Mode, first: bool = True
    ) -> None:
        """`keys`: what its keys act on; `services`: its clock and the person's keymap."""
        super().__init__()
        self._compositor = CoveredCompositor()  # its panes' updates render no hidden line (compositor.py)
        self.keys = keys
        self.services = services
        self.mode = mode
        self.first = first
        self.tally = Tally()
        self.attention = Attentions({ticket.id: ticket.depends_on for ticket in tickets}, services.clock())
        """Each ticket's attention state, fed the events its panes are (`attend`)."""
        standings = self.attention.standings
        self.panes = [TicketPane(ticket, self.tally, self.key, standings[ticket.id]) for ticket in tickets]
        self.by_id = {pane.ticket.id: pane for pane in self.panes}
        self.title_shown: str | None = None
        self.attention_visited: TicketPane | None = None
        """Where `a` last went: pressed again there, it goes on to the next; elsewhere, to the first."""
        self.summary = SummaryBar(id="summary", timed=mode is not Mode.READ_ONLY)
        self.grid = Container(id="grid")
        """Holds the views of the panes in the window only: thousands of mounted panes would make
        every focus change, layout and style pass of Textual walk all of them."""
        self.zoomed: TicketPane | None = None
        self.columns = 1
        self.rows_shown = 1
        self.top_row = 0
        """The first row of panes in the window; the mouse wheel and moving the focus move it."""
        self.footer_applying: frozenset[str] = frozenset()
        """The focused pane's keys the footer showed last (`pane_changed`)."""

    def key(self, binding_id: str) -> str:
        """The first key of this screen's binding `binding_id`, as the person may have rebound it."""
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return self.services.first_key(binding)

    def compose(self) -> ComposeResult:
        yield self.summary
        yield self.grid
        yield KeysFooter()

    @property
    def views(self) -> list[PaneView]:
        """The panes' widgets the grid holds: those in the window (not those dropped from it whose
        removal is still under way)."""
        children = self.grid.children
        return [child for child in children if isinstance(child, PaneView) and child.pane.view is child]

    @property
    def window(self) -> str:
        """Which panes the grid shows and the keys that reach the hidden ones, when it does not show
        them all: `panes 1-4 of 9 · 5 more ↓` (with an en dash)."""
        first, count, total = self.top_row * self.columns, self.rows_shown * self.columns, len(self.panes)
        if self.zoomed is not None or count >= total:
            return ""
        last = min(first + count, total)
        keys = "/".join(
            self.key_display(binding_id)
            for binding_id, hidden in (("pane.up", first > 0), ("pane.down", last < total))
            if hidden
        )
        return f"panes {first + 1}\u2013{last} of {total} \u00b7 {total - (last - first)} more {keys}"

    def key_display(self, binding_id: str) -> str:
        """How the footer and the help show this screen's binding `binding_id` (`↓`, `=`), as the
        person may have rebound it."""
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return self.app.get_key_display(binding.with_key(self.key(binding_id)))

    def alert(self, attention: Attention) -> None:
        """The bell and a desktop notification (OSC 9 / 777, through tmux when inside it).

        Textual has no public call for raw output: this is what its own `bell()` does, the driver's
        writer thread putting the bytes between two frames, never inside one."""
        app = self.app
        driver = app._driver
        if driver is None or app.is_headless or app.is_web:
            return
        protocols = notification_protocols(os.environ)
        driver.write(terminal_alert(attention, tmux=in_tmux(os.environ), protocols=protocols))

    def attend(self, standings: tuple[Standing, ...]) -> None:
        """Tickets' attention states changed: their panes show it, the terminal's title counts them."""
        for standing in standings:
            self.by_id[standing.ticket].attend(standing)

    def looked(self, pane: TicketPane) -> None:
        """The person looked at `pane` (zoomed it, opened its diff, scrolled its answer to the end)."""
        standing = self.attention.looked(pane.ticket.id)
        if standing is not None:
            pane.attend(standing)
            self.keys.looked(pane.ticket.id)

    def show_title(self) -> None:
        """The terminal's title says how many tickets need the person: `2 need you · lfg`. Ours only:
        nothing an agent wrote goes into it."""
        count = len(self.tally.needs_you)
        title = f"{count} need you · lfg" if count else "lfg"
        if title != self.title_shown:
            self._write_title(
                terminal_title(title) if self.title_shown else TITLE_SAVE + terminal_title(title)
            )
            self.title_shown = title

    def on_unmount(self) -> None:
        if self.title_shown is not None:
            self._write_title(TITLE_RESTORE)

    def _write_title(self, sequence: str) -> None:
        """Like `alert`: written by the driver between frames; not in a test's headless app or a browser."""
        app = self.app
        driver = app._driver
        if driver is not None and not app.is_headless and not app.is_web:
            driver.write(sequence)

    def applies(self, action: str) -> bool:
        """Whether the footer shows `action`'s key (KeysFooter asks): the keys of the focused pane's
        work (`PANE_ACTIONS`) only where they would act on it, so that those that do fit."""
        if action not in PANE_ACTIONS:
            return True
        pane = self.focused_pane
        if pane is None:
            return False
        worktree = pane.branch is not None or pane.diff is not None
        return {
            "cancel": not pane.finished,
            "diff": worktree,
            "review": worktree,
            "land": worktree and not pane.running,
            "fork": pane.state is PaneState.COMPLETED,
            "approve": pane.approval is not None,
            "answer_question": pane.question is not None,
            "steer": pane.running,
            "follow_up": pane.state is PaneState.COMPLETED,
        }[action]

    def pane_changed(self, pane: TicketPane) -> None:
        """`pane` took an event that may change which of its keys apply: the footer follows when it
        is the focused one's and they did."""
        if pane is not self.focused_pane:
            return
        applying = self._applying()
        if applying != self.footer_applying:
            self.footer_applying = applying
            self.refresh_bindings()

    def on_descendant_focus(self) -> None:
        """Textual refreshes the footer on a focus change: what it then shows is what applies."""
        self.footer_applying = self._applying()

    def _applying(self) -> frozenset[str]:
        return frozenset(action for action in PANE_ACTIONS if self.applies(action))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in HIDDEN[self.mode]:
            return False
        if action == "unpick_turn":  # else escape is the screen's own
            pane = self.focused_pane
            return pane is not None and pane.picked is not None
        if action == "fleet":
            return self.services.broker is not None
        if action == "steer":  # i on any other pane is its follow-up (the binding after it)
            pane = self.focused_pane
            return pane is not None and pane.running
        return not (action == "close" and self.first)

    async def on_resize(self, event: Resize) -> None:
        for mounting in self.layout_grid():
            await mounting
        if self.focused_pane is None and self.panes:
            await self.show_pane(self.panes[self.top_row * self.columns])

    def layout_grid(self) -> list[AwaitMount]:
        """A near-square grid of panes at least MIN_PANE_WIDTH wide; more columns when rows would not
        fit the height; when even that is not enough, the rows that fit at MIN_PANE_HEIGHT share the
        height and the grid shows a window of them, moved a row at a time (`scroll_rows`).

        Returns the mounting of the panes that came into the window."""
        if self.zoomed is not None:
            self.grid.styles.grid_size_columns = 1
            self.grid.styles.grid_rows = "1fr"
            return self._show_window()
        width, height = self.size.width, max(1, self.size.height - 2)
        count = max(1, len(self.panes))
        widest = max(1, min(count, width // MIN_PANE_WIDTH))
        columns = min(widest, math.ceil(math.sqrt(count)))
        while columns < widest and math.ceil(count / columns) * MIN_PANE_HEIGHT > height:
            columns += 1
        rows = math.ceil(count / columns)
        self.columns = columns
        self.rows_shown = max(1, min(rows, height // MIN_PANE_HEIGHT))
        self.top_row = max(0, min(self.top_row, rows - self.rows_shown))
        self.grid.styles.grid_size_columns = columns
        self.grid.styles.grid_rows = str(max(height // self.rows_shown, MIN_PANE_HEIGHT))
        return self._show_window()

    def _show_window(self) -> list[AwaitMount]:
        """Mount the views of the panes in the window, in order, and drop the others'."""
        if self.zoomed is not None:
            wanted = [self.zoomed]
        else:
            first = self.top_row * self.columns
            wanted = self.panes[first : first + self.rows_shown * self.columns]
        keep = set(wanted)
        for view in self.views:
            if view.pane not in keep:
                view.pane.view = None
                view.remove()
        mounts: list[AwaitMount] = []
        previous: PaneView | None = None
        for pane in wanted:
            if pane.view is None:
                pane.view = PaneView(pane)
                pane.view.set_class(pane is self.zoomed, "-zoom")
                if previous is not None:
                    mounts.append(self.grid.mount(pane.view, after=previous))
                elif self.grid.children:
                    mounts.append(self.grid.mount(pane.view, before=0))
                else:
                    mounts.append(self.grid.mount(pane.view))
            previous = pane.view
        return mounts

    def _reveal(self, pane: TicketPane) -> None:
        """Move the window by whole rows until it holds `pane`."""
        row = self.panes.index(pane) // self.columns
        if row < self.top_row:
            self.top_row = row
        elif row >= self.top_row + self.rows_shown:
            self.top_row = row - self.rows_shown + 1

    async def show_pane(self, pane: TicketPane) -> None:
        """Bring `pane` into the window (zoomed, if a pane is) and focus it."""
        mounts = self._zoom(pane) if self.zoomed not in (None, pane) else []
        self._reveal(pane)
        for mounting in [*mounts, *self._show_window()]:
            await mounting
        if pane.view is not None:
            self.set_focus(pane.view)  # at once: the next key (typed ahead) moves on from this pane

    def scroll_rows(self, rows: int) -> None:
        """Move the window `rows` rows down (up if negative), within the grid."""
        if self.zoomed is not None:
            return
        last = max(0, math.ceil(len(self.panes) / self.columns) - self.rows_shown)
        top = max(0, min(self.top_row + rows, last))
        if top != self.top_row:
            self.top_row = top
            self._show_window()

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.scroll_rows(1)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.scroll_rows(-1)

    @property
    def focused_pane(self) -> TicketPane | None:
        node: DOMNode | None = self.focused
        while node is not None:
            if isinstance(node, PaneView):
                return node.pane
            node = node.parent
        return None

    async def action_focus_pane(self, step: int) -> None:
        await self._step_focus(step)

    async def action_focus_row(self, step: int) -> None:
        await self._step_focus(step * int(self.grid.styles.grid_size_columns or 1))

    async def _step_focus(self, step: int) -> None:
        """Focus the pane `step` panes on (not named `_move_focus`: that is Textual's `Screen`'s own,
        which its `focus_next` calls)."""
        if not self.panes:
            return
        current = self.focused_pane
        index = self.panes.index(current) if current is not None else self.top_row * self.columns - step
        await self.show_pane(self.panes[(index + step) % len(self.panes)])

    def action_zoom(self) -> None:
        pane = self.focused_pane
        if pane is None:
            return
        self._zoom(None if self.zoomed is pane else pane)

    def _zoom(self, pane: TicketPane | None) -> list[AwaitMount]:
        """Show `pane` alone (None: the grid again, its window holding the pane that was zoomed)."""
        zoomed = self.zoomed
        if zoomed is not None and zoomed.view is not None:
            zoomed.view.remove_class("-zoom")
        self.zoomed = pane
        if pane is not None:
            self.looked(pane)
        self.set_class(pane is not None, "-zoomed")
        if pane is not None:
            if pane.view is not None:
                pane.view.add_class("-zoom")
            pane.dirty = True
        elif zoomed is not None:
            self._reveal(zoomed)
            for view in self.views:
                view.pane.dirty = True
        return self.layout_grid()

    def action_tools(self) -> None:
        pane = self.focused_pane
        if pane is not None and pane.tools.rows:
            pane.tools.collapsed = not pane.tools.collapsed
            pane.shown.tools.collapsed = pane.tools.collapsed

    def action_tool_row(self) -> None:
        """Open the focused pane's next tool call, closing the one open (the mouse opens any)."""
        pane = self.focused_pane
        if pane is None or not pane.tools.rows:
            self.app.bell()
            return
        pane.tools.open_next()
        view = pane.shown
        view.tools.collapsed = pane.tools.collapsed
        view.tools.show()

    def action_thinking(self) -> None:
        """Unfold or fold the focused pane's thinking (drawn on the next frame once unfolded)."""
        pane = self.focused_pane
        if pane is None or not pane.reasoning.length:
            self.app.bell()
            return
        pane.thinking_collapsed = not pane.thinking_collapsed
        pane.shown.thinking.collapsed = pane.thinking_collapsed
        pane.dirty = True

    def action_agent_log(self) -> None:
        """A coding agent's log (its stderr) for the focused pane's attempt."""
        pane = self.focused_pane
        if pane is None or pane.agent_log is None:
            self.app.bell()
            return
        self.app.push_screen(AgentLogScreen(pane.agent_log))

    def _with_diff(self, show: Callable[[str], None]) -> None:
        """`show` the focused ticket's diff (read or reviewed), when it has a worktree."""
        pane = self.focused_pane
        if pane is None:
            return
        if pane.diff is None:
            self.notify('This ticket has no worktree: isolation = "worktree" gives it one.', timeout=3)
            return
        show(pane.ticket.id)

    def action_diff(self) -> None:
        self._with_diff(self.keys.show_diff)

    def action_review(self) -> None:
        self._with_diff(self.keys.review)

    def action_compare(self) -> None:
        """The focused pane's fanned-out ticket, every model of it side by side; a tournament's table
        once its verdict is decided."""
        pane = self.focused_pane
        group = None if pane is None else pane.ticket.group
        if group is None:
            self.notify(
                "This ticket runs on one model: models = [...] fans a ticket out over several.", timeout=3
            )
            return
        verdict = self.keys.verdict(group)
        if verdict is not None:
            from lfgtui.ui.screens.verdict import VerdictScreen

            self.app.push_screen(VerdictScreen(verdict, self.keys))
            return
        now = self.services.clock()
        rows = [compare_row(other, now) for other in self.panes if other.ticket.group == group]
        self.app.push_screen(CompareScreen(group, rows))

    def action_approve(self, allowed: bool) -> None:
        """Deny at once; approve only what the person has seen whole: in the pane's notice when it
        all fits there, else in the approval screen, which answers for that same call only."""
        pane = self.focused_pane
        shown = None if pane is None else pane.approval_shown()
        if pane is None or pane.approval is None or shown is None:
            self.app.bell()
            return
        asked = pane.approval
        if not allowed or shown[1]:
            self.keys.ask(Approve(pane.ticket.id, asked.call_id, allowed))
            return

        def answered(yes: bool | None) -> None:
            if yes is None:
                return
            if pane.approval is not asked:
                self.notify("That request is no longer waiting.", timeout=3)
                return
            self.keys.ask(Approve(pane.ticket.id, asked.call_id, yes))

        request = approval_request(asked.name, asked.arguments, colours(self.app))
        self.app.push_screen(ApprovalScreen(request, self.services, over=pane.view), answered)

    def action_answer_question(self) -> None:
        """The focused pane's open question, as a form to fill in; its reply goes to the run."""
        pane = self.focused_pane
        if pane is None or pane.question is None:
            self.app.bell()
            return
        asked = pane.question
        drafts = pane.drafts.setdefault(asked.elicitation_id, {})

        def answered(reply: Reply | None) -> None:
            if reply is None:
                return
            if pane.question is not asked:
                self.notify("That question is no longer waiting.", timeout=3)
                return
            self.keys.ask(Answer(pane.ticket.id, asked.elicitation_id, reply))

        self.app.push_screen(ElicitationScreen(pane.ticket.id, asked, self.services, drafts), answered)

    @property
    def attention_order(self) -> list[TicketPane]:
        """Where `a` goes: the tickets that need the person, the longest-waiting first; then the
        failed and then the finished ones not yet looked at, the earliest first."""
        unread = self.attention.unread()
        failed = [s for s in unread if s.state is State.FAILED]
        done = [s for s in unread if s.state is not State.FAILED]
        return [self.by_id[s.ticket] for s in (*self.attention.needs_you(), *failed, *done)]

    async def action_attention(self) -> None:
        """Go to the ticket that has needed the person longest; pressed again, the next one."""
        waiting = self.attention_order
        if not waiting:
            self.notify("No ticket needs you, and none is unread.", timeout=2)
            return
        focused = self.focused_pane
        stepping = focused is self.attention_visited and focused in waiting
        pane = waiting[(waiting.index(focused) + 1) % len(waiting)] if stepping else waiting[0]
        self.attention_visited = pane
        await self.show_pane(pane)

    def action_page(self, pages: int) -> None:
        pane = self.focused_pane
        if pane is not None:
            body = pane.shown.body
            scroll = body.scroll_page_down if pages > 0 else body.scroll_page_up
            scroll(animate=False, force=True)

    def action_answer_edge(self, end: bool) -> None:
        pane = self.focused_pane
        if pane is not None:
            body = pane.shown.body
            edge = body.scroll_end if end else body.scroll_home
            edge(animate=False, force=True, immediate=True)
            if end:
                self.looked(pane)

    def _ask_of_focused(self, request: Callable[[str], Request]) -> None:
        """The person's `request` of the focused pane's ticket, to the run."""
        pane = self.focused_pane
        if pane is not None:
            self.keys.ask(request(pane.ticket.id))

    def action_cancel(self) -> None:
        self._ask_of_focused(Cancel)

    def action_cancel_child(self) -> None:
        pane = self.focused_pane
        if pane is None:
            return
        child = pane.shown.subagents.selected()
        if child is None:
            self.notify("Unfold the sub-agent's row to cancel it (no one sub-agent runs).", timeout=4)
            return
        self.keys.ask(CancelChild(pane.ticket.id, child))

    def action_retry(self) -> None:
        self._ask_of_focused(Retry)

    def action_resume(self) -> None:
        self._ask_of_focused(Resume)

    def action_rerun(self) -> None:
        self._ask_of_focused(Rerun)

    def action_steer(self) -> None:
        """The running ticket's composer: a steer, or its next turn queued."""
        self._ask_of_focused(Steer)

    def action_follow_up(self) -> None:
        """A running ticket: its composer (steer or queue); any other: a follow-up."""
        pane = self.focused_pane
        self._ask_of_focused(Steer if pane is not None and pane.running else FollowUp)

    def action_fork(self) -> None:
        self._ask_of_focused(Fork)

    def action_pick_turn(self, step: int) -> None:
        """Move the focused pane's turn cursor over the turns its transcript shows."""
        pane = self.focused_pane
        if pane is None:
            return
        if not pane.pick_turn(step, self.keys.turns(pane.ticket.id)):
            self.notify("No turn of yours on this pane's transcript to pick yet.", timeout=3)
        self.refresh_bindings()

    def action_unpick_turn(self) -> None:
        pane = self.focused_pane
        if pane is not None:
            pane.unpick()
        self.refresh_bindings()

    def action_land(self) -> None:
        self._ask_of_focused(Land)

    def action_retry_all(self) -> None:
        self.keys.ask(RetryAll())

    def action_cancel_all(self) -> None:
        self.keys.ask(CancelAll())

    def action_add_ticket(self) -> None:
        self.keys.ask(AddTicket())

    def action_end_run(self) -> None:
        self.keys.ask(End())

    def add_pane(self, ticket: Ticket) -> TicketPane:
        """A pane for a ticket the run took on while it ran (a fork, a tournament's synthesis), after
        the others, brought into the window and focused."""
        standing = self.attention.add(ticket.id, self.services.clock())
        pane = TicketPane(ticket, self.tally, self.key, standing)
        self.panes.append(pane)
        self.by_id[ticket.id] = pane
        self.layout_grid()
        self.run_worker(self.show_pane(pane), group="add-pane")
        return pane

    def action_history(self) -> None:
        self.post_message(self.OpenHistory())

    def action_fleet(self) -> None:
        self.post_message(self.OpenFleet())

    def action_close(self) -> None:
        self.post_message(self.Leave(self))

    def action_replay_pause(self) -> None:
        clock = self.services.clock
        if isinstance(clock, ReplayClock):
            clock.play_on() if clock.paused else clock.pause()
            self.notify("replay paused" if clock.paused else "replay playing on", timeout=2)

    def action_replay_skip(self, recorded_s: float) -> None:
        clock = self.services.clock
        if isinstance(clock, ReplayClock):
            clock.skip(recorded_s)
