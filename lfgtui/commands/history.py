"""`lfg history list|search|show|export|import|stats|delete`: the history from the command line.

Every command opens the file the way `lfg run` does (`--db`, `LFG_DB`, `[history] path`, the user
data folder), which also marks attempts of crashed runs `interrupted`. `--json` prints data for
scripts; ids may be shortened to any unique prefix, as in git.

Everything recorded came from outside (models, tools, providers, imported files): text output is
made inert (`lfgtui.inert`) so no escape sequence in it reaches the terminal, and JSON is written
with `json_text`, lossless but showable.

`lfg` imports this module for every command, so it imports little: a command's parser is built when
the command is chosen (`subcommands.py`), and each command imports what it uses when it runs
(rich's Markdown only for `show`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfgtui.commands.common import EXIT_USAGE, add_config, add_db, positive_int
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from rich.console import Console

    from lfgtui.history.search import Filters
    from lfgtui.history.stats import QuotaStats
    from lfgtui.history.store import Store

_RELATIVE = re.compile(r"(\d+)\s*([mhdw])")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def since(text: str) -> float:
    """`30m`, `12h`, `7d`, `2w` ago, or an ISO date or time (local unless it has an offset)."""
    from datetime import datetime

    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        return time.time() - int(relative.group(1)) * _UNIT_S[relative.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration like 7d or 12h nor a date like 2025-01-31"
        ) from None


def add_history_commands(commands: Subcommands) -> None:
    """Register `lfg history …` on the top-level subcommands."""
    commands.add_command(
        "history", "list, search, show and export recorded runs", _history_commands, run_history_command
    )


def _history_commands(history: argparse.ArgumentParser) -> None:
    sub = history.add_subparsers(dest="history_command", required=True, action=Subcommands)
    sub.add_command("list", "recent runs", _list_arguments)
    sub.add_command("search", "full-text search over every recorded stream", _search_arguments)
    sub.add_command("show", "a run, a ticket (RUN/TICKET) or an attempt", _show_arguments)
    sub.add_command("export", "a run, ticket or attempt as Markdown or JSON", _export_arguments)
    sub.add_command("import", "load a JSON export into the history", _import_arguments)
    sub.add_command("stats", "TTFT, tok/s and cost per provider and model, or per day", _stats_arguments)
    sub.add_command("delete", "remove a run and everything recorded in it", _delete_arguments)


def _common(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    add_config(parser)


def _as_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _filters_arguments(parser: argparse.ArgumentParser) -> None:
    from lfgtui.outcome import Outcome

    statuses = (*(o.value for o in Outcome), "running")
    parser.add_argument("--ticket", help="only this ticket id")
    parser.add_argument("--model", help="only this model")
    parser.add_argument("--provider", help="only this provider")
    parser.add_argument("--status", choices=statuses, help="only attempts that ended so (or are running)")
    parser.add_argument("--since", type=since, help="only attempts started since: 7d, 12h, 2025-01-31")


def _list_arguments(listing: argparse.ArgumentParser) -> None:
    _common(listing)
    _as_json(listing)
    listing.add_argument("--limit", type=positive_int, default=20, help="how many runs (default 20)")


def _search_arguments(search: argparse.ArgumentParser) -> None:
    _common(search)
    _as_json(search)
    _filters_arguments(search)
    search.add_argument("query", nargs="+", help='words (all must match); "an exact phrase"; prefix*')
    search.add_argument("--limit", type=positive_int, default=20, help="how many matches (default 20)")


def _show_arguments(show: argparse.ArgumentParser) -> None:
    _common(show)
    _as_json(show)
    show.add_argument("id")


def _export_arguments(export: argparse.ArgumentParser) -> None:
    _common(export)
    export.add_argument("id")
    export.add_argument("--format", choices=("md", "json"), default="md", help="md (default) or json")
    export.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")


def _import_arguments(imported: argparse.ArgumentParser) -> None:
    _common(imported)
    imported.add_argument("file", help="a file written by `lfg history export --format json`, or -")


def _stats_arguments(stats: argparse.ArgumentParser) -> None:
    _common(stats)
    _as_json(stats)
    _filters_arguments(stats)
    stats.add_argument(
        "--by",
        choices=("model", "day", "quota", "contestant"),
        default="model",
        help="one row per provider and model (default), per day, per provider with its quota as its "
        "rate-limit headers last said and how often requests waited for its reset or met a 429, or per "
        "tournament contestant's provider and model: tournaments entered, wins, win rate, check pass "
        "rate and cost per win (your own leaderboard)",
    )


def _delete_arguments(delete: argparse.ArgumentParser) -> None:
    _common(delete)
    delete.add_argument("id", help="a run id (or any unique prefix of one)")
    delete.add_argument(
        "--yes", action="store_true", help="do not ask first (needed when stdin is not a terminal)"
    )


def run_history_command(args: argparse.Namespace) -> int:
    """Run one `lfg history` command; 0 on success, 2 for bad usage, a bad config or an id that names
    nothing (unknown, ambiguous: as `lfg resume`, `replay` and `serve` answer one), 1 when the file is
    wrong (unreadable, damaged, not an export, a run still running)."""
    import sqlite3

    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.history.database import StoreError, UnknownId, resolve_db_path, unusable
    from lfgtui.history.search import QueryTooLarge
    from lfgtui.history.store import Store

    try:
        config = load_config(args.config)
    except ValidationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    path = resolve_db_path(args.db, os.environ, config.history.path)
    try:
        with Store.open(path) as store:
            for warning in store.warnings:
                _error(f"warning: {warning}")
            try:
                return COMMANDS[args.history_command](store, args)
            except QueryTooLarge as exc:
                _error(str(exc))
                return EXIT_USAGE
            except sqlite3.DatabaseError as exc:
                raise unusable(path, exc, "read") from exc
    except UnknownId as exc:
        _error(str(exc))
        return EXIT_USAGE
    except StoreError as exc:
        _error(str(exc))
        return 1


def _error(message: str) -> None:
    from lfgtui.inert import inert

    print(f"lfg: {inert(message)}", file=sys.stderr)


def _console() -> Console:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            """Rich would exit 1 here: the reader went away, as `lfg` handles it for every command."""
            self.quiet = True
            raise BrokenPipeError

    # not a terminal: Rich would wrap at 80 columns; a pipe gets each line whole
    return _Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def _print_json(data: Any) -> None:
    from lfgtui.inert import json_text

    print(json_text(data, indent=2))


def _iso(timestamp: float | None) -> str | None:
    """ISO 8601 local time; None for none, or for a bad value in the file."""
    from datetime import datetime

    try:
        return None if timestamp is None else datetime.fromtimestamp(timestamp).astimezone().isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def _filters(args: argparse.Namespace) -> Filters:
    from lfgtui.history.search import Filters

    return Filters(args.ticket, args.model, args.provider, args.status, args.since)


def _list(store: Store, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lfgtui.formats import columns, when
    from lfgtui.inert import inert

    runs = store.list_runs(args.limit)
    if args.json:
        _print_json(
            [
                asdict(run)
                | {"started_at": _iso(run.started_at), "ended_at": _iso(run.ended_at)}
                | {"outcomes": dict(run.outcomes)}
                for run in runs
            ]
        )
        return 0
    if not runs:
        print(f"no runs recorded yet in {store.path}")
        return 0
    rows = [("id", "started", "tickets", "outcomes", "tokens", "file")]
    for run in runs:
        outcomes = ", ".join(f"{count} {outcome}" for outcome, count in run.outcomes)
        file = Path(run.tickets_file).name if run.tickets_file else "-"
        cells = (run.id, when(run.started_at), str(run.tickets), outcomes, str(run.output_tokens), file)
        rows.append(tuple(inert(cell) for cell in cells))
    print(columns(rows))
    return 0


def _search(store: Store, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.text import Text

    from lfgtui.formats import when
    from lfgtui.history.search import snippet_text
    from lfgtui.inert import inert

    hits = store.search(" ".join(args.query), _filters(args), args.limit)
    if args.json:
        _print_json([asdict(hit) | {"started_at": _iso(hit.started_at)} for hit in hits])
        return 0
    if not hits:
        print("no matches", file=sys.stderr)
        return 1
    console = _console()
    for hit in hits:
        where = f"{hit.kind} {hit.name}" if hit.name else hit.kind
        console.print(
            Text.assemble(
                (inert(hit.attempt_id), "bold"),
                inert(
                    f"  {when(hit.started_at)}  {hit.ticket} #{hit.attempt}  {where}  "
                    f"{hit.provider or '-'}/{hit.model or '-'}  {hit.outcome or 'running'}"
                ),
            )
        )
        console.print(snippet_text(hit, "    "))
    return 0


def _show(store: Store, args: argparse.Namespace) -> int:
    from rich.markdown import Markdown

    from lfgtui.history.export import to_json, to_markdown

    record = store.load(store.resolve(args.id))
    if args.json:
        _print_json(to_json(record))
        return 0
    console = _console()
    if not console.is_terminal:  # a pipe or a file (FORCE_COLOR aside): the Markdown as it is
        sys.stdout.write(to_markdown(record, details=False))
    else:
        # no OSC 8 hyperlinks: a link in a model's answer shows its address, as text
        console.print(Markdown(to_markdown(record, details=False), hyperlinks=False))
    return 0


def _export(store: Store, args: argparse.Namespace) -> int:
    from lfgtui.history.export import to_json, to_markdown
    from lfgtui.inert import json_text

    record = store.load(store.resolve(args.id))
    text = json_text(to_json(record), indent=2) + "\n" if args.format == "json" else to_markdown(record)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def _import(store: Store, args: argparse.Namespace) -> int:
    import json

    from lfgtui.history.database import StoreError
    from lfgtui.history.export import from_json, import_record

    name = "stdin" if args.file == "-" else args.file
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        document = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise StoreError(f"cannot read {name}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise StoreError(f"{name} is not UTF-8 text, so not an lfg history export: {exc}") from exc
    except RecursionError as exc:
        raise StoreError(f"{name} is nested too deeply to be an lfg history export") from exc
    except ValueError as exc:
        raise StoreError(f"{name} is not JSON, so not an lfg history export: {exc}") from exc
    try:
        record = from_json(document)
    except StoreError as exc:
        raise StoreError(f"{name}: {exc}; nothing was imported") from exc
    from lfgtui.formats import plural

    attempts = import_record(store, record)
    counted = f"{plural(len(record.tickets), 'ticket')}, {plural(attempts, 'attempt')}"
    print(f"imported run {record.row.id} ({counted})")
    return 0


def _stats(store: Store, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lfgtui.formats import columns, ms, rate, waited
    from lfgtui.inert import inert

    if args.by == "day":
        return _daily(store, args)
    if args.by == "quota":
        return _quotas(store, args)
    if args.by == "contestant":
        return _contestants(store, args)
    stats = store.stats(_filters(args))
    if args.json:
        _print_json([asdict(s) for s in stats])
        return 0
    if not stats:
        print("no attempts recorded yet", file=sys.stderr)
        return 0
    header = (
        "provider",
        "model",
        "attempts",
        "completed",
        "TTFT p50",
        "TTFT p95",
        "tok/s p50",
        "tokens",
        "cost",
        "waited for you",
        "ended early",
    )
    rows = [header]
    for s in stats:
        rows.append(
            (
                inert(s.provider),
                inert(s.model),
                str(s.attempts),
                str(s.completed),
                ms(s.ttft_p50_ms),
                ms(s.ttft_p95_ms),
                rate(s.tokens_per_s_p50),
                str(s.output_tokens),
                _cost(s.cost_usd, s.unpriced, s.cost_estimated),
                "-" if s.waited_s is None else waited(s.waited_s),
                " · ".join(f"{count} {kind}" for kind, count in s.ended_early.items()) or "-",
            )
        )
    print(columns(rows))
    return 0


def _daily(store: Store, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lfgtui.formats import columns

    days = store.daily_costs(_filters(args))
    if args.json:
        _print_json([asdict(d) for d in days])
        return 0
    if not days:
        print("no attempts recorded yet", file=sys.stderr)
        return 0
    rows = [("day", "attempts", "cost")]
    rows += [(d.day, str(d.attempts), _cost(d.cost_usd, d.unpriced, d.cost_estimated)) for d in days]
    print(columns(rows))
    return 0


def _contestants(store: Store, args: argparse.Namespace) -> int:
    """The leaderboard over past tournaments (history/stats.py `ContestantStats`)."""
    from lfgtui.cost.prices import format_usd
    from lfgtui.formats import columns
    from lfgtui.inert import inert

    board = store.contestant_stats(_filters(args))
    if args.json:
        _print_json([entry.json() for entry in board])
        return 0
    if not board:
        print("no tournament recorded yet", file=sys.stderr)
        return 0
    rows = [("provider", "model", "tournaments", "wins", "win rate", "check passed", "cost", "cost per win")]
    for s in board:
        per_win = "-" if s.cost_per_win is None else format_usd(s.cost_per_win, s.cost_estimated)
        rows.append(
            (
                inert(s.provider),
                inert(s.model),
                str(s.tournaments),
                str(s.wins),
                f"{s.win_rate:.0%}",
                f"{s.pass_rate:.0%}",
                _cost(s.cost_usd, s.unpriced, s.cost_estimated),
                per_win,
            )
        )
    print(columns(rows))
    return 0


def _quotas(store: Store, args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lfgtui.cost.prices import format_usd
    from lfgtui.formats import columns, when
    from lfgtui.inert import inert

    quotas = store.quota_stats(_filters(args))
    if args.json:
        _print_json([asdict(q) for q in quotas])
        return 0
    if not quotas:
        print(
            "no quota recorded yet: no provider sent rate-limit headers, held a request or met a 429, "
            "and no coding agent reported its context",
            file=sys.stderr,
        )
        return 0
    header = ("provider", "requests left", "tokens left", "context", "agent cost", "agent limit", "seen")
    rows = [(*header, "waits for a reset", "429s")]
    rows += [
        (
            inert(q.provider),
            _left(q.requests_remaining, q.requests_limit),
            _left(q.tokens_remaining, q.tokens_limit),
            _context(q.context_used, q.context_size),
            "-" if q.agent_cost_usd is None else format_usd(q.agent_cost_usd),
            _limit(q),
            when(max((t for t in (q.seen_at, q.context_at) if t is not None), default=None)),
            str(q.quota_waits),
            str(q.rate_limited),
        )
        for q in quotas
    ]
    print(columns(rows))
    return 0


def _limit(quota: QuotaStats) -> str:
    """The account's limit as a coding agent last said it, `5h limit 91% used ↻1h12m` counted from now
    (without the countdown once it has reset), `-` when none said one."""
    from lfgtui.formats import limit_text
    from lfgtui.inert import inert

    if quota.limit is None or quota.limit_at is None:
        return "-"
    return inert(limit_text(quota.limit, time.time() - quota.limit_at))


def _context(used: int | None, size: int | None) -> str:
    """A coding agent's context as it last reported it: `45,210/200,000 (23%)`, `-` when it did not."""
    from lfgtui.formats import context_percent

    if used is None or size is None:
        return "-"
    return f"{used:,}/{size:,} ({context_percent(used, size)})"


