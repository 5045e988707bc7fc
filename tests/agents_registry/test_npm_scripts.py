"""The install scripts lfg finds in what `npm install --ignore-scripts` left, as npm would run them
(`npm rebuild`): each package's `preinstall`/`install`/`postinstall`, node-gyp's implied `install`,
scoped and nested packages; and the environment npm is given."""

from __future__ import annotations

import json
from pathlib import Path

from lfgtui.agents_registry.npm import InstallScript, install_scripts, npm_environment


def _package(folder: Path, manifest: dict[str, object], *files: str) -> None:
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps(manifest))
    for name in files:
        (folder / name).write_text("")


def test_every_install_script_npm_would_run_is_found_and_no_other(tmp_path: Path) -> None:
    modules = tmp_path / "node_modules"
    _package(modules / "plain", {"scripts": {"test": "jest", "prepare": "tsc"}})
    _package(modules / "hooked", {"scripts": {"preinstall": "a", "postinstall": "b", "install": ""}})
    _package(modules / "native", {}, "binding.gyp")
    _package(modules / "native-own", {"scripts": {"install": "prebuild-install"}}, "binding.gyp")
    _package(modules / "not-gyp", {"gypfile": False}, "binding.gyp")
    _package(modules / "@scope" / "inner", {"scripts": {"install": "c"}})
    _package(modules / "plain" / "node_modules" / "deep", {"scripts": {"postinstall": "d"}})
    _package(modules / ".bin" / "hidden", {"scripts": {"postinstall": "e"}})
    (modules / "linked").symlink_to(modules / "hooked")
    _package(modules / "broken", {})
    (modules / "broken" / "package.json").write_text("{")
    assert install_scripts(tmp_path) == [
        InstallScript("@scope/inner", "install", "c"),
        InstallScript("hooked", "preinstall", "a"),
        InstallScript("hooked", "postinstall", "b"),
        InstallScript("native", "install", "node-gyp rebuild"),
        InstallScript("native-own", "install", "prebuild-install"),
        InstallScript("plain/node_modules/deep", "postinstall", "d"),
    ]
    assert install_scripts(tmp_path / "nothing-installed") == []


def test_npm_is_given_what_it_needs_and_none_of_the_keys() -> None:
    env = {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "npm_config_registry": "https://registry.example/",
        "NPM_CONFIG_CACHE": "/tmp/c",
        "https_proxy": "http://proxy:3128",
        "OPENAI_API_KEY": "sk-1",
        "ANTHROPIC_API_KEY": "sk-2",
        "GITHUB_TOKEN": "ghp",
        "LFG_REGISTRY_URL": "http://x",
        "NODE_OPTIONS": "--require /tmp/evil.js",
    }
    assert npm_environment(env) == {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "npm_config_registry": "https://registry.example/",
        "NPM_CONFIG_CACHE": "/tmp/c",
        "https_proxy": "http://proxy:3128",
    }
