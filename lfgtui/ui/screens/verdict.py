"""A tournament's table in the TUI: its contestants best first, the winner marked, why each placed
where it did, and the git command that lands the winner. It opens by itself when the verdict is
decided, and again on the compare key (`=`) over any contestant's pane. `M` there takes the winner:
lands it as `lfg land` does with its defaults (asking first), then archives the other contestants'
worktrees by the rules of `lfg worktrees clean` (one with work not landed only after asking again).
`S` starts a ticket in the run, in a pane of its own, that combines the best two contestants' diffs
(tournament/synthesis.py).

Everything in it that a contestant wrote (check output, file names, ids) is made inert and reaches
Textual as `Text`, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from lfgtui.contest import TABLE_HEADER, CheckRan, Verdict, VerdictDecided
from lfgtui.events import RunFact, Translation
from lfgtui.inert import inert
from lfgtui.run.requests import Request, Synthesize, TakeWinner

if TYPE_CHECKING:
    from textual.screen import Screen

    from lfgtui.ui.widgets.pane import TicketPane
    from lfgtui.worktrees.land import Landed
    from lfgtui.worktrees.tree import Worktree

WINNER = "\u2605"


class VerdictScreen(ModalScreen[None]):
    """One tournament's verdict."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,equals_sign", "close", "Close", id="verdict.close", tooltip="close the table"),
        Binding(
            "M",
            "take",
            "Land the winner",
            id="verdict.land",
            tooltip=(
                "land the winner (asks first) as `M` on its pane does, then archive the other contestants' "
                "worktrees: one with work not landed only after asking again"
            ),
        ),
        Binding(
            "S",
            "synthesize",
            "Synthesize",
            id="verdict.synthesize",
            tooltip=(
                "start a ticket in the run, in a pane of its own, that combines the best two contestants' "
                "diffs, told why each was ranked so, on the best one's provider and model"
            ),
        ),
    ]

    def __init__(self, verdict: Verdict, keys: Winners | None = None) -> None:
        """`keys`: the run's, which land the winner (None: a run that cannot, shown as it ended)."""
        super().__init__()
        self.verdict = verdict
        self.keys = keys

    def compose(self) -> ComposeResult:
        verdict = self.verdict
        reasons = Text()
        for place, placing in enumerate(verdict.ranking, 1):
            seen_as = verdict.label_of(placing.ticket)
            reasons.append(
                f"{place}. {inert(placing.ticket)}{'' if seen_as is None else f' ({inert(seen_as)})'}: ",
                "bold",
            )
            reasons.append(inert("; ".join(placing.reasons)) + "\n")
        land = verdict.land_command()
        with Vertical(classes="dialog compare verdict"):
            yield Static(Text(inert(verdict.summary()), "bold"), classes="question")
            with VerticalScroll(id="verdict-body"):
                yield VerdictTable(verdict, id="verdict-table")
                yield Static(Text(inert(f"ranked by {verdict.ranked_by()}")), id="verdict-ranked-by")
                yield Static(reasons, id="verdict-reasons")
                if land is not None:
                    yield Static(Text.assemble(("land the winner: ", "bold"), inert(land)), id="verdict-land")
            said = "escape to close" if self.keys is None else _CHOICES if verdict.winner else _SYNTHESIS
            yield Static(said, classes="choices")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_take(self) -> None:
        """Close the table, then land the winner and archive the others (each step asks first)."""
        if self.keys is None:
            self.notify("This run's contestants are not here to land.", timeout=3)
            return
        if self.verdict.winner is None:
            self.notify("No contestant passed its check: there is no winner to land.", timeout=3)
            return
        self.dismiss(None)
        self.keys.ask(TakeWinner(self.verdict.tournament))

    def action_synthesize(self) -> None:
        """Close the table, then start a ticket that combines the best two contestants' work."""
        if self.keys is None:
            self.notify("This run's contestants are not here to synthesize.", timeout=3)
            return
        self.dismiss(None)
        self.keys.ask(Synthesize(self.verdict.tournament))


class VerdictTable(Widget):
    """The contestants' table, as many of its columns as its width holds whole: the winner's mark,
    the contestant, its check and its diff always; the measures (also in the reasons below it) and
    the model (a fanned-out contestant's id names it) are left out, least telling first, when the
    terminal is too narrow for all (80 columns)."""

    DEFAULT_CSS = """
    VerdictTable {
        height: auto;
    }
    """

    def __init__(self, verdict: Verdict, id: str | None = None) -> None:
        super().__init__(id=id)
        self.verdict = verdict

    def render(self) -> Table:
        return verdict_table(self.verdict, self.size.width)


DROPPED_FIRST = ("cache", "TTFT", "tok/s", "tokens", "model", "wall", "cost")
"""The table's columns a narrow terminal goes without, in this order."""


def verdict_table(verdict: Verdict, width: int) -> Table:
    """The verdict's table in `width` cells: every cell whole, no column cut to nothing."""
    header = ("", *TABLE_HEADER)
    rows = [
        (WINNER if placing.ticket == verdict.winner else "", *verdict.contestant(placing.ticket).row())
        for placing in verdict.ranking
    ]
    rows = [tuple(inert(cell) for cell in row) for row in rows]
    widths = [
        max(cell_len(cell) for cell in (name, *(row[i] for row in rows))) for i, name in enumerate(header)
    ]
    kept = list(range(len(header)))
    for name in DROPPED_FIRST:
        if sum(widths[i] + 2 for i in kept) <= width:  # each column padded a cell either side
            break
        kept.remove(header.index(name))
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
    for i in kept:
        left = header[i] in ("", *TABLE_HEADER[:4])
        table.add_column(
            header[i],
            justify="left" if left else "right",
            no_wrap=True,
            overflow="ellipsis",
            min_width=widths[i],
        )
    for row in rows:
        table.add_row(*(Text(row[i]) for i in kept))  # Text: never markup
    return table


