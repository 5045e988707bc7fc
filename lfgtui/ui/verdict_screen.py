"""A tournament's table in the TUI: its contestants best first, the winner marked, why each placed
where it did, and the git command that lands the winner. It opens by itself when the verdict is
decided, and again on the compare key (`=`) over any contestant's pane.

Everything in it that a contestant wrote (check output, file names, ids) is made inert and reaches
Textual as `Text`, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lfgtui.inert import inert
from lfgtui.tournament.verdict import TABLE_HEADER, CheckResult, Verdict

if TYPE_CHECKING:
    from lfgtui.ui.run_screen import RunScreen

WINNER = "\u2605"


class VerdictScreen(ModalScreen[None]):
    """One tournament's verdict."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,equals_sign", "close", "Close", id="verdict.close")
    ]

    def __init__(self, verdict: Verdict) -> None:
        super().__init__()
        self.verdict = verdict

    def compose(self) -> ComposeResult:
        verdict = self.verdict
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        for column in ("", *TABLE_HEADER):
            left = column in ("", *TABLE_HEADER[:4])
            # the model may be cut short (a fanned-out ticket's id names it); the rest stays whole
            shrinks = column == "model"
            justify = "left" if left else "right"
            table.add_column(
                column, justify=justify, no_wrap=not shrinks, overflow="ellipsis" if shrinks else "fold"
            )
        for placing in verdict.ranking:
            mark = WINNER if placing.ticket == verdict.winner else ""
            row = verdict.contestant(placing.ticket).row()
            table.add_row(Text(mark), *(Text(inert(cell)) for cell in row))  # Text: never markup
        reasons = Text()
        for place, placing in enumerate(verdict.ranking, 1):
            seen_as = verdict.label_of(placing.ticket)
            reasons.append(
                f"{place}. {inert(placing.ticket)}{'' if seen_as is None else f' ({seen_as})'}: ", "bold"
            )
            reasons.append(inert("; ".join(placing.reasons)) + "\n")
        land = verdict.land_command()
        with Vertical(classes="dialog compare verdict"):
            yield Static(Text(inert(verdict.summary()), "bold"), classes="question")
            with VerticalScroll(id="verdict-body"):
                yield Static(table, id="verdict-table")
                yield Static(Text(inert(f"ranked by {verdict.ranked_by()}")), id="verdict-ranked-by")
                yield Static(reasons, id="verdict-reasons")
                if land is not None:
                    yield Static(Text.assemble(("land the winner: ", "bold"), inert(land)), id="verdict-land")
            yield Static("escape to close", classes="choices")

    def action_close(self) -> None:
        self.dismiss(None)


@dataclass
class VerdictNews:
    """The referee's audience in the TUI (tournament/referee.py `Audience`): a check's result as a
    notice, a verdict kept for the compare key and opened at once over the run screen."""

    screen: RunScreen
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def checked(self, ticket: str, attempt: int, result: CheckResult, t: float) -> None:
        severity = "information" if result.passed else "warning"
        said = inert(f"{ticket}: check {result.label()}")
        self.screen.notify(said, severity=severity, timeout=4, markup=False)

    def decided(self, verdict: Verdict, t: float) -> None:
        self.verdicts[verdict.tournament] = verdict
        if self.screen.is_current:
            self.screen.app.push_screen(VerdictScreen(verdict))
        else:
            said = inert(f"{verdict.summary()}: = over a contestant shows the table")
            self.screen.notify(said, timeout=6, markup=False)
