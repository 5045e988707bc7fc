"""A tournament's check results and verdicts are facts of the run (contest.py `FACTS`): events the run
says to every sink, in order, which the sinks that keep an attempt's rows or states leave alone."""

from __future__ import annotations

import io

from lfgtui.alerts.states import Attentions, State
from lfgtui.commands.headless import JsonLines, Progress
from lfgtui.contest import CheckRan, CheckResult, SuiteCounts, Verdict, VerdictDecided
from lfgtui.cost.metrics import MetricsBook
from lfgtui.events import AttemptStarted, Event, Stalled
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals

PASSED = CheckResult("make test", True, "ok", SuiteCounts(passed=2))
NOBODY = Verdict("fix", (), (), None)


def test_a_fact_told_while_an_event_is_fanned_out_reaches_every_sink_after_it() -> None:
    run = Run((), Providers(), Approvals(yes=True), [])
    first: list[Event] = []
    last: list[Event] = []

    def decides(event: Event) -> None:  # as the referee decides on an attempt's end, among the sinks
        first.append(event)
        if isinstance(event, CheckRan):
            run.tell(VerdictDecided, "fix", 0, verdict=NOBODY)

    run.sinks += [decides, last.append]
    check = run.tell(CheckRan, "fix@a", 1, result=PASSED)
    assert [type(e) for e in first] == [type(e) for e in last] == [CheckRan, VerdictDecided]
    assert last[0] is check, "the check reached the last sink before the verdict it led to"
    assert [e.seq for e in last] == [0, 1], "numbered among the run's facts"
    assert (last[1].ticket, last[1].attempt) == ("fix", 0)


def test_headless_output_prints_facts_without_making_rows_of_them() -> None:
    out = io.StringIO()
    progress = Progress(out, MetricsBook(), 0.0)
    progress(CheckRan(ticket="fix@a", attempt=1, seq=0, t=0.5, result=PASSED))
    progress(VerdictDecided(ticket="fix", attempt=0, seq=1, t=1.0, verdict=NOBODY))
    assert out.getvalue().splitlines() == [
        "[   0.5s] fix@a  check passed (2 passed)",
        "[   1.0s] tournament fix: no winner, no contestant passed its check",
    ]
    assert progress.rows == {} and progress.verdicts == {"fix": NOBODY}, "no ticket row for a tournament"
    lines = io.StringIO()
    decided = VerdictDecided(ticket="fix", attempt=0, seq=1, t=1.0, verdict=NOBODY)
    JsonLines(lines, MetricsBook(), 0.0)(decided)
    assert lines.getvalue() == (  # the line `lfg run --json` printed before verdicts were facts
        '{"type": "verdict", "ticket": "fix", "attempt": null, "t": 1.0, "winner": null, "ranking": [], '
        '"judge": null, "judge_error": null, "labels": null, "contestants": [], "land": null}\n'
    )


def test_a_fact_about_a_stalled_ticket_does_not_end_its_stall() -> None:
    attentions = Attentions({"fix@a": ()})
    attentions.apply(AttemptStarted(ticket="fix@a", attempt=2, seq=0, t=1.0, provider="p", model="m"))
    stalled = Stalled(ticket="fix@a", attempt=2, seq=1, t=2.0, message="quiet", idle_s=30, limit_s=60)
    attentions.apply(stalled)
    assert attentions.apply(CheckRan(ticket="fix@a", attempt=1, seq=0, t=3.0, result=PASSED)) == ()
    assert attentions.standings["fix@a"].state is State.STALLED, (
        "an earlier attempt's check says nothing of it"
    )
