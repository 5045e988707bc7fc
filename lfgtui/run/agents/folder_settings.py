"""A work folder's own agent settings, which could approve tools or run commands past the person.

Claude Code reads `.claude/settings.json`, `.claude/settings.local.json` and `.mcp.json` from its
working folder: their allow rules approve tools, their hooks run commands (a `PreToolUse` hook may
answer allow; a `SessionStart` hook runs as the session opens) and their MCP servers start
programs, all without the permission request that reaches lfg. An agent writes such a file with one
`Write`. So in a mode that asks (not `--yes`, not one of `AUTO_MODES`) lfg opens a Claude Code
session with `settingSources: ["user"]` and `strictMcpConfig` (claude-agent-acp passes
`_meta.claudeCode.options` on to the Agent SDK, after its own `["user", "project", "local"]`), so
the folder's settings files and `.mcp.json` are not loaded; the folder's CLAUDE.md, which only the
`project` source would load, is passed as instructions appended to the system prompt instead.

Whatever the mode, the pane names each such file of the agent's and what it would do as the
session opens (`notice`), and `FolderWatch` says when one changes during a turn: it compares the
files' sizes and times after each tool call ends (a few `stat`s, never per token). Gemini CLI's
`.gemini/settings.json` and Codex's `.codex/config.toml` are read by those agents themselves,
which lfg cannot stop: the pane names them so the person is told.
"""

from __future__ import annotations

import json
import os
import stat as stats
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfgtui.events import FOLDER_SETTINGS
from lfgtui.inert import inert
from lfgtui.tools.beneath import LinksOut, open_inside

AUTO_MODES = frozenset({"auto", "bypassPermissions"})
"""Claude Code's modes where the person lets it decide on its own: the folder's settings load there."""
READ_LIMIT = 1 << 20
"""The most of a settings file lfg reads: a larger one is named, not parsed."""
INSTRUCTIONS = ("CLAUDE.md", ".claude/CLAUDE.md", "CLAUDE.local.md")
"""Claude Code's instruction files in the work folder, which the `project` source would load."""
INSTRUCTIONS_LIMIT = 64 * 1024
"""The most of each instruction file passed on (Claude Code's own advice keeps them far smaller)."""

Reader = Callable[[Mapping[str, Any]], list[str]]


def _names(value: object) -> str:
    """A mapping's keys or a list's items, inert, comma-separated."""
    items = value.keys() if isinstance(value, Mapping) else value if isinstance(value, list) else ()
    return ", ".join(inert(str(item)) for item in items)


def _at(data: Mapping[str, Any], *keys: str) -> object:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


CLAUDE_COMMANDS = ("apiKeyHelper", "statusLine", "otelHeadersHelper", "awsAuthRefresh", "awsCredentialExport")
"""Claude Code's settings that name a command it runs itself."""


def _claude(data: Mapping[str, Any]) -> list[str]:
    does = []
    if allow := _at(data, "permissions", "allow"):
        does.append(f"allow rules {_names(allow)}")
    if isinstance(mode := _at(data, "permissions", "defaultMode"), str):
        does.append(f"default mode {inert(mode)}")
    if hooks := data.get("hooks"):
        does.append(f"hooks {_names(hooks)}")
    if servers := data.get("mcpServers"):
        does.append(f"MCP servers {_names(servers)}")
    if data.get("enableAllProjectMcpServers") or data.get("enabledMcpjsonServers"):
        does.append("MCP servers of .mcp.json enabled")
    if commands := [key for key in CLAUDE_COMMANDS if data.get(key)]:
        does.append(f"commands ({', '.join(commands)})")
    if env := data.get("env"):
        does.append(f"environment {_names(env)}")
    return does


def _mcp_json(data: Mapping[str, Any]) -> list[str]:
    servers = data.get("mcpServers")
    return [f"MCP servers {_names(servers)}"] if servers else []


