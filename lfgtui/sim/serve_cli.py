"""`lfg sim serve`: the sim server standalone, for other tools and for real coding agents offline."""

from __future__ import annotations

import argparse
import sys

from lfgtui.sim.model_map import UNKNOWN_MODEL, ModelMap, parse_rule
from lfgtui.sim.scenario import ScenarioError


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
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


def model_map(args: argparse.Namespace) -> ModelMap:
    """The map the arguments ask for; a malformed rule is a ScenarioError naming it."""
    rules = tuple(parse_rule(text) for text in args.model)
    return ModelMap(rules, args.unknown_model or None)


async def serve(args: argparse.Namespace) -> int:
    from lfgtui.sim.server import SimServer

    try:
        models = model_map(args)
    except ScenarioError as exc:
        print(f"lfg sim serve: {exc}", file=sys.stderr)
        return 2
    server = SimServer(host=args.host, port=args.port, models=models)
    try:
        await server.start()
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        print(f"lfg sim serve: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
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
