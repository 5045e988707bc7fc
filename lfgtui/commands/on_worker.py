"""What `lfg land`, `lfg fork` and `lfg review --send` say of a ticket a broker's worker ran.

A coordinated run (`lfg run --broker`) ran its tickets on workers: each ticket's worktree is in that
worker's clone, and a coding agent's session on that worker's machine. These commands read the run
from the coordinator's history and would act here: a fork or a follow-up run on this machine in a
fresh worktree without the worker's change, and a landing write into whatever the recorded path
names (on one machine, or a shared filesystem, the worker's own clone). So they refuse, naming the
worker the history recorded (broker/running_on.py), and say what can be done instead. Whether a
ticket ran on a worker is told by that record, never by whether its worktree's path happens to exist
here.

Only those three commands import it, when they run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lfgtui.broker.running_on import RanOn, ran_on
from lfgtui.events import Status
from lfgtui.history.recorded import RecordedTicket
from lfgtui.history.rows import AttemptRecord
from lfgtui.history.schema import PartKind


def recorded_worker(attempts: Sequence[AttemptRecord]) -> RanOn | None:
    """The worker that ran the latest of `attempts` that says where it ran (None: none ran on one)."""
    return ran_on(p.text for a in attempts for p in a.parts if p.kind == PartKind.STATUS)


def worktree_worker(attempts: Sequence[AttemptRecord]) -> RanOn | None:
    """The worker whose clone holds the ticket's worktree: the one that ran the latest attempt that
    recorded a worktree (the one `lfg land` would find), if a worker did."""
    made = [i for i, a in enumerate(attempts) if a.row.worktree]
    return recorded_worker(attempts[: made[-1] + 1]) if made else None


def ticket_worker(ticket: RecordedTicket) -> RanOn | None:
    """The worker that ran the ticket's latest attempt, as its history says."""
    statuses: Iterable[str] = (
        event.message for a in ticket.attempts for event in a.events if isinstance(event, Status)
    )
    return ran_on(statuses)


def not_landed(run_id: str, ticket: str, worker: RanOn) -> str:
    """Why `lfg land` leaves a worker's worktree alone, and what to do instead."""
    return (
        f"ticket {ticket} of run {run_id} ran on {worker}, a worker of a broker (lfg run --broker): "
        f"its worktree is in that worker's clone, and lfg land never writes into another machine's "
        f"clone. Its diff as the worker reported it: lfg review {run_id} {ticket} --json; land it on "
        f"{worker.host} from the worker's clone, or apply that diff here"
    )


def not_run_here(run_id: str, ticket: str, what: str, worker: RanOn | None, isolated: bool) -> str:
    """Why `what` (a fork, a follow-up) of a coordinated run's ticket is not run on this machine."""
    where = f"{worker}" if worker is not None else "a worker of its broker (the history does not say which)"
    has = "its worktree and its agent's session" if isolated else "its agent's session, if it has one"
    if isolated and what == "a fork":
        instead = (
            "a coordinated run cannot fork a ticket with a worktree yet (the copy is made where the run runs)"
        )
    else:
        instead = (
            f"send it from the coordinator's TUI while the run is open (lfg run --broker), or from "
            f"lfg resume {run_id} --broker URL if its coordinator was stopped mid-run: it goes through the "
            f"broker (a coding agent's to the worker that has its session)"
        )
    return (
        f"run {run_id} ran on the workers of a broker (lfg run --broker) and ticket {ticket} on {where}, "
        f"which has {has}: {what} from here would run on this machine without them. Instead, {instead}"
    )
