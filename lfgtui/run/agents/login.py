"""A coding agent's login: which of its ACP auth methods lfg can use, and what to tell a person
when none works.

An agent lists its auth methods in `initialize`. lfg authenticates up front only with the method
the provider's `auth_method` names; otherwise it lets the agent use its own stored login and, when
the agent answers `auth_required`, picks the first method whose variables lfg passes it (Codex's
`api-key` when `CODEX_API_KEY` or `OPENAI_API_KEY` is set). Authenticating unasked could replace a person's
login (Codex's ChatGPT sign-in) with a key that happens to be in the environment. Interactive
methods (a browser, a terminal) are never chosen: nobody is at the agent's terminal.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acp import schema

from lfgtui.inert import inert
from lfgtui.providers.base import ProviderConfig

AUTH_REQUIRED = -32000
"""ACP's `auth_required` error code."""


@dataclass(frozen=True)
class AuthMethod:
    """One way the agent can be logged in; `variables` are those it reads (none: interactive): all of
    them, or with `any_one` the first that is set (Codex's key: `CODEX_API_KEY`, else `OPENAI_API_KEY`)."""

    id: str
    name: str
    variables: tuple[str, ...]
    any_one: bool = False

    def usable(self, env: Mapping[str, str]) -> bool:
        """Whether the variables it needs are set in the agent's environment."""
        present = [bool(env.get(name)) for name in self.variables]
        return bool(present) and (any(present) if self.any_one else all(present))


def offered_methods(started: schema.InitializeResponse, config: ProviderConfig) -> list[AuthMethod]:
    """The agent's auth methods in its order, each with the variables it needs: as the agent lists
    them (`env_var` methods), else as the built-in provider knows them."""
    methods = []
    for method in started.auth_methods or []:
        if isinstance(method, schema.EnvVarAuthMethod):
            variables = tuple(var.name for var in method.vars if not var.optional)
            methods.append(AuthMethod(method.id, method.name, variables))
        else:
            known = config.agent.auth_vars.get(method.id, ())
            methods.append(AuthMethod(method.id, method.name, known, any_one=True))
    return methods


def usable_method(methods: list[AuthMethod], env: Mapping[str, str]) -> AuthMethod | None:
    """The first method whose variables are set in the agent's environment."""
    return next((m for m in methods if m.usable(env)), None)


def login_guidance(config: ProviderConfig, methods: list[AuthMethod], env: Mapping[str, str]) -> str:
    """What a person needs to log the agent in: the methods it offers, the variables lfg passed it
    (names only, set or not), and the login command. Agent-given names are quoted inert."""
    parts = []
    if methods:
        listed = [
            f"{inert(m.id)} ({inert(m.name)}"
            + (f"; reads {(' or ' if m.any_one else ', ').join(m.variables)})" if m.variables else ")")
            for m in methods
        ]
        parts.append(f"the agent offers: {', '.join(listed)}")
    else:
        parts.append("the agent offers no auth method to choose")
    names = list(dict.fromkeys([*config.agent.env, *(v for m in methods for v in m.variables)]))
    if names:
        told = [f"{name} ({'set' if env.get(name) else 'not set'})" for name in names]
        parts.append(f"lfg passes it: {', '.join(told)}")
    if config.agent.login:
        parts.append(f"to log in, run: {config.agent.login}")
    parts.append(f"or choose a method with auth_method in [providers.{config.name}]")
    return "; ".join(parts)


CLAUDE_AGENTS = frozenset({"@agentclientprotocol/claude-agent-acp", "@zed-industries/claude-code-acp"})
"""The names Claude Code's ACP adapter gives itself in `initialize`."""
CLAUDE_KEYS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
"""The variables Claude Code logs in with, its own settings' `env` too."""
CLAUDE_CLOUDS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")
"""Set, Claude Code logs in to a cloud with that cloud's own credentials, which lfg cannot judge."""


def _settings(folder: Path) -> dict[str, Any]:
    try:
        settings = json.loads((folder / "settings.json").read_text())
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def claude_login_missing(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """What Claude Code lacks to log in, as its own start looks for it, or None when it has
    something: a key variable (in lfg's environment for it, or its settings.json's `env`), a cloud,
    an `apiKeyHelper`, or the login `claude-agent-acp --cli auth login` stores in
    `$CLAUDE_CONFIG_DIR/.credentials.json` (else `~/.claude/`). On macOS that login is in the
    keychain unless CLAUDE_CONFIG_DIR is set, which lfg cannot read: then nothing is said missing.
    Claude Code opens a session without a login and fails only the first prompt, so `--check` looks."""
    configured = env.get("CLAUDE_CONFIG_DIR")
    folder = Path(configured) if configured else Path(env.get("HOME") or Path.home()) / ".claude"
    settings = _settings(folder)
    own = settings.get("env") if isinstance(settings.get("env"), dict) else {}
    if any(env.get(name) or own.get(name) for name in (*CLAUDE_KEYS, *CLAUDE_CLOUDS)):
        return None
    if settings.get("apiKeyHelper") or (folder / ".credentials.json").is_file():
        return None
    if platform == "darwin" and not configured:
        return None
    return (
        f"login: Claude Code has none: {', '.join(CLAUDE_KEYS)} are not set (nor in the env of "
        f"{folder / 'settings.json'}), no apiKeyHelper there, and no {folder / '.credentials.json'} "
        "(the login claude-agent-acp --cli auth login stores); its first prompt would fail as auth"
    )


def login_missing(agent_name: str | None, env: Mapping[str, str]) -> list[str]:
    """What an agent that opens sessions without a login lacks to answer a prompt, where lfg knows
    where it keeps its login (Claude Code's); nothing for the others, whose `session/new` says."""
    if agent_name in CLAUDE_AGENTS:
        missing = claude_login_missing(env)
        return [] if missing is None else [missing]
    return []
