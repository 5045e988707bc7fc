"""What a sandboxed ticket sees of the person's home (`sandbox_home`): the sandbox makes the disk
read-only, but reading is how a command shows a key to the model, so the home's secrets are hidden.

- `"no-secrets"` (the default): the home's settings and toolchains (its dot-files and folders) read
  as they are but for where keys and tokens are kept (`SECRETS`), lfg's own files (its history,
  its served tokens, its logs of every agent's words) and other coding agents' state (their
  logins); the rest of the home (the person's other projects and documents, an `.env` among them)
  is hidden but for the ticket's own folders, its repository and the `PATH`'s toolchains; each
  hidden thing shows as an empty folder or file.
- `"hidden"`: the whole home is an empty folder but for what the ticket needs to run: the folders on
  the `PATH` inside it with their prefix's libraries (toolchains such as `~/.cargo/bin` or an nvm
  node), the agent's own install and state, git's configuration, and `sandbox_readable`.
- `"readable"`: the whole home readable (read-only), as a sandbox without these rules.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

HOMES = ("no-secrets", "hidden", "readable")

AGENT_STATE = {
    "claude-agent-acp": (".claude/", ".claude.json"),
    "codex-acp": (".codex/",),
    "gemini": (".gemini/",),
}
"""What each known agent keeps of its own in the home (its settings, sessions, login; a folder ends
in `/`): in its own sandbox, the ticket's copy of them (run/agents/agent_state.py), as it cannot run
without writing them; hidden from any other ticket's sandbox (one agent's login is not another's to
read)."""

SECRETS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".config/gh",
    ".config/hub",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    ".gem/credentials",
    ".m2/settings.xml",
    ".m2/settings-security.xml",
    ".gradle/gradle.properties",
    ".config/containers/auth.json",
    ".pgpass",
    ".my.cnf",
    ".s3cfg",
    ".config/rclone",
    ".oci",
    ".config/doctl",
    ".config/hcloud",
    ".databrickscfg",
    ".pulumi/credentials.json",
    ".password-store",
    ".vault-token",
    ".terraform.d",
    ".config/op",
    ".local/share/keyrings",
    ".mozilla",
    ".config/google-chrome",
    ".config/chromium",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".rediscli_history",
    ".sqlite_history",
    ".node_repl_history",
    ".local/share/fish/fish_history",
    ".config/BraveSoftware",
)
"""Where, in a home, keys, tokens, browser profiles and shell histories are commonly kept."""

GIT_CONFIG = (".gitconfig", ".config/git")
LIBRARIES = ("lib", "lib64", "libexec")
"""Beside a toolchain's `bin` on the `PATH`: what its programs load (an nvm node's global packages,
a Python's standard library)."""


def lfg_own() -> tuple[Path, ...]:
    """lfg's own folders: the history, served tokens, config (a key may be written there), agents'
    logs. Its worktrees lie in the data folder; the sandbox binds the ticket's own back."""
    return tuple(
        Path(where("lfgtui"))
        for where in (
            platformdirs.user_data_dir,
            platformdirs.user_config_dir,
            platformdirs.user_state_dir,
            platformdirs.user_log_dir,
        )
    )


def state_copies() -> Path:
    """Where lfg keeps each boxed ticket's copy of its agent's own state (run/agents/agent_state.py)."""
    return Path(platformdirs.user_state_dir("lfgtui")) / "agent-state"


@dataclass(frozen=True, slots=True)
class HomeView:
    """What a sandbox shows of the home: `hidden` as empty folders or files, `readable` bound back
    read-only inside what is hidden."""

    hidden: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()


def home_view(
    home: Path | None,
    mode: str,
    program: str | None = None,
    extra: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    own: Sequence[Path] = (),
) -> HomeView:
    """What `mode` hides of `home` for a ticket whose agent is `program` (None for an API ticket's
    commands); `extra` is `sandbox_readable`, `own` the ticket's folders (never hidden)."""
    if home is None or mode == "readable" or home == Path("/"):
        return HomeView(readable=tuple(extra))
    path = (env if env is not None else os.environ).get("PATH", "")
    needed = [*_install(home, program, path), *extra]
    if mode == "hidden":
        needed += [*_toolchains(home, path.split(os.pathsep)), *(home / name for name in GIT_CONFIG)]
        return HomeView((home,), existing(needed))
    state = set(_state_names(program))
    others = [name for names in AGENT_STATE.values() for name in names if name not in state]
    hidden = [home / name.rstrip("/") for name in (*SECRETS, *others)]
    hidden += [folder for folder in lfg_own() if folder.is_relative_to(home)]
    hidden += [entry for entry in _projects(home) if not any(entry.is_relative_to(mine) for mine in own)]
    needed += _toolchains(home, path.split(os.pathsep))
    return HomeView(existing(hidden), existing(needed))


