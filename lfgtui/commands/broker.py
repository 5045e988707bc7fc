"""`lfg runs`, `lfg worker`, `lfg run --publish`, `lfg run --broker` (the coordinator) and
`lfg attach redis://… RUN`: the command line of the broker.

`lfg` imports this module for every command, so redis-py (the `lfgtui[broker]` extra) and the
broker's modules are imported only when one of these runs.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import (
    EXIT_USAGE,
    add_config,
    add_insecure_bind_option,
    add_theme,
    add_token_file_option,
    listen_address,
    positive_int,
    tui_problem,
    warn,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.coordinator import BrokerRunner
    from lfgtui.broker.coordinator_lease import CoordinatorLease
    from lfgtui.broker.fleet_index import IndexedRun, OnlineWorker
    from lfgtui.broker.watch import BrokerAttachment
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.config.broker import Broker
    from lfgtui.config.load import Config
    from lfgtui.run import Run
    from lfgtui.telemetry.runs import RunsMetered
    from lfgtui.tickets.ticket import Ticket

DRAIN_S = 5.0
"""How long a finished run waits for the broker to take its last entries."""
BROKER_HELP = (
    "the broker, redis://[USER[:PASSWORD]@]HOST[:PORT][/DB], rediss://… or, behind Sentinel, "
    "redis+sentinel://HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB] (default: $LFG_BROKER, [broker] url)"
)


def add_broker_commands(commands: Subcommands) -> None:
    """Register `lfg runs` and `lfg worker` on the top-level subcommands."""
    commands.add_command(
        "runs", "list the runs published to a broker, and its workers", _runs_arguments, runs
    )
    commands.add_command(
        "worker", "run the tickets that lfg run --broker puts on a broker", _worker_arguments, worker
    )


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="URL", help=BROKER_HELP)
    parser.add_argument(
        "--max-concurrency",
        type=positive_int,
        default=4,
        help="attempts this worker runs at once (default: 4)",
    )
    parser.add_argument("--name", help="this worker's name on the broker (default: HOST-PID)")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(),
        help="tickets' workdirs are relative to this folder, as they are to the tickets file's "
        "(default: the current folder)",
    )
    _metrics_arguments(parser)
    add_config(parser)


def _metrics_arguments(worker: argparse.ArgumentParser) -> None:
    """`lfg worker`'s `--metrics`, with `--token-file` and `--insecure-bind` as `lfg run --serve` has them."""
    worker.add_argument(
        "--metrics",
        metavar="[HOST:]PORT",
        type=listen_address("--metrics"),
        help="serve this worker's metrics to Prometheus at /metrics, behind a bearer token (HOST defaults "
        "to 127.0.0.1; port 0 picks one; needs the prometheus extra: pip install -e '.[prometheus]' in lfg's "
        "clone)",
    )
    add_token_file_option(worker)
    add_insecure_bind_option(worker, "--metrics")


@contextlib.asynccontextmanager
async def _worker_metrics(args: argparse.Namespace) -> AsyncIterator[RunsMetered]:
    """`lfg worker --metrics`: the metrics of the attempts it runs at `GET /metrics` while the block
    runs, behind the token (`--token-file`'s, or a new one printed); yields what the worker counts its
    runs into. Raises `ServeError` when it cannot serve."""
    import time

    from lfgtui.remote.server import Address, MetricsServer
    from lfgtui.remote.tokens import ServeError, read_token
    from lfgtui.telemetry.runs import RunsMetered

    try:
        from lfgtui.telemetry.prometheus import CONTENT_TYPE, PrometheusMeters
    except ImportError as exc:
        from lfgtui.extras import install_hint

        raise ServeError(f"--metrics needs prometheus-client: {install_hint('prometheus')}") from exc
    address = Address.parse(args.metrics, "--metrics")
    if (refused := address.refused(args.insecure_bind)) is not None:
        raise ServeError(refused)
    token = read_token(args.token_file)
    if args.token_file is not None:  # never readable in the boxes of the tickets it runs
        from lfgtui.folders import keep_from_sandboxes

        keep_from_sandboxes(args.token_file)
    runs = RunsMetered()
    meters = PrometheusMeters(runs.tally, runs.quotas, runs.agents, time.monotonic)  # the runs' clock
    runs.instruments.append(meters)
    server = MetricsServer(token, lambda: (meters.render(), CONTENT_TYPE))
    url = await server.start(address)
    warn(f"serving this worker's metrics at {url}/metrics")
    shown = f"in {args.token_file}" if args.token_file is not None else token
    warn(f"scrape them with the bearer token {shown}")
    try:
        yield runs
    finally:
        await server.aclose()