_SYNTHESIS = "S starts a ticket that combines the best two · escape to close"
_CHOICES = "M lands the winner and archives the others' worktrees (asks first) · " + _SYNTHESIS


class Winners(Protocol):
    """What takes a tournament's winner or synthesizes its best: the run's keys (ui/run/controller.py),
    asked `TakeWinner` or `Synthesize` (lfgtui/run/requests.py)."""

    def ask(self, request: Request) -> object: ...


class Worktrees(Protocol):
    def worktree(self, ticket_id: str) -> Worktree | None: ...


class Contest(Protocol):
    """What taking a winner needs of its run: the run controller (ui/run/controller.py). Named here
    as a protocol, so this screen imports neither the controller nor the run screen, which open it."""

    @property
    def screen(self) -> Screen[None]: ...

    @property
    def panes(self) -> Mapping[str, TicketPane]: ...

    @property
    def control(self) -> Worktrees: ...

    async def land_change(self, ticket_id: str, tree: Worktree) -> Landed | None: ...


async def take_winner(controller: Contest, verdict: Verdict) -> None:
    """Land the winner (as `M` on its pane does, asking first), then archive the other contestants'
    worktrees: removed when nothing would be lost, and those with work not landed (uncommitted
    changes, commits no other branch has) only once the person says yes again."""
    from lfgtui.worktrees.cleanup import remove_worktree

    screen, winner = controller.screen, verdict.winner
    assert winner is not None  # VerdictScreen.action_take
    trees = {c.ticket: controller.control.worktree(c.ticket) for c in verdict.contestants}
    tree = trees[winner]
    if tree is None:
        screen.notify(f"{inert(winner)} has no worktree to land.", timeout=4, markup=False)
        return
    if any(controller.panes[ticket].running for ticket in trees):
        screen.notify("A contestant is working again: land the winner once it has ended.", timeout=4)
        return
    others = {ticket: other for ticket, other in trees.items() if ticket != winner and other is not None}
    archived = f" and those of {', '.join(others)}" if others else ""
    question = (
        f"Land the winner {winner} ({tree.branch}) onto {tree.base_branch or '?'} as one commit, "
        f"then archive its worktree{archived}?"
    )
    if not await _asked(screen, question) or await controller.land_change(winner, tree) is None:
        return
    removals = {ticket: await remove_worktree(other, force=False) for ticket, other in others.items()}
    kept = {ticket: removal for ticket, removal in removals.items() if removal.refused}
    if kept:
        said = "\n".join(removal.message for removal in kept.values())
        question = (
            f"{said}\n\nRemove these worktrees anyway? What is uncommitted in them is lost; "
            "a branch with commits is kept."
        )
        if await _asked(screen, question):
            for ticket in kept:
                other = others[ticket]
                removals[ticket] = await remove_worktree(other, force=True)
    gone = [ticket for ticket, removal in removals.items() if removal.removed]
    left = [ticket for ticket, removal in removals.items() if not removal.removed]
    said = f"Archived the worktrees of {', '.join(gone)}" if gone else "No other worktree was archived"
    said += f"; kept those of {', '.join(left)}" if left else ""
    screen.notify(inert(said), timeout=8, markup=False)


async def _asked(screen: Screen[None], question: str) -> bool:
    """The person's yes or no to `question` (made inert: it quotes branches, paths and git's words)."""
    from lfgtui.ui.screens.modals import ConfirmScreen

    asked = ConfirmScreen(question)
    return bool(await screen.app.push_screen(asked, wait_for_dismiss=True))


@dataclass
class VerdictNews:
    """The run's tournaments in the TUI, from its facts (contest.py `FACTS`, handed over by the run
    controller, whether the run runs here or is attached): a check's result as a notice, a verdict
    kept for the compare key and opened at once over the run screen."""

    screen: Screen[None]
    """The run screen (ui/screens/run.py)."""
    keys: Winners
    """Its keys: the run's."""
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def __call__(self, fact: RunFact) -> None:
        if (tell := NEWS.handlers.get(type(fact))) is not None:
            tell(self, fact)

    def _checked(self, fact: CheckRan) -> None:
        result = fact.result
        severity = "information" if result.passed else "warning"
        said = inert(f"{fact.ticket}: check {result.label()}")
        self.screen.notify(said, severity=severity, timeout=4, markup=False)

    def _decided(self, fact: VerdictDecided) -> None:
        verdict = fact.verdict
        self.verdicts[verdict.tournament] = verdict
        if self.screen.is_current:
            self.screen.app.push_screen(VerdictScreen(verdict, self.keys))
        else:
            said = inert(f"{verdict.summary()}: = over a contestant shows the table")
            self.screen.notify(said, timeout=6, markup=False)


NEWS: Translation[Callable[[VerdictNews, Any], None]] = Translation(
    "verdict screen", {CheckRan: VerdictNews._checked, VerdictDecided: VerdictNews._decided}, {}
)
"""What the TUI does with each fact of the run; an attempt's events go to its pane (widgets/pane.py
`PANE`)."""