def _projects(home: Path) -> list[Path]:
    """The home's own entries but its settings (names not starting with a dot): the person's
    projects and documents. A link is left alone: what it leads to lies elsewhere on the disk."""
    try:
        return [
            entry for entry in home.iterdir() if not entry.name.startswith(".") and not entry.is_symlink()
        ]
    except OSError:
        return []


def existing(paths: Iterable[Path]) -> tuple[Path, ...]:
    """`paths` that exist, each where its links lead (the sandbox mounts on the real place), once."""
    return tuple(dict.fromkeys(path.resolve() for path in paths if path.exists()))


def _state_names(program: str | None) -> tuple[str, ...]:
    return () if program is None else AGENT_STATE.get(os.path.basename(program), ())


def _toolchains(home: Path, entries: Iterable[str]) -> list[Path]:
    """The `PATH`'s folders inside `home`, and for one named `bin` its prefix's libraries."""
    found: list[Path] = []
    for entry in entries:
        folder = Path(entry)
        if not entry or not folder.is_absolute() or not folder.is_relative_to(home) or folder == home:
            continue
        found.append(folder)
        if folder.name == "bin":
            found += [folder.parent / name for name in LIBRARIES]
    return found


def _install(home: Path, program: str | None, path: str) -> list[Path]:
    """Where the agent's program is installed, when that is in `home`: its version's folder for an
    agent `lfg agents install` put there, the package folder of a node program (its `node_modules`),
    else the program's own folder."""
    if program is None or (found := shutil.which(program, path=path)) is None:
        return []
    real = Path(os.path.realpath(found))
    if not real.is_relative_to(home):
        return []
    installed = Path(platformdirs.user_data_dir("lfgtui")) / "agents"
    if real.is_relative_to(installed) and len(inside := real.relative_to(installed).parts) > 2:
        return [installed / inside[0] / inside[1]]
    return [_node_modules(real) or real.parent]


def _node_modules(path: Path) -> Path | None:
    """The `node_modules` folder a node program lies in, if it does."""
    parts = path.parts
    return Path(*parts[: len(parts) - parts[::-1].index("node_modules")]) if "node_modules" in parts else None


def installed_in(root: Path, program: str, path: str) -> tuple[Path, ...]:
    """What of the agent's install lies under `root` (a clone's `node_modules` or virtualenv under
    `/tmp`, which the sandbox replaces with an empty one): for the program and the interpreter its
    script names, each as found and where its links lead, the `node_modules` holding it, else the
    prefix of its `bin` folder, else its own folder; never `root` itself."""
    if (found := shutil.which(program, path=path)) is None:
        return ()
    named = [Path(os.path.abspath(found))]
    if (interpreter := _interpreter(named[0], path)) is not None:
        named.append(interpreter)
    folders = []
    for each in (*named, *(Path(os.path.realpath(name)) for name in named)):
        prefix = each.parent.parent if each.parent.name == "bin" else each.parent
        folders.append(_node_modules(each) or (each.parent if prefix == root else prefix))
    return tuple(dict.fromkeys(f for f in folders if f.is_relative_to(root) and f != root))


def _interpreter(program: Path, path: str) -> Path | None:
    """The interpreter a script's `#!` line names (through `env`, found on `path`)."""
    try:
        with program.open("rb") as script:
            line = script.readline(512)
    except OSError:
        return None
    words = line[2:].decode(errors="replace").split() if line.startswith(b"#!") else []
    if words and os.path.basename(words[0]) == "env":
        words = [word for word in words[1:] if not word.startswith("-")]
        words[:1] = [shutil.which(words[0], path=path) or ""] if words else []
    return Path(words[0]) if words and os.path.isabs(words[0]) else None
