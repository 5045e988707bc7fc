"""`lfg sim serve|list|acp`: the built-in offline LLM server standalone, for other tools and for real
coding agents offline; the scenarios it knows; the sim as a coding agent speaking ACP.

`lfg` imports this module for every command, so the sim's server and scenarios are imported only
when a `sim` command runs; `lfg sim acp` parses its own arguments (`sim/acp_agent.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_SIGINT, EXIT_USAGE, port
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from lfgtui.sim.model_map import ModelMap


def add_sim_commands(commands: Subcommands) -> None:
    """Register `lfg sim …` on the top-level subcommands."""
    commands.add_command("sim", "the built-in offline LLM server", _sim_commands)


def _sim_commands(sim: argparse.ArgumentParser) -> None:
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, action=Subcommands)
    sim_commands.add_command(
        "serve", "run the sim server standalone for other tools", add_serve_arguments, serve
    )
    sim_commands.add_command("list", "list the scenarios (model names) the sim knows", None, list_scenarios)
    sim_commands.add_command(
        "acp",
        "run the sim as a coding agent speaking ACP on stdin/stdout (lfg sim acp --help)",
        add_help=False,  # `lfg` hands `lfg sim acp …` to the agent before parsing (`acp`)
    )


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    """`lfg sim serve`'s arguments (the real-agent tests read a documented command line with them)."""
    from lfgtui.sim.model_map import UNKNOWN_MODEL

    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port, default=8765)
    serve.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="PATTERN=SCENARIO",
        help="answer the model names matching PATTERN (a glob) with SCENARIO, e.g. 'claude-*=agent-demo'; "
        "repeat it, the first match wins",
    )
    serve.add_argument(
        "--unknown-model",
        default=UNKNOWN_MODEL,
        metavar="SCENARIO",
        help=f"the scenario for a model name neither known nor matched (default: {UNKNOWN_MODEL}); "
        "'' answers 404 as a real API would",
    )


def acp(argv: Sequence[str]) -> int:
    """`lfg sim acp …`: the agent parses its own arguments, `--help` included. The ACP SDK is imported
    only here, lightly (sim/acp_start.py says how and why)."""
    from lfgtui.sim.acp_start import start_lightly

    start_lightly()
    from lfgtui.sim.acp_agent import main as acp_agent

    acp_agent(argv)
    return 0


def list_scenarios(args: argparse.Namespace) -> int:
    from lfgtui.sim.scenario import ScenarioError, ScenarioLibrary

    library = ScenarioLibrary()
    for name in library.names():
        try:
            description = library.resolve(name).description
        except ScenarioError as exc:
            description = f"(broken: {exc})"
        print(f"{name:20} {description}")
    return 0


def serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C (exit code 130)."""
    from lfgtui import event_loop

    with contextlib.suppress(KeyboardInterrupt):
        return event_loop.run(_serve(args))
    return EXIT_SIGINT


def model_map(args: argparse.Namespace) -> ModelMap:
    """The map the arguments ask for; a malformed rule is a ScenarioError naming it."""
    from lfgtui.sim.model_map import ModelMap, parse_rule

    rules = tuple(parse_rule(text) for text in args.model)
    return ModelMap(rules, args.unknown_model or None)


async def _serve(args: argparse.Namespace) -> int:
    from lfgtui.sim.scenario import ScenarioError
    from lfgtui.sim.server import SimServer

    try:
        models = model_map(args)
    except ScenarioError as exc:
        print(f"lfg sim serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    server = SimServer(host=args.host, port=args.port, models=models)
    try:
        await server.start()
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(f"lfg sim serve: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        url = server.url
        print(f"lfg sim listening on {url}")
        print(f"  OpenAI Chat Completions  {url}/v1/chat/completions")
        print(f"  OpenAI Responses         {url}/v1/responses (and its WebSocket mode there)")
        print(f"  Anthropic Messages       {url}/v1/messages")
        print(f"  Gemini                   {url}/v1beta/models/MODEL:streamGenerateContent")
        print(f"  generic agent SSE        {url}/agent")
        print(f"  models: {', '.join(server.library.names())}")
        for rule in models.rules:
            print(f"  {rule.pattern} → {rule.scenario}")
        print(f"  any other name → {models.unknown or '404'}")
        sys.stdout.flush()
        await server.serve_forever()
    finally:
        await server.aclose()
    return 0
