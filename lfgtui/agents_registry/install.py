"""Installing one registry agent: first a `Plan` (exactly what lfg will run or download, where to,
the checksum it will verify or that none is given, and the command that starts the agent), which the
person reads and accepts; then `carry_out`, which does that and nothing else.

Each agent gets its own folder, `agents/ID/VERSION` in lfg's data folder. A download is checked
against the registry's sha256 before it is unpacked; a mismatch, an unsafe archive, a failed `npm`
or a Node older than the package needs leaves no folder and no record behind. npm runs with install
scripts off and an allowlisted environment (`npm.py`); the scripts run only if the person says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from lfgtui.agents_registry.index import Binary, Package, RegistryAgent, this_platform
from lfgtui.agents_registry.node import node_version, satisfies, shown
from lfgtui.agents_registry.npm import (
    InstallScript,
    install_command,
    install_scripts,
    npm_environment,
    rebuild_command,
)
from lfgtui.agents_registry.provenance import Installed, agents_folder
from lfgtui.agents_registry.unpack import unpack
from lfgtui.folders import private_folder
from lfgtui.network.download import Downloaded, DownloadFailed, Limits
from lfgtui.network.download import download as fetch

_NPM_NAME = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*(@[0-9A-Za-z.^~<>=*+-]+)?$")
_PYPI_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?([=<>!~]=?[0-9A-Za-z.*+-]+)?$")
_PROGRAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InstallError(Exception):
    """Why nothing was installed, said plainly."""


@dataclass(frozen=True)
class Plan:
    """What `carry_out` will do: `runs` (each command exactly), `download` and `sha256`, the folder."""

    agent: RegistryAgent
    distribution: str
    folder: Path
    runs: tuple[tuple[str, ...], ...]
    download: str | None
    sha256: str | None
    package: Package | None
    binary: Binary | None


def _choose(agent: RegistryAgent, via: str | None, platform_key: str) -> Package | Binary:
    binary = agent.binary_for(platform_key)
    offered = {p.tool: p for p in agent.packages} | ({"binary": binary} if binary else {})
    if via is not None:
        if via not in offered:
            raise InstallError(
                f"{agent.id!r} has no {via} distribution for {platform_key} "
                f"(it offers: {', '.join(offered) or 'none'})"
            )
        return offered[via]
    for tool in ("binary", "npx", "uvx"):
        if tool in offered:
            return offered[tool]
    platforms = ", ".join(b.platform for b in agent.binaries)
    raise InstallError(
        f"{agent.id!r} offers nothing for {platform_key} (its binaries: {platforms or 'none'})"
    )


def _file_name(url: str) -> str:
    """The file an archive's URL names (its path's last part, the query left out)."""
    return PurePosixPath(urllib.parse.urlsplit(url).path).name


def _program(env: Mapping[str, str], name: str, why: str) -> str:
    found = shutil.which(name, path=env.get("PATH"))
    if found is None:
        raise InstallError(f"{why}, and no {name!r} is on the PATH: install it first")
    return found


def plan(
    agent: RegistryAgent, via: str | None, env: Mapping[str, str], platform_key: str | None = None
) -> Plan:
    """What installing `agent` would do here; an InstallError when it cannot be done."""
    chosen = _choose(agent, via, platform_key or this_platform())
    folder = agents_folder() / agent.id / agent.version
    if isinstance(chosen, Binary):
        name = _file_name(chosen.archive)
        if not chosen.archive.startswith(("https://", "http://")) or not name:
            raise InstallError(
                f"{agent.id!r}: its archive {chosen.archive!r} is not an http(s) URL of a file"
            )
        return Plan(agent, "binary", folder, (), chosen.archive, chosen.sha256, None, chosen)
    if chosen.tool == "npx":
        if not _NPM_NAME.match(chosen.package):
            raise InstallError(f"{agent.id!r}: {chosen.package!r} is not an npm package name")
        npm = _program(env, "npm", "this agent is an npm package")
        _program(env, "node", "this agent runs on Node.js")
        return Plan(
            agent, "npx", folder, (install_command(npm, folder, chosen.package),), None, None, chosen, None
        )
    if not _PYPI_NAME.match(chosen.package):
        raise InstallError(f"{agent.id!r}: {chosen.package!r} is not a Python package name")
    _program(env, "uvx", "this agent is a Python package run by uv")
    return Plan(agent, "uvx", folder, (), None, None, chosen, None)


def agent_command(made: Plan) -> list[str]:
    """The command that starts the agent once installed (for npx: found after `npm install`)."""
    if made.binary is not None:
        return [str(_inside(made.folder, made.binary.cmd)), *made.binary.args]
    assert made.package is not None
    if made.distribution == "uvx":
        cmd = made.package.cmd
        return (
            ["uvx", "--from", made.package.package, cmd, *made.package.args]
            if cmd
            else ["uvx", made.package.package, *made.package.args]
        )
    return [str(_npm_bin(made)), *made.package.args]


def _inside(folder: Path, cmd: str) -> Path:
    """`cmd` in `folder`, refused when it (or where its links lead) is outside; as named, links kept."""
    if folder.resolve() not in (folder / cmd).resolve().parents:
        raise InstallError(f"the registry's command {cmd!r} is outside the agent's folder")
    return Path(os.path.normpath(folder / cmd))


def _npm_name(package: str) -> str:
    at = package.find("@", 1)
    return package if at == -1 else package[:at]


def _installed_package(made: Plan) -> dict[str, object]:
    assert made.package is not None
    path = made.folder / "node_modules" / _npm_name(made.package.package) / "package.json"
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InstallError(f"npm installed no readable {path} ({exc})") from None
    if not isinstance(found, dict):
        raise InstallError(f"{path}: not a package.json")
    return found


def _npm_bin(made: Plan) -> Path:
    assert made.package is not None
    bins = _installed_package(made).get("bin")
    unscoped = _npm_name(made.package.package).rsplit("/", 1)[-1]
    names = [unscoped] if isinstance(bins, str) else list(bins) if isinstance(bins, dict) else []
    cmd = made.package.cmd or (names[0] if len(names) == 1 else unscoped)
    if cmd not in names or not _PROGRAM.match(cmd):
        raise InstallError(
            f"the package names no program {cmd!r} (it has: {', '.join(map(str, names)) or 'none'})"
        )
    return _inside(made.folder, f"node_modules/.bin/{cmd}")


def check_node(made: Plan, env: Mapping[str, str]) -> str | None:
    """After `npm install`: the reason the Node on the PATH cannot run it, or None when it can."""
    engines = _installed_package(made).get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if not isinstance(wanted, str):
        return None
    have = node_version(env)
    package = _npm_name(made.package.package) if made.package else made.agent.id
    if have is None:
        return f"{package} needs Node {wanted}, and the node on the PATH did not say its version"
    fits = satisfies(have, wanted)
    if fits is None:
        return None
    if not fits:
        return (
            f"{package} needs Node {wanted} (its package.json's engines.node); the node on the PATH is "
            f"{shown(have)}: install a Node that satisfies it (nodejs.org, or your package manager) "
            "and install again"
        )
    return None


def _fetch_binary(made: Plan, scratch: Path, into: Path, limits: Limits) -> Downloaded:
    """Download, verify and unpack `made`'s archive into the empty folder `into`."""
    assert made.binary is not None and made.download is not None
    download = scratch / "download"
    try:
        with download.open("wb") as out:
            got = fetch(made.download, out, limits)
    except DownloadFailed as exc:
        raise InstallError(f"{exc}; nothing installed") from None
    if made.sha256 is not None and got.sha256 != made.sha256:
        raise InstallError(
            f"the download's sha256 is {got.sha256}, not the registry's {made.sha256}: "
            "refused, nothing installed"
        )
    unpack(download, _file_name(made.download), into, limits)
    program = _inside(into, made.binary.cmd)
    if not program.is_file():
        raise InstallError(
            f"the archive holds no {made.binary.cmd!r} (the registry's cmd): nothing installed"
        )
    program.chmod(program.stat().st_mode | 0o755)
    return got


