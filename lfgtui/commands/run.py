"""`lfg run FILE`: every ticket of a tickets file, in the TUI, headless or as NDJSON.

`lfg` imports this module for every command, so the providers, the history and the TUI are imported
only when `run` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfgtui.commands import ctrl_c_raises, interrupted
from lfgtui.commands.broker import Outlet, add_coordinate_option, add_publish_option, publish_problem
from lfgtui.commands.common import (
    EXIT_SIGINT,
    EXIT_USAGE,
    Notices,
    add_config,
    add_db,
    add_theme,
    fail,
    positive_int,
    recorded_exit,
    tui_problem,
    warn,
)
from lfgtui.commands.remote import ServeOptions, add_serve_options, serve_problem, serving
from lfgtui.commands.subcommands import Subcommands
from lfgtui.commands.telemetry import TelemetryOut, add_otel_option

if TYPE_CHECKING:
    import asyncio

    from lfgtui.alerts.notify import NotifyCommand
    from lfgtui.commands.compose import RunOptions
    from lfgtui.config.load import Config
    from lfgtui.history.recorded import RecordedRun
    from lfgtui.history.writer import RunHistory
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.run import Run
    from lfgtui.run.decisions import Admits
    from lfgtui.tickets.ticket import Ticket, TicketFile


def add_run_command(commands: Subcommands) -> None:
    """Register `lfg run` on the top-level subcommands."""
    commands.add_command("run", "run every ticket of a tickets file concurrently", _arguments, run)


def _arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("file", type=Path, help="a tickets.toml")
    run.add_argument("--headless", action="store_true", help="progress lines and a closing table")
    run.add_argument("--json", action="store_true", help="NDJSON events on stdout (implies --headless)")
    run.add_argument("--yes", action="store_true", help="let write_file and run_command run without asking")
    run.add_argument(
        "--open",
        action="store_true",
        help="keep the run open for tickets added as it runs (add-ticket) until you end it: q in the TUI, "
        "Ctrl-C, SIGTERM or the end request (served with --control) headless; the tickets file may then "
        "hold none",
    )
    add_config(run)
    run.add_argument(
        "--max-concurrency", type=positive_int, help="tickets streaming at once (default: [run] in config, 8)"
    )
    add_db(run)
    run.add_argument("--no-history", action="store_true", help="do not record this run")
    add_theme(run)
    run.add_argument(
        "--quiet", action="store_true", help="no bell or desktop notification when a ticket needs you"
    )
    run.add_argument(
        "--notify-command",
        metavar="CMD",
        help="a shell command run with each [ui] notify event as JSON on stdin "
        "(approval, asked, failed, done)",
    )
    add_serve_options(run)
    add_publish_option(run)
    add_coordinate_option(run)
    add_otel_option(run)


def run(args: argparse.Namespace) -> int:
    """Check the `--serve` options and the tickets, then run them."""
    import asyncio

    from lfgtui.ui import terminal_attached

    if (problem := serve_problem(args) or publish_problem(args)) is not None:
        warn(problem)
        return EXIT_USAGE
    use_tui = not (args.headless or args.json or args.start_on_attach) and terminal_attached()
    if args.open and not use_tui and not (args.serve is not None and args.control):
        warn("--open without the TUI takes tickets only served with --serve ADDRESS --control: none can come")
    with asyncio.Runner() as runner:
        # The TUI reads the streams in a child process, started before the tickets are checked: its
        # own imports (the SDKs, the sim) are the longest wait before a first token, and they overlap
        # the check and all of the UI's imports this way. The loop stops between the two runs, so a
        # Ctrl-C during the check ends it as it does without a TUI (see `_load`).
        # Not for a run on a broker's workers (`--broker`): they stream, and nothing would use the child.
        worker = runner.run(_started_worker()) if use_tui and args.broker is None else None
        try:
            loaded = _load(args)
            if not isinstance(loaded, int) and interrupted():  # a Ctrl-C Python swallowed while it checked
                warn(f"interrupted while checking {args.file}")
                return EXIT_SIGINT
            return loaded if isinstance(loaded, int) else runner.run(_run(args, *loaded, worker, use_tui))
        finally:
            if worker is not None:  # closed by the run already, unless it never ran
                runner.run(worker.aclose(at_once=True))


async def _started_worker() -> ProviderWorker:
    """The TUI's provider worker, its child process started."""
    from lfgtui.providers.worker import ProviderWorker

    worker = ProviderWorker()
    await worker.start()
    return worker


