"""`lfg ask PROMPT`: one prompt streamed from one provider to the terminal.

`lfg` imports this module for every command, so the providers are imported only when `ask` runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_USAGE, add_config
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from lfgtui.providers.base import ProviderConfig


def add_ask_command(commands: Subcommands) -> None:
    """Register `lfg ask` on the top-level subcommands."""
    commands.add_command("ask", "stream one prompt from one provider to the terminal", _arguments, ask)


def _arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("prompt")
    ask.add_argument("--provider", default="sim", help="openai, anthropic, xai, ollama or sim (default: sim)")
    ask.add_argument(
        "--model",
        help="model name (default: the provider's ask_model, else its default_model; on the sim: hello)",
    )
    ask.add_argument("--system", help="a system prompt")
    add_config(ask, help="config file, for its [providers] (default: $LFG_CONFIG or the user config folder)")


async def ask(args: argparse.Namespace) -> int:
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.cost.metrics import Metrics
    from lfgtui.cost.prices import PriceBook
    from lfgtui.events import (
        AttemptEnded,
        EventFactory,
        Outcome,
        ReasoningDelta,
        Status,
        TextDelta,
        ToolCallReady,
    )
    from lfgtui.formats import gauges
    from lfgtui.inert import inert, revealed
    from lfgtui.providers.base import ModelCall, UserMessage
    from lfgtui.providers.catalog import ProviderUnavailable, resolve
    from lfgtui.providers.kinds import kind_of
    from lfgtui.providers.registry import Providers
    from lfgtui.run import AttemptTask, run_tool_loop

    try:
        config = load_config(args.config)
    except ValidationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    async with Providers(config.providers) as providers:
        if (config := providers.configs.get(args.provider)) is not None and kind_of(config).coding_agent:
            print(
                f"lfg: {args.provider!r} is a coding agent: run it as a ticket with lfg run", file=sys.stderr
            )
            return EXIT_USAGE
        try:
            provider = await providers.get(args.provider)
        except KeyError:
            print(f"lfg: unknown provider {args.provider!r}", file=sys.stderr)
            return EXIT_USAGE
        except ProviderUnavailable as exc:
            print(f"lfg: {exc}", file=sys.stderr)
            return EXIT_USAGE
        model = args.model or provider.config.ask_model or provider.config.default_model or ""
        if (refused := _retired(provider.config, model, args)) is not None:
            return refused
        call = ModelCall(model=model, messages=(UserMessage(args.prompt),), system=args.system)
        prices = PriceBook({args.provider: resolve(providers.configs[args.provider])})  # as lfg run does
        metrics = Metrics(pricer=prices.pricer(args.provider, model))
        outcome = Outcome.COMPLETED
        async for event in run_tool_loop(provider, AttemptTask(call, max_calls=1), EventFactory("ask", 1)):
            metrics.apply(event)
            match event:
                case TextDelta(text=text):
                    sys.stdout.write(inert(text))
                    sys.stdout.flush()
                case ReasoningDelta(text=text):
                    sys.stderr.write(inert(text))
                case ToolCallReady(name=name, raw_arguments=raw):
                    print(f"\n[tool call] {revealed(name)} {revealed(raw)}", file=sys.stderr)
                case Status(message=message):
                    print(f"[{inert(message)}]", file=sys.stderr)
                case AttemptEnded(outcome=ended, error=error):
                    outcome = ended
                    if error is not None:
                        failed = f"{provider.config.name} failed: {error.describe()}"
                        print(f"\nlfg: {inert(failed)}", file=sys.stderr)
        print(file=sys.stdout)
        print(inert(f"{provider.config.name}/{model} · {gauges(metrics)}"), file=sys.stderr)
        return 0 if outcome is Outcome.COMPLETED else 1


def _retired(config: ProviderConfig, model: str, args: argparse.Namespace) -> int | None:
    """EXIT_USAGE when `model` is retired at the vendor `config` talks to, naming where the model
    came from and its replacement; one retiring within 30 days is a warning and the answer goes on."""
    from datetime import date

    from lfgtui.providers.models import Status, lifecycle, serves

    if serves(config) is None:
        return None
    status, message = lifecycle(model, date.today())
    field = (
        "--model"
        if args.model
        else f"[providers.{config.name}] {'ask_model' if config.ask_model else 'default_model'}"
    )
    if status is Status.RETIRED:
        print(f"lfg: {field}: {message}", file=sys.stderr)
        return EXIT_USAGE
    if status is Status.RETIRING:
        print(f"lfg: warning: {field}: {message}", file=sys.stderr)
    return None
