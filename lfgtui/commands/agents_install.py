"""`lfg agents --registry` and `lfg agents install ID`: the ACP registry's agents beside what is
installed, and installing one of them after the person has seen exactly what lfg will run and where.

The registry is untrusted: its words are shown inert, nothing is run or downloaded before the person
accepts the plan (or passed `--yes`), a checksum is verified where the registry gives one (and its
absence is said), and an installed agent is never replaced by another version without `--upgrade`.
`lfg` imports this module for every command, so the work (`lfgtui/agents_registry/`) is imported
only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lfgtui.commands.common import EXIT_USAGE, positive_number

if TYPE_CHECKING:
    from lfgtui.agents_registry.fetch import Read
    from lfgtui.agents_registry.index import RegistryAgent
    from lfgtui.agents_registry.install import Plan
    from lfgtui.agents_registry.npm import InstallScript
    from lfgtui.agents_registry.provenance import Installed
    from lfgtui.network.download import Limits

EXIT_FAILED = 1
REGISTRY_URL_ENV = "LFG_REGISTRY_URL"


def add_registry_options(agents: argparse.ArgumentParser) -> None:
    """`lfg agents`' options for the registry (`install ID` is read from its names)."""
    agents.add_argument(
        "--registry",
        action="store_true",
        help="list the ACP registry's agents beside what is installed (`lfg agents install ID` installs one)",
    )
    agents.add_argument(
        "--registry-url",
        metavar="URL",
        help=f"the registry's index (default: ${REGISTRY_URL_ENV}, else the ACP registry's published index)",
    )
    agents.add_argument(
        "--registry-timeout",
        type=positive_number,
        metavar="S",
        help="seconds to wait for the registry before using the cached copy or lfg's snapshot (default: 10)",
    )
    agents.add_argument(
        "--yes", action="store_true", help="install without asking (the plan is still printed)"
    )
    agents.add_argument(
        "--allow-scripts",
        action="store_true",
        help="run the install scripts an npm agent's packages have, without asking "
        "(default: npm installs with them off; lfg lists them and asks, and --yes alone does not run them)",
    )
    agents.add_argument(
        "--max-install-mb",
        type=positive_number,
        metavar="MB",
        help="the most an install may download, and its archive unpack, in MiB (default: 1024)",
    )
    agents.add_argument(
        "--download-timeout",
        type=positive_number,
        metavar="S",
        help="seconds an install's download may take in all (default: 1200; one that brings under "
        "64 KiB in 30 s is given up sooner)",
    )
    agents.add_argument(
        "--upgrade", action="store_true", help="install even when another version of the agent is installed"
    )
    agents.add_argument(
        "--via",
        choices=("binary", "npx", "uvx"),
        help="which of the agent's distributions to install "
        "(default: this platform's binary, else npx, else uvx)",
    )


def wants_registry(args: argparse.Namespace) -> bool:
    return bool(args.registry) or args.names[:1] == ["install"]


