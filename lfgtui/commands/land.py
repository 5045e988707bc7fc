"""`lfg land RUN TICKET`: bring a ticket's change from its git worktree onto the branch the worktree
was made from (or push it and open a pull request), then archive the worktree.

The landing itself is `worktrees/land.py`; this command finds the ticket's worktree through the
history (its attempts' worktree, else the worktrees folder), makes the commit message from the
ticket, says what was done, and records the landing in the history. A ticket a broker's worker ran
(`lfg run --broker`) is refused, naming the worker: its worktree is in that worker's clone
(commands/on_worker.py). `lfg` imports this module for
every command: git and the history are imported only when `land` runs.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_UNRECORDED, EXIT_USAGE, add_config, add_db
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from pathlib import Path

    from lfgtui.config.load import Config
    from lfgtui.history.rows import TicketRecord
    from lfgtui.worktrees.land import Landed
    from lfgtui.worktrees.tree import Worktree

EXIT_NOT_LANDED = 1
"""Nothing was landed (a conflict, uncommitted work in the way, a hook refused, nothing to land, a
failed push, or gh could not open the pull request after the push); everything was left as it was,
but for the push."""


_TREE_ID = re.compile(r"[0-9a-fA-F]{7,40}")


def add_land_command(commands: Subcommands) -> None:
    """Register `lfg land` on the top-level subcommands."""
    commands.add_command(
        "land",
        "bring a ticket's change from its worktree onto its base branch (or open a pull request)",
        _arguments,
        run_land_command,
    )


def _arguments(land: argparse.ArgumentParser) -> None:
    land.add_argument("run", help="a run id (or any unique prefix of one)")
    land.add_argument("ticket", help="the ticket whose worktree to land")
    how = land.add_mutually_exclusive_group()
    for strategy, help in (
        ("squash", "one commit on the base branch (the default)"),
        ("merge", "a merge commit of the branch into the base branch"),
        ("rebase", "the branch's commits replayed onto the base branch"),
    ):
        how.add_argument(f"--{strategy}", dest="strategy", action="store_const", const=strategy, help=help)
    land.add_argument(
        "--pr",
        action="store_true",
        help="push the branch to the remote and open a pull request with gh (or print the command)",
    )
    land.add_argument(
        "--message",
        "-m",
        metavar="TEXT",
        help="the commit message (default: the ticket's title or prompt, and where it came from)",
    )
    land.add_argument(
        "--keep-branch", action="store_true", help="keep the worktree's branch after archiving it"
    )
    land.add_argument(
        "--onto",
        metavar="BRANCH",
        help="the base branch (default: the branch the repository was on when the worktree was made)",
    )
    land.add_argument(
        "--tree",
        metavar="TREE",
        help="land only if the worktree still holds this tree, the one lfg review showed (7+ hex digits)",
    )
    land.add_argument(
        "--include-unreviewed",
        action="store_true",
        help="land files review listed but could not show (too big); without it they refuse the landing",
    )
    add_config(land)
    add_db(land)


def run_land_command(args: argparse.Namespace) -> int:
    """Land one ticket: 0 when landed (or pushed, with the pull request opened or its command
    printed), 1 when not (said why; nothing changed), 2 for bad usage or an id or worktree that
    names nothing, 3 when landed but the history could not record it."""
    from lfgtui import event_loop

    return event_loop.run(_land(args))


def _say(message: str) -> None:
    from lfgtui.inert import inert

    print(inert(message))


def _error(message: str, code: int) -> int:
    from lfgtui.commands.common import warn
    from lfgtui.inert import inert

    warn(inert(message))
    return code


async def _land(args: argparse.Namespace) -> int:
    from lfgtui.commands.on_worker import not_landed, worktree_worker
    from lfgtui.worktrees.git import GitError
    from lfgtui.worktrees.land import LandConflict, LandOptions, Strategy, land, ticket_message

    found = ticket_record(args)
    if isinstance(found, str):
        return _error(found, EXIT_USAGE)
    _, db, run_id, record = found
    if (worker := worktree_worker(record.attempts)) is not None:  # by the record, not the path
        return _error(not_landed(run_id, record.row.ticket, worker), EXIT_USAGE)
    tree = _worktree_of(run_id, record)
    if isinstance(tree, str):
        return _error(tree, EXIT_USAGE)
    if args.tree is not None and not _TREE_ID.fullmatch(args.tree):
        said = f"--tree {args.tree!r} is not a tree id: give the 7 to 40 hex digits lfg review showed"
        return _error(said, EXIT_USAGE)
    if tree.base_branch is None and args.onto is None:
        return _error(
            f"lfg does not know which branch the worktree {tree.path} was made from: "
            "say it with --onto BRANCH",
            EXIT_USAGE,
        )
    attempts = record.attempts
    if attempts and attempts[-1].row.outcome is None:
        return _error(
            f"ticket {args.ticket} of run {run_id} is still working: land it once it has ended",
            EXIT_NOT_LANDED,
        )
    row = record.row
    options = LandOptions(
        message=args.message or ticket_message(run_id, row.ticket, row.title, row.prompt),
        strategy=Strategy(args.strategy or Strategy.SQUASH),
        pull_request=args.pr,
        keep_branch=args.keep_branch,
        onto=args.onto,
        include_unreviewed=args.include_unreviewed,
        tree=args.tree and args.tree.lower(),
    )
    try:
        landed = await land(tree, options)
    except LandConflict as exc:
        return _error(f"not landed: {exc}; nothing was changed", EXIT_NOT_LANDED)
    except GitError as exc:  # a LandError, or git failing at a step (its words said)
        return _error(f"not landed: {exc}", EXIT_NOT_LANDED)
    _report(landed, tree)
    problem = _record(db, run_id, row.ticket, landed)
    if problem is not None:
        return _error(f"landed, but the history did not record it: {problem}", EXIT_UNRECORDED)
    return EXIT_NOT_LANDED if landed.why and landed.why.startswith("gh pr create") else 0


def ticket_record(args: argparse.Namespace) -> tuple[Config, Path, str, TicketRecord] | str:
    """The config, the history file, the run's id and the record of `args.ticket` of `args.run`; or
    what is wrong."""
    from lfgtui.commands.common import find_run
    from lfgtui.history.database import StoreError
    from lfgtui.history.store import Selection, Store

    found = find_run(args.run, args.config, args.db)
    if isinstance(found, str):
        return found
    config, db, run_id = found
    try:
        with Store.open(db) as store:
            record = store.load(Selection(run_id, ticket=args.ticket))
    except StoreError as exc:
        return str(exc)
    if not record.tickets:
        return f"run {run_id} has no ticket {args.ticket!r}"
    return config, db, run_id, record.tickets[0]


def _worktree_of(run_id: str, record: TicketRecord) -> Worktree | str:
    """The ticket's worktree as lfg recorded it beside the worktree (see `find_worktree`)."""
    from pathlib import Path

    from lfgtui.worktrees.tree import find_worktree

    return find_worktree(
        run_id, record.row.ticket, [Path(a.row.worktree) for a in record.attempts if a.row.worktree]
    )