def _load(args: argparse.Namespace) -> tuple[Config, TicketFile] | int:
    """The config and the checked tickets, or the exit code when they cannot be had.

    This runs before the event loop starts: asyncio.run turns Ctrl-C into a cancellation that a
    check of a big file would only notice once done, then ends in a traceback. Here Ctrl-C stops the
    check at once and ends lfg with one line and 130, as it does during a run.
    """
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.tickets.load import load_tickets
    from lfgtui.tools import BUILTIN_TOOLS

    try:
        config = load_config(args.config)
        tickets = load_tickets(args.file, config, BUILTIN_TOOLS, empty=args.open)
        for warning in tickets.warnings:  # a model retiring soon: said before the run, not in it
            print(warning, file=sys.stderr)
        return config, tickets
    except ValidationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        warn(f"interrupted while checking {args.file}")
        return EXIT_SIGINT


def admits(config: Config, tickets: TicketFile) -> Admits:
    """What checks a ticket added to the run of `tickets` (add-ticket) as `_load` checked them: under
    the same config, tools and environment (tickets/load.py `load_added`)."""
    from lfgtui.tickets.load import load_added
    from lfgtui.tools import BUILTIN_TOOLS

    def check(table: dict[str, Any], taken: Mapping[str, Ticket]) -> Ticket:
        return load_added(table, tickets, taken, config, BUILTIN_TOOLS)

    return check


def resumed_admits(config: Config, recorded: RecordedRun) -> Admits | None:
    """What checks a ticket added to a resumed run: under its recorded `[defaults]`, as it ran;
    None (it takes none) where those are not known (`RecordedRun.added_to`)."""
    file = recorded.added_to()
    return None if file is None else admits(config, file)


def _refresh_models(config: Config) -> None:
    """The model catalogue read again when its cached copy is a day old (`[run] model_catalogue`):
    in a thread, imports and the cache's date alike, so the run's start never waits for any of it.

    Not before the run's loop handles Ctrl-C: until then Ctrl-C raises KeyboardInterrupt in the main
    thread, and one landing in the import system's lock callback while this thread imports too left
    the two deadlocked on the module locks (a Ctrl-C as lfg started hung it, 1 run in 15)."""
    if not _ctrl_c_on_the_loop():
        return
    from datetime import UTC, datetime

    from lfgtui.providers.model_catalogue import refresh_if_stale, refreshed_url

    if (url := refreshed_url(config.run.model_catalogue, os.environ)) is not None:
        refresh_if_stale(url, datetime.now(UTC))


def _ctrl_c_on_the_loop(poll_s: float = 0.05, give_up_s: float = 60.0) -> bool:
    """Wait until a run's loop handles Ctrl-C (it installs its own handler for SIGINT, in place of
    the command line's, which raises KeyboardInterrupt); False when none did in `give_up_s`."""
    deadline = time.monotonic() + give_up_s
    while ctrl_c_raises():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


async def _run(
    args: argparse.Namespace,
    config: Config,
    tickets: TicketFile,
    worker: ProviderWorker | None,
    use_tui: bool,
) -> int:
    """The run, in the TUI or headless; its streams read by the provider `worker` where one was
    started, else in this process (headless, or nowhere where a broker's workers stream)."""
    from lfgtui.providers.registry import Providers

    threading.Thread(target=_refresh_models, args=(config,), name="lfg-models", daemon=True).start()

    if worker is None:
        async with Providers(config.providers) as providers:
            return await _run_with(args, config, tickets, providers, use_tui=use_tui)
    # The worker is asked for every provider the run may use (fallbacks too) before anything else is
    # imported here, so that it imports their SDKs and starts the sim while the UI imports its own.
    from lfgtui.run.failover import every_provider

    concurrency = args.max_concurrency or config.run.max_concurrency
    at_once = concurrency if args.open else min(concurrency, len(tickets.tickets))  # open: more may come
    worker.plan(at_once, config.run.provider_processes)
    async with Providers(config.providers, backend=worker) as providers:
        await providers.warm(every_provider(tickets.tickets))
        return await _run_with(args, config, tickets, providers, use_tui=True)


