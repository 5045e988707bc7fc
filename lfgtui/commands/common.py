"""What the commands share: exit codes, the options several take, a recorded run looked up.

`lfg` imports this module for every command, so it imports only the standard library at first;
what a function needs it imports when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from lfgtui.commands import EXIT_SIGINT as EXIT_SIGINT  # the entry point's own, for every command

if TYPE_CHECKING:
    from lfgtui.config.load import Config
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.history.store import Selection, Store
    from lfgtui.history.writer import RunHistory

T = TypeVar("T")

EXIT_USAGE = 2
"""Bad usage, a bad config or tickets file, or something named that is not there: nothing was done."""
EXIT_UNRECORDED = 3
"""The run ran, but its history stopped recording it (a full disk): what the file lacks is said last."""

CONFIG_HELP = "config file (default: $LFG_CONFIG or the user config folder)"
DB_HELP = "history file (default: $LFG_DB, [history] path, the user data folder)"


def positive_int(text: str) -> int:
    """argparse's `type` for a count of at least 1 (`--max-concurrency`, `--limit`): refused while the
    command line is read, before a run is started or recorded."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def positive_number(text: str) -> float:
    """argparse's `type` for a finite number above 0 (a timeout, a speed), refused as `positive_int`."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def port(text: str) -> int:
    """argparse's `type` for a TCP port to listen on, 1 to 65535."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 1 to 65535")
    return int(text)


def listen_address(option: str) -> Callable[[str], str]:
    """argparse's `type` for `option`'s `[HOST:]PORT`: well formed, and free to listen on now, so that
    a port in use stops the command before it starts anything (the server binds it later)."""

    def checked(text: str) -> str:
        from lfgtui.remote.server import Address
        from lfgtui.remote.tokens import ServeError

        try:
            problem = Address.parse(text, option).busy()
        except ServeError as exc:
            problem = str(exc)
        if problem is not None:  # argparse names the option itself
            raise argparse.ArgumentTypeError(problem.removeprefix(f"{option} "))
        return text

    return checked


def add_config(parser: argparse.ArgumentParser, help: str = CONFIG_HELP) -> None:
    """`--config FILE`; `help` says what a command reads it for, when that is not everything."""
    parser.add_argument("--config", type=Path, help=help)


def add_db(parser: argparse.ArgumentParser, help: str = DB_HELP) -> None:
    """`--db FILE`, the history file."""
    parser.add_argument("--db", type=Path, help=help)


def add_theme(parser: argparse.ArgumentParser) -> None:
    """`--theme NAME`, for a command that opens the TUI."""
    parser.add_argument(
        "--theme",
        type=theme_name,
        help="the TUI's theme: dark, light or one of yours in the themes folder (lfg paths; "
        "default: [ui] theme)",
    )


def theme_name(text: str) -> str:
    """argparse's `type` for `--theme`: one of lfg's themes (built-in or the user's), else refused
    with the likely one and every name, before anything starts (headless too, where it was ignored)."""
    from lfgtui.config.validation import unknown
    from lfgtui.ui.drawing.themes import ThemeError, load_themes

    try:
        themes = load_themes()
    except ThemeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if text not in themes:
        raise argparse.ArgumentTypeError(unknown("theme", text, themes))
    return text


def add_token_file_option(parser: argparse.ArgumentParser) -> None:
    """`--token-file`, of whatever serves behind a bearer token (`--serve`, `lfg serve`, `--metrics`)."""
    parser.add_argument(
        "--token-file",
        type=Path,
        help="serve with the token in this file (default: a new random token, printed at start)",
    )


def add_insecure_bind_option(parser: argparse.ArgumentParser, option: str = "--serve") -> None:
    """`--insecure-bind`, which lets `option` listen beyond loopback."""
    parser.add_argument(
        "--insecure-bind",
        action="store_true",
        help=f"allow {option} on an address beyond this machine (plain HTTP: the token crosses in clear)",
    )


