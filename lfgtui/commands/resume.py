"""`lfg resume RUN_ID` and `lfg replay ID`: a recorded run back in the TUI.

`resume` reopens a run with every pane restored; retries and follow-ups are recorded into that same
run, each ticket as it was recorded (a worktree ticket in its worktree). A run imported from elsewhere
whose tickets work outside the current folder asks first. `replay` streams what was recorded at its
recorded pace and sends nothing to any provider.
Both check everything before the TUI opens: a bad id, a run still open in another lfg, or (for
`resume`) a provider no longer configured is an error with exit code 2 and changes nothing.

`lfg` imports this module for every command, so the history, the providers and the TUI are imported
only when `resume` or `replay` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.config import Config
    from lfgtui.history.store import Selection, Store
    from lfgtui.resume import RecordedRun

T = TypeVar("T")

EXIT_USAGE = 2


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number (1 is the recorded pace)")
    return speed


def add_resume_commands(commands: Subcommands) -> None:
    """Register `lfg resume` and `lfg replay` on the top-level subcommands."""
    commands.add_command(
        "resume", "reopen a recorded run: retry what did not complete, follow up", _resume_arguments
    )
    commands.add_command(
        "replay", "stream a recorded run, ticket or attempt again at its recorded pace", _replay_arguments
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, help="history file (default: $LFG_DB, [history] path, the user data folder)"
    )
    parser.add_argument(
        "--config", type=Path, help="config file (default: $LFG_CONFIG or the user config folder)"
    )
    parser.add_argument("--theme", help="the TUI's theme: dark, light or one of yours (default: [ui] theme)")


def _resume_arguments(resume: argparse.ArgumentParser) -> None:
    _common(resume)
    resume.add_argument("run_id", metavar="RUN_ID", help="a run id (or any unique prefix of one)")
    resume.add_argument(
        "--yes", action="store_true", help="let write_file and run_command run without asking"
    )
    resume.add_argument("--max-concurrency", type=int, help="tickets streaming at once (default: [run], 8)")


def _replay_arguments(replay: argparse.ArgumentParser) -> None:
    _common(replay)
    replay.add_argument("id", metavar="ID", help="a run, RUN/TICKET or an attempt id (or a unique prefix)")
    replay.add_argument(
        "--speed", type=_speed, default=1.0, help="how many times faster than recorded (default 1)"
    )


def _fail(message: str) -> int:
    print(f"lfg: {message}", file=sys.stderr)
    return EXIT_USAGE


def _found(
    args: argparse.Namespace, ref: str, read: Callable[[Store, Selection], T]
) -> tuple[Config, Path, T] | str:
    """The config, the history file and what `read` makes of what `ref` names in it; or what is wrong."""
    import sqlite3

    from lfgtui.config import load_config
    from lfgtui.history.database import StoreError, resolve_db_path, unusable
    from lfgtui.history.store import Store
    from lfgtui.validation import ValidationError

    try:
        config = load_config(args.config)
    except ValidationError as exc:
        return str(exc)
    db = resolve_db_path(args.db, os.environ, config.history.path)
    try:
        with Store.open(db) as store:
            return config, db, read(store, store.resolve(ref))
    except StoreError as exc:
        return str(exc)
    except sqlite3.DatabaseError as exc:  # pages damaged past the header: found only when read
        return str(unusable(db, exc, "read"))


def find_recorded(
    args: argparse.Namespace, ref: str, whole_run: bool
) -> tuple[Config, Path, RecordedRun] | str:
    """The config, the history file and what `ref` names in it; or what is wrong."""
    from lfgtui.history.database import StoreError
    from lfgtui.history.lock import RunLock
    from lfgtui.history.store import Selection
    from lfgtui.resume import recorded_run

    def read(store: Store, selection: Selection) -> RecordedRun:
        if whole_run:
            if RunLock.alive(store.path, selection.run_id):
                raise StoreError(f"run {selection.run_id} is still running in another lfg")
            selection = Selection(selection.run_id)
        return recorded_run(store.load(selection))

    return _found(args, ref, read)


def find_run(args: argparse.Namespace, ref: str) -> tuple[Config, Path, str] | str:
    """The config, the history file and the id of the run `ref` names (or the run of the attempt it
    names), ended or still running; or what is wrong."""
    return _found(args, ref, lambda _, selection: selection.run_id)


def tui_problem(args: argparse.Namespace, config: Config, command: str) -> str | None:
    """What stops the TUI from opening: no terminal, or an unknown or broken theme."""
    from lfgtui.ui import terminal_attached
    from lfgtui.ui.themes import ThemeError, check_theme

    if not terminal_attached():
        return f"lfg {command} opens the TUI: run it in a terminal"
    try:
        check_theme(args.theme or config.ui.theme)
    except ThemeError as exc:
        return str(exc)
    return None


async def resume(args: argparse.Namespace) -> int:
    from lfgtui.resume import provider_problems

    found = find_recorded(args, args.run_id, whole_run=True)
    if isinstance(found, str):
        return _fail(found)
    config, db, recorded = found
    problems = provider_problems(recorded.as_tickets, config.providers)
    if problems:
        for problem in problems:
            _fail(f"cannot resume run {recorded.run_id}: {problem}")
        return _fail(f"to watch it without sending anything: lfg replay {recorded.run_id}")
    problem = tui_problem(args, config, "resume")
    if problem is not None:
        return _fail(problem)
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.writer import reopen_run_history
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.tools import without_keys
    from lfgtui.ui.app import EXIT_DECLINED, LfgApp
    from lfgtui.ui.run_screen import Mode
    from lfgtui.ui.services import Services
    from lfgtui.ui.session import Session

    secret_vars = {c.api_key_env for c in config.providers.values() if c.api_key_env}
    prices = run_prices(config.providers, recorded.as_tickets)
    async with (
        reopen_run_history(db, recorded.run_id, _fail, prices) as history,
        Providers(config.providers, backend=ProviderWorker()) as providers,
    ):
        await providers.warm({ticket.provider for ticket in recorded.as_tickets})  # while the UI loads
        services = Services(
            providers,
            history=db,
            yes=args.yes,
            max_concurrency=args.max_concurrency or config.run.max_concurrency,
            tool_env=without_keys(os.environ, secret_vars),
            prices=prices,
            max_cost_usd=config.run.max_cost_usd,
        )
        session = Session(services, recorded.as_tickets, Mode.RESUMED, recorded=recorded)
        assert session.run is not None, "a resumed session runs its tickets"
        session.run.run_id = recorded.run_id  # its worktrees are the recorded run's, history or not
        if history is not None:
            session.run.record(history)
        outside = recorded.outside(Path.cwd())
        app = LfgApp(
            services,
            session,
            theme=args.theme or config.ui.theme,
            keymap=config.ui.keymap,
            notice=recorded.notice(),
            question=recorded.outside_question(Path.cwd(), outside) if outside else None,
        )
        code = await app.run_async()
    if outside and code == EXIT_DECLINED:
        return _fail(
            f"run {recorded.run_id} was not resumed: nothing ran. Its tickets work outside this folder; "
            f"resume it from where they work, or watch it with lfg replay {recorded.run_id}"
        )
    return 1 if code is None else code


async def replay(args: argparse.Namespace) -> int:
    found = find_recorded(args, args.id, whole_run=False)
    if isinstance(found, str):
        return _fail(found)
    config, _, recorded = found
    if not any(ticket.attempts for ticket in recorded.tickets):
        return _fail(f"{args.id} has no recorded attempt to replay")
    problem = tui_problem(args, config, "replay")
    if problem is not None:
        return _fail(problem)
    from lfgtui.providers.registry import Providers
    from lfgtui.resume import ReplayClock
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.run_screen import Mode
    from lfgtui.ui.services import Services
    from lfgtui.ui.session import Session

    async with Providers() as providers:  # a replay has no run: nothing is ever sent
        services = Services(providers, clock=ReplayClock(args.speed))
        session = Session(services, recorded.as_tickets, Mode.REPLAY, recorded=recorded)
        app = LfgApp(services, session, theme=args.theme or config.ui.theme, keymap=config.ui.keymap)
        code = await app.run_async()
    return 0 if code is None else code
