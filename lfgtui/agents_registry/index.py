"""The registry's index read into typed entries: each agent's id, version and distributions (`npx`,
`uvx`, or a `binary` archive per platform with an optional sha256), checked field by field.

The format is the ACP registry's (agentclientprotocol/registry, FORMAT.md and agent.schema.json):
`{"version": ..., "agents": [...]}`. An entry that breaks the format is left out with a note naming
its place and field, so one bad agent never hides the others.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from typing import Any

INDEX_URL = "https://cdn.agentclientprotocol.com/registry/v1/latest/registry.json"
"""Where the registry publishes its index (the one Zed and other clients read)."""

_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*$")
"""The schema's semantic version; also a folder name, so only these characters."""
_SHA256 = re.compile(r"^[a-fA-F0-9]{64}$")
PLATFORMS = (
    "darwin-aarch64",
    "darwin-x86_64",
    "linux-aarch64",
    "linux-x86_64",
    "windows-aarch64",
    "windows-x86_64",
)

LFG_PROVIDERS = {
    "claude-acp": "claude-code",
    "claude-code-acp": "claude-code",
    "codex-acp": "codex",
    "gemini": "gemini",
    "goose": "goose",
}
"""Registry ids of the agents lfg has built-in providers for: the same CLIs (`[providers.NAME]`).
Claude Code's adapter was listed as `claude-code-acp`, later as `claude-acp`."""


class BadIndex(ValueError):
    """The index as a whole cannot be read (not JSON, no `agents` list): the message says why."""


@dataclass(frozen=True)
class Package:
    """An `npx` or `uvx` distribution: a package (maybe `name@version`), its command and arguments."""

    tool: str
    package: str
    cmd: str | None
    args: tuple[str, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class Binary:
    """One platform's archive (or raw program) and the command inside it."""

    platform: str
    archive: str
    sha256: str | None
    cmd: str
    args: tuple[str, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class RegistryAgent:
    """One agent of the index; `name` and `description` are the registry's words, shown inert."""

    id: str
    name: str
    version: str
    description: str
    packages: tuple[Package, ...]
    binaries: tuple[Binary, ...]

    @property
    def provider(self) -> str | None:
        """lfg's built-in provider that runs the same CLI, if any."""
        return LFG_PROVIDERS.get(self.id)

    def binary_for(self, key: str) -> Binary | None:
        return next((b for b in self.binaries if b.platform == key), None)


@dataclass(frozen=True)
class Index:
    agents: tuple[RegistryAgent, ...]
    problems: tuple[str, ...]
    """Entries left out, each naming its place and field."""

    def find(self, agent_id: str) -> RegistryAgent | None:
        return next((a for a in self.agents if a.id == agent_id), None)


def this_platform() -> str:
    """The registry's platform key for this machine, e.g. `linux-x86_64`."""
    system = {"Darwin": "darwin", "Linux": "linux", "Windows": "windows"}.get(
        platform.system(), platform.system()
    )
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return f"{system.lower()}-{arch}"


class _Bad(ValueError):
    pass


def _text(
    entry: dict[str, Any], field: str, *, required: bool = True, pattern: re.Pattern[str] | None = None
) -> str:
    value = entry.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise _Bad(f"field {field!r}: expected a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise _Bad(f"field {field!r}: {value!r} does not match {pattern.pattern}")
    return value


def _strings(entry: dict[str, Any], field: str) -> tuple[str, ...]:
    value = entry.get(field, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"field {field!r}: expected a list of strings")
    return tuple(value)


def _env(entry: dict[str, Any], field: str) -> dict[str, str]:
    value = entry.get(field, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _Bad(f"field {field!r}: expected an object of strings")
    return dict(value)


def _package(tool: str, entry: Any) -> Package:
    if not isinstance(entry, dict):
        raise _Bad(f"field 'distribution.{tool}': expected an object")
    try:
        return Package(
            tool,
            _text(entry, "package"),
            _text(entry, "cmd", required=False) or None,
            _strings(entry, "args"),
            _env(entry, "env"),
        )
    except _Bad as exc:
        raise _Bad(f"distribution.{tool}: {exc}") from None


def _binaries(entry: Any) -> tuple[Binary, ...]:
    if not isinstance(entry, dict) or not entry:
        raise _Bad("field 'distribution.binary': expected an object of platforms")
    found = []
    for key, target in entry.items():
        if key not in PLATFORMS or not isinstance(target, dict):
            raise _Bad(f"field 'distribution.binary.{key}': not a known platform with an object")
        try:
            found.append(
                Binary(
                    key,
                    _text(target, "archive"),
                    _text(target, "sha256", required=False, pattern=_SHA256).lower() or None,
                    _text(target, "cmd"),
                    _strings(target, "args"),
                    _env(target, "env"),
                )
            )
        except _Bad as exc:
            raise _Bad(f"distribution.binary.{key}: {exc}") from None
    return tuple(found)


def _agent(entry: Any) -> RegistryAgent:
    if not isinstance(entry, dict):
        raise _Bad("expected an object")
    distribution = entry.get("distribution")
    if not isinstance(distribution, dict) or not distribution:
        raise _Bad("field 'distribution': expected an object with npx, uvx or binary")
    packages = tuple(_package(tool, distribution[tool]) for tool in ("npx", "uvx") if tool in distribution)
    binaries = _binaries(distribution["binary"]) if "binary" in distribution else ()
    return RegistryAgent(
        _text(entry, "id", pattern=_ID),
        _text(entry, "name"),
        _text(entry, "version", pattern=_VERSION),
        _text(entry, "description", required=False),
        packages,
        binaries,
    )


def parse_index(document: Any, where: str) -> Index:
    """The agents of a decoded index; `where` (its URL or file) names it in every problem."""
    if not isinstance(document, dict) or not isinstance(document.get("agents"), list):
        raise BadIndex(f"{where}: not an ACP registry index (no 'agents' list)")
    agents: list[RegistryAgent] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, entry in enumerate(document["agents"], 1):
        try:
            agent = _agent(entry)
        except _Bad as exc:
            named = entry.get("id") if isinstance(entry, dict) else None
            label = f"agent #{number}" + (f" ({named!r})" if isinstance(named, str) else "")
            problems.append(f"{where}: {label}: {exc}; left out")
            continue
        if agent.id in seen:
            problems.append(f"{where}: agent #{number} ({agent.id!r}): a second entry with this id; left out")
            continue
        seen.add(agent.id)
        agents.append(agent)
    return Index(tuple(agents), tuple(problems))