def run_registry_command(args: argparse.Namespace) -> int:
    """List the registry (0), or install one agent: 0 installed, 1 refused or failed, 2 bad usage."""
    import os

    from lfgtui.agents_registry.fetch import FETCH_TIMEOUT_S, read_index
    from lfgtui.agents_registry.index import INDEX_URL
    from lfgtui.agents_registry.provenance import installed

    url = args.registry_url or os.environ.get(REGISTRY_URL_ENV) or INDEX_URL
    installing = args.names[:1] == ["install"]
    if installing and len(args.names) != 2:
        print(
            "lfg: usage: lfg agents install ID (one registry id; `lfg agents --registry` lists them)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        recorded = installed()
    except ValueError as exc:
        print(f"lfg: {exc}", file=sys.stderr)
        return EXIT_FAILED
    read = read_index(url, args.registry_timeout or FETCH_TIMEOUT_S)
    for problem in read.value.problems:
        print(f"lfg: {_shown(problem)}", file=sys.stderr)
    if installing:
        return _install(args, read, recorded, dict(os.environ))
    if args.json:
        from lfgtui.inert import json_text

        print(json_text(_listing_record(read, recorded), indent=2))
    else:
        print(_listing_text(read, recorded))
    return 0


def _shown(text: str) -> str:
    """The registry's words (and errors quoting them) as the person must see them to judge them:
    no control drives the terminal, and a bidirectional control shows as `<U+202E>` rather than
    reordering the line (a plan whose URL or command reads other than it runs)."""
    from lfgtui.inert import revealed

    return revealed(text)


def _provider_found(agent: RegistryAgent) -> str | None:
    """Where lfg's built-in provider for the same CLI finds its program, if it does."""
    import shutil

    from lfgtui.providers.catalog import BUILTIN

    if agent.provider is None or agent.provider not in BUILTIN:
        return None
    return shutil.which(BUILTIN[agent.provider].agent.command[0])


def _distributions(agent: RegistryAgent) -> list[str]:
    return [p.tool for p in agent.packages] + (
        [f"binary ({len(agent.binaries)} platforms)"] if agent.binaries else []
    )


def _status(agent: RegistryAgent, recorded: dict[str, Installed]) -> str:
    mine = recorded.get(agent.id)
    if mine is not None:
        if mine.version == agent.version:
            return f"installed {mine.version} ({mine.distribution}, {mine.folder})"
        return (
            f"installed {_shown(mine.version)}, the registry has {_shown(agent.version)} "
            f"(`lfg agents install {agent.id} --upgrade` replaces it)"
        )
    found = _provider_found(agent)
    if agent.provider is not None:
        where = f"installed: {found}" if found else "not installed"
        return f"lfg's `{agent.provider}` provider runs the same CLI, {where}"
    return "not installed"


def _listing_text(read: Read, recorded: dict[str, Installed]) -> str:
    from lfgtui.agents_registry.fetch import describe

    lines = [f"ACP registry: {_shown(describe(read))}, {len(read.value.agents)} agents"]
    for agent in read.value.agents:
        lines.append(
            f"{agent.id}  {_shown(agent.name)} {_shown(agent.version)}  "
            f"[{', '.join(_distributions(agent))}]  "
            f"{_status(agent, recorded)}"
        )
        if agent.description:
            lines.append(f"  {_shown(agent.description)}")
    missing = sorted(set(recorded) - {a.id for a in read.value.agents})
    lines += [
        f"{agent_id}  installed {recorded[agent_id].version}, no longer in this index" for agent_id in missing
    ]
    return "\n".join(lines)


def _listing_record(read: Read, recorded: dict[str, Installed]) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "source": read.source,
        "date": read.date,
        "url": read.url,
        "unreachable": read.why,
        "agents": [
            {
                "id": agent.id,
                "name": agent.name,
                "version": agent.version,
                "description": agent.description,
                "distributions": [p.tool for p in agent.packages] + (["binary"] if agent.binaries else []),
                "provider": agent.provider,
                "provider_program": _provider_found(agent),
                "installed": asdict(recorded[agent.id]) if agent.id in recorded else None,
            }
            for agent in read.value.agents
        ],
    }


def _shown_command(words: list[str] | tuple[str, ...]) -> str:
    import shlex

    return _shown(shlex.join(words))


def _plan_text(made: Plan, read: Read, limits: Limits) -> str:
    from lfgtui.agents_registry.fetch import describe
    from lfgtui.network.download import mib

    agent = made.agent
    lines = [
        f"Install {_shown(agent.name)} ({agent.id}) {_shown(agent.version)} from {_shown(describe(read))}",
        f"  distribution: {made.distribution}",
    ]
    if made.binary is not None:
        lines.append(f"  lfg will download: {_shown(made.binary.archive)}")
        if made.binary.archive.startswith("http://"):
            lines.append(
                "  PLAIN HTTP: not encrypted, so anyone on the way can change what lfg downloads"
                + ("; the sha256 is what checks it" if made.sha256 else ", and nothing checks it")
            )
        lines.append(
            "  redirects: followed only to https (from a plain http URL, to http too), each one said"
        )
        lines.append(
            f"  limits: at most {mib(limits.max_bytes)} downloaded and unpacked, within "
            f"{limits.deadline_s:g} s (--max-install-mb, --download-timeout)"
        )
        if made.sha256:
            lines.append(f"  checksum: sha256 {made.sha256}, verified before anything is unpacked")
        else:
            lines.append("  checksum: NONE given by the registry: lfg cannot verify what it downloads")
        lines.append(f"  and unpack it into: {made.folder}")
        lines.append(
            "  then start the agent as: "
            + _shown_command([str(made.folder / made.binary.cmd), *made.binary.args])
        )
    elif made.package is not None and made.distribution == "npx":
        for run in made.runs:
            lines.append(f"  lfg will run: {_shown_command(run)}")
        lines.append(
            "  install scripts: off; lfg lists those the packages have once npm is done, "
            "and runs them (npm rebuild) only if you say yes"
        )
        lines.append(
            "  npm's environment: PATH, HOME, locale, temporary folders, proxies, certificates and "
            "npm's own settings, none of your keys"
        )
        lines.append(
            "  checksum: the ACP registry gives none for a package; npm checks its own registry's integrity"
        )
        program = made.package.cmd or "(the package's program)"
        lines.append(
            f"  then start the agent as: {_shown(str(made.folder / 'node_modules' / '.bin' / program))}"
            + (f" {_shown_command(list(made.package.args))}" if made.package.args else "")
        )
    elif made.package is not None:
        from lfgtui.agents_registry.install import agent_command

        lines.append("  lfg runs nothing now; uv downloads the package when the agent first starts")
        lines.append("  checksum: the ACP registry gives none for a package")
        lines.append(f"  the agent starts as: {_shown_command(agent_command(made))}")
    chosen = made.binary or made.package
    if chosen is not None and chosen.env:
        lines.append(
            "  with the registry's environment: "
            + _shown(", ".join(f"{k}={v}" for k, v in chosen.env.items()))
        )
    if agent.provider is not None:
        lines.append(f"  (the same CLI as lfg's built-in `{agent.provider}` provider)")
    return "\n".join(lines)


