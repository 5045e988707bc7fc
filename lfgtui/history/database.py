"""The history file itself: where it lives, and opening it safely.

Opening creates the folder (0700) and the file (0600), makes an existing file and its -wal and -shm
private again, turns on WAL and foreign keys and applies pending migrations.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

import platformdirs

from lfgtui.folders import keep_from_sandboxes, private_folder
from lfgtui.history.lock import RunLock
from lfgtui.history.schema import MIGRATIONS

DB_ENV = "LFG_DB"
BUSY_TIMEOUT_S = 5.0
DAMAGED_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class StoreError(Exception):
    """A history file that cannot be used, or an id that names nothing (or too many things)."""


class UnknownId(StoreError):
    """An id (or `RUN/TICKET`) that names nothing in the history file, or more than one thing: bad
    usage, which every command answers with exit code 2."""


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("lfgtui")) / "history.sqlite3"


def resolve_db_path(explicit: Path | None, env: Mapping[str, str], configured: Path | None) -> Path:
    """`--db PATH`, else `LFG_DB`, else `[history] path` in config.toml, else the user data folder."""
    if explicit is not None:
        return explicit.expanduser()
    if env.get(DB_ENV):
        return Path(env[DB_ENV]).expanduser()
    return configured if configured is not None else default_db_path()


def _create(path: Path) -> None:
    """Create the folder (0700) and an empty database file (0600) unless they exist."""
    private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        path.chmod(0o600)


def _tighten(path: Path) -> list[str]:
    """Make the file and its -wal and -shm readable only by us (an older lfg, a copy or a restore
    may have left them 0644: they hold every prompt and answer); what cannot be changed is said."""
    warnings = []
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            status = file.stat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(status.st_mode)
        if not mode & 0o077:
            continue
        if status.st_uid != os.getuid():
            warnings.append(
                f"{file} is readable by others (mode {mode:o}) and owned by another user: "
                "lfg leaves it as it is; ask its owner to `chmod 600` it"
            )
            continue
        try:
            file.chmod(0o600)
        except OSError as exc:
            warnings.append(f"{file} is readable by others (mode {mode:o}) and cannot be tightened: {exc}")
    return warnings


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Apply pending migrations, each in its own transaction; returns the file's schema version.

    Two processes may open a new file at once: the loser of the race fails on the tables the winner
    just made, rolls back, re-reads `user_version` and finds nothing left to do. A file an older lfg
    is still recording a run into is left as it is: a migration may rename what that lfg writes to,
    and its run would stop being recorded halfway.
    """
    while True:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the history file has schema version {version}, newer than this lfg knows "
                f"({len(MIGRATIONS)}); upgrade lfg to read it"
            )
        if version == len(MIGRATIONS):
            return version
        if version > 0 and (writing := _recording(conn, path)):
            raise StoreError(
                f"the history file {path} is being written by an older lfg (run {writing}); this lfg "
                "updates it once that run ends. Until then, use --no-history or another --db"
            )
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[version]}; PRAGMA user_version = {version + 1}; COMMIT;"
            )
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.rollback()
            if conn.execute("PRAGMA user_version").fetchone()[0] == version:
                raise


def _recording(conn: sqlite3.Connection, path: Path) -> str | None:
    """A run whose process is still recording it into the file, if any."""
    open_runs = conn.execute("SELECT id FROM runs WHERE ended_at IS NULL").fetchall()
    return next((run_id for (run_id,) in open_runs if RunLock.alive(path, run_id)), None)


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # raised by Python's sqlite3 itself: a text that is not UTF-8 is garbage in a page
        return str(exc).startswith("Could not decode to UTF-8")
    return code & 0xFF in DAMAGED_CODES


def unusable(path: Path, exc: sqlite3.Error | OSError, doing: str = "open") -> StoreError:
    """What to tell the user when the file fails: for a damaged file (garbage over its pages, or not
    an SQLite file at all), what to do about it, since only they may decide to give it up."""
    if isinstance(exc, sqlite3.DatabaseError) and _damaged(exc):
        return StoreError(
            f"the history file {path} is damaged ({exc}). Move it aside, with its -wal and -shm files "
            f"if any (e.g. `mv {path} {path}.damaged`), and lfg starts a new one; lfg never deletes it"
        )
    return StoreError(f"cannot {doing} the history file {path}: {exc}")


def connect(path: Path) -> tuple[sqlite3.Connection, list[str]]:
    """A connection to the history file, created and migrated; autocommit, WAL, foreign keys on.
    Also returns warnings about the file's permissions that could not be fixed. Every sandbox this
    lfg starts from now on hides the file (`keep_from_sandboxes`), wherever it lies."""
    try:
        _create(path)
        warnings = _tighten(path)
        keep_from_sandboxes(path)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (sqlite3.Error, OSError) as exc:
        raise unusable(path, exc) from exc
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except (sqlite3.Error, OSError) as exc:
        conn.close()
        raise unusable(path, exc) from exc
    return conn, warnings


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error; IMMEDIATE so writers queue, not deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")  # a full disk fails here, and may leave the transaction open
    except BaseException:
        conn.rollback()
        raise