def _report(landed: Landed, tree: Worktree) -> None:
    if landed.committed:
        _say(f"committed what the agent left uncommitted in {tree.path}")
    if landed.reviewed:
        _say(landed.reviewed)
    commit = landed.landed_commit[:12]
    if landed.remote is None:
        _say(
            f"landed {landed.branch} onto {landed.base_branch} by {landed.strategy}: "
            f"{landed.base_before[:12]}..{commit}"
        )
    else:
        _say(f"pushed {commit} ({landed.strategy}) to {landed.remote} as {landed.branch}")
        if landed.pull_request:
            _say(f"pull request: {landed.pull_request}")
        else:
            _say(f"no pull request opened: {landed.why}; open it with: {landed.finish} (in {landed.repo})")
    if landed.hooks:
        _say(f"hooks: {landed.hooks}")
    _say(f"archived: {landed.archived}")


def _record(db: Path, run_id: str, ticket: str, landed: Landed) -> str | None:
    """Record the landing; what went wrong, if it could not be."""
    import sqlite3

    from lfgtui.history.database import StoreError
    from lfgtui.history.store import Store

    try:
        with Store.open(db) as store:
            store.record_landing(run_id, ticket, landed)
    except (StoreError, sqlite3.Error) as exc:
        return str(exc)
    return None
