"""A boxed coding agent's own state: the ticket's copy, never the person's.

What an agent reads of its own as it starts (Claude Code's `~/.claude/settings.json` hooks and
`~/.claude.json` MCP servers, Codex's `config.toml` and `AGENTS.md`, Gemini CLI's `settings.json`,
their commands, skills, sub-agents and instruction files) runs code and instructs the model in every
later session, unboxed ones too. So in a ticket's box (tools/sandbox.py) those folders and files are
the ticket's own: a copy seeded from the person's at its first attempt, kept under lfg's state folder
(`state_copies()/RUN/ticket-ID`, hidden from every box), bound over the person's paths inside the box.
The agent's sessions, logs and caches (`SKIPPED`) start empty there and stay with the copy.

Its login (`LOGINS`) is not copied: the person's file is bound through as it is, so the agent logs
in and may refresh its token, and no copy of it is ever shown or kept. After each attempt the pane
is told what the agent changed in the copy (`said`, a diff); `lfg settings RUN --apply` keeps it
in the person's home (`apply`), file by file, and only where the person's file is still the one the
copy was seeded from. Nothing is applied otherwise.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lfgtui.events import AGENT_STATE_CHANGED
from lfgtui.tools.base import ToolError
from lfgtui.tools.beneath import open_beneath
from lfgtui.tools.sandbox_home import AGENT_STATE, state_copies

SKIPPED = frozenset(
    {
        *("projects", "debug", "statsig", "shell-snapshots", "todos", "file-history", "paste-cache"),
        *("telemetry", "cache", "session-env", "ide", "downloads", "history.jsonl"),
        *("sessions", "archived_sessions", "log", ".tmp", "tmp", "history", "backups", "plugins/store"),
        *("shell_snapshots", "skills/.system", "installation_id", ".sandbox_migration", "version.json"),
        *("models_cache.json", "projects.json", "user_id"),
    }
)
SKIPPED_KINDS = (".sqlite", ".sqlite-shm", ".sqlite-wal", ".lock")
"""Where in an agent's folder it keeps its sessions, logs, caches and own bookkeeping (Claude Code's
backups of `~/.claude.json` and its built-in plugins' usage store; Codex's databases, by their ends
in `SKIPPED_KINDS`, and the system skills it writes at each start; Gemini CLI's list of projects),
not its settings: not copied (they may be large), compared or applied; the ticket's own start empty
in its copy."""
BOOKKEEPING = frozenset(
    {
        *("numStartups", "firstStartTime", "firstStartVersion", "machineID", "userID", "migrationVersion"),
        *("opusProMigrationComplete", "sonnet1m45MigrationComplete", "hasResetAutoModeOptInForDefaultOffer"),
        *("seenNotifications", "pluginUsage", "tipsHistory", "promptQueueUseCount", "lastReleaseNotesSeen"),
        *("cachedStatsigGates", "cachedDynamicConfigs", "cachedGrowthBookFeatures", "changelogLastFetched"),
        *("hasCompletedOnboarding", "lastOnboardingVersion", "subscriptionNoticeCount", "memoryUsageCount"),
        *("lastCost", "lastAPIDuration", "lastDuration", "lastSessionId", "lastTotalInputTokens"),
        *("lastTotalOutputTokens", "lastTotalCacheCreationInputTokens", "lastTotalCacheReadInputTokens"),
        *("lastTotalWebSearchRequests", "lastLinesAdded", "lastLinesRemoved", "lastModelUsage"),
        *("projectOnboardingSeenCount", "hasCompletedProjectOnboarding", "exampleFiles"),
        *("exampleFilesGeneratedAt", "history", "reactVulnerabilityCache", "lastAPIDurationWithoutRetries"),
        *("lastToolDuration", "lastFpsAverage", "lastFpsLow1Pct"),
    }
)
"""Keys of `~/.claude.json` (at its top and in each of its `projects`) that Claude Code rewrites as
its own bookkeeping in every session: left out when the copy is compared, so only what the agent
changed shows. Any other key (its `mcpServers`, a project's `allowedTools`) is compared."""
LOGINS = frozenset(
    {".credentials.json", "auth.json", "oauth_creds.json", "google_accounts.json", "mcp-oauth-tokens.json"}
)
"""An agent's login files: bound through from the person's, never copied, compared or shown."""
SHOWN_LIMIT = 64 * 1024
"""The most of one file lfg compares as text: a larger one is named, not shown."""
PLACES = "places.json"


@dataclass(frozen=True, slots=True)
class StateCopy:
    """One ticket's copy of its agent's state (`folder`): each of `places` (a name in the copy and
    the person's path it stands for) as seeded (`seed/NAME`) and as the agent left it (`live/NAME`)."""

    folder: Path
    places: tuple[tuple[str, Path], ...]

    def binds(self) -> tuple[tuple[Path, Path], ...]:
        """What the box binds: each live copy over the person's path."""
        return tuple((self.folder / "live" / name, real) for name, real in self.places)

    def logins(self) -> tuple[Path, ...]:
        """The person's login files, bound through writable (their place in the copy is empty)."""
        return tuple(
            real / name for _, real in self.places for name in sorted(LOGINS) if (real / name).is_file()
        )

    def changes(self) -> list[Change]:
        """Each file the agent added, changed or removed in its copy."""
        found = []
        for name, real in self.places:
            seed, live = self.folder / "seed" / name, self.folder / "live" / name
            for relative in sorted(_files(seed) | _files(live)):
                before, after = _read(seed, relative), _read(live, relative)
                if _compared(real.name, relative, before) != _compared(real.name, relative, after):
                    found.append(Change(real / relative if relative else real, seed, relative, before, after))
        return found

    def said(self) -> str | None:
        """The pane's entry for what the agent changed (a line, then a diff), or None for nothing."""
        changes = self.changes()
        if not changes:
            return None
        names = ", ".join(_shown(change.real) for change in changes)
        head = f"{AGENT_STATE_CHANGED} (not applied: lfg settings {self._run()} --apply keeps it): {names}"
        diff = "\n".join(change.diff() for change in changes)
        if len(diff) > SHOWN_LIMIT:
            diff = f"{diff[:SHOWN_LIMIT]}\n… (cut: lfg settings {self._run()} shows it all)"
        return f"{head}\n{diff}"

    def apply(self) -> list[str]:
        """Write what the agent changed into the person's home (the bytes compared, never read again
        from the copy), each file only where the person's is still as it was seeded; what was done
        and what was not, a line each."""
        done = []
        for change in self.changes():
            shown = _shown(change.real)
            name = change.real.name
            if _compared(name, change.relative, _persons(change.real)) != _compared(
                name, change.relative, change.before
            ):
                done.append(f"{shown}: not applied, it changed since the ticket started")
            elif isinstance(change.after, Opaque):
                done.append(f"{shown}: not applied, {change.after.what}")
            else:
                change.keep()
                done.append(f"{shown}: applied")
        return done

    def _run(self) -> str:
        return self.folder.parent.name


TICKET = "ticket-"
"""What a ticket's copy is named by before its id (an id may be `..`)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One file of the copy the agent added, changed or removed: the person's path, the seed's
    folder and the file's path under it, and what it held before and after."""

    real: Path
    seed: Path
    relative: str
    before: bytes | Opaque | None
    after: bytes | Opaque | None

    def diff(self) -> str:
        label = _shown(self.real)
        if self.after is None:
            return f"removed {label}"
        old, new = (_compared(self.real.name, self.relative, side) for side in (self.before, self.after))
        texts = [_text(side) for side in (old, new)]
        if texts[0] is None or texts[1] is None:
            what = new.what if isinstance(new, Opaque) else "not text"
            return f"changed {label} ({what}: not shown)"
        lines = difflib.unified_diff(
            texts[0].splitlines(keepends=True),
            texts[1].splitlines(keepends=True),
            f"{label} (yours)" if old is not None else "/dev/null",
            f"{label} (the agent's)",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines).rstrip("\n")

    def keep(self) -> None:
        """Write it into the person's home, and into the seed: applied, it is no longer pending."""
        seeded = self.seed / self.relative if self.relative else self.seed
        for path in (self.real, seeded):
            if isinstance(self.after, bytes):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.after)
            else:
                path.unlink(missing_ok=True)


