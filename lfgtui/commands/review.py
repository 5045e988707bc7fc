"""`lfg review RUN TICKET`: review comments on a ticket's diff without the TUI (docs/guides/review.md).

`--comment 'PATH:LINE: text'` (and `--from-file`) add drafts to the history, quoted from the diff
(or, for a line the diff does not show, from the file in the worktree); `--send` sends every draft
of the ticket as one follow-up, as the review screen's `S` does; `--json` prints the diff and the
comments as one JSON document.

A recorded run runs nowhere, so `--send` does what `lfg resume` does for that one ticket: it takes
the run up again under its id, sends the follow-up, waits for the agent's answer (recorded into the
same run, printed) and stops. A run still running in another lfg is not sent to from here: its
drafts are in the history, where that lfg's review screen shows them. Nor is a run coordinated on a
broker's workers (`lfg run --broker`): the ticket's worktree and agent session are on a worker, so
`--send` keeps the drafts and names it (commands/on_worker.py); the coordinator's review screen
sends them through the broker.

`lfg` imports this module for every command: git, the history and the engine are imported only
when `review` runs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfgtui.commands.common import EXIT_UNRECORDED, EXIT_USAGE, add_config, add_db

if TYPE_CHECKING:
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.config.load import Config
    from lfgtui.history.rows import TicketRecord
    from lfgtui.worktrees.review import Comment, FileChanges
    from lfgtui.worktrees.tree import Worktree

EXIT_NOT_SENT = 1
"""`--send` sent nothing (the drafts are kept), or the agent's answer to it did not complete."""


def add_review_command(commands: Subcommands) -> None:
    """Register `lfg review` on the top-level subcommands."""
    commands.add_command(
        "review",
        "comment on a ticket's diff and send the comments to its agent as one follow-up",
        _arguments,
        run_review_command,
    )


def _arguments(review: argparse.ArgumentParser) -> None:
    review.add_argument("run", help="a run id (or any unique prefix of one)")
    review.add_argument("ticket", help="the ticket whose diff to review")
    review.add_argument(
        "--comment",
        action="append",
        default=[],
        metavar="'PATH:LINE: TEXT'",
        help="a comment on line LINE of PATH (numbered in the changed file); repeat for more",
    )
    review.add_argument(
        "--from-file",
        type=Path,
        metavar="FILE",
        help="comments from FILE, one PATH:LINE: TEXT a line (an indented line goes on the one before)",
    )
    review.add_argument(
        "--send", action="store_true", help="send every draft of the ticket to its agent as one follow-up"
    )
    review.add_argument(
        "--json", action="store_true", help="print the diff and the comments as one JSON document"
    )
    review.add_argument("--yes", action="store_true", help="with --send: let write_file and run_command run")
    add_config(review)
    add_db(review)


def run_review_command(args: argparse.Namespace) -> int:
    """0 when the comments are kept (and, with --send, sent and answered); 1 when --send sent nothing
    (the drafts are kept) or its answer did not complete; 2 for bad usage, an unknown run or ticket, a
    ticket without a diff, or a comment that names no line; 3 when the history could not keep them."""
    from lfgtui import event_loop

    return event_loop.run(_review(args))


def _error(message: str, code: int) -> int:
    from lfgtui.commands.common import warn
    from lfgtui.inert import inert

    warn(inert(message))
    return code


@dataclass
class _Review:
    """What the command found and did: the ticket's diff, its comments, and the follow-up sent."""

    run_id: str
    ticket: str
    worktree: Worktree | None
    diff: str
    files: list[FileChanges]
    comments: list[Comment]
    sent: dict[str, Any] | None = None
    tree: str | None = None
    """The tree id of the worktree's files the diff shows (what `lfg land --tree` lands); None when
    the diff is the one an attempt recorded."""