async def _run_with(
    args: argparse.Namespace, config: Config, tickets: TicketFile, providers: Providers, *, use_tui: bool
) -> int:
    """The run, in the TUI (its providers' streams read by the provider worker) or headless."""
    from lfgtui.commands.compose import RunOptions, open_tui
    from lfgtui.config.broker import BrokerError
    from lfgtui.config.telemetry import TelemetryError
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.database import resolve_db_path
    from lfgtui.history.writer import open_run_history

    notices = Notices()
    try:  # a broker or telemetry that cannot be used stops the run before it starts
        outlet = await Outlet.open(args, config)
        telemetry = TelemetryOut.open(args, config, notices)
    except (BrokerError, TelemetryError) as exc:
        return fail(str(exc))
    offline = "no provider named and no API key set: running offline on the built-in sim provider"
    if tickets.offline_default and not use_tui:
        print(f"lfg: {offline}", file=sys.stderr)
    theme = args.theme or config.ui.theme
    async with _notify_command(args) as command, Outlet.closing(outlet):
        if use_tui and (problem := tui_problem(theme, "run")) is not None:
            return fail(problem)
        options = RunOptions.of(config, args.max_concurrency, run_prices(providers.configs, tickets.tickets))
        db = None if args.no_history else resolve_db_path(args.db, os.environ, config.history.path)
        async with open_run_history(db, tickets, _command_line(args), warn, options.prices) as history:
            if use_tui:
                from lfgtui.ui.run.controller import RunController

                notify = () if args.quiet else config.ui.notify
                services = options.services(providers, db, args.yes, config.ui.keymap, notify, command)
                if outlet is not None:  # the fleet view (F) reads the broker the run is on
                    services = dataclasses.replace(services, broker=outlet.broker)
                run_id = history.run_id if history is not None else None
                serve = ServeOptions.of(args)
                make_run = outlet.make_run() if outlet is not None else None
                controller = RunController.live(services, tickets.tickets, run_id, make_run=make_run)
                assert controller.run is not None, "a live run runs here"
                controller.run.admits = admits(config, tickets)
                code = await open_tui(
                    controller,
                    theme,
                    history=history,
                    notice=offline if tickets.offline_default else None,
                    served=lambda run: serving(
                        serve, run, tickets.tickets, outlet, telemetry, lambda text: notices.say(text)
                    ),
                    notices=notices,
                )
                code = 1 if code is None else code
            else:
                alerts = (config.ui.notify, command)
                try:
                    code = await run_headless(
                        HeadlessOptions.of(args),
                        tickets.tickets,
                        providers,
                        history,
                        options,
                        alerts,
                        (outlet, telemetry),
                        admits=admits(config, tickets),
                    )
                except BrokerError as exc:  # it went away as the run started: nothing ran
                    code = fail(str(exc))
    return recorded_exit(history, code, "recorded as run {run} (lfg history show {run})")


@dataclass(frozen=True)
class HeadlessOptions:
    """What a headless run needs of the command that runs it (`lfg run`, a coordinated `lfg
    resume`)."""

    serving: ServeOptions
    yes: bool = False
    """`--yes`: every tool call that asks is allowed."""
    json: bool = False
    """`--json`: NDJSON on stdout, else progress lines and a closing table."""
    start_on_attach: bool = False
    """`--start-on-attach`: the tickets start when the first watcher attaches."""
    open: bool = False
    """`--open`: the run goes on with no ticket running, for tickets added to it, until a signal ends it."""

    @classmethod
    def of(cls, args: argparse.Namespace) -> HeadlessOptions:
        """`lfg run`'s options."""
        return cls(ServeOptions.of(args), args.yes, args.json, args.start_on_attach, args.open)


