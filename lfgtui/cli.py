"""The `lfg` command line.

The parser is built from light modules and each command imports what it needs when it runs, so
`lfg --help` does not wait for the providers, the HTTP client, the history or the TUI to load.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Collection, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfgtui import __version__
from lfgtui.agents_cli import add_agents_command, run_agents_command
from lfgtui.history.cli import add_history_commands, run_history_command
from lfgtui.remote.cli import add_remote_commands, add_serve_options, attach, serve, serve_problem, serving
from lfgtui.resume_cli import add_resume_commands, replay, resume
from lfgtui.subcommands import Subcommands
from lfgtui.worktrees_cli import add_worktree_commands, run_worktree_command

if TYPE_CHECKING:
    from lfgtui.alerts.notify import NotifyCommand
    from lfgtui.config import Config
    from lfgtui.history.writer import RunHistory
    from lfgtui.providers.registry import Providers
    from lfgtui.tickets.ticket import Ticket, TicketFile

EXIT_USAGE = 2
EXIT_SIGINT = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lfg", description="Run AI agents side by side and watch them stream."
    )
    parser.add_argument("--version", action="version", version=f"lfg {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, action=Subcommands)
    commands.add_command("ask", "stream one prompt from one provider to the terminal", _ask_arguments)
    commands.add_command("run", "run every ticket of a tickets file concurrently", _run_arguments)
    add_agents_command(commands)
    add_history_commands(commands)
    add_resume_commands(commands)
    add_remote_commands(commands)
    add_worktree_commands(commands)
    commands.add_command("sim", "the built-in offline LLM server", _sim_arguments)
    return parser


def _ask_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("prompt")
    ask.add_argument("--provider", default="sim", help="openai, anthropic, xai, ollama or sim (default: sim)")
    ask.add_argument("--model", help="model name (default: the provider's default model)")
    ask.add_argument("--system", help="a system prompt")


def _run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("file", type=Path, help="a tickets.toml")
    run.add_argument("--headless", action="store_true", help="progress lines and a closing table")
    run.add_argument("--json", action="store_true", help="NDJSON events on stdout (implies --headless)")
    run.add_argument("--yes", action="store_true", help="let write_file and run_command run without asking")
    run.add_argument(
        "--config", type=Path, help="config file (default: $LFG_CONFIG or the user config folder)"
    )
    run.add_argument(
        "--max-concurrency", type=int, help="tickets streaming at once (default: [run] in config, 8)"
    )
    run.add_argument(
        "--db", type=Path, help="history file (default: $LFG_DB, [history] path, the user data folder)"
    )
    run.add_argument("--no-history", action="store_true", help="do not record this run")
    run.add_argument("--theme", help="the TUI's theme: dark, light or one of yours (default: [ui] theme)")
    run.add_argument(
        "--quiet", action="store_true", help="no bell or desktop notification when a ticket needs you"
    )
    run.add_argument(
        "--notify-command",
        metavar="CMD",
        help="a shell command run with each [ui] notify event as JSON on stdin (approval, failed, done)",
    )
    add_serve_options(run)


def _sim_arguments(sim: argparse.ArgumentParser) -> None:
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, action=Subcommands)
    sim_commands.add_command("serve", "run the sim server standalone for other tools", _sim_serve_arguments)
    sim_commands.add_command("list", "list the scenarios (model names) the sim knows")
    sim_commands.add_command(
        "acp",
        "run the sim as a coding agent speaking ACP on stdin/stdout (lfg sim acp --help)",
        add_help=False,
    )


def _sim_serve_arguments(serve: argparse.ArgumentParser) -> None:
    from lfgtui.sim.serve_cli import add_arguments

    add_arguments(serve)


async def _ask(args: argparse.Namespace) -> int:
    from lfgtui.agent import AgentTask, run_agent
    from lfgtui.cost.metrics import Metrics
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
    from lfgtui.providers.catalog import ProviderUnavailable
    from lfgtui.providers.registry import Providers

    async with Providers() as providers:
        if getattr(providers.configs.get(args.provider), "kind", None) == "acp":
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
        model = args.model or provider.config.default_model or ""
        call = ModelCall(model=model, messages=(UserMessage(args.prompt),), system=args.system)
        metrics = Metrics()
        outcome = Outcome.COMPLETED
        async for event in run_agent(provider, AgentTask(call, max_calls=1), EventFactory("ask", 1)):
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


def _load(args: argparse.Namespace) -> tuple[Config, TicketFile] | int:
    """The config and the checked tickets, or the exit code when they cannot be had.

    This runs before the event loop starts: asyncio.run turns Ctrl-C into a cancellation that a
    check of a big file would only notice once done, then ends in a traceback. Here Ctrl-C stops the
    check at once and ends lfg with one line and 130, as it does during a run.
    """
    from lfgtui.config import load_config
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS
    from lfgtui.validation import ValidationError

    try:
        config = load_config(args.config)
        return config, load_tickets(args.file, config, BUILTIN_TOOLS)
    except ValidationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        _warn(f"interrupted while checking {args.file}")
        return EXIT_SIGINT


async def _run(args: argparse.Namespace, config: Config, tickets: TicketFile) -> int:
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.database import resolve_db_path
    from lfgtui.history.writer import open_run_history
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.tools import without_keys
    from lfgtui.ui import terminal_attached

    use_tui = not (args.headless or args.json) and terminal_attached()
    offline = "no provider named and no API key set: running offline on the built-in sim provider"
    if tickets.offline_default and not use_tui:
        print(f"lfg: {offline}", file=sys.stderr)
    theme = args.theme or config.ui.theme
    backend = ProviderWorker() if use_tui else None  # the TUI reads the streams in a child process
    async with Providers(config.providers, backend=backend) as providers, _notify_command(args) as command:
        if use_tui:
            await providers.warm({ticket.provider for ticket in tickets.tickets})  # while the UI loads
            from lfgtui.ui.app import LfgApp
            from lfgtui.ui.services import Services
            from lfgtui.ui.session import Session
            from lfgtui.ui.themes import ThemeError, check_theme

            try:
                check_theme(theme)
            except ThemeError as exc:
                print(f"lfg: {exc}", file=sys.stderr)
                return EXIT_USAGE
        secret_vars = {c.api_key_env for c in config.providers.values() if c.api_key_env}
        options = {
            "max_concurrency": args.max_concurrency or config.run.max_concurrency,
            "tool_env": without_keys(os.environ, secret_vars),
            "prices": run_prices(providers.configs, tickets.tickets),
            "max_cost_usd": config.run.max_cost_usd,
        }
        db = None if args.no_history else resolve_db_path(args.db, os.environ, config.history.path)
        async with open_run_history(db, tickets, _command_line(args), _warn, options["prices"]) as history:
            if use_tui:
                services = Services(
                    providers,
                    history=db,
                    yes=args.yes,
                    notify=() if args.quiet else config.ui.notify,
                    notify_command=command,
                    **options,
                )
                session = Session(
                    services, tickets.tickets, run_id=history.run_id if history is not None else None
                )
                run = session.run
                assert run is not None, "a live session runs its tickets"
                if history is not None:
                    run.record(history)
                notice = offline if tickets.offline_default else None
                app = LfgApp(services, session, theme=theme, keymap=config.ui.keymap, notice=notice)
                async with serving(args, run, tickets.tickets) as watch:
                    app.served = watch
                    code = await app.run_async()
                code = 1 if code is None else code
            else:
                alerts = (config.ui.notify, command)
                code = await _run_headless(args, tickets.tickets, providers, history, options, alerts)
    if history is not None:
        _warn(f"recorded as run {history.run_id} (lfg history show {history.run_id})")
    return code


async def _run_headless(
    args: argparse.Namespace,
    tickets: tuple[Ticket, ...],
    providers: Providers,
    history: RunHistory | None,
    options: dict[str, Any],
    alerts: tuple[Collection[str], NotifyCommand | None],
) -> int:
    """Progress lines and a closing table, or NDJSON; SIGINT / SIGTERM / SIGHUP cancel every ticket."""
    import asyncio

    from lfgtui.approvals import Approvals
    from lfgtui.events import Outcome
    from lfgtui.headless import JsonLines, Progress, UntilClosed
    from lfgtui.run import Run

    t0 = time.monotonic()
    answerable = args.serve is not None and args.control  # a watcher can answer what needs approval
    run = Run(tickets, providers, Approvals(yes=args.yes, askable=answerable), [], **options)
    groups = {ticket.id: ticket.group for ticket in tickets if ticket.group is not None}
    progress = None if args.json else Progress(sys.stdout, run.book, t0, groups)
    output = UntilClosed(JsonLines(sys.stdout, run.book, t0) if progress is None else progress, sys.stdout)
    run.sinks.append(output)
    kinds, command = alerts
    if command is not None:
        from lfgtui.alerts.moments import RunAlerts

        run.sinks.append(RunAlerts(run, kinds, [command]))
    if history is not None:
        run.record(history)
    signalled: list[int] = []
    loop = asyncio.get_running_loop()
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        loop.add_signal_handler(sig, lambda code=code: (signalled.append(code), run.cancel_all()))
    # Every provider's SDK imported before the first request: an import in the middle of the run would
    # hold up the loop, and so the other tickets' tokens and their TTFT (the TUI's worker does this too).
    names = dict.fromkeys(t.provider for t in tickets if providers.configs[t.provider].kind != "acp")
    await asyncio.gather(*(providers.get(name) for name in names), return_exceptions=True)
    async with serving(args, run, tickets):
        run.start()
        outcomes = await run.wait()
    if progress is not None:
        output.write(f"\n{progress.table()}\n")
    if signalled:
        return signalled[0]
    return 0 if all(o is Outcome.COMPLETED for o in outcomes.values()) else 1


@contextlib.asynccontextmanager
async def _notify_command(args: argparse.Namespace) -> AsyncIterator[NotifyCommand | None]:
    """`--notify-command`, given a few seconds at the end of the run to deliver what is queued."""
    if not args.notify_command:
        yield None
        return
    from lfgtui.alerts.notify import NotifyCommand

    command = NotifyCommand(args.notify_command, warn=_warn)
    try:
        yield command
    finally:
        await command.aclose()


def _warn(message: str) -> None:
    """A note on stderr, which may be a terminal that has gone away (SIGHUP): then it is dropped."""
    with contextlib.suppress(OSError):
        print(f"lfg: {message}", file=sys.stderr, flush=True)


def _command_line(args: argparse.Namespace) -> str:
    """The `lfg run` command as the history records it: the file and the options that were set."""
    options = [
        f"--{name.replace('_', '-')}" + ("" if value is True else f" {value}")
        for name, value in vars(args).items()
        if name not in ("command", "file") and value not in (None, False)
    ]
    return " ".join(["lfg run", str(args.file), *options])


def _list() -> int:
    from lfgtui.sim.scenario import ScenarioError, ScenarioLibrary

    library = ScenarioLibrary()
    for name in library.names():
        try:
            description = library.resolve(name).description
        except ScenarioError as exc:
            description = f"(broken: {exc})"
        print(f"{name:20} {description}")
    return 0


def _in_loop(command: Coroutine[Any, Any, int]) -> int:
    """`asyncio.run`, imported only by the commands that need an event loop."""
    import asyncio

    return asyncio.run(command)


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""What a Unix tool killed by SIGPIPE exits with: its reader went away (`lfg history list | head -1`)."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # Later writes, and the interpreter's last flush of stdout, go nowhere instead of raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:2] == ["sim", "acp"]:  # the agent parses its own arguments, --help included
        from lfgtui.sim.acp_agent import main as acp_agent  # imports the ACP SDK only here

        acp_agent(given[2:])
        return 0
    args = _parser().parse_args(given)
    if args.command not in TALKING_COMMANDS:
        return _command(args)
    from lfgtui.logs import library_logs

    with library_logs():  # what libraries log of an agent's or a server's words: never the terminal
        return _command(args)


TALKING_COMMANDS = frozenset({"ask", "run", "resume", "replay", "serve", "attach", "web"})
"""The commands that talk to providers, agents, servers or browsers, whose words libraries may log."""


def _command(args: argparse.Namespace) -> int:
    if args.command == "ask":
        return _in_loop(_ask(args))
    if args.command == "run":
        if (problem := serve_problem(args)) is not None:
            _warn(problem)
            return EXIT_USAGE
        loaded = _load(args)
        return loaded if isinstance(loaded, int) else _in_loop(_run(args, *loaded))
    if args.command == "history":
        return run_history_command(args)
    if args.command == "resume":
        return _in_loop(resume(args))
    if args.command == "replay":
        return _in_loop(replay(args))
    if args.command == "serve":
        return _in_loop(serve(args))
    if args.command == "attach":
        return _in_loop(attach(args))
    if args.command == "web":
        from lfgtui.remote.web import web

        return web(args)
    if args.command == "worktrees":
        return run_worktree_command(args)
    if args.command == "agents":
        return run_agents_command(args)
    if args.sim_command == "list":
        return _list()
    from lfgtui import event_loop
    from lfgtui.sim.serve_cli import serve as sim_serve

    with contextlib.suppress(KeyboardInterrupt):
        return event_loop.run(sim_serve(args))
    return 130