def _runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="URL", help=BROKER_HELP)
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print JSON instead of text")
    shown.add_argument(
        "--tui",
        action="store_true",
        help="open the fleet view: the runs and workers, kept current, any run's panes a key away",
    )
    add_config(parser, "config file, for [broker] (and with --tui the theme and the keys)")
    add_theme(parser)


def add_publish_option(run: argparse.ArgumentParser) -> None:
    """`lfg run`'s `--publish [URL]`."""
    run.add_argument(
        "--publish",
        metavar="URL",
        nargs="?",
        const="",
        help="also publish the run's events to a broker for lfg attach redis://… (URL default: "
        "$LFG_BROKER, [broker] url)",
    )


def add_coordinate_option(run: argparse.ArgumentParser) -> None:
    """`lfg run`'s `--broker [URL]`."""
    run.add_argument(
        "--broker",
        metavar="URL",
        nargs="?",
        const="",
        help="run the tickets on the workers of a broker (lfg worker), coordinating and watching "
        "them here; implies --publish (URL default: $LFG_BROKER, [broker] url)",
    )


def publish_problem(args: argparse.Namespace) -> str | None:
    """Why `--publish`'s or `--broker`'s URL cannot be used, checked before anything starts; or None."""
    from lfgtui.config.broker import url_problem

    if args.publish is not None and args.broker is not None:
        return "--broker publishes the run already: give --broker or --publish, not both"
    given = args.broker or args.publish
    return url_problem(given) if given else None


def chosen_broker(given: str | None, config: Config, run: bool = False) -> Broker:
    """The broker the command line, the environment or the config names; raises `BrokerError`, also
    for a URL that names a run unless `run` (`lfg attach`)."""
    from lfgtui.config.broker import BrokerError, chosen_url, resolve, url_problem

    url = chosen_url(given, os.environ, config.broker)
    if url is None:
        raise BrokerError("no broker given: pass a URL, or set $LFG_BROKER or [broker] url in config.toml")
    if not run and (problem := url_problem(url)) is not None:
        raise BrokerError(problem)
    return resolve(url, os.environ, config.broker)


