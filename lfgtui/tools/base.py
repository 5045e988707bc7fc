"""What every built-in tool shares: its context, its outcome, path confinement and a safe runner.

A tool call comes from a model, so nothing about it is trusted: `run_tool` checks the arguments
against the tool's schema, confines every path to the ticket's workdir (via `confine`), caps the
output, and turns every failure into an error outcome the model can read and react to.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lfgtui.inert import BIDI_CONTROLS
from lfgtui.providers.base import ToolSpec
from lfgtui.tools.sandbox import Sandbox

NOTE_ROOM = 256
"""Characters of `output_limit` a tool leaves for its own notes (what was cut, the exit code)."""

MIN_OUTPUT_LIMIT = 4 * NOTE_ROOM


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What the model sees of one tool call."""

    output: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Where and how a ticket's tools run.

    `workdir` must be absolute and already resolved (`Path.resolve()`): the caller resolves it once,
    so a symlinked workdir works and every confinement check compares resolved paths. `env` is the
    whole environment `run_command` gets; build it with `command_env`. `read_time_limit_s` bounds
    each read or search (they run in a child process that is killed then), and `allow_git_writes`
    is the ticket's opt-in to let `write_file` change a `.git` folder.
    """

    workdir: Path
    env: Mapping[str, str]
    command_timeout_s: float = 60.0
    output_limit: int = 64 * 1024
    read_time_limit_s: float = 10.0
    allow_git_writes: bool = False
    sandbox: Sandbox | None = None
    """Where `run_command` runs: inside this sandbox (tools/sandbox.py) when set."""

    def __post_init__(self) -> None:
        if not self.workdir.is_absolute() or self.workdir != self.workdir.resolve():
            raise ValueError(f"the workdir must be an absolute, resolved path, got '{self.workdir}'")
        if self.command_timeout_s <= 0:
            raise ValueError(f"command_timeout_s must be positive, got {self.command_timeout_s}")
        if self.read_time_limit_s <= 0:
            raise ValueError(f"read_time_limit_s must be positive, got {self.read_time_limit_s}")
        if self.output_limit < MIN_OUTPUT_LIMIT:
            raise ValueError(f"output_limit must be at least {MIN_OUTPUT_LIMIT}, got {self.output_limit}")


class Tool(Protocol):
    """A tool a ticket's agent can call; `needs_approval` tools change things and ask the user first."""

    spec: ToolSpec
    needs_approval: bool

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome: ...


class ToolError(Exception):
    """A refusal or failure the model should read as an error outcome, never a crash."""


def confine(ctx: ToolContext, path: str) -> Path:
    """Resolve a model-given `path` inside the workdir, or refuse it with the reason.

    The path must be relative; once `..` and every symbolic link are resolved it must still lie
    inside the workdir. A path that does not exist yet resolves through its existing parents, so a
    file to be written under a symlinked folder that leads out is refused too. A path with a control
    character (C0, DEL, C1) or a bidirectional control is refused: no real file needs one, and shown
    to the user it could hide where a write really goes (`README.md\\n\\n.git/hooks/pre-commit`).
    """
    control = next((c for c in path if unicodedata.category(c) == "Cc" or ord(c) in BIDI_CONTROLS), None)
    if control is not None:
        raise ToolError(f"path {path!r} contains the control character U+{ord(control):04X}; paths may not")
    relative = Path(path)
    if relative.is_absolute():
        raise ToolError(f"path {path!r} is absolute; give a path relative to the ticket's workdir")
    joined = ctx.workdir / relative
    try:
        resolved = joined.resolve()
    except RuntimeError:
        raise ToolError(f"path {path!r} goes through a loop of symbolic links") from None
    if resolved.is_relative_to(ctx.workdir):
        return resolved
    if Path(os.path.normpath(joined)).is_relative_to(ctx.workdir):
        raise ToolError(f"path {path!r} is outside the ticket's workdir (a symbolic link leads out of it)")
    raise ToolError(f"path {path!r} is outside the ticket's workdir")


async def run_tool(tool: Tool, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
    """Run one tool call and always return an outcome: bad arguments, refusals, I/O failures and
    even a tool's own bug become error outcomes, so one call can never bring down a ticket.

    Arguments are checked against the tool's schema first; a `null` optional argument counts as
    omitted. Tools bound their own output (files keep the head, commands the tail) and note what
    they cut; the cap applied here is a backstop for the rest.
    """
    try:
        checked = _check_arguments(tool.spec.parameters, arguments)
        outcome = await tool.run(checked, ctx)
    except ToolError as exc:
        outcome = ToolOutcome(str(exc), is_error=True)
    except OSError as exc:
        outcome = ToolOutcome(_describe_os_error(exc, ctx), is_error=True)
    except Exception as exc:
        outcome = ToolOutcome(f"{tool.spec.name} failed: {type(exc).__name__}: {exc}", is_error=True)
    return ToolOutcome(_cap_head(outcome.output, ctx.output_limit), outcome.is_error)


_JSON_NAMES: dict[type, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


def _json_type(value: object) -> str:
    """The JSON name of a parsed JSON value's type, for checks and error messages."""
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _check_arguments(schema: Mapping[str, Any], arguments: object) -> dict[str, Any]:
    """Check `arguments` against the subset of JSON Schema the tools use: required keys, unexpected
    keys, basic types and numeric minimums. Returns them without `null` optional arguments."""
    if not isinstance(arguments, dict):
        raise ToolError(f"the arguments must be a JSON object, got {_json_type(arguments)}")
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = schema.get("required", ())
    checked = {name: value for name, value in arguments.items() if value is not None or name in required}
    missing = [name for name in required if name not in checked]
    if missing:
        raise ToolError(f"missing required argument(s): {', '.join(missing)}")
    for name, value in checked.items():
        if name not in properties:
            if schema.get("additionalProperties", True) is False:
                raise ToolError(f"unexpected argument {name!r}; the arguments are: {', '.join(properties)}")
            continue
        _check_value(name, value, properties[name])
    return checked


def _check_value(name: str, value: object, prop: Mapping[str, Any]) -> None:
    expected, actual = prop.get("type"), _json_type(value)
    if expected not in (None, actual) and (expected, actual) != ("number", "integer"):
        raise ToolError(f"argument {name!r} must be of type {expected}, got {actual}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolError(f"argument {name!r} must be a finite number, got {value}")
        if "minimum" in prop and value < prop["minimum"]:
            raise ToolError(f"argument {name!r} must be at least {prop['minimum']}, got {value}")
        if "exclusiveMinimum" in prop and value <= prop["exclusiveMinimum"]:
            raise ToolError(f"argument {name!r} must be greater than {prop['exclusiveMinimum']}, got {value}")


def _describe_os_error(exc: OSError, ctx: ToolContext) -> str:
    """An OS error in the model's terms: the reason and the path relative to the workdir."""
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    path = Path(os.fsdecode(exc.filename))
    shown = path.relative_to(ctx.workdir) if path.is_relative_to(ctx.workdir) else path
    return f"{reason}: '{shown}'"


def _cap_head(text: str, limit: int) -> str:
    """Keep the start of `text`, within `limit` characters including a note of how much was cut."""
    if len(text) <= limit:
        return text
    kept = limit - NOTE_ROOM
    return f"{text[:kept]}\n[… {len(text) - kept} more characters cut]"
