"""`lfg paths`: where lfg keeps its files on this machine, what chose each place, what moves it.

The places are platformdirs' (XDG folders on Linux, `~/Library/Application Support` and
`~/Library/Logs` on macOS, `%LOCALAPPDATA%` on Windows), each resolved by the function the code that
uses it calls, so what this prints is where lfg reads and writes. The logs folder holds `lfg.log`
and the coding agents' stderr (`agents/`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from lfgtui.commands.common import add_config, add_db, fail
from lfgtui.commands.subcommands import Subcommands


def add_paths_command(commands: Subcommands) -> None:
    """Register `lfg paths` on the top-level subcommands."""
    commands.add_command(
        "paths", "where lfg keeps its config, history, logs, worktrees and themes", _arguments, paths
    )


def _arguments(paths: argparse.ArgumentParser) -> None:
    add_config(paths)
    add_db(paths)
    paths.add_argument("--json", action="store_true", help="one JSON object: each place by name")


@dataclass(frozen=True, slots=True)
class Place:
    """One of lfg's places: where it is now, what chose it, and what would move it."""

    name: str
    path: str
    chosen_by: str  # "--db", "$LFG_DB", "[history] path", or "default"
    moved_by: tuple[str, ...]  # options and environment variables, in the order lfg reads them


def paths(args: argparse.Namespace) -> int:
    from lfgtui.config.validation import ValidationError

    try:
        places = _places(args.config, args.db, os.environ, sys.platform)
    except ValidationError as exc:
        return fail(str(exc))
    if args.json:
        shown = {place.name: {k: v for k, v in asdict(place).items() if k != "name"} for place in places}
        print(json.dumps(shown, indent=2))
        return 0
    width = max(len(place.name) for place in places)
    for place in places:
        chosen = "" if place.chosen_by == "default" else f"  (from {place.chosen_by})"
        print(f"{place.name:<{width}}  {place.path}{chosen}")
        print(f"{'':<{width}}  moved by: {', '.join(place.moved_by) or 'nothing'}")
    if sys.platform == "darwin":
        print("\nOn macOS lfg keeps its config and data in ~/Library/Application Support/lfgtui and its logs")
        print("in ~/Library/Logs/lfgtui, where macOS apps keep theirs (not ~/.config).")
    return 0


def _places(
    config_file: Path | None, db_file: Path | None, env: Mapping[str, str], platform: str
) -> list[Place]:
    from lfgtui.commands.logs import lfg_log_path
    from lfgtui.config.load import CONFIG_ENV, config_path, load_config
    from lfgtui.history.database import DB_ENV, resolve_db_path
    from lfgtui.sim.scenario import user_scenario_dir
    from lfgtui.ui.drawing.themes import user_theme_dir
    from lfgtui.worktrees.tree import WORKTREES_ENV, worktrees_root

    xdg = platform.startswith("linux")  # the XDG variables: what platformdirs reads on Linux
    config_home = ("$XDG_CONFIG_HOME",) if xdg else ()
    data_home = ("$XDG_DATA_HOME",) if xdg else ()
    config = load_config(config_file, env)
    config_chosen = (
        "--config" if config_file is not None else f"${CONFIG_ENV}" if env.get(CONFIG_ENV) else "default"
    )
    db_chosen = (
        "--db"
        if db_file is not None
        else f"${DB_ENV}"
        if env.get(DB_ENV)
        else "[history] path"
        if config.history.path is not None
        else "default"
    )
    return [
        Place(
            "config",
            str(config_path(config_file, env)),
            config_chosen,
            ("--config", f"${CONFIG_ENV}", *config_home),
        ),
        Place(
            "history",
            str(resolve_db_path(db_file, env, config.history.path)),
            db_chosen,
            ("--db", f"${DB_ENV}", "[history] path", *data_home),
        ),
        Place(
            "logs",
            str(lfg_log_path().parent),
            "default",
            ("$XDG_STATE_HOME",) if xdg else (),
        ),
        Place(
            "worktrees",
            str(worktrees_root(env)),
            f"${WORKTREES_ENV}" if env.get(WORKTREES_ENV) else "default",
            (f"${WORKTREES_ENV}", *data_home),
        ),
        Place("themes", str(user_theme_dir()), "default", config_home),
        Place("scenarios", str(user_scenario_dir()), "default", config_home),
    ]
