"""`lfg serve`, `lfg attach` and `lfg run --serve`: the command line of watching from elsewhere.

`lfg` imports this module for every command, so the server (aiohttp), the HTTP client and the TUI
are imported only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import (
    EXIT_USAGE,
    add_config,
    add_db,
    add_insecure_bind_option,
    add_theme,
    add_token_file_option,
    find_run,
    listen_address,
    tui_problem,
    warn,
)

if TYPE_CHECKING:
    import asyncio

    from lfgtui.broker.gaps import Lost
    from lfgtui.commands.broker import Outlet
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.commands.telemetry import TelemetryOut
    from lfgtui.cost.metrics import MetricsBook
    from lfgtui.events import Event
    from lfgtui.remote.attach import RemoteRun
    from lfgtui.remote.following import Followed
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import Metrics
    from lfgtui.remote.tail import RunTail
    from lfgtui.run import Run
    from lfgtui.telemetry.metered import Metered
    from lfgtui.tickets.ticket import Ticket

DRAIN_S = 2.0
"""How long a finished run's server waits for its watchers to take the last messages."""


def add_serve_options(run: argparse.ArgumentParser) -> None:
    """`lfg run`'s `--serve`, `--token-file`, `--insecure-bind` and `--control`."""
    run.add_argument(
        "--serve",
        metavar="[HOST:]PORT",
        type=listen_address("--serve"),
        help="also serve the run's events to lfg attach (HOST defaults to 127.0.0.1; port 0 picks one)",
    )
    add_token_file_option(run)
    add_insecure_bind_option(run)
    run.add_argument(
        "--control", action="store_true", help="with --serve: let watchers cancel, retry and approve"
    )
    run.add_argument(
        "--start-on-attach",
        action="store_true",
        help="with --serve: start the tickets when the first watcher attaches (an lfg attach, or the "
        "inbox page open with the token), so it sees them from the start (implies --headless; lfg web "
        "runs its tickets so)",
    )


def add_remote_commands(commands: Subcommands) -> None:
    """Register `lfg serve` and `lfg attach` on the top-level subcommands."""
    commands.add_command(
        "serve", "serve a recorded or still running run's events to lfg attach (SSE)", _serve_arguments, serve
    )
    commands.add_command("attach", "watch a run that another lfg serves", _attach_arguments, attach)


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("run_id", metavar="RUN_ID", help="a run id (or any unique prefix of one)")
    serve.add_argument(
        "--serve",
        metavar="[HOST:]PORT",
        type=listen_address("--serve"),
        default="127.0.0.1:0",
        help="where to listen (default: a free port on 127.0.0.1)",
    )
    add_db(serve)
    add_config(serve)
    add_token_file_option(serve)
    add_insecure_bind_option(serve)


def serve_problem(args: argparse.Namespace) -> str | None:
    """Why `lfg run`'s `--serve` options cannot be served, checked before anything starts; or None."""
    if args.serve is None:
        if args.control:
            return "--control needs --serve (the watchers it lets cancel, retry and approve attach there)"
        return (
            "--start-on-attach needs --serve (where the watcher attaches)" if args.start_on_attach else None
        )
    from lfgtui.remote.server import Address
    from lfgtui.remote.tokens import ServeError, read_token

    try:
        refused = Address.parse(args.serve).refused(args.insecure_bind)
        read_token(args.token_file)
    except ServeError as exc:
        return str(exc)
    return refused


def _attach_arguments(attach: argparse.ArgumentParser) -> None:
    attach.add_argument(
        "url",
        metavar="URL",
        help="what lfg run --serve or --publish printed: http://127.0.0.1:8700, or a broker's "
        "redis://[USER[:PASSWORD]@]HOST[:PORT][/DB] (or rediss://…, or redis+sentinel://HOST[:PORT][,…]"
        "/MASTER[/DB]) followed by RUN",
    )
    attach.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        help="the run on the broker (lfg runs lists them; also URL#RUN, or redis://HOST/RUN)",
    )
    token = attach.add_mutually_exclusive_group()
    token.add_argument("--token", help="the token the server printed (default: $LFG_TOKEN)")
    token.add_argument("--token-file", type=Path, help="read the token from this file")
    attach.add_argument("--json", action="store_true", help="print the run's events as NDJSON")
    add_config(attach, "config file, for the theme, the keys and [broker]")
    add_theme(attach)


