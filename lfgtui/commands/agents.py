"""`lfg agents`: the coding agents lfg can run, whether each is installed, and what each offers.

Before a run a person needs to know which agents they can give a ticket: installed or not (and
which version), what to install, and which credentials lfg would pass it: variable names, set or
not, never a value. `--check` starts each installed agent exactly as a ticket would (the same
environment, supervisor, log and handshake: `run/agents/attempt.py`'s `AgentSession`), in an empty
temporary folder, opens a session without sending a prompt, and reports the auth methods, models
and modes it offers and what is missing. `lfg agents sessions NAME` lists the agent's own sessions
of a folder (`run/agents/own_sessions.py`), which a ticket's `resume_session` continues. What an
agent or a config file says is shown inert;
`--json` is written with `json_text`. `lfg` imports this module for every command, so what does the
work (`agents_report.py`, and the ACP SDK for a check) is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.agents_install import add_registry_options, run_registry_command, wants_registry
from lfgtui.commands.common import EXIT_USAGE, add_config, positive_number
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.run.agents.report import Checked

EXIT_FAILED = 1


def add_agents_command(commands: Subcommands) -> None:
    """Register `lfg agents` on the top-level subcommands."""
    commands.add_command(
        "agents",
        "the coding agents lfg knows: installed or not, their credentials; --check starts them; "
        "--registry and `install ID`: the ACP registry's agents; `sessions NAME`: an agent's own sessions",
        _arguments,
        run_agents_command,
    )


def _arguments(agents: argparse.ArgumentParser) -> None:
    agents.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="only these agents (default: every one); `sessions NAME` lists that agent's own sessions "
        "of a folder, which a ticket continues with resume_session",
    )
    agents.add_argument(
        "--check",
        action="store_true",
        help="start each installed agent, open a session in a temporary folder (no prompt) and report "
        "its auth methods, models and modes",
    )
    agents.add_argument(
        "--json", action="store_true", help="one JSON array: an object per agent (or per session)"
    )
    agents.add_argument(
        "--cwd",
        type=Path,
        metavar="DIR",
        help="with sessions: the folder whose sessions are listed (default: this one)",
    )
    agents.add_argument(
        "--all", action="store_true", help="with sessions: the sessions of every folder, not one"
    )
    agents.add_argument(
        "--timeout",
        type=positive_number,
        metavar="S",
        help="seconds each check may take to open a session, or the listing of sessions "
        "(default: the provider's connect_timeout_s)",
    )
    add_registry_options(agents)
    add_config(agents)


def run_agents_command(args: argparse.Namespace) -> int:
    """List the agents (and check them): 0 when done, 1 when a check failed or a named agent is
    not installed, 2 for an unknown name or a bad config. `--registry` and `install ID`: the ACP registry."""
    if wants_registry(args):
        return run_registry_command(args)
    import os

    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.inert import json_text
    from lfgtui.providers.kinds import kind_of
    from lfgtui.run.agents.report import as_record, as_text, listed, with_methods

    try:
        config = load_config(args.config)
    except ValidationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    agents = {name: c for name, c in sorted(config.providers.items()) if kind_of(c).coding_agent}
    if args.names[:1] == ["sessions"] and "sessions" not in agents:
        return _sessions(args, agents)
    unknown = [name for name in args.names if name not in agents]
    if unknown:
        known = ", ".join(agents)
        print(f"lfg: no coding agent named {', '.join(map(repr, unknown))} (known: {known})", file=sys.stderr)
        return EXIT_USAGE
    chosen = {name: agents[name] for name in args.names} if args.names else agents
    found = [listed(name, c, os.environ) for name, c in chosen.items()]
    checks: dict[str, Checked] = {}
    if args.check:
        from lfgtui.commands.logs import library_logs

        with library_logs():  # what the ACP SDK logs of an agent's words goes to lfg's log
            checks = _checks(chosen, [f.name for f in found if f.program is not None], args.timeout)
    from lfgtui.tools import containers
    from lfgtui.tools.sandbox import described

    sandbox = described() if args.check else None
    boxes = [containers.described(engine) for engine in containers.ENGINES] if args.check else []
    nested = _nested(chosen, checks)
    records = []
    for agent in found:
        checked = checks.get(agent.name)
        if checked is not None:
            agent = with_methods(agent, chosen[agent.name], checked, os.environ)
        inside = nested.get(agent.name, [])
        if args.json:  # what a sandboxed ticket of this agent may do here, with each check
            boxed = {"sandbox": sandbox, "container_boxes": boxes, "own_sandbox": inside} if sandbox else {}
            records.append(as_record(agent, checked, args.check) | boxed)
        else:
            print(
                "\n".join((as_text(agent, checked, args.check), *(f"  {line}" for line in inside))),
                flush=True,
            )
    if args.json:  # one answer: one JSON document (NDJSON is for streams of events)
        print(json_text(records, indent=2))
    elif sandbox is not None:
        print("\n".join((sandbox, *boxes)), flush=True)
    failed = any(c.error is not None for c in checks.values())
    absent = args.check and bool(args.names) and any(f.program is None for f in found)
    return EXIT_FAILED if failed or absent else 0


def _nested(chosen: dict[str, ProviderConfig], checks: dict[str, Checked]) -> dict[str, list[str]]:
    """For each checked agent, whether its own sandbox starts inside each box kind: a line a box
    (tools/nesting.py, the probe a boxed ticket's start runs); the boxes probed only where an agent
    runs a sandbox of its own."""
    import asyncio

    from lfgtui.tools import nesting

    own = {name: chosen[name].agent.unsandboxed_modes for name in checks}
    if not own:
        return {}
    none = dict.fromkeys(nesting.BOXES)
    verdicts = asyncio.run(nesting.in_each_box()) if any(o is not None for o in own.values()) else none
    return {
        name: [nesting.in_box_line(kind, others, verdicts[kind]) for kind in nesting.BOXES]
        for name, others in own.items()
    }


def _checks(chosen: dict[str, ProviderConfig], names: list[str], timeout: float | None) -> dict[str, Checked]:
    """Every installed agent checked at once: one agent's start-up time is not waited for by another's."""
    import asyncio
    import contextlib
    import tempfile

    from lfgtui.run.agents.report import check

    async def all_of(workdirs: list[Path]) -> list[Checked]:
        return await asyncio.gather(
            *(check(chosen[n], w, timeout) for n, w in zip(names, workdirs, strict=True))
        )

    with contextlib.ExitStack() as folders:
        made = [folders.enter_context(tempfile.TemporaryDirectory(prefix="lfg-agents-check-")) for _ in names]
        workdirs = [Path(folder).resolve() for folder in made]  # the tools compare resolved paths
        return dict(zip(names, asyncio.run(all_of(workdirs)), strict=True))


def _sessions(args: argparse.Namespace, agents: dict[str, ProviderConfig]) -> int:
    """`lfg agents sessions NAME`: 0 when listed, 1 when the agent could not list them, 2 for a wrong
    name or folder."""
    import asyncio

    from lfgtui.commands.logs import library_logs
    from lfgtui.inert import json_text
    from lfgtui.providers.base import ProviderError
    from lfgtui.run.agents.own_sessions import as_lines, as_records, own_sessions

    if len(args.names) != 2 or args.names[1] not in agents:
        known = ", ".join(agents)
        print(f"lfg: agents sessions takes one coding agent's name (known: {known})", file=sys.stderr)
        return EXIT_USAGE
    name = args.names[1]
    workdir = (args.cwd or Path.cwd()).resolve()
    if not workdir.is_dir():
        print(f"lfg: --cwd {workdir} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    try:
        with library_logs():
            listed = asyncio.run(own_sessions(agents[name], workdir, args.all, args.timeout))
    except ProviderError as failed:
        print(f"lfg: {name}: {failed.info.message}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"lfg: {name}: could not start the agent: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json_text(as_records(listed), indent=2))
    else:
        print("\n".join(as_lines(name, listed, workdir, args.all)))
    return 0
