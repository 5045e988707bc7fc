"""The built-in tools a ticket's agent can call, and the environment its commands run in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lfgtui.tools.base import Tool, ToolContext, ToolError, ToolOutcome, confine, run_tool
from lfgtui.tools.command import RunCommand
from lfgtui.tools.files import ListDir, ReadFile, SearchFiles, WriteFile

__all__ = [
    "BUILTIN_TOOLS",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolOutcome",
    "confine",
    "run_tool",
    "safe_env",
]

BUILTIN_TOOLS: dict[str, Tool] = {
    tool.spec.name: tool for tool in (ReadFile(), ListDir(), SearchFiles(), WriteFile(), RunCommand())
}

SECRET_ENDINGS = ("API_KEY", "TOKEN")  # OPENAI_API_KEY, GITHUB_TOKEN, a bare TOKEN
SECRET_WORDS = ("PASSWORD", "SECRET")  # anywhere: DB_PASSWORD, AWS_SECRET_ACCESS_KEY, CLIENT_SECRET


def safe_env(environ: Mapping[str, str], secret_vars: Iterable[str]) -> dict[str, str]:
    """The environment for `run_command`: `environ` without anything that looks like a secret.

    A model decides what the command prints and the output goes back to the model (and into the
    history), so the configured key variables (`secret_vars`) and every variable named like a
    credential are dropped, case-insensitively; PATH, HOME, LANG and the rest are kept.
    """
    listed = {name.upper() for name in secret_vars}
    return {name: value for name, value in environ.items() if not _is_secret(name.upper(), listed)}


def _is_secret(name: str, listed: set[str]) -> bool:
    return name in listed or name.endswith(SECRET_ENDINGS) or any(word in name for word in SECRET_WORDS)