def _gemini(data: Mapping[str, Any]) -> list[str]:
    does = []
    if allowed := _at(data, "tools", "allowed"):
        does.append(f"allowed tools {_names(allowed)}")
    if _at(data, "tools", "autoAccept") or data.get("autoAccept"):
        does.append("autoAccept")
    if isinstance(mode := _at(data, "general", "defaultApprovalMode"), str):
        does.append(f"approval mode {inert(mode)}")
    if hooks := data.get("hooks"):
        does.append(f"hooks {_names(hooks)}")
    if servers := data.get("mcpServers"):
        does.append(f"MCP servers {_names(servers)}")
    return does


def _codex(data: Mapping[str, Any]) -> list[str]:
    does = []
    for key in ("approval_policy", "sandbox_mode"):
        if isinstance(value := data.get(key), str):
            does.append(f"{key} {inert(value)}")
    if servers := data.get("mcp_servers"):
        does.append(f"MCP servers {_names(servers)}")
    if data.get("notify"):
        does.append("commands (notify)")
    if hooks := data.get("hooks"):
        does.append(f"hooks {_names(hooks)}")
    return does


@dataclass(frozen=True, slots=True)
class FolderFile:
    """One settings file an agent reads from its work folder, and how to read what it would do."""

    path: str
    agent: str  # the agent's family, as its `initialize` name holds it: claude, gemini, codex
    toml: bool
    read: Reader