def _run(command: tuple[str, ...], env: Mapping[str, str]) -> None:
    done = subprocess.run(command, env=dict(env), check=False)
    if done.returncode != 0:
        raise InstallError(f"{' '.join(command)} failed (exit {done.returncode}): nothing installed")


ScriptsChoice = Callable[[list[InstallScript]], bool]
"""Asked with the install scripts the packages have (never with none): True runs them."""


def _run_npm(made: Plan, env: Mapping[str, str], run_scripts: ScriptsChoice) -> None:
    """Run the planned commands into the agent's folder (scripts off), run the packages' install
    scripts if `run_scripts` says so, then check the Node it needs."""
    npm_env = npm_environment(env)
    for run in made.runs:
        _run(run, npm_env)
    scripts = install_scripts(made.folder)
    if scripts and run_scripts(scripts):
        _run(rebuild_command(made.runs[0][0], made.folder), npm_env)
    too_old = check_node(made, npm_env)
    if too_old is not None:
        raise InstallError(f"{too_old}; nothing installed")
    _npm_bin(made)


def _remove_if_empty(folder: Path) -> None:
    """`agents/ID` made for a refused install holds nothing: it goes too, so no empty agent is left."""
    with contextlib.suppress(OSError):  # not empty: another version of the agent is installed there
        folder.rmdir()


def carry_out(
    made: Plan, env: Mapping[str, str], registry: str, run_scripts: ScriptsChoice, limits: Limits
) -> Installed:
    """Do what `made` says within `limits`; on any failure the agent's folder is removed again and
    nothing recorded. `run_scripts` chooses whether an npm package's install scripts run."""
    downloaded: Downloaded | None = None
    if made.folder.exists():
        shutil.rmtree(made.folder)  # lfg's own folder for this version, left by an install that broke
    private_folder(made.folder.parent)
    try:
        if made.binary is not None:
            with tempfile.TemporaryDirectory(dir=made.folder.parent, prefix=".download-") as scratch:
                staging = Path(scratch) / "agent"
                staging.mkdir()
                downloaded = _fetch_binary(made, Path(scratch), staging, limits)
                staging.rename(made.folder)
        elif made.distribution == "npx":
            made.folder.mkdir()
            _run_npm(made, env, run_scripts)
        command = agent_command(made)
    except BaseException:
        shutil.rmtree(made.folder, ignore_errors=True)
        _remove_if_empty(made.folder.parent)
        raise
    chosen = made.binary or made.package
    assert chosen is not None
    return Installed(
        id=made.agent.id,
        version=made.agent.version,
        distribution=made.distribution,
        source=made.download or (made.package.package if made.package else ""),
        sha256=made.sha256,
        registry=registry,
        folder=str(made.folder),
        command=command,
        env=dict(chosen.env),
        provider=made.agent.provider,
        installed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        redirects=list(downloaded.redirects) if downloaded else [],
    )
