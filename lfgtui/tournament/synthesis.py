"""A tournament's synthesis: a new ticket that asks for one change combining the best two
contestants' work, seeded with their diffs and the reasons they were ranked so.

It runs on the best contestant's provider and model (the winner's, when there is one) with that
contestant's ticket otherwise (its tools, approvals, worktree isolation, folder), so it works as the
contestants did, on the branch they were made from as it is now. Its diffs and reasons are quoted
as they were, labelled by place only (no contestant's id or model). A quoted `{{ outputs.ID }}` is
written `{ { outputs.ID }}`, so the prompt asks for no dependency's answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from lfgtui.contest import Verdict
from lfgtui.formats import fenced, plural
from lfgtui.tickets.ticket import PLACEHOLDER, Ticket

if TYPE_CHECKING:
    from lfgtui.run.scheduler import Run

BEST = 2
"""How many of the best contestants a synthesis combines."""
PLACES = ("first", "second")


def _quoted(text: str) -> str:
    """Text from a contestant, with each placeholder broken so the prompt fills in none."""
    return PLACEHOLDER.sub(lambda match: "{ " + match.group(0)[1:], text)


def synthesis_prompt(task: str, verdict: Verdict, diffs: Mapping[str, str | None]) -> str:
    """The task, then the best contestants' diffs (from `diffs`, by ticket id; None: none recorded)
    and the reasons of their places, and what to do with them."""
    best = verdict.ranking[:BEST]
    count = plural(len(verdict.contestants), "contestant")
    lines = [
        task.rstrip(),
        "",
        "---",
        "",
        f"This task was given to {count}, each working in a git worktree of its own, and their results "
        f"were ranked. Here are the changes of the best {len(best)}, each with why it was ranked where "
        "it was. Make one change in this worktree that combines their strengths and avoids their "
        "weaknesses. Your worktree starts from the branch theirs were made from, as it is now: one of "
        "these changes may already be in it.",
    ]
    for place, placing in zip(PLACES, best, strict=False):
        diff = diffs.get(placing.ticket)
        lines += [
            "",
            f"## The change ranked {place}",
            "",
            "Ranked so because: " + _quoted("; ".join(placing.reasons)) + ".",
            "",
            fenced(_quoted(diff), "diff") if diff else "(it changed nothing, or its diff was not kept)",
        ]
    return "\n".join(lines) + "\n"


def synthesis_ticket(
    verdict: Verdict,
    tickets: Mapping[str, Ticket],
    diffs: Mapping[str, str | None],
    taken: Collection[str],
) -> Ticket:
    """The ticket that synthesizes the tournament: its best contestant's ticket with the synthesis
    prompt, an id of its own (`TOURNAMENT-synthesis`, `-2`… when `taken`), and no check or group."""
    best = tickets[verdict.winner or verdict.ranking[0].ticket]
    ticket_id, n = f"{verdict.tournament}-synthesis", 1
    while ticket_id in taken:
        n += 1
        ticket_id = f"{verdict.tournament}-synthesis-{n}"
    return dataclasses.replace(
        best,
        id=ticket_id,
        title=f"synthesis of {verdict.tournament}",
        prompt=synthesis_prompt(best.prompt, verdict, diffs),
        group=None,
        check=None,
    )


@runtime_checkable
class Keeper(Protocol):
    """What records a synthesis before its events: the run's history (history/writer.py)."""

    def synthesis(self, ticket: Ticket, tournament: str) -> None: ...


def start_synthesis(run: Run, verdict: Verdict, why: str | None = None) -> Ticket:
    """Start the synthesis of the verdict's tournament in `run` (the `S` key, or a watcher's `POST
    /v1/tournaments/ID/synthesize`, who asked said as `why`): the contestants' tickets as written and
    their diffs as the verdict has them, recorded in the run's history before its events; returns the
    ticket."""
    tickets = {c.ticket: run.states[c.ticket].written for c in verdict.contestants}
    diffs = {c.ticket: None if c.diff is None else c.diff.text for c in verdict.contestants}
    ticket = synthesis_ticket(verdict, tickets, diffs, run.states)
    if isinstance(run.recording, Keeper):
        run.recording.synthesis(ticket, verdict.tournament)
    run.add(ticket, why)
    return ticket