FOLDER_FILES = (
    FolderFile(".claude/settings.json", "claude", False, _claude),
    FolderFile(".claude/settings.local.json", "claude", False, _claude),
    FolderFile(".mcp.json", "claude", False, _mcp_json),
    FolderFile(".gemini/settings.json", "gemini", False, _gemini),
    FolderFile(".codex/config.toml", "codex", True, _codex),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """A folder file that would approve, run or start something, and what (each part inert)."""

    path: str
    agent: str
    does: tuple[str, ...]

    def line(self) -> str:
        return f"{self.path} ({'; '.join(self.does)})"


def _family(agent_name: str | None) -> str | None:
    """The family of FOLDER_FILES an agent reads, from its `initialize` name; None: every file."""
    name = (agent_name or "").casefold()
    return next((f.agent for f in FOLDER_FILES if f.agent in name), None)


def _files(agent_name: str | None) -> tuple[FolderFile, ...]:
    family = _family(agent_name)
    return tuple(f for f in FOLDER_FILES if family is None or f.agent == family)


class NotAFile(OSError):
    """A path that is no regular file (a FIFO, a device, a folder): lfg never reads one, which could
    block the loop or never end."""


def read_bounded(workdir: Path, name: str, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of the regular file `name` beneath `workdir` (tools/beneath.py
    `open_inside`: a link inside the worktree followed, one out of it refused), opened without blocking;
    raises OSError (`NotAFile` for anything else, `LinksOut` for a link out)."""
    fd = open_inside(workdir, name, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stats.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(f"{name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    finally:
        os.close(fd)


def _read(workdir: Path, file: FolderFile) -> Finding | None:
    try:
        raw = read_bounded(workdir, file.path, READ_LIMIT)
    except FileNotFoundError:
        return None
    except NotAFile:
        return Finding(file.path, file.agent, ("not a regular file, not read by lfg",))
    except LinksOut:
        return Finding(file.path, file.agent, ("a link out of the worktree, not read by lfg",))
    except OSError as exc:
        return Finding(file.path, file.agent, (f"unreadable: {inert(exc.strerror or str(exc))}",))
    if len(raw) > READ_LIMIT:
        return Finding(file.path, file.agent, (f"over {READ_LIMIT >> 20} MiB, not read by lfg",))
    try:
        text = raw.decode()
        data = tomllib.loads(text) if file.toml else json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return Finding(file.path, file.agent, ("not valid to lfg: what the agent makes of it is unknown",))
    does = file.read(data) if isinstance(data, Mapping) else []
    return Finding(file.path, file.agent, tuple(does)) if does else None


def findings(workdir: Path, agent_name: str | None) -> list[Finding]:
    """The agent's folder files (every agent's when its name is unknown) that would approve, run
    or start something."""
    return [found for file in _files(agent_name) if (found := _read(workdir, file)) is not None]


def leaves_out(mode: str | None, yes: bool) -> bool:
    """Whether lfg leaves Claude Code's folder settings out: in every mode that asks the person."""
    return not yes and mode not in AUTO_MODES


def session_meta(workdir: Path, left_out: bool) -> dict[str, Any]:
    """The `_meta` of the request that opens a session (root keys): with `left_out`, Claude Code's
    options reading only the person's own settings, and the folder's instructions; else none.
    Other agents ignore `claudeCode`, a vendor's key."""
    if not left_out:
        return {}
    meta: dict[str, Any] = {"claudeCode": {"options": {"settingSources": ["user"], "strictMcpConfig": True}}}
    if text := instructions(workdir):
        meta["systemPrompt"] = {"append": text}
    return meta


def instructions(workdir: Path) -> str:
    """The folder's Claude Code instruction files, each under its name, as the `project` source
    would have given them (instructions to the model: they approve and run nothing)."""
    parts = []
    for name in INSTRUCTIONS:
        try:
            text = read_bounded(workdir, name, INSTRUCTIONS_LIMIT)[:INSTRUCTIONS_LIMIT].decode(
                errors="replace"
            )
        except OSError:
            continue
        if text.strip():
            parts.append(f"Contents of {name} (project instructions, checked into the codebase):\n\n{text}")
    return "\n\n".join(parts)


def _consequence(finding: Finding, left_out: bool) -> str:
    if finding.agent == "claude" and left_out:
        return "lfg did not load it: in this mode each tool still asks you"
    if finding.agent == "claude":
        return "loaded in this mode: the agent may act on it without asking you"
    return "read by the agent itself: it may act on it without asking you"


def notice(found: list[Finding], left_out: bool) -> str | None:
    """The pane's one line naming each file and what it would do, or None for none."""
    if not found:
        return None
    said = "; ".join(f"{f.line()}, {_consequence(f, left_out)}" for f in found)
    return f"{FOLDER_SETTINGS[0]} that could approve tools or run commands: {said}"


Stamp = tuple[tuple[str, int, int], ...]


def stamp(workdir: Path, agent_name: str | None) -> Stamp:
    """Each folder file's size and modification time (-1 when absent): a cheap look for a change."""
    stamps = []
    for file in _files(agent_name):
        try:
            stat = os.stat(workdir / file.path)
            stamps.append((file.path, stat.st_size, stat.st_mtime_ns))
        except OSError:
            stamps.append((file.path, -1, -1))
    return tuple(stamps)


class FolderWatch:
    """A session's look at its folder files: what the pane is told as it opens, and of a change
    found after a tool call."""

    def __init__(self, workdir: Path, agent_name: str | None, left_out: bool) -> None:
        self.workdir, self.agent_name, self.left_out = workdir, agent_name, left_out
        self.last = stamp(workdir, agent_name)

    def opened(self) -> str | None:
        return notice(findings(self.workdir, self.agent_name), self.left_out)

    def changed(self) -> str | None:
        """What the pane is told when a folder file changed since the last look, or None."""
        now = stamp(self.workdir, self.agent_name)
        if now == self.last:
            return None
        moved = [path for (path, *old), (_, *new) in zip(self.last, now, strict=True) if old != new]
        self.last = now
        found = {f.path: f for f in findings(self.workdir, self.agent_name)}
        parts = []
        for path in moved:
            finding = found.get(path)
            holds = (
                f"it now holds {'; '.join(finding.does)}, {_consequence(finding, self.left_out)}"
                if finding
                else "it now holds nothing that approves or runs anything"
            )
            parts.append(f"{path}: {holds}")
        return f"{FOLDER_SETTINGS[1]} during its turn: {' | '.join(parts)}"

    def meta(self) -> dict[str, Any]:
        """The `_meta` of the request that opens the session (see `session_meta`): none for an agent
        lfg knows is not Claude Code (Gemini CLI, Codex)."""
        if _family(self.agent_name) not in (None, "claude"):
            return {}
        return session_meta(self.workdir, self.left_out)