@dataclass(frozen=True)
class ServeOptions:
    """What serving a run needs of the command that runs it (`lfg run`, a coordinated `lfg resume`):
    its tickets file (named to the broker) and `--serve`'s options, if any."""

    file: Path
    serve: str | None = None
    """`--serve`'s address; None: not served over HTTP."""
    token_file: Path | None = None
    control: bool = False
    """`--control`: watchers may cancel, retry, approve and deny."""

    @classmethod
    def of(cls, args: argparse.Namespace) -> ServeOptions:
        """`lfg run`'s options."""
        return cls(args.file, args.serve, args.token_file, args.control)


@contextlib.asynccontextmanager
async def serving(
    args: ServeOptions,
    run: Run,
    tickets: Sequence[Ticket],
    outlet: Outlet | None = None,
    telemetry: TelemetryOut | None = None,
    said: Callable[[str], None] = warn,
    watched: asyncio.Event | None = None,
) -> AsyncIterator[str | None]:
    """Serve `run` to its lead tickets (remote/leads.py) while the block runs; with `--serve`, to
    its watchers too; publish it to `outlet` (`--publish`, `--broker`) and export its telemetry
    (`--otel`): yields how to watch it (the `lfg attach` commands), or None. `said` hears how the
    broker is doing (stderr, or the TUI's notices); `watched` is set when the first watcher attaches
    to `--serve`.

    Start it after the history has named the run, so watchers see the id it is recorded under.
    """
    if args.token_file is not None:  # with it a boxed agent could drive the run as the person
        from lfgtui.folders import keep_from_sandboxes

        keep_from_sandboxes(args.token_file)
    async with contextlib.AsyncExitStack() as stack:
        if telemetry is not None:
            await stack.enter_async_context(telemetry.exporting_run(run))
        from lfgtui.remote.leads import serving_leads

        await stack.enter_async_context(serving_leads(run, tickets))
        watches: list[str | None] = []
        if outlet is not None:
            watches.append(
                await stack.enter_async_context(outlet.publishing(run, tickets, str(args.file), said))
            )
        if args.serve is not None:
            watches.append(await stack.enter_async_context(_served(args, run, tickets, watched)))
        yield " or ".join(watch for watch in watches if watch) or None


@contextlib.asynccontextmanager
async def _served(
    args: ServeOptions, run: Run, tickets: Sequence[Ticket], watched: asyncio.Event | None
) -> AsyncIterator[str]:
    """`--serve`: the run's events over HTTP while the block runs; yields the `lfg attach` command."""
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import Address, EngineControls, RunServer
    from lfgtui.remote.tokens import read_token
    from lfgtui.telemetry.metered import provider_kinds

    token = read_token(args.token_file)
    hub = EventHub(run.clock)
    run.sinks.append(hub)
    scraped, metrics = _scraped(run.book, provider_kinds(run), run.clock)
    if scraped is not None:
        run.sinks.append(scraped)
    controls = EngineControls(run) if args.control else None
    server = RunServer(
        hub,
        run.run_id,
        tickets,
        token,
        controls,
        prices=run.book.prices,
        metrics=metrics,
        watched=watched,
        leads=run.parents,
    )
    run.sinks.append(server.inbox)
    run.readers.append(server.inbox.looked)
    run.added.append(server.add)
    url = await server.start(Address.parse(args.serve))
    watch = _announce(url, token, args.token_file, controls is not None)
    try:
        yield watch
    finally:
        hub.end()
        await server.aclose(grace_s=DRAIN_S)