def copy_folder(run_id: str, ticket_id: str) -> Path:
    """Where a ticket's copy of its agent's state is kept."""
    return state_copies() / run_id / f"{TICKET}{ticket_id}"


def seeded(folder: Path, home: Path, program: str, env: Mapping[str, str]) -> StateCopy:
    """The ticket's copy of `program`'s state in `home` (`$CODEX_HOME` for Codex where set), seeded
    from the person's at the ticket's first attempt and kept for its later ones."""
    if (folder / PLACES).is_file():
        return opened(folder)
    shutil.rmtree(folder, ignore_errors=True)  # a seeding cut short: `PLACES` is written last
    places = tuple(_places(home, program, env))
    (folder / "seed").mkdir(parents=True)  # an agent lfg knows no state of has an empty copy
    for name, real in places:
        _copy(real, folder / "seed" / name)
        if not real.exists():  # where the copy is bound: it must be there
            real.parent.mkdir(parents=True, exist_ok=True)
            real.write_text("{}\n", encoding="utf-8") if name.endswith(".json") else real.mkdir()
    shutil.copytree(folder / "seed", folder / "live", symlinks=True)
    (folder / PLACES).write_text(json.dumps([[name, str(real)] for name, real in places]))
    return StateCopy(folder, places)


def opened(folder: Path) -> StateCopy:
    """A ticket's copy as `seeded` left it; raises OSError or ValueError when it cannot be read."""
    places = json.loads((folder / PLACES).read_text())
    return StateCopy(folder, tuple((str(name), Path(real)) for name, real in places))


def _places(home: Path, program: str, env: Mapping[str, str]) -> list[tuple[str, Path]]:
    names = AGENT_STATE.get(os.path.basename(program), ())
    places = []
    for name in names:
        real = home / name.rstrip("/")
        if name == ".codex/" and env.get("CODEX_HOME"):
            real = Path(env["CODEX_HOME"])
        places.append((real.name, real))
    return places


