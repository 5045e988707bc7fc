"""`lfg runs`, `lfg run --publish` and `lfg attach redis://…/RUN`: the command line of the broker.

`lfg` imports this module for every command, so redis-py (the `lfgtui[broker]` extra) and the
broker's modules are imported only when one of these runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_USAGE, add_config, warn

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from lfgtui.broker.settings import Broker
    from lfgtui.broker.watch import BrokerAttachment, IndexedRun
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.config import Config
    from lfgtui.run import Run
    from lfgtui.tickets.ticket import Ticket

DRAIN_S = 5.0
"""How long a finished run waits for the broker to take its last entries."""
BROKER_HELP = "the broker, redis://HOST[:PORT] or rediss://… (default: $LFG_BROKER, [broker] url)"


def add_broker_commands(commands: Subcommands) -> None:
    """Register `lfg runs` on the top-level subcommands."""
    commands.add_command("runs", "list the runs published to a broker", _runs_arguments, runs)


def _runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", metavar="URL", help=BROKER_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_config(parser)


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


def publish_problem(args: argparse.Namespace) -> str | None:
    """Why `--publish`'s URL cannot be used, checked before anything starts; or None."""
    if not args.publish:
        return None
    from lfgtui.broker.settings import url_problem

    return url_problem(args.publish)


def _broker(given: str | None, config: Config) -> Broker:
    """The broker the command line, the environment or the config names; raises `BrokerError`."""
    from lfgtui.broker.settings import BrokerError, chosen_url, resolve

    url = chosen_url(given, os.environ, config.broker)
    if url is None:
        raise BrokerError("no broker given: pass a URL, or set $LFG_BROKER or [broker] url in config.toml")
    return resolve(url, os.environ, config.broker)


@dataclass
class Outlet:
    """The broker a run publishes to, connected before the run starts so that a bad one stops it."""

    broker: Broker
    redis: Redis

    @classmethod
    async def open(cls, args: argparse.Namespace, config: Config) -> Outlet | None:
        """The broker `--publish` names, connected; None without `--publish`. Raises `BrokerError`."""
        if args.publish is None:
            return None
        from lfgtui.broker.client import connect

        broker = _broker(args.publish, config)
        return cls(broker, await connect(broker, read_timeout_s=10.0))

    @contextlib.asynccontextmanager
    async def publishing(self, run: Run, tickets: Sequence[Ticket], title: str) -> AsyncIterator[str | None]:
        """Publish `run` while the block runs; yields how to watch it. Start it after the history has
        named the run, so the broker has the id it is recorded under."""
        from lfgtui.broker.client import explain
        from lfgtui.broker.publisher import Publisher
        from lfgtui.broker.settings import BrokerError
        from lfgtui.remote.attach import watcher_name
        from lfgtui.remote.description import run_description

        broker = self.broker
        publisher = Publisher(
            self.redis,
            run.run_id,
            [ticket.id for ticket in tickets],
            broker.settings,
            warn,
            lambda exc: explain(exc, broker),
            run.clock,
        )
        description = run_description(run.run_id, tickets, run.book.prices, False)
        try:
            await publisher.register(description, watcher_name(), title)
        except Exception as exc:  # the broker went away since `open`, or holds this id: the run goes on
            problem = str(exc) if isinstance(exc, BrokerError) else explain(exc, broker)
            if problem is None:
                raise
            warn(f"not publishing this run: {problem}")
            yield None
            return
        run.sinks.append(publisher)
        publisher.start()
        watch = f"lfg attach {broker.where}/{run.run_id}"
        warn(f"publishing this run to {broker.where}; watch it with: {watch}")
        try:
            yield watch
        finally:
            await publisher.aclose(DRAIN_S)
            if publisher.dropped:
                warn(f"{publisher.dropped} events were not published while the broker was away")

    @staticmethod
    @contextlib.asynccontextmanager
    async def closing(outlet: Outlet | None) -> AsyncIterator[None]:
        """Close the outlet's connection when the block ends (if there is one)."""
        try:
            yield
        finally:
            if outlet is not None:
                await outlet.redis.aclose()


async def runs(args: argparse.Namespace) -> int:
    """`lfg runs`: the run index of a broker, newest first."""
    from lfgtui.broker.client import connect
    from lfgtui.broker.layout import Layout
    from lfgtui.broker.settings import BrokerError
    from lfgtui.broker.watch import indexed_runs
    from lfgtui.config import load_config
    from lfgtui.validation import ValidationError

    try:
        config = load_config(args.config)
        broker = _broker(args.broker, config)
        redis = await connect(broker)
    except (ValidationError, BrokerError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    try:
        found = await indexed_runs(redis, Layout(broker.settings.prefix))
    except Exception as exc:
        from lfgtui.broker.client import explain

        if (problem := explain(exc, broker)) is None:
            raise
        warn(problem)
        return 1
    finally:
        await redis.aclose()
    if args.json:
        from lfgtui.inert import json_text

        print(json_text([run.json() for run in found], indent=2))
        return 0
    if not found:
        print(f"no runs on the broker at {broker.where}")
        return 0
    print(_table(found))
    return 0


def _table(found: Sequence[IndexedRun]) -> str:
    from lfgtui.formats import columns, when
    from lfgtui.inert import inert

    rows = [("id", "who", "host", "started", "ended", "states", "file")]
    for run in found:
        states = ", ".join(f"{count} {state}" for state, count in sorted(run.states.items()))
        ended = when(run.ended) if run.ended is not None else "running"
        cells = (run.run_id, run.who, run.host, when(run.started), ended, states, run.title)
        rows.append(tuple(inert(cell) for cell in cells))
    return columns(rows)


def broker_attachment(args: argparse.Namespace) -> BrokerAttachment | int:
    """What `lfg attach redis://HOST[:PORT]/RUN` follows, or the exit code after saying why not."""
    from lfgtui.broker.settings import BrokerError, parse_url
    from lfgtui.broker.watch import BrokerAttachment
    from lfgtui.config import load_config
    from lfgtui.validation import ValidationError

    try:
        config = load_config(args.config)
        run_id = parse_url(args.url).run
        broker = _broker(args.url, config)
    except (ValidationError, BrokerError) as exc:
        warn(str(exc))
        return EXIT_USAGE
    if not run_id:
        warn(f"lfg attach {args.url}: name the run after the host, {broker.where}/RUN (lfg runs lists them)")
        return EXIT_USAGE
    return BrokerAttachment(broker, run_id)