def warn(message: str) -> None:
    """A note on stderr, which may be a terminal that has gone away (SIGHUP): then it is dropped."""
    with contextlib.suppress(OSError):
        print(f"lfg: {message}", file=sys.stderr, flush=True)


class Notices:
    """Where what goes wrong beside a run (its telemetry's receiver) is said: stderr, or the TUI's
    notices while it is open (nothing is written to stderr under the TUI). A plain class: every
    command imports this module, and making a dataclass costs startup a millisecond."""

    def __init__(self) -> None:
        self.say: Callable[[str], None] = warn


def fail(message: str) -> int:
    """Say what is wrong; the exit code for bad usage."""
    warn(message)
    return EXIT_USAGE


def recorded_exit(history: RunHistory | None, code: int, recorded: str = "") -> int:
    """A run's last line and exit code once its history is closed: `recorded` (where it is, with
    `{run}` for its id), or what the file lacks when it stopped recording (a full disk), and then
    EXIT_UNRECORDED, unless `code` is a signal's, which says more."""
    if history is None:
        return code
    shortfall = history.shortfall()
    if shortfall is None:
        if recorded:
            warn(recorded.format(run=history.run_id))
        return code
    warn(shortfall)
    return max(code, EXIT_UNRECORDED)


def find_recorded(
    ref: str, config_file: Path | None, db_file: Path | None, whole_run: bool
) -> tuple[Config, Path, RecordedRun] | str:
    """The config, the history file and the run, ticket or attempt `ref` names in it (its whole run
    with `whole_run`, which must not be running, and is claimed for this process from the read on:
    `RunLock.claim`); or what is wrong."""
    from lfgtui.history.database import StoreError
    from lfgtui.history.lock import RunLock
    from lfgtui.history.recorded import recorded_run
    from lfgtui.history.store import Selection

    def read(store: Store, selection: Selection) -> RecordedRun:
        if whole_run:  # to take it up again: held from this read on, so no other lfg does meanwhile
            try:
                RunLock.claim(store.path, selection.run_id)
            except OSError:
                raise StoreError(f"run {selection.run_id} is still running in another lfg") from None
            selection = Selection(selection.run_id)
        return recorded_run(store.load(selection))

    return _found(ref, config_file, db_file, read)


def find_run(ref: str, config_file: Path | None, db_file: Path | None) -> tuple[Config, Path, str] | str:
    """The config, the history file and the id of the run `ref` names (or the run of the attempt it
    names), ended or still running; or what is wrong."""
    return _found(ref, config_file, db_file, lambda _, selection: selection.run_id)


def _found(
    ref: str, config_file: Path | None, db_file: Path | None, read: Callable[[Store, Selection], T]
) -> tuple[Config, Path, T] | str:
    """The config, the history file and what `read` makes of what `ref` names in it; or what is wrong."""
    import sqlite3

    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.history.database import StoreError, resolve_db_path, unusable
    from lfgtui.history.store import Store

    try:
        config = load_config(config_file)
    except ValidationError as exc:
        return str(exc)
    db = resolve_db_path(db_file, os.environ, config.history.path)
    try:
        with Store.open(db) as store:
            return config, db, read(store, store.resolve(ref))
    except StoreError as exc:
        return str(exc)
    except sqlite3.DatabaseError as exc:  # pages damaged past the header: found only when read
        return str(unusable(db, exc, "read"))


def tui_problem(theme: str, command: str) -> str | None:
    """What stops the TUI of `lfg COMMAND` from opening: no terminal, or an unknown or broken theme."""
    from lfgtui.ui import terminal_attached
    from lfgtui.ui.drawing.themes import ThemeError, check_theme

    if not terminal_attached():
        return f"lfg {command} opens the TUI: run it in a terminal"
    try:
        check_theme(theme)
    except ThemeError as exc:
        return str(exc)
    return None
