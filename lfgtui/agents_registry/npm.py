"""How lfg runs npm for an `npx` agent: with install scripts off and only the environment npm needs.

A package's `preinstall`, `install` and `postinstall` scripts (and node-gyp's implied `install` for a
`binding.gyp`) are code from the npm registry that would run at install, before the person has
chosen to run the agent. So `npm install` gets `--ignore-scripts`; the scripts the installed packages
have are then listed, each with its command, and run (`npm rebuild`, npm's way to run them after an
`--ignore-scripts` install) only when the person says so.

npm gets an allowlisted environment, never lfg's whole one: the PATH and home it needs, locale and
temporary folders, proxies and certificates, and npm's own settings (`npm_config_*`, `NPM_TOKEN` for
an `.npmrc` naming it). A provider's key (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, …) never reaches a
package's script.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lfgtui.network.environment import PROXY_AND_CERTIFICATES

NPM_ENVIRONMENT = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TMPDIR",
        "TEMP",
        "TMP",
        *PROXY_AND_CERTIFICATES,
        "NPM_TOKEN",
        "SYSTEMROOT",
        "COMSPEC",
        "PATHEXT",
        "APPDATA",
        "LOCALAPPDATA",
        "USERPROFILE",
    }
)
"""The variables npm is given (with every `npm_config_*`): what it needs to find Node, its cache
and config, and the network; Windows' own where npm runs there."""

INSTALL_HOOKS = ("preinstall", "install", "postinstall")
"""The scripts npm runs when it installs a package from a registry (`prepare` it runs only for a
linked or git dependency, which an agent from the registry is not)."""


@dataclass(frozen=True)
class InstallScript:
    """One script a package would run at install: `package` (its folder under node_modules), `hook`."""

    package: str
    hook: str
    command: str


def npm_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of `env` that npm (and a script the person allowed) is given."""
    return {
        name: value
        for name, value in env.items()
        if name in NPM_ENVIRONMENT or name.lower().startswith("npm_config_")
    }


def install_command(npm: str, folder: Path, package: str) -> tuple[str, ...]:
    return (npm, "install", "--ignore-scripts", "--prefix", str(folder), package)


def rebuild_command(npm: str, folder: Path) -> tuple[str, ...]:
    """Runs the install scripts `install_command` left out, in the same folder."""
    return (npm, "rebuild", "--foreground-scripts", "--prefix", str(folder))


def _package_folders(node_modules: Path) -> Iterator[Path]:
    """Every installed package's folder: `node_modules/NAME`, `node_modules/@SCOPE/NAME`, nested."""
    if not node_modules.is_dir():
        return
    for entry in sorted(node_modules.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        inner = sorted(entry.iterdir()) if entry.name.startswith("@") else [entry]
        for folder in inner:
            if folder.is_dir() and not folder.is_symlink():
                yield folder
                yield from _package_folders(folder / "node_modules")


def _scripts(folder: Path) -> dict[str, str]:
    try:
        found = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    scripts = found.get("scripts") if isinstance(found, dict) else None
    hooks = {
        hook: command
        for hook in INSTALL_HOOKS
        if isinstance(scripts, dict) and isinstance(command := scripts.get(hook), str) and command
    }
    gyp = isinstance(found, dict) and found.get("gypfile") is not False
    if gyp and not ({"install", "preinstall"} & hooks.keys()) and (folder / "binding.gyp").is_file():
        hooks["install"] = "node-gyp rebuild"  # what npm runs for a binding.gyp with no install script
    return hooks


def install_scripts(folder: Path) -> list[InstallScript]:
    """The install scripts of every package `npm install --ignore-scripts` put in `folder`."""
    node_modules = folder / "node_modules"
    return [
        InstallScript(str(package.relative_to(node_modules)), hook, command)
        for package in _package_folders(node_modules)
        for hook, command in _scripts(package).items()
    ]