def _left(remaining: int | None, limit: int | None) -> str:
    """What an allowance had left of its limit: `48/50`, `-` when its headers did not say."""
    if remaining is None:
        return "-"
    return f"{remaining:,}" if limit is None else f"{remaining:,}/{limit:,}"


def _cost(total: float | None, unpriced: int, estimated: bool) -> str:
    """The known cost, and how many attempts it leaves out for want of a price."""
    from lfgtui.cost.prices import format_usd

    shown = format_usd(total, estimated)
    return f"{shown} (+{unpriced} unpriced)" if unpriced and total is not None else shown


def _delete(store: Store, args: argparse.Namespace) -> int:
    import shutil

    from lfgtui.formats import plural, when
    from lfgtui.history.database import StoreError
    from lfgtui.inert import inert
    from lfgtui.tools.sandbox_home import state_copies

    selection = store.resolve(args.id)
    run_id = selection.run_id
    if selection.ticket is not None:
        named = f"attempt {selection.attempt_id}" if selection.attempt_id else f"ticket {selection.ticket}"
        raise StoreError(
            f"{args.id} is {named} of run {run_id}; lfg history delete removes whole runs "
            f"(lfg history delete {run_id})"
        )
    store.check_not_running(run_id)  # before asking; `delete_run` checks again as it deletes
    record = store.load(selection)
    attempts = sum(len(ticket.attempts) for ticket in record.tickets)
    started = when(record.row.started_at)
    counted = f"{plural(len(record.tickets), 'ticket')}, {plural(attempts, 'attempt')}"
    what = f"run {run_id} ({counted}, started {started})"
    copies = state_copies() / run_id
    kept = run_id.isalnum() and copies.is_dir()  # an id a crafted row gave names no folder of lfg's
    if kept:
        what += f" and its sandboxed agents' copies of their own settings (lfg settings {run_id})"
    if not args.yes:
        if not sys.stdin.isatty():
            _error(f"not deleting {what} without --yes: stdin is not a terminal to ask on")
            return EXIT_USAGE
        try:
            answer = input(inert(f"delete {what}? It cannot be undone. [y/N] "))
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            _error("nothing deleted")
            return 1
    store.delete_run(run_id)
    if kept:
        shutil.rmtree(copies, ignore_errors=True)
    print(inert(f"deleted {what}"))
    return 0


COMMANDS: dict[str, Callable[[Store, argparse.Namespace], int]] = {
    "list": _list,
    "search": _search,
    "show": _show,
    "export": _export,
    "import": _import,
    "stats": _stats,
    "delete": _delete,
}
