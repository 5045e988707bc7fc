"""What `lfg agents` says of each coding agent: found without running it, and what a real
`initialize` and `session/new` (`--check`) report, written as text (inert) or JSON (lossless).

A check starts the agent exactly as a ticket would (the same environment, supervisor, log and
handshake: `acp/attempt.py`'s `AgentSession`) in an empty folder, opens a session without sending a
prompt, chooses the provider's default model as a ticket would, and stops it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.run.agents.choices import Choosable
    from lfgtui.run.agents.session.agent import AgentSession


@dataclass(frozen=True)
class Credential:
    """A variable the agent reads: whether lfg passes it (its provider's `env`) and whether it is set."""

    name: str
    passed: bool
    set: bool


@dataclass(frozen=True)
class Listed:
    """One agent as lfg would start it, found without running it."""

    name: str
    origin: str
    command: tuple[str, ...]
    program: str | None
    version: str | None
    install: str | None
    login: str | None
    credentials: tuple[Credential, ...]


@dataclass(frozen=True)
class Checked:
    """What a real `initialize` and `session/new` said; `error` when no session opened."""

    agent: dict[str, str | None] | None
    auth_methods: tuple[dict[str, Any], ...]
    models: dict[str, Any]
    modes: dict[str, Any]
    notes: tuple[str, ...]
    error: dict[str, str] | None
    missing: tuple[str, ...]
    log: str | None
    mcp_transports: tuple[str, ...] = ()
    """The MCP servers it takes (stdio, and http and sse as it says); empty when it never answered."""


def _origin(name: str, config: ProviderConfig) -> str:
    from lfgtui.providers.catalog import BUILTIN

    if name not in BUILTIN:
        return "config"
    return "built-in" if BUILTIN[name] == config else "built-in, changed in config"


def _package_version(program: Path) -> str | None:
    """The version of the npm package a program is the `bin` of (its resolved path is inside
    `node_modules`), read from the package's package.json: nothing is run to learn it."""
    resolved = program.resolve()
    if "node_modules" not in resolved.parts:
        return None
    for folder in resolved.parents:
        if folder.name == "node_modules":
            return None
        manifest = folder / "package.json"
        if manifest.is_file():
            try:
                version = json.loads(manifest.read_text()).get("version")
            except (OSError, ValueError, AttributeError):
                return None
            return version if isinstance(version, str) else None
    return None


def _credentials(
    config: ProviderConfig, methods_vars: list[str], env: Mapping[str, str]
) -> tuple[Credential, ...]:
    """The provider's variables, then those its auth methods read, each once, with whether lfg
    passes it and whether it is set in lfg's environment."""
    passed = set(config.agent.env)
    names = dict.fromkeys(
        [*config.agent.env, *(v for vs in config.agent.auth_vars.values() for v in vs), *methods_vars]
    )
    return tuple(Credential(name, name in passed, bool(env.get(name))) for name in names)


def listed(name: str, config: ProviderConfig, env: Mapping[str, str]) -> Listed:
    """What `lfg agents` says of one agent without starting it."""
    found = (
        shutil.which(config.agent.command[0], path=env.get("PATH", os.defpath))
        if config.agent.command
        else None
    )
    return Listed(
        name=name,
        origin=_origin(name, config),
        command=config.agent.command,
        program=found,
        version=None if found is None else _package_version(Path(found)),
        install=config.agent.install,
        login=config.agent.login,
        credentials=_credentials(config, [], env),
    )


def with_methods(agent: Listed, config: ProviderConfig, checked: Checked, env: Mapping[str, str]) -> Listed:
    """`agent` with the variables its auth methods read (as the check learned them) among its credentials."""
    read = [v for method in checked.auth_methods for v in method["variables"]]
    return replace(agent, credentials=_credentials(config, read, env))


async def _refuse(_: object) -> str:
    return "lfg agents sends no prompt, so nothing may run"


async def started(config: ProviderConfig, workdir: Path, limit_s: float | None, why: str) -> AgentSession:
    """The agent started as a ticket would (its environment, supervisor and log), in `workdir`,
    allowed nothing, its handshake bounded by `limit_s` (else the provider's connect_timeout_s);
    its log is named for `why` lfg started it. Raises OSError."""
    from lfgtui.events import EventFactory
    from lfgtui.providers.catalog import AGENT_ENV
    from lfgtui.run.agents.launch import AgentLaunch
    from lfgtui.run.agents.session.agent import AgentSession
    from lfgtui.tools import command_env
    from lfgtui.tools.base import ToolContext
    from lfgtui.tools.toolbox import Toolbox

    if limit_s is not None:
        config = replace(config, connect_timeout_s=limit_s)
    env = command_env(os.environ, (*AGENT_ENV, *config.agent.env), workdir)
    toolbox = Toolbox({}, ToolContext(workdir, env), _refuse)
    model = config.default_model or ""
    return await AgentSession.start(
        AgentLaunch(config, env), model, EventFactory(f"{why}-{config.name}", 1), toolbox
    )


async def check(config: ProviderConfig, workdir: Path, limit_s: float | None) -> Checked:
    """Start the agent as a ticket would, in `workdir` (an empty folder), open a session and choose
    its default model, then stop it; bounded by `limit_s` (else the provider's connect_timeout_s)
    and the agent's stop."""
    from lfgtui.providers.base import ProviderError
    from lfgtui.providers.catalog import AGENT_ENV
    from lfgtui.run.agents.choices import choosable, passed_at_start
    from lfgtui.run.agents.login import login_missing, usable_method
    from lfgtui.run.agents.mcp import taken

    model = config.default_model or ""
    try:
        session = await started(config, workdir, limit_s, "check")
    except OSError as exc:
        error = {"kind": "connection", "message": f"could not start the agent: {exc.strerror or exc}"}
        return Checked(None, (), {}, {}, (), error, (error["message"],), None)
    try:
        notes, error = tuple(await session.open(model)), None
    except ProviderError as failed:
        notes, error = (), {"kind": failed.info.kind.value, "message": failed.info.message}
    finally:
        await session.close()
    info = session.agent_info
    agent = None if info is None else {"name": info.name, "title": info.title, "version": info.version}
    usable = usable_method(session.methods, session.env)
    methods = tuple(
        {
            "id": m.id,
            "name": m.name,
            "variables": list(m.variables),
            "any_one": m.any_one,
            "usable": m is usable,
        }
        for m in session.methods
    )
    models, modes = (choosable(session.offered, category) for category in ("model", "mode"))
    missing = (
        [f"{error['kind']}: {error['message']}"]
        if error
        else login_missing(None if info is None else info.name, session.env)
    )
    unpassed = [
        v for m in session.methods for v in m.variables if v not in config.agent.env and v not in AGENT_ENV
    ]
    # a variable only an auth method reads is missing only when the agent opens no session without
    # it; one that opened a session needs none (the sim's agent, an agent already logged in)
    for name in dict.fromkeys(unpassed):
        where = f"add it to env in [providers.{config.name}]"
        if error is None:
            notes += (
                f"{name} is read by one of its auth methods and lfg does not pass it; the agent needed "
                f"no login to open a session (to log in with that method, {where})",
            )
        else:
            missing.append(f"{name} is read by one of its auth methods, but lfg does not pass it: {where}")
    if error is None and not models.values and passed_at_start(config) is None:
        missing.append(
            "a ticket's model cannot reach it: it offers no model to choose, and its provider passes none "
            "at start (no {model} in its command, no model_env)"
        )
    return Checked(
        agent=agent,
        auth_methods=methods,
        models=_values(models),
        modes=_values(modes),
        notes=tuple(notes),
        error=error,
        missing=tuple(missing),
        log=str(session.log_path),
        mcp_transports=() if session.mcp_capabilities is None else taken(session.mcp_capabilities),
    )


def _values(offered: Choosable) -> dict[str, Any]:
    return {
        "values": [{"id": value, "name": name} for value, name in offered.values],
        "current": offered.current,
    }


def as_record(agent: Listed, checked: Checked | None, checking: bool) -> dict[str, Any]:
    """The agent (and its check) as `lfg agents --json` lists it."""
    record = asdict(agent) | {"installed": agent.program is not None}
    if checking:
        record["check"] = None if checked is None else asdict(checked)
    return record


def as_text(agent: Listed, checked: Checked | None, checking: bool) -> str:
    from lfgtui.inert import inert

    if agent.program is None:
        state = "not installed" + (f"; install it: {agent.install}" if agent.install else "")
    else:
        state = f"installed: {agent.program}" + (f" (version {agent.version})" if agent.version else "")
    lines = [f"{agent.name}  ({agent.origin})  {state}", f"  command: {' '.join(agent.command)}"]
    told = [
        f"{c.name} ({'set' if c.set else 'not set'}{'' if c.passed else '; lfg does not pass it'})"
        for c in agent.credentials
    ]
    lines.append(f"  variables: {', '.join(told) if told else 'none of its own'}")
    if agent.login:
        lines.append(f"  to log in: {agent.login}")
    if checking:
        lines += _check_lines(checked)
    return "\n".join(inert(line) for line in lines)


def _check_lines(checked: Checked | None) -> list[str]:
    if checked is None:
        return ["  check: not run (not installed)"]
    said = checked.agent
    who = "the agent" if said is None else f"{said['name']} {said['version']}"
    opened = "opened a session" if checked.error is None else "opened no session"
    lines = [f"  check: {who} {opened}"]
    methods = [
        f"{m['id']} ({m['name']}"
        + (
            f"; reads {(' or ' if m['any_one'] else ', ').join(m['variables'])}"
            if m["variables"]
            else "; interactive"
        )
        + ("; lfg would use it)" if m["usable"] else ")")
        for m in checked.auth_methods
    ]
    lines.append(f"  auth methods: {', '.join(methods) if methods else 'none offered'}")
    for category, offered in (("models", checked.models), ("modes", checked.modes)):
        values = [
            v["id"]
            + (f" ({v['name']})" if v["name"].casefold() != v["id"].casefold() else "")
            + (" (current)" if v["id"] == offered.get("current") else "")
            for v in offered.get("values", [])
        ]
        unknown = "unknown: no session" if checked.error is not None else "none offered"
        lines.append(f"  {category}: {', '.join(values) if values else unknown}")
    transports = ", ".join(checked.mcp_transports) or "unknown: no initialize answer"
    lines.append(f"  MCP servers it takes: {transports}")
    lines += [f"  note: {note}" for note in checked.notes]
    lines += [f"  missing: {item}" for item in checked.missing]
    if checked.log:
        lines.append(f"  its log: {checked.log}")
    return lines