def _copy(real: Path, copy: Path) -> None:
    """The person's folder or file as the seed: its settings copied, its sessions, caches and anything
    that is not a file, folder or link left out, its login files empty (the person's are bound). A
    JSON file not there yet is an empty object (an empty file is no JSON)."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    if real.is_file() or copy.name.endswith(".json"):
        shutil.copy2(real, copy) if real.is_file() else copy.write_text("{}\n", encoding="utf-8")
        return
    copy.mkdir(parents=True, exist_ok=True)
    if not real.is_dir():
        return

    def ignored(where: str, names: list[str]) -> set[str]:
        top = Path(where) == real
        inside = Path(where).relative_to(real)
        return {
            name
            for name in names
            if _skipped(inside / name) or (top and name in LOGINS) or not _plain(Path(where) / name)
        }

    shutil.copytree(real, copy, symlinks=True, ignore=ignored, dirs_exist_ok=True)
    for name in LOGINS:
        if (real / name).is_file():
            (copy / name).touch()


def _skipped(inside: Path) -> bool:
    return str(inside) in SKIPPED or inside.name.endswith(SKIPPED_KINDS)


def _plain(path: Path) -> bool:
    mode = path.lstat().st_mode
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)


def _files(top: Path) -> set[str]:
    """The files under `top` ('' for `top` itself as a file), but for its sessions and logins."""
    if not top.is_dir() or top.is_symlink():
        return {""} if top.exists() or top.is_symlink() else set()
    found = set()
    for where, folders, names in os.walk(top):
        here = Path(where)
        inside = here.relative_to(top)
        folders[:] = [name for name in folders if not _skipped(inside / name)]
        names = [name for name in names if not _skipped(inside / name)]
        if here == top:
            names = [name for name in names if name not in LOGINS]
        found |= {str((here / name).relative_to(top)) for name in names}
    return found


@dataclass(frozen=True, slots=True)
class Opaque:
    """What lfg compares but does not show of a file: a link (never followed), a file that is no
    regular one (a FIFO would block a read), or one too large to show (by its digest)."""

    what: str


def _read(top: Path, relative: str) -> bytes | Opaque | None:
    """What `top/relative` holds, opened beneath `top` with no link followed on the way (the agent
    may swap a folder of its copy for a link to a secret while lfg reads: tools/beneath.py); None
    when it is not there. `top` itself is a mount point in the box, which the agent cannot swap."""
    flags = os.O_RDONLY | os.O_NONBLOCK
    try:
        fd = open_beneath(top, relative, flags) if relative else os.open(top, flags | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except ToolError:
        return Opaque("a link")
    except OSError as exc:
        return _unread(exc)
    try:
        return _held(fd)
    finally:
        os.close(fd)


def _unread(exc: OSError) -> Opaque:
    return Opaque("a link" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})")


def _persons(path: Path) -> bytes | Opaque | None:
    """What the person's own file holds (their links followed: a dotfiles manager's are common)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return _held(fd)
    finally:
        os.close(fd)


def _held(fd: int) -> bytes | Opaque | None:
    """A regular file's bytes, or its size and digest where it is over `SHOWN_LIMIT`."""
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        return None
    if not stat.S_ISREG(info.st_mode):
        return Opaque("no regular file")
    with os.fdopen(os.dup(fd), "rb") as handle:
        held = handle.read(SHOWN_LIMIT + 1)
        if len(held) <= SHOWN_LIMIT:
            return held
        digest = hashlib.sha256(held)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return Opaque(f"over {SHOWN_LIMIT >> 10} KiB, sha256 {digest.hexdigest()}")


def _compared(name: str, relative: str, held: bytes | Opaque | None) -> bytes | Opaque | None:
    """What is compared of a file: `~/.claude.json` without its `BOOKKEEPING`, any other as it is."""
    return (
        _without_bookkeeping(held)
        if name == ".claude.json" and not relative and isinstance(held, bytes)
        else held
    )


def _without_bookkeeping(held: bytes) -> bytes:
    """Claude Code's `~/.claude.json` as the settings it holds: its bookkeeping left out, its keys
    sorted, one a line; as it is where it is no JSON object."""
    try:
        data = json.loads(held)
    except ValueError:
        return held
    if not isinstance(data, dict):
        return held

    def kept(entry: dict[str, object]) -> dict[str, object]:
        return {key: value for key, value in entry.items() if key not in BOOKKEEPING}

    data = kept(data)
    if isinstance(projects := data.get("projects"), dict):
        data["projects"] = {
            path: kept(entry) if isinstance(entry, dict) else entry for path, entry in projects.items()
        }
        data["projects"] = {path: entry for path, entry in data["projects"].items() if entry}
        if not data["projects"]:
            del data["projects"]
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _text(content: bytes | Opaque | None) -> str | None:
    if content is None:
        return ""
    if isinstance(content, Opaque):
        return None
    try:
        return content.decode()
    except UnicodeDecodeError:
        return None


def _shown(path: Path) -> str:
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