def _scraped(
    book: MetricsBook, kinds: Mapping[str, str], clock: Callable[[], float]
) -> tuple[Metered | None, Metrics | None]:
    """The sink that keeps a served run's Prometheus metrics from its events and `book`, and what
    `/metrics` reads; (None, None) without prometheus-client, when `/metrics` says so."""
    try:
        from lfgtui.telemetry.prometheus import CONTENT_TYPE, PrometheusMeters
    except ImportError:
        return None, None
    from lfgtui.telemetry.metered import Metered

    sink = Metered(book, kinds)
    meters = PrometheusMeters(sink.tally, book.quotas, book.agents, clock)
    sink.instruments.append(meters)
    return sink, lambda: (meters.render(), CONTENT_TYPE)


def _announce(url: str, token: str, token_file: Path | None, control: bool) -> str:
    """Say where the run is served, how to watch it and where its inbox is; returns the last two (the
    TUI shows them)."""
    access = "watchers may cancel, retry, approve and deny" if control else "read-only"
    warn(f"serving this run at {url} ({access})")
    shown = f"--token-file {token_file}" if token_file is not None else f"--token {token}"
    watch = f"lfg attach {url} {shown}"
    warn(f"watch it with: {watch}")
    inbox = (
        f"{url}/inbox (it asks for the token in {token_file})" if token_file else f"{url}/inbox#token={token}"
    )
    warn(f"or open its inbox in a browser: {inbox}")
    return f"{watch}, or open its inbox in a browser: {inbox}"