async def _review(args: argparse.Namespace) -> int:
    import sqlite3
    import time

    from lfgtui.commands.land import ticket_record
    from lfgtui.history.database import StoreError
    from lfgtui.worktrees.review import CommentError

    found = ticket_record(args)
    if isinstance(found, str):
        return _error(found, EXIT_USAGE)
    config, db, run_id, record = found
    review = await _diff_of(run_id, record)
    if isinstance(review, str):
        return _error(review, EXIT_USAGE)
    try:
        written = _written(args)
        now = time.time()
        new = [replace(_comment(review, path, line, body), created_at=now) for path, line, body in written]
    except (CommentError, OSError) as exc:
        return _error(f"nothing was kept: {exc}", EXIT_USAGE)
    try:
        review.comments = _keep(db, run_id, record.row.ticket, new)
    except (StoreError, sqlite3.Error) as exc:
        return _error(f"the history could not keep the comments: {exc}", EXIT_UNRECORDED)
    code = 0
    if args.send:
        code = await _send(args, config, db, review)
    _print(args, review, len(new))
    return code


def _written(args: argparse.Namespace) -> list[tuple[str, int, str]]:
    from lfgtui.worktrees.review import comments_file, parse_comment_argument

    texts = list(args.comment)
    if args.from_file is not None:
        texts += comments_file(args.from_file.read_text(encoding="utf-8"))
    return [parse_comment_argument(text) for text in texts]


def _comment(review: _Review, path: str, line: int, body: str) -> Comment:
    from lfgtui.worktrees.review import Comment, quoted_from

    root = review.worktree.path if review.worktree is not None else None
    return Comment(path, line, body, quote=quoted_from(review.files, root, path, line))


async def _diff_of(run_id: str, record: TicketRecord) -> _Review | str:
    """The ticket's diff as its worktree has it now, else as its latest attempt recorded it."""
    from lfgtui.worktrees.git import GitError
    from lfgtui.worktrees.review import parse_diff
    from lfgtui.worktrees.tree import find_worktree, reviewed

    recorded = [Path(a.row.worktree) for a in record.attempts if a.row.worktree]
    tree = find_worktree(run_id, record.row.ticket, recorded)
    worktree = None if isinstance(tree, str) else tree
    diff = files = None
    if worktree is not None:
        try:
            now = await reviewed(worktree)
            diff, files = now.parts.text(), now.files
        except GitError:
            worktree = None
    if diff is None:
        diff = next((a.row.diff for a in reversed(record.attempts) if a.row.diff is not None), None)
    if diff is None:
        return tree if isinstance(tree, str) else f"ticket {record.row.ticket} of run {run_id} has no diff"
    return _Review(run_id, record.row.ticket, worktree, diff, parse_diff(diff), [], tree=files)


def _keep(db: Path, run_id: str, ticket: str, new: list[Comment]) -> list[Comment]:
    """Store the new drafts; every comment of the ticket after."""
    from lfgtui.history.reviews import save_draft, ticket_comments
    from lfgtui.history.store import Store

    with Store.open(db) as store:
        for comment in new:
            save_draft(store.conn, run_id, ticket, comment)
        return ticket_comments(store.conn, run_id, ticket)