def _asked(question: str) -> bool:
    """The person's yes to `question` (anything else, or no answer, is no)."""
    print(f"{question} [y/N] ", end="", flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _scripts_choice(args: argparse.Namespace, folder: str) -> Callable[[list[InstallScript]], bool]:
    """Shows the install scripts npm left out, and says whether to run them: `--allow-scripts` yes,
    `--yes` alone no, else the person's answer."""
    from lfgtui.inert import revealed

    def choose(scripts: list[InstallScript]) -> bool:
        print(f"The installed packages have {len(scripts)} install script(s), not run:")
        for script in scripts:
            print(f"  {revealed(script.package)} {script.hook}: {revealed(script.command)}")
        if args.allow_scripts:
            print("Running them (--allow-scripts).", flush=True)
            return True
        if not args.yes and _asked("Run them?"):
            return True
        print(f"Not run: the agent may need them to start; `npm rebuild --prefix {folder}` runs them.")
        return False

    return choose


def _limits(args: argparse.Namespace) -> Limits:
    from lfgtui.network.download import DOWNLOAD_DEADLINE_S, MAX_INSTALL_MB, Limits

    return Limits(
        max_bytes=int((args.max_install_mb or MAX_INSTALL_MB) * 1024 * 1024),
        deadline_s=args.download_timeout or DOWNLOAD_DEADLINE_S,
    )


def _install(
    args: argparse.Namespace, read: Read, recorded: dict[str, Installed], env: dict[str, str]
) -> int:
    import json

    from lfgtui.agents_registry.fetch import describe
    from lfgtui.agents_registry.install import InstallError, carry_out, plan
    from lfgtui.agents_registry.provenance import record
    from lfgtui.agents_registry.unpack import UnsafeArchive

    agent_id = args.names[1]
    agent = read.value.find(agent_id)
    if agent is None:
        known = ", ".join(a.id for a in read.value.agents)
        print(
            f"lfg: no agent {_shown(agent_id)!r} in {_shown(describe(read))} (it has: {known})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    mine = recorded.get(agent.id)
    if mine is not None and mine.version == agent.version:
        print(f"{agent.id} {mine.version} is already installed ({mine.folder}); nothing to do")
        return 0
    if mine is not None and not args.upgrade:
        print(
            f"lfg: {agent.id} {_shown(mine.version)} is installed ({mine.folder}); the registry has "
            f"{_shown(agent.version)}. lfg never replaces it unasked: "
            f"add --upgrade to install {_shown(agent.version)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        made = plan(agent, args.via, env)
    except InstallError as exc:
        print(f"lfg: {_shown(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    limits = _limits(args)
    print(_plan_text(made, read, limits), flush=True)
    if not (args.yes or _asked("Install it?")):
        print("Nothing installed.")
        return EXIT_FAILED
    try:
        done = carry_out(
            made,
            env,
            f"{read.url} ({read.source} {read.date})",
            _scripts_choice(args, str(made.folder)),
            limits,
        )
    except (InstallError, UnsafeArchive) as exc:
        print(f"lfg: {_shown(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    record(done)
    print(f"Installed {agent.id} {_shown(agent.version)} in {done.folder}")
    for hop in done.redirects:
        print(f"  the download was redirected to: {_shown(hop)}")
    if mine is not None:
        print(f"  (replacing {_shown(mine.version)}; its folder {mine.folder} is left as it was)")
    command = _shown(json.dumps(done.command))
    if agent.provider is not None:  # the built-in keeps its variables and mode: only its command moves
        print(
            f"To run it as lfg's `{agent.provider}`, in config.toml:\n"
            f"[providers.{agent.provider}]\ncommand = {command}"
        )
    else:
        print(
            f'To run it from lfg, in config.toml:\n[providers.{agent.id}]\nkind = "acp"\ncommand = {command}'
        )
    if done.env:
        print(
            "  and set what the registry gives it: "
            + _shown(", ".join(f"{k}={v}" for k, v in done.env.items()))
        )
    return 0
