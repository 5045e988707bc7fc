"""`lfg worktrees list|clean`: the git worktrees that tickets with `isolation = "worktree"` worked in.

They stay after a run (the work is the point). `list` shows what changed in each; `clean` removes
those with nothing uncommitted and no commit that only their branch has (`--force` removes those
too, discarding uncommitted work) and deletes a branch only when it has no commits beyond its base,
so nothing committed is ever lost.

File names, branch names and git's messages come from outside: the table and the messages are made
inert, and `--json` is written with `json_text`. `lfg` imports this module for every command, so
git handling is imported only when a `worktrees` command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_USAGE
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from lfgtui.worktrees.cleanup import WorktreeInfo

EXIT_REFUSED = 1


def add_worktree_commands(commands: Subcommands) -> None:
    """Register `lfg worktrees list|clean` on the top-level subcommands."""
    commands.add_command(
        "worktrees",
        'list or remove the git worktrees of tickets with isolation = "worktree"',
        _commands,
        run_worktree_command,
    )


def _commands(worktrees: argparse.ArgumentParser) -> None:
    sub = worktrees.add_subparsers(dest="worktrees_command", required=True, action=Subcommands)
    sub.add_command("list", "each worktree with its branch and what changed in it", _list_arguments)
    sub.add_command(
        "clean",
        "remove worktrees with nothing uncommitted or unlanded; keep branches that have commits",
        _clean_arguments,
    )


def _list_arguments(listing: argparse.ArgumentParser) -> None:
    listing.add_argument(
        "--run", metavar="ID", help="only the worktrees of this run (or any unique prefix of its id)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON array: an object per worktree")


def _clean_arguments(clean: argparse.ArgumentParser) -> None:
    clean.add_argument(
        "--run", metavar="ID", help="only the worktrees of this run (or any unique prefix of its id)"
    )
    clean.add_argument("--ticket", metavar="ID", help="only the worktrees of this ticket")
    clean.add_argument(
        "--force",
        action="store_true",
        help="also remove worktrees with uncommitted changes (discarding them) or commits no other "
        "branch has (their branch is kept)",
    )


def run_worktree_command(args: argparse.Namespace) -> int:
    """Run one `lfg worktrees` command: 0 when done, 1 when a worktree was kept for a reason given
    (or the folder cannot be read), 2 for bad usage."""
    from lfgtui import event_loop

    return event_loop.run(_command(args))


async def _command(args: argparse.Namespace) -> int:
    from lfgtui.worktrees.cleanup import list_worktrees
    from lfgtui.worktrees.git import GitError
    from lfgtui.worktrees.tree import worktrees_root

    root = worktrees_root()
    run, problem = (None, None) if args.run is None else _run_of(root, args.run)
    if problem is not None:
        return _error(problem, EXIT_USAGE)
    try:
        found = await list_worktrees(root, run)
    except GitError as exc:
        return _error(str(exc), EXIT_USAGE)
    except OSError as exc:
        return _error(f"cannot read {root}: {exc}", EXIT_REFUSED)
    if args.worktrees_command == "list":
        return _list(found, root, args.json)
    chosen = [info for info in found if args.ticket is None or info.ticket_id == args.ticket]
    return await _clean(chosen, root, args.force)


def _run_of(root: Path, ref: str) -> tuple[str | None, str | None]:
    """The run whose worktrees `--run REF` means: REF itself, else the one run under `root` whose id
    starts with it, as every other command takes a prefix; else (None, why not)."""
    from lfgtui.worktrees.tree import ref_safe

    try:
        runs = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
    except OSError:  # no worktrees made yet: nothing of any run
        runs = []
    if not ref:
        return None, "--run needs a run id (or a prefix of one)"
    if ref_safe(ref) in runs:
        return ref, None
    matches = [run for run in runs if run.startswith(ref_safe(ref))]  # lfg's run ids are their folders' names
    if len(matches) == 1:
        return matches[0], None
    if not matches:
        return None, f"no worktrees of a run {ref!r} in {root} (see `lfg worktrees list`)"
    more = " and more" if len(matches) > 5 else ""
    return None, f"{ref!r} is ambiguous: it could be run {', '.join(matches[:5])}{more}"


def _error(message: str, code: int) -> int:
    import sys

    from lfgtui.inert import inert

    print(f"lfg: {inert(message)}", file=sys.stderr)
    return code


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def _record(info: WorktreeInfo) -> dict[str, object]:
    from datetime import datetime

    tree, stat = info.tree, info.stat
    return {
        "run": info.run_id,
        "ticket": info.ticket_id,
        "path": str(info.path),
        "branch": tree.branch if tree else None,
        "repo": str(tree.repo) if tree else None,
        "base": tree.base if tree else None,
        "workdir": str(tree.workdir) if tree else None,
        "created": datetime.fromtimestamp(info.created).astimezone().isoformat() if info.created else None,
        "exists": info.exists,
        "dirty": info.dirty,
        "commits_ahead": info.ahead,
        "added": stat.added if stat else None,
        "removed": stat.removed if stat else None,
        "files": stat.files if stat else None,
        "problem": info.problem,
    }


def _list(found: list[WorktreeInfo], root: Path, as_json: bool) -> int:
    from lfgtui.formats import columns
    from lfgtui.inert import inert, json_text

    if as_json:  # one answer: one JSON document (NDJSON is for streams of events)
        print(json_text([_record(info) for info in found], indent=2))
        return 0
    if not found:
        print(inert(f"no worktrees in {root}"))
        return 0
    rows = [("run", "ticket", "branch", "commits", "diff", "files", "dirty", "path")]
    for info in found:
        stat = info.stat
        cells = (
            info.run_id,
            info.ticket_id,
            info.tree.branch if info.tree else "?",
            "-" if info.ahead is None else str(info.ahead),
            f"+{stat.added} \u2212{stat.removed}" if stat else "-",
            str(stat.files) if stat else "-",
            _yes_no(info.dirty) if info.exists else "gone",
            str(info.path),
        )
        rows.append(tuple(inert(cell) for cell in cells))
    print(columns(rows))
    for info in found:
        if info.problem:
            print(inert(f"{info.run_id}/{info.ticket_id}: {info.problem}"))
    return 0


async def _clean(found: list[WorktreeInfo], root: Path, force: bool) -> int:
    """Remove one worktree at a time: several of one repository would contend for its locks."""
    from lfgtui.inert import inert
    from lfgtui.worktrees.cleanup import remove_worktree

    if not found:
        print(inert(f"no worktrees to clean in {root}"))
        return 0
    refused = False
    for info in found:
        removal = await remove_worktree(info, force)
        refused |= removal.refused
        print(inert(removal.message))
    return EXIT_REFUSED if refused else 0