async def run_headless(
    args: HeadlessOptions,
    tickets: tuple[Ticket, ...],
    providers: Providers,
    history: RunHistory | None,
    options: RunOptions,
    alerts: tuple[Collection[str], NotifyCommand | None],
    outlets: tuple[Outlet | None, TelemetryOut | None],
    make_run: Callable[..., Run] | None = None,
    admits: Admits | None = None,
) -> int:
    """Progress lines and a closing table, or NDJSON; SIGINT / SIGTERM / SIGHUP cancel every ticket
    (an open run's end, `--open`, when none is running: it ends as its tickets did).
    `make_run`: what makes the run (default: the outlet's, else a `Run`); `admits`: what checks a
    ticket added to it (add-ticket), None: it takes none."""
    import asyncio

    from lfgtui.alerts.states import Attentions
    from lfgtui.commands.headless import JsonLines, Progress, UntilClosed
    from lfgtui.events import Outcome
    from lfgtui.providers.kinds import kind_of
    from lfgtui.run import Approvals

    t0 = time.monotonic()
    answerable = (
        args.serving.serve is not None and args.serving.control
    )  # a watcher can answer what needs approval
    outlet = outlets[0]
    if make_run is None and outlet is not None:
        make_run = outlet.make_run()
    approvals = Approvals(yes=args.yes, askable=answerable, forms=answerable)
    run = options.run(tickets, providers, approvals, make_run)
    run.admits = admits
    stopped = asyncio.Event()  # a signal came, or `end` was asked: the run is not waiting any more
    if args.open:
        run.open_until = stopped  # the end request sets it too (run/decisions.py `_end`)
    groups = {ticket.id: ticket.group for ticket in tickets if ticket.group is not None}
    progress = None if args.json else Progress(sys.stdout, run.book, t0, groups)
    attention = Attentions({ticket.id: ticket.depends_on for ticket in tickets}, t0)
    reader = JsonLines(sys.stdout, run.book, t0, attention=attention) if progress is None else progress
    output = UntilClosed(reader, sys.stdout)
    run.sinks.append(output)
    if isinstance(reader, JsonLines) and outlet is not None and outlet.folder is not None:
        from lfgtui.broker.coordinator import BrokerRunner

        if isinstance(run.runner, BrokerRunner):  # its `gap` lines and `partial` ends, as a watcher's
            run.runner.dispatch.lost_to.append(lambda lost: output.write_with(lambda: reader.gap(lost)))
    referee = None
    if any(ticket.check is not None for ticket in tickets):
        from lfgtui.tournament.referee import Referee

        referee = Referee(run)  # its checks and verdicts reach `output` as facts of the run
        run.sinks.append(referee)
    kinds, command = alerts
    if command is not None:
        from lfgtui.alerts.moments import RunAlerts

        run.sinks.append(RunAlerts(run, kinds, [command]))
    if history is not None:
        run.record(history)
    signalled: list[int] = []
    started: list[bool] = []  # its tickets started (after the SDKs' imports and any wait for a watcher)
    loop = asyncio.get_running_loop()

    def stop(code: int) -> None:
        if args.open and started and not _at_work(run):
            stopped.set()  # the person ends the open run: none of its tickets is cut short
            return
        signalled.append(code)
        run.cancel_all()
        if referee is not None:
            referee.cancel()
        stopped.set()

    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        loop.add_signal_handler(sig, lambda code=code: stop(code))
    if interrupted():  # before the handlers above, swallowed where it landed: nothing has started
        return EXIT_SIGINT
    # Every provider's SDK imported before the first request: an import in the middle of the run would
    # hold up the loop, and so the other tickets' tokens and their TTFT (the TUI's worker does this too).
    # Not where the attempts run elsewhere (a broker's workers, which make their own ready): nothing
    # streams here, and the SDKs' imports cost a coordinator a second of CPU for nothing.
    if not run.runner.far:
        names = dict.fromkeys(
            t.provider for t in tickets if not kind_of(providers.configs[t.provider]).coding_agent
        )
        await asyncio.gather(*(providers.get(name) for name in names), return_exceptions=True)
    watched = asyncio.Event() if args.start_on_attach else None
    async with serving(args.serving, run, tickets, *outlets, watched=watched):
        if watched is not None:
            warn("the tickets start when the first watcher attaches")
            await _first_of(watched, stopped)
        if signalled:  # stopped before the tickets started (while the SDKs imported, or before anyone
            return signalled[0]  # watched): `stop` had nothing to cancel, and nothing was started
        run.start()
        started.append(True)
        if args.open:  # until the person ends it: tickets may be added meanwhile
            await stopped.wait()
        outcomes = await run.wait()
        if referee is not None:
            await referee.settled()
            outcomes = await run.wait()  # with the judges the referee started meanwhile
        run.admits = None  # it has ended: a ticket added now would run after it (refused, in words)
    if progress is not None:
        output.write(f"\n{progress.table()}\n")
    if signalled:
        return signalled[0]
    return 0 if all(o is Outcome.COMPLETED for o in outcomes.values()) else 1


def _at_work(run: Run) -> bool:
    """Whether a ticket of the run is at work: an attempt under way, or one still to start (waiting
    for its dependencies or a slot). A ticket whose attempt has ended is not, though its task may
    still be writing that end back (to a broker)."""
    return any(state.running and (state.live or state.outcome is None) for state in run.states.values())


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    import asyncio

    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


@contextlib.asynccontextmanager
async def _notify_command(args: argparse.Namespace) -> AsyncIterator[NotifyCommand | None]:
    """`--notify-command`, given a few seconds at the end of the run to deliver what is queued."""
    if not args.notify_command:
        yield None
        return
    from lfgtui.alerts.notify import NotifyCommand

    command = NotifyCommand(args.notify_command, warn=warn)
    try:
        yield command
    finally:
        await command.aclose()


def _command_line(args: argparse.Namespace) -> str:
    """The `lfg run` command as the history records it: the file and the options that were set."""
    options = [
        f"--{name.replace('_', '-')}" + ("" if value is True else f" {value}")
        for name, value in vars(args).items()
        if name not in ("command", "command_parser", "handler", "file") and value not in (None, False)
    ]
    return " ".join(["lfg run", str(args.file), *options])
