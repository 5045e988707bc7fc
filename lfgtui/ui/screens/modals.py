"""Small modal screens: a yes/no confirmation, a whole approval request, a follow-up prompt, a coding
agent's log and the key help."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from lfgtui.formats import COMPARED, plural
from lfgtui.inert import inert
from lfgtui.ui.widgets.measured import MeasuredStatic

if TYPE_CHECKING:
    from lfgtui.ui.services import Services


def fit_scroll(dialog: Widget, scroll: Widget, room: int) -> None:
    """Make `scroll` no taller than what leaves `dialog` (its border, padding and other lines)
    within `room` lines: a dialog taller than the screen would cut off its own last lines, which
    could then never be scrolled to."""
    others = sum(child.outer_size.height + child.styles.margin.height for child in dialog.children)
    chrome = dialog.styles.gutter.height + others - scroll.outer_size.height - scroll.styles.margin.height
    scroll.styles.max_height = max(3, room - chrome)


class ConfirmScreen(ModalScreen[bool]):
    """Asks a yes/no question; y or enter says yes, n or escape says no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes", tooltip="yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="no"),
    ]

    def __init__(self, question: str) -> None:
        """`question` is drawn as text, made inert: many quote outside words (a path, git's)."""
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(inert(self.question)), classes="question")
            yield Static("[b]y[/b] yes    [b]n[/b] no", classes="choices")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class LeadStopScreen(ModalScreen[bool | None]):
    """Asks, as the person stops a lead ticket that added tickets still at work, whether they stop
    with it (s: True) or keep running (k: False); escape stops nothing (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "answer(True)", "Stop them too", id="lead_stop.stop", tooltip="stop its tickets too"),
        Binding("k", "answer(False)", "Keep them", id="lead_stop.keep", tooltip="keep its tickets running"),
        Binding("escape", "answer(None)", "Close", id="lead_stop.close", tooltip="stop nothing"),
    ]

    def __init__(self, lead: str, live: list[str]) -> None:
        """`lead` and the ids of `live`, drawn inert: a lead named them (an added ticket's `id`)."""
        super().__init__()
        self.lead, self.live = lead, live

    def compose(self) -> ComposeResult:
        question = (
            f"Stop {self.lead}? It is a lead: {plural(len(self.live), 'ticket')} it added "
            f"{'is' if len(self.live) == 1 else 'are'} at work or waiting: {', '.join(self.live)}"
        )
        with Vertical(classes="dialog"):
            yield Static(Text(inert(question)), classes="question")
            yield Static(
                "[b]s[/b] stop them too    [b]k[/b] keep them running    [b]esc[/b] stop nothing",
                classes="choices",
            )

    def action_answer(self, stop: bool | None) -> None:
        self.dismiss(stop)


class ApprovalScreen(ModalScreen[bool | None]):
    """A request too long for its pane's notice, shown whole: `y` counts only once the end of it has
    been on screen, so no part of what runs can stay hidden. Escape goes back undecided.

    It opens centred over the pane that asks (moved only as far as keeps it whole on screen), so the
    person sees which ticket asks."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y",
            "answer(True)",
            "Approve",
            id="approval.yes",
            tooltip="approve it (refused, with a hint, while part of it is below the view)",
        ),
        Binding("n", "answer(False)", "Deny", id="approval.no", tooltip="deny it"),
        Binding("escape", "close", "Back", id="approval.close", tooltip="back to the pane, undecided"),
        Binding(
            "end",
            "scroll_to_end",
            "End",
            show=False,
            id="approval.end",
            tooltip="scroll to the end of the request",
        ),
    ]

    def __init__(self, request: Text, services: Services, over: Widget | None = None) -> None:
        """`services`: whose keymap names the keys offered; `over`: the pane that asks (None: the
        middle of the screen)."""
        super().__init__()
        self.request = request
        self.services = services
        self.over = over
        self.dialog = Vertical(classes="dialog approval")
        self._choices = ""
        """The choices line as shown (`_show_choices`)."""
        self.placed = False
        """Laid out at the screen's height and shown: before that, the end may be cut off unseen."""

    def compose(self) -> ComposeResult:
        with self.dialog:
            with VerticalScroll(id="approval-request"):
                yield Static(self.request)
            yield Static(id="approval-choices", classes="choices")

    def on_mount(self) -> None:
        self.query_one("#approval-request").focus()
        self.set_interval(0.1, self._show_choices)
        self._show_choices()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """No taller than the screen, so its end can be scrolled to; then placed once laid out."""
        fit_scroll(self.dialog, self.query_one("#approval-request"), self.size.height)
        self.call_after_refresh(self._place)

    def _place(self) -> None:
        """Centre the dialog on the pane, then pull it back inside the screen where it would overflow.
        Drawn transparent until placed (laid out all the same), so it never shows in the corner first."""
        dialog, screen = self.dialog, self.size
        width, height = dialog.outer_size
        if not (width and height):
            self.set_timer(0.02, self._place)  # not laid out yet
            return
        target = self.over.region if self.over is not None and self.over.is_attached else Region()
        if not target.area:
            target = Region(0, 0, screen.width, screen.height)
        x = max(0, min(target.x + (target.width - width) // 2, screen.width - width))
        y = max(0, min(target.y + (target.height - height) // 2, screen.height - height))
        dialog.styles.offset = (x, y)
        dialog.styles.opacity = 1.0
        self.placed = True

    @property
    def all_seen(self) -> bool:
        """The end of the request is on screen (or it all fits)."""
        scroll = self.query_one("#approval-request", VerticalScroll)
        return scroll.scroll_y >= scroll.max_scroll_y

    def _show_choices(self) -> None:
        yes, no, back, end = (self._key(name) for name in ("yes", "no", "close", "end"))
        if self.all_seen:
            choices = f"{yes} = approve    {no} = deny    {back} = back"
        else:
            choices = f"more below: {end} or page down to read it to the end, then {yes} = approve"
            choices += f"    {no} = deny"
        if choices != self._choices:  # an update lays the whole screen out again, ten times a second
            self._choices = choices
            self.query_one("#approval-choices", Static).update(Text(choices))

    def _key(self, name: str) -> str:
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == f"approval.{name}")
        return self.services.first_key(binding)

    def action_answer(self, yes: bool) -> None:
        if yes and not (self.placed and self.all_seen):
            self.app.bell()
            self.notify("Read the request to its end first: part of it is still off-screen.", timeout=3)
            return
        self.dismiss(yes)

    def action_scroll_to_end(self) -> None:
        self.query_one("#approval-request", VerticalScroll).scroll_end(animate=False, immediate=True)

    def action_close(self) -> None:
        self.dismiss(None)


class FollowUpScreen(ModalScreen[str | None]):
    """Asks for a follow-up prompt; enter sends it (None when empty), escape gives up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="follow_up.cancel", tooltip="cancel")
    ]

    def __init__(self, ticket: str) -> None:
        super().__init__()
        self.ticket = ticket

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            ticket = (inert(self.ticket), "bold")
            question = Text.assemble("Follow up on ", ticket, ", after its whole conversation:")
            yield Static(question, classes="question")
            yield Input(placeholder="your next prompt", id="follow-up")
            yield Static("[b]enter[/b] send    [b]escape[/b] cancel", classes="choices")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AgentLogScreen(ModalScreen[None]):
    """The end of a coding agent's log (its stderr), inert, scrolled to its last line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="agent_log.close", tooltip="close")
    ]
    SHOWN_BYTES = 256 * 1024

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog agent-log"):
            yield Static(Text.assemble(("agent log ", "bold"), inert(self.path)), classes="question")
            with VerticalScroll(id="agent-log-text"):
                yield Static(Text(self._tail()))
            yield Static("escape to close", classes="choices")

    def on_mount(self) -> None:
        self.query_one("#agent-log-text", VerticalScroll).scroll_end(animate=False, immediate=True)

    def _tail(self) -> str:
        try:
            with open(self.path, "rb") as file:
                size = file.seek(0, 2)
                file.seek(max(0, size - self.SHOWN_BYTES))
                data = file.read()
        except OSError as exc:
            return f"the log cannot be read: {exc.strerror or exc}"
        cut = f"[the first {size - len(data):,} bytes are not shown]\n" if size > len(data) else ""
        return cut + (inert(data.decode(errors="replace")) or "(empty: the agent wrote nothing to stderr)")

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """The keys that work on the screen it was opened over (its mode's, as the person bound them),
    with each binding's id for `[ui] keymap`. It scrolls: arrows, page keys, home and end."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close", tooltip="close")
    ]

    def __init__(self, rows: list[tuple[str, str, str]], where: str = "", served: str | None = None) -> None:
        """`rows`: (keys as shown, what they do, binding id); `where`: the screen they work on;
        `served`: how to watch the run, when it is served (`--serve`): its address and token."""
        super().__init__()
        self.rows = rows
        self.where = where
        self.served = served

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("does", ratio=1)
        table.add_column("binding id", style="dim", no_wrap=True)
        for row in self.rows:
            table.add_row(*map(Text, row))
        with Vertical(classes="dialog help"):
            title = Text.assemble(("lfg keys", "bold"), f" {self.where}" if self.where else "")
            yield Static(title, classes="question")
            if self.served:
                yield Static(Text.assemble(("served: ", "bold"), self.served), id="help-served")
            with VerticalScroll(id="help-keys"):
                yield MeasuredStatic(table)
            choices = "↑ ↓ pgup pgdn home end scroll    esc close    rebind a key by its id: [ui] keymap"
            yield Static(Text(choices), classes="choices")

    def on_mount(self) -> None:
        self.query_one("#help-keys").focus()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        fit_scroll(self.query_one(".dialog"), self.query_one("#help-keys"), self.size.height - 2)

    def action_close(self) -> None:
        self.dismiss(None)


class CompareScreen(ModalScreen[None]):
    """The models a fanned-out ticket ran on, side by side (`rows`: one per model, already inert)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,equals_sign", "close", "Close", id="compare.close", tooltip="close")
    ]
    COLUMNS = ("model", *COMPARED)

    def __init__(self, group: str, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.group = group
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        for column in self.COLUMNS:
            table.add_column(column, justify="left" if column in ("model", "outcome") else "right")
        for row in self.rows:
            table.add_row(*(Text(inert(cell)) for cell in row))  # Text: never markup; a model's name
        with Vertical(classes="dialog compare"):
            heading = Text.assemble(
                ("compare ", "bold"), (inert(self.group), "bold"), ": one prompt, each model"
            )
            yield Static(heading, classes="question")
            yield Static(table)
            yield Static("escape to close", classes="choices")

    def action_close(self) -> None:
        self.dismiss(None)