@dataclass
class Outlet:
    """The broker a run publishes to, connected before the run starts so that a bad one stops it."""

    broker: Broker
    redis: Redis
    folder: Path | None = None
    """Coordinating (`--broker`): the tickets file's folder, which workdirs are relative to."""
    resumed: bool = False
    """The run is on the broker already, from a coordinator before (`lfg resume --broker`)."""
    lease: CoordinatorLease | None = None
    """The run's coordinator lease, once taken: by `lfg resume --broker` before it changes anything,
    else by `publishing` before the run is registered. Given up when the outlet closes."""

    @classmethod
    async def open(cls, args: argparse.Namespace, config: Config) -> Outlet | None:
        """The broker `--publish` or `--broker` names, connected; None without either. Raises
        `BrokerError`."""
        if args.publish is None and args.broker is None:
            return None
        from lfgtui.broker.client import connect

        broker = chosen_broker(args.broker if args.broker is not None else args.publish, config)
        folder = args.file.resolve().parent if args.broker is not None else None
        return cls(broker, await connect(broker, read_timeout_s=10.0), folder)

    def make_run(self) -> Callable[..., Run]:
        """What makes the run: one coordinated on the broker's workers (`--broker`), else a `Run`."""
        from lfgtui.run.scheduler import Run

        if self.folder is None:
            return Run
        from lfgtui.broker.coordinator import Dispatch, coordinated_run

        return functools.partial(coordinated_run, dispatch=Dispatch(self.redis, self.broker, self.folder))

    @contextlib.asynccontextmanager
    async def publishing(
        self, run: Run, tickets: Sequence[Ticket], title: str, said: Callable[[str], None] = warn
    ) -> AsyncIterator[str | None]:
        """Publish `run` while the block runs (and coordinate it, when a `BrokerRunner` runs it);
        yields how to watch it. Start it after the history has named the run, so the broker has the
        id it is recorded under. `said` hears the broker going away and coming back."""
        from lfgtui.broker.client import explain
        from lfgtui.broker.coordinator import BrokerRunner
        from lfgtui.broker.publisher import Publisher
        from lfgtui.config.broker import BrokerError
        from lfgtui.remote.description import run_description
        from lfgtui.remote.following import watcher_name

        broker = self.broker
        runner = run.runner if isinstance(run.runner, BrokerRunner) else None
        if runner is not None:
            await self._coordinate(run.run_id, said)
        publisher = Publisher(
            self.redis,
            run.run_id,
            [ticket.id for ticket in tickets],
            broker.settings,
            said,
            lambda exc: explain(exc, broker),
            run.clock,
            book=run.book,
        )
        description = run_description(run.run_id, tickets, run.book.prices, False)
        for ticket_id, state in run.states.items():  # a resumed run's tickets as its history has them
            if state.outcome is not None:
                publisher.states[ticket_id] = state.outcome.value
        try:
            await publisher.register(description, watcher_name(), title, again=self.resumed)
        except Exception as exc:  # the broker went away since `open`, or holds this id: the run goes on
            problem = str(exc) if isinstance(exc, BrokerError) else explain(exc, broker)
            if problem is None:
                raise
            if isinstance(run.runner, BrokerRunner):  # its tickets cannot run without the broker
                raise BrokerError(problem) from None
            said(f"not publishing this run: {problem}")
            yield None
            return
        if runner is not None and self.lease is not None:  # each of its writes carries its fence
            runner.dispatch.fence = publisher.fence = self.lease.fence
        run.sinks.append(publisher if runner is None else runner.published(publisher))
        run.readers.append(publisher.looked)

        def added(ticket: Ticket) -> None:  # watchers follow it; those who attach later are told of it
            written = [state.written for state in run.states.values()]
            description = run_description(run.run_id, written, run.book.prices, False)
            publisher.added(ticket, description, run.parents.get(ticket.id))

        run.added.append(added)
        publisher.start()
        watch = f"lfg attach {broker.where} {run.run_id}"
        doing = "publishing this run to" if runner is None else "running this run on the workers of"
        said(f"{doing} {broker.where}; watch it with: {watch}")
        try:
            if runner is not None:
                if self.lease is not None:
                    self.lease.retaken = runner.dispatch.look_soon
                await runner.dispatch.start(run.run_id, said, publisher.instance)
                if any(state.written.lead for state in run.states.values()):
                    self._answer_leads(run, runner, said)
            yield watch
        finally:
            run.added.remove(added)
            await publisher.aclose(DRAIN_S)
            if runner is None:
                await publisher.confirm_end()
            else:  # its last look first: what it writes back is on the replicas with the end
                await runner.dispatch.aclose(publisher.confirm_end)
                if self.lease is not None:
                    await self.lease.aclose()
            if publisher.dropped:
                from lfgtui.formats import plural

                dropped = plural(publisher.dropped, "event")
                were = "was" if publisher.dropped == 1 else "were"
                said(f"{dropped} {were} not published while the broker was away")

    def _answer_leads(self, run: Run, runner: BrokerRunner, said: Callable[[str], None]) -> None:
        """Answer what the run's lead tickets ask from the workers running them (broker/lead_asks.py),
        beside the run until its dispatch closes."""
        from lfgtui.broker.lead_asks import LeadAsks

        runner.dispatch.background(LeadAsks(self.redis, run, runner.dispatch, said).serve(), "lead asks")

    async def _coordinate(self, run_id: str, said: Callable[[str], None]) -> None:
        """Hold the run's coordinator lease before anything of the run is on the broker (a resume took
        it already); raises `BrokerError` naming the coordinator that holds it."""
        from lfgtui.broker.client import explain
        from lfgtui.broker.coordinator_lease import CoordinatorHeld, CoordinatorLease
        from lfgtui.config.broker import BrokerError
        from lfgtui.remote.following import watcher_name

        if self.lease is None:
            lease = CoordinatorLease(self.redis, self.broker, run_id, watcher_name(), said)
            try:
                await lease.claim(said)
            except CoordinatorHeld as exc:
                raise BrokerError(str(exc)) from None
            except Exception as exc:
                if (problem := explain(exc, self.broker)) is None:
                    raise
                raise BrokerError(problem) from None
            self.lease = lease
        self.lease.said = said

    @staticmethod
    @contextlib.asynccontextmanager
    async def closing(outlet: Outlet | None) -> AsyncIterator[None]:
        """Give up the run's coordinator lease (if held) and close the outlet's connection when the
        block ends (if there is one)."""
        try:
            yield
        finally:
            if outlet is not None:
                if outlet.lease is not None:
                    await outlet.lease.aclose()
                await outlet.redis.aclose()


