"""The built-in tools a ticket's agent can call, and the environment its commands run in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from lfgtui.tools.base import Tool, ToolContext, ToolError, ToolOutcome, confine, run_tool
from lfgtui.tools.command import RunCommand
from lfgtui.tools.files import ListDir, ReadFile, SearchFiles, WriteFile

__all__ = [
    "BUILTIN_TOOLS",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "command_env",
    "confine",
    "run_tool",
    "without_keys",
]

BUILTIN_TOOLS: dict[str, Tool] = {
    tool.spec.name: tool for tool in (ReadFile(), ListDir(), SearchFiles(), WriteFile(), RunCommand())
}

ALLOWED_ENV = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TMPDIR", "TZ"}
)
"""What a command needs to behave like one run by the user (find programs, locale, time zone,
temporary files) and nothing that grants access: no keys, tokens, database URLs, agent sockets
(SSH_AUTH_SOCK), proxies (they can hold credentials) or XDG_RUNTIME_DIR. A ticket adds more by name
with `env_passthrough`."""
ALLOWED_ENV_PREFIXES = ("LC_",)


def without_keys(environ: Mapping[str, str], secret_vars: Iterable[str]) -> dict[str, str]:
    """lfg's environment without the configured providers' key variables (`secret_vars`, compared
    case-insensitively): what `command_env` draws from, so no ticket can pass a key on."""
    listed = {name.upper() for name in secret_vars}
    return {name: value for name, value in environ.items() if name.upper() not in listed}


def command_env(source: Mapping[str, str], passthrough: Iterable[str], workdir: Path) -> dict[str, str]:
    """The environment for `run_command`: an allowlist of `source`, the ticket's `env_passthrough`
    names, and PWD set to the workdir.

    A model decides what the command runs and prints, and the output goes back to the model and into
    the history, so anything not needed is left out: a denylist of secret-looking names always
    misses some (STRIPE_KEY, GH_PAT, DATABASE_URL=postgres://user:password@…).
    """
    wanted = set(passthrough)
    env = {
        name: value
        for name, value in source.items()
        if name in ALLOWED_ENV or name.startswith(ALLOWED_ENV_PREFIXES) or name in wanted
    }
    env["PWD"] = str(workdir)
    return env