async def _send(args: argparse.Namespace, config: Config, db: Path, review: _Review) -> int:
    """Take the run up again (as `lfg resume` does), send the drafts as one follow-up, wait for the
    answer. Sends nothing (1) when the run is running elsewhere, the ticket's latest attempt did not
    complete, its provider is not configured any more, or a broker's worker ran it."""
    import functools
    import time

    from lfgtui.commands.common import find_recorded, warn
    from lfgtui.commands.compose import RunOptions
    from lfgtui.commands.on_worker import not_run_here, ticket_worker
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.recorded import provider_problems
    from lfgtui.history.writer import reopen_run_history
    from lfgtui.providers.registry import Providers
    from lfgtui.run import Approvals, Run
    from lfgtui.run.requests import YOU, ReviewSend
    from lfgtui.run.seeds import earlier_of_each
    from lfgtui.worktrees.review import follow_up_text

    drafts = [comment for comment in review.comments if comment.sent_at is None]
    if not drafts:
        return _error(
            "nothing to send: the ticket has no draft comments (add some with --comment)", EXIT_NOT_SENT
        )
    kept = f"its {len(drafts)} draft(s) are kept"
    found = find_recorded(review.run_id, args.config, args.db, whole_run=True)
    if isinstance(found, str):  # most often: it runs in another lfg, whose review screen sends them
        return _error(
            f"not sent ({kept}): {found}; send them from its review screen (v, then S)", EXIT_NOT_SENT
        )
    _, _, recorded = found
    if recorded.coordinated:  # the ticket's worktree and agent session are on a worker, not here
        ticket = next(t for t in recorded.tickets if t.ticket.id == review.ticket)
        isolated = ticket.ticket.isolation == "worktree"
        why = not_run_here(review.run_id, review.ticket, "a follow-up", ticket_worker(ticket), isolated)
        return _error(f"not sent ({kept}): {why}", EXIT_NOT_SENT)
    problems = provider_problems(recorded.as_tickets, config.providers)
    if problems:
        return _error(f"not sent ({kept}): {problems[0]}", EXIT_NOT_SENT)
    options = RunOptions.of(config, None, run_prices(config.providers, recorded.as_tickets))
    # The follow-up works on in the worktree the ticket left (`<root>/<run>/<ticket>`), wherever its root.
    root = review.worktree.path.parent.parent if review.worktree is not None else None
    make_run = functools.partial(Run, earlier=earlier_of_each(recorded.tickets), worktrees=root)
    async with (
        reopen_run_history(db, review.run_id, warn, options.prices) as history,
        Providers(config.providers) as providers,
    ):
        run = options.run(recorded.as_tickets, providers, Approvals(yes=args.yes, askable=False), make_run)
        if history is not None:
            run.record(history)
        state = run.states[review.ticket]
        attempt = state.attempt + 1
        if run.ask(ReviewSend(review.ticket, follow_up_text(drafts)), YOU) is not None:
            return _error(
                f"not sent ({kept}): ticket {review.ticket}'s latest attempt did not complete; "
                f"retry it first (lfg resume {review.run_id})",
                EXIT_NOT_SENT,
            )
        review.comments = _mark_sent(db, review, [d.key for d in drafts], time.time(), attempt)
        try:
            await run.wait()
        finally:
            await run.close_agents()
    outcome = state.outcome.value if state.outcome is not None else "cancelled"
    error = state.error.message if state.error is not None else None
    review.sent = {"attempt": attempt, "outcome": outcome, "error": error, "answer": state.answer}
    return 0 if outcome == "completed" else EXIT_NOT_SENT


def _mark_sent(db: Path, review: _Review, keys: list[str], at: float, attempt: int) -> list[Comment]:
    from lfgtui.history.reviews import mark_sent, ticket_comments
    from lfgtui.history.store import Store

    with Store.open(db) as store:
        mark_sent(store.conn, keys, at, attempt)
        return ticket_comments(store.conn, review.run_id, review.ticket)


def _print(args: argparse.Namespace, review: _Review, added: int) -> None:
    from lfgtui.inert import inert, json_text
    from lfgtui.worktrees.review import file_notes

    if args.json:
        document = {
            "run": review.run_id,
            "ticket": review.ticket,
            "worktree": str(review.worktree.path) if review.worktree is not None else None,
            "tree": review.tree,
            "files": [
                {
                    "path": f.path,
                    "added": f.added,
                    "removed": f.removed,
                    "not_shown": f.not_shown,
                    "link_target": f.link_target,
                }
                for f in review.files
            ],
            "diff": review.diff,
            "comments": [asdict(comment) for comment in review.comments],
            "sent": review.sent,
        }
        print(json_text(document, indent=2))
        return
    say = [
        "  \u2014 ".join([f"{f.path}  +{f.added} \u2212{f.removed}", *file_notes(f)]) for f in review.files
    ] or ["no changes"]
    if review.tree is not None:
        land = f"lfg land {review.run_id} {review.ticket} --tree {review.tree[:12]}"
        say.append(f"tree {review.tree[:12]}: {land} lands exactly this")
    drafts = [c for c in review.comments if c.sent_at is None]
    say.append(f"{added} comment(s) added; {len(drafts)} draft(s), {len(review.comments) - len(drafts)} sent")
    for comment in review.comments:
        state = "draft" if comment.sent_at is None else f"sent (attempt {comment.sent_attempt})"
        say.append(f"  {comment.where} [{state}]: {comment.body}")
    if review.sent is not None:
        why = f" ({review.sent['error']})" if review.sent["error"] else ""
        say.append(f"attempt {review.sent['attempt']} {review.sent['outcome']}{why}:")
        say.append(review.sent["answer"])
    sys.stdout.write(inert("\n".join(say)) + "\n")