async def runs(args: argparse.Namespace) -> int:
    """`lfg runs`: the run index of a broker, newest first; `--tui`: the fleet view of it."""
    from lfgtui.broker.client import connect
    from lfgtui.broker.fleet_index import fleet_index
    from lfgtui.broker.layout import Layout
    from lfgtui.config.broker import BrokerError
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError

    try:
        config = load_config(args.config)
        broker = chosen_broker(args.broker, config)
        redis = await connect(broker)
    except (ValidationError, BrokerError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    if args.tui:
        await redis.aclose()
        return await _fleet(broker, config, args.theme or config.ui.theme)
    try:
        fleet = await fleet_index(redis, Layout(broker.settings.prefix))
    except Exception as exc:
        from lfgtui.broker.client import explain

        if (problem := explain(exc, broker)) is None:
            raise
        warn(problem)
        return 1
    finally:
        await redis.aclose()
    found = fleet.runs
    if args.json:
        from lfgtui.inert import json_text

        print(json_text([run.json() for run in found], indent=2))
        return 0
    print(_table(found) if found else f"no runs on the broker at {broker.where}")
    print("\nworkers")
    print(_workers_table(fleet.workers) if fleet.workers else f"no worker is on the broker at {broker.where}")
    return 0


async def _fleet(broker: Broker, config: Config, theme: str) -> int:
    """`lfg runs --tui`: the app on the fleet view of `broker` (which answered), until it quits."""
    from lfgtui.providers.registry import Providers
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.services import Services

    if (problem := tui_problem(theme, "runs --tui")) is not None:
        warn(problem)
        return EXIT_USAGE
    async with Providers() as providers:  # the runs it opens are watched: nothing goes to a provider
        services = Services(providers, keymap=config.ui.keymap, broker=broker)
        code = await LfgApp(services, None, theme=theme).run_async()
    return 0 if code is None else code


def _table(found: Sequence[IndexedRun]) -> str:
    """The runs as a table, every field cut to its width: the index is written by others' lfg."""
    from lfgtui.formats import cell, columns, when

    rows = [("id", "who", "host", "started", "ended", "states", "attention", "file")]
    for run in found:
        states = ", ".join(f"{count} {state}" for state, count in sorted(run.states.items()))
        ended = when(run.ended) if run.ended is not None else "running"
        rows.append(
            (
                cell(run.run_id, 24),
                cell(run.who),
                cell(run.host),
                when(run.started),
                ended,
                cell(states, 60),
                run.attention() if run.ended is None else "",
                cell(run.title, 60, keep_end=True),
            )
        )
    return columns(rows)


def _workers_table(workers: Sequence[OnlineWorker]) -> str:
    """The workers on the broker, each with the last thing that went wrong on it (as it said: cut,
    shown inert) and when."""
    from lfgtui.formats import cell, columns, when

    rows = [("name", "serves", "host", "running", "last error")]
    for worker in workers:
        error = f"{when(worker.error_at)}: {worker.error}" if worker.error_at is not None else worker.error
        rows.append(
            (
                cell(worker.name),
                cell(", ".join(worker.serves) or "-", 40),
                cell(worker.host),
                str(worker.running),
                cell(error or "-", 200),
            )
        )
    return columns(rows)


def broker_attachment(args: argparse.Namespace) -> BrokerAttachment | int:
    """What `lfg attach redis://HOST[:PORT][/DB] RUN` (or `…#RUN`, or `redis://HOST/RUN`) follows, or
    the exit code after saying why not."""
    from lfgtui.broker.watch import BrokerAttachment
    from lfgtui.config.broker import BrokerError
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError

    try:
        config = load_config(args.config)
        broker = chosen_broker(args.url, config, run=True)
    except (ValidationError, BrokerError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    named = broker.url.run
    if named and args.run and named != args.run:
        warn(f"lfg attach: the URL names run {named!r} and the command line {args.run!r}: give one")
        return EXIT_USAGE
    if not (run_id := args.run or named):
        warn(f"lfg attach: name the run after the URL, lfg attach {broker.where} RUN (lfg runs lists them)")
        return EXIT_USAGE
    return BrokerAttachment(broker, run_id)


def worker(args: argparse.Namespace) -> int:
    """`lfg worker`: take and run the broker's work until SIGINT or SIGTERM."""
    import asyncio

    return asyncio.run(_worker(args))


async def _worker(args: argparse.Namespace) -> int:
    if not args.root.resolve().is_dir():
        warn(f"--root {args.root} is not a folder")
        return EXIT_USAGE
    if args.metrics is None:  # the HTTP server's module (aiohttp, the run's description) is not loaded
        return await _work(args, None)
    from lfgtui.remote.tokens import ServeError

    try:
        async with _worker_metrics(args) as metrics:
            return await _work(args, metrics)
    except ServeError as exc:  # --metrics cannot be served
        warn(str(exc))
        return EXIT_USAGE


async def _work(args: argparse.Namespace, metrics: RunsMetered | None) -> int:
    import asyncio
    import signal
    import socket

    from lfgtui.broker.client import connect, explain
    from lfgtui.broker.layout import worker_name
    from lfgtui.broker.worker import BLOCK_MS, BrokerWorker, WorkerOptions
    from lfgtui.config.broker import BrokerError
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError
    from lfgtui.inert import inert
    from lfgtui.providers.registry import Providers
    from lfgtui.tools import without_keys

    root = args.root.resolve()
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    if not worker_name(name):
        warn(
            f"--name {name!r:.220}: a worker's name is 1 to 200 printable characters, none of : * ? [ ] \\ "
            "(its keys on the broker, which only its ACL user may write, are named after it)"
        )
        return EXIT_USAGE
    try:
        config = load_config(args.config)
        broker = chosen_broker(args.broker, config)
        redis = await connect(broker, read_timeout_s=BLOCK_MS / 1000 + 10)
    except (ValidationError, BrokerError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    secret_vars = {c.api_key_env for c in config.providers.values() if c.api_key_env}
    env = without_keys(os.environ, secret_vars)
    options = WorkerOptions(name, root, args.max_concurrency, env, metrics, config.run.disk_reserve_mb)
    signalled: list[int] = []
    async with Providers(config.providers) as providers:
        said = lambda line: warn(inert(line))  # noqa: E731 (what a work entry holds reaches it)
        worker = BrokerWorker(redis, broker, providers, options, said, lambda exc: explain(exc, broker))
        refused = "; ".join(f"not {p}: {why}" for p, why in worker.refused.items())
        warn(f"worker {name} on {broker.where}, in {root}: serves {', '.join(worker.serves) or 'nothing'}")
        if refused:
            warn(f"worker {name} leaves to other workers: {refused}")
        serving = asyncio.create_task(worker.serve(), name="worker")
        loop = asyncio.get_running_loop()
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            loop.add_signal_handler(sig, lambda code=code: (signalled.append(code), serving.cancel()))
        try:
            await serving
        except asyncio.CancelledError:
            pass
        except BrokerError as exc:
            warn(str(exc))
            return 1
        finally:
            await redis.aclose()
    return signalled[0] if signalled else 0
