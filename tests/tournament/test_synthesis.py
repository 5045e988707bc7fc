"""The synthesis ticket: the best contestant's ticket asked to combine the best two diffs, labelled
by place, its quoted placeholders asking for no answer, its id its own."""

from __future__ import annotations

import dataclasses

from lfgtui.contest import CheckResult, Contestant, Diff
from lfgtui.cost.metrics import Metrics
from lfgtui.outcome import Outcome
from lfgtui.tickets.ticket import render_prompt
from lfgtui.tournament.synthesis import synthesis_ticket
from lfgtui.tournament.verdict import rank
from tests.support.recording import ticket


def contestant(ticket_id: str, passed: bool, lines: int) -> Contestant:
    check = CheckResult("make test", passed, "", None)
    diff = Diff.of(lines, 0, 1, None)
    return Contestant(ticket_id, 1, "sim/x", Outcome.COMPLETED, Metrics(), 1.0, check, diff, None, None, None)


def test_the_synthesis_quotes_the_best_two_on_the_best_ones_ticket() -> None:
    verdict = rank(
        "t", (contestant("t@a", False, 3), contestant("t@b", True, 2), contestant("t@c", False, 9))
    )
    tickets = {
        c.ticket: dataclasses.replace(ticket(c.ticket, c.ticket[2:]), group="t", check="make test")
        for c in verdict.contestants
    }
    diffs = {"t@a": "+print('{{ outputs.t@b }}')\n", "t@b": "+x = 1\n", "t@c": "+never = 'shown'\n"}
    made = synthesis_ticket(verdict, tickets, diffs, taken={"t@a", "t-synthesis"})
    assert (made.id, made.model, made.group, made.check) == ("t-synthesis-2", "b", None, None)
    prompt = render_prompt(made, {})  # a quoted placeholder asks for no dependency's answer
    first, second = prompt.split("## The change ranked first")[1].split("## The change ranked second")
    assert "check passed" in first and "+x = 1" in first
    assert "check failed" in second and "+print('{ { outputs.t@b }}')" in second
    assert "never" not in prompt and "t@" not in prompt.replace("outputs.t@b", "")