async def serve(args: argparse.Namespace) -> int:
    """`lfg serve RUN_ID`: a recorded run, or one still running in another lfg as its history records
    it (remote/tail.py), until Ctrl-C."""
    import asyncio
    import signal

    from lfgtui.cost.metrics import MetricsBook
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.database import StoreError
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import Address, RunServer
    from lfgtui.remote.tail import RunTail
    from lfgtui.remote.tokens import ServeError, read_token

    found = find_run(args.run_id, args.config, args.db)
    if isinstance(found, str):
        warn(found)
        return EXIT_USAGE
    config, db, run_id = found
    try:
        token = read_token(args.token_file)
        address = Address.parse(args.serve)
        refused = address.refused(args.insecure_bind)
        if refused is not None:
            raise ServeError(refused)
        tail = RunTail.open(db, run_id)
    except (ServeError, StoreError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    hub = EventHub(tail.now, t0=0.0)  # the tail's clock counts from the run's start
    prices = run_prices(config.providers, tail.tickets)  # this machine's, as the run was priced here
    book = MetricsBook(prices=prices)
    scraped, metrics = _scraped(book, {name: c.kind for name, c in config.providers.items()}, tail.now)
    server = RunServer(hub, run_id, tail.tickets, token, prices=prices, metrics=metrics)
    try:
        url = await server.start(address)
    except ServeError as exc:
        await tail.aclose()
        warn(str(exc))
        return EXIT_USAGE
    _announce(url, token, args.token_file, False)
    sinks: list[Callable[[Event], None]] = [book, server.inbox]
    if scraped is not None:
        sinks.append(scraped)
    following = asyncio.create_task(_follow(tail, hub, sinks))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        following.cancel()
        await asyncio.wait([following])
        await tail.aclose()
        await server.aclose()
    return 0


async def _follow(tail: RunTail, hub: EventHub, sinks: Sequence[Callable[[Event], None]]) -> None:
    """Publish what the run records until it ends (or its history, or its lock, cannot be read: then
    the person serving it is told), then end the hub; `sinks` take each event first (its metrics)."""
    import sqlite3

    from lfgtui.history.database import StoreError

    def publish(events: list[Event]) -> None:
        for event in events:
            for sink in sinks:
                sink(event)
        hub.publish_all(events)

    try:
        await tail.follow(publish, warn)
    except (StoreError, sqlite3.Error, OSError) as exc:
        warn(f"stopped following run {tail.run_id}: {exc}")
    hub.end()


def _token(args: argparse.Namespace) -> str | None:
    """The token `lfg attach` sends, or None after saying why there is none it could send."""
    from lfgtui.remote.tokens import ServeError, token_in, token_problem

    if args.token_file is not None:
        try:
            return token_in(args.token_file)
        except ServeError as exc:
            warn(str(exc))
            return None
    token = args.token or os.environ.get("LFG_TOKEN")
    if not token:
        warn("lfg attach needs the server's token: --token, --token-file or $LFG_TOKEN")
        return None
    problem = token_problem(token)
    if problem is not None:
        warn(f"the token {problem}")
        return None
    return token


async def attach(args: argparse.Namespace) -> int:
    """`lfg attach URL`: the TUI on a served run, or on a run on a broker (`lfg attach redis://HOST
    RUN`), or its events as NDJSON with `--json`."""
    from lfgtui.config.broker import is_broker_url
    from lfgtui.remote.attach import Attachment
    from lfgtui.remote.following import AttachError

    attachment: Followed
    if is_broker_url(args.url):
        from lfgtui.commands.broker import broker_attachment

        made = broker_attachment(args)
        if isinstance(made, int):
            return made
        attachment = made
    elif args.run is not None:
        warn(f"lfg attach {args.url}: a served run's URL names its run already (RUN is for a broker's)")
        return EXIT_USAGE
    else:
        token = _token(args)
        if token is None:
            return EXIT_USAGE
        attachment = Attachment(args.url, token)
    try:
        remote = await attachment.describe(warn)
        if args.json:
            return await _print_events(attachment, remote)
        return await _watch(args, attachment, remote)
    except AttachError as exc:
        warn(str(exc))
        return 1
    finally:
        await attachment.aclose()


async def _print_events(attachment: Followed, remote: RemoteRun) -> int:
    from lfgtui.broker.watch import BrokerAttachment
    from lfgtui.commands.headless import JsonLines, UntilClosed
    from lfgtui.cost.metrics import MetricsBook

    if remote.prices_problem is not None:
        warn(remote.prices_problem)
    book = MetricsBook(prices=remote.prices)  # the runner's card: its costs, to the bit
    lines: JsonLines | None = None
    output: UntilClosed | None = None

    def opened() -> tuple[JsonLines, UntilClosed]:
        nonlocal lines, output
        if lines is None or output is None:  # the first entry's clock is known: times print as the
            lines = JsonLines(sys.stdout, book, attachment.offset)  # server counts them
            output = UntilClosed(lines, sys.stdout)
        return lines, output

    def deliver(event: Event) -> None:
        book(event)
        (output if output is not None else opened()[1])(event)

    def lost(gap: Lost) -> None:
        printer, guarded = opened()
        guarded.write_with(lambda: printer.gap(gap))

    def said(state: str) -> None:
        if state not in ("live", "ended"):
            warn(state)

    if isinstance(attachment, BrokerAttachment):
        await attachment.follow(deliver, said, lost=lost)
    else:
        attachment.metrics = book.attempts  # a verdict's contestants, measured as its `verdict` line says
        await attachment.follow(deliver, said)  # the `check` and `verdict` lines too, as facts
    return 0


async def _watch(args: argparse.Namespace, attachment: Followed, remote: RemoteRun) -> int:
    from lfgtui.broker.watch import BrokerAttachment
    from lfgtui.commands.compose import open_tui
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.providers.registry import Providers
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services

    try:
        config = load_config(args.config)
    except ValidationError as exc:
        warn(str(exc))
        return EXIT_USAGE
    problem = tui_problem(args.theme or config.ui.theme, "attach")
    if problem is not None:
        warn(problem)
        return EXIT_USAGE
    async with Providers() as providers:  # an attached view sends nothing to any provider
        broker = attachment.broker if isinstance(attachment, BrokerAttachment) else None
        services = Services(providers, prices=remote.prices, keymap=config.ui.keymap, broker=broker)
        code = await open_tui(
            RunController.attached(services, remote.tickets, remote.run_id, attachment),
            args.theme or config.ui.theme,
            notice=remote.prices_problem,
        )
    return 0 if code is None else code
