"""`lfg resume RUN_ID` and `lfg replay ID`: a recorded run back in the TUI.

`resume` reopens a run with every pane restored; retries and follow-ups are recorded into that same
run, each ticket as it was recorded (a worktree ticket in its worktree). A run coordinated on a
broker's workers (`lfg run --broker`) is resumed with `--broker` once its coordinator was killed: it
picks up what the workers ran meanwhile (broker/pickup.py) and runs the rest on them, in the TUI
or headless (commands/pickup.py). A run imported from elsewhere whose tickets work outside the
current folder asks first. `replay` streams what was recorded at its recorded pace and sends nothing
to any provider.
Both check everything before the TUI opens: a bad id, a run still open in another lfg, or (for
`resume`) a provider no longer configured is an error with exit code 2 and changes nothing.

`lfg` imports this module for every command, so the history, the providers and the TUI are imported
only when `resume` or `replay` runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.commands.common import (
    add_config,
    add_db,
    add_theme,
    fail,
    find_recorded,
    positive_int,
    positive_number,
    recorded_exit,
    tui_problem,
    warn,
)

if TYPE_CHECKING:
    from lfgtui.commands.subcommands import Subcommands
    from lfgtui.history.recorded import RecordedRun


def add_resume_commands(commands: Subcommands) -> None:
    """Register `lfg resume` and `lfg replay` on the top-level subcommands."""
    commands.add_command(
        "resume", "reopen a recorded run: retry what did not complete, follow up", _resume_arguments, resume
    )
    replaying = "stream a recorded run, ticket or attempt again at its recorded pace"
    commands.add_command("replay", replaying, _replay_arguments, replay)


def _resume_arguments(resume: argparse.ArgumentParser) -> None:
    add_db(resume)
    add_config(resume)
    add_theme(resume)
    resume.add_argument("run_id", metavar="RUN_ID", help="a run id (or any unique prefix of one)")
    resume.add_argument(
        "--yes", action="store_true", help="let write_file and run_command run without asking"
    )
    resume.add_argument(
        "--max-concurrency", type=positive_int, help="tickets streaming at once (default: [run], 8)"
    )
    resume.add_argument(
        "--broker",
        metavar="URL",
        nargs="?",
        const="",
        help="pick a run lfg run --broker coordinated up again on that broker's workers, adopting what "
        "they ran meanwhile, in the TUI or with --headless / --json (URL default: $LFG_BROKER, [broker] url)",
    )
    resume.add_argument(
        "--headless", action="store_true", help="with --broker or --send-held: progress lines and a table"
    )
    resume.add_argument(
        "--json", action="store_true", help="with --broker or --send-held: NDJSON events on stdout"
    )
    held = resume.add_mutually_exclusive_group()
    held.add_argument(
        "--send-held",
        action="store_true",
        help="without the TUI: send the steers and queued messages the run's tickets held, unsent, when it "
        "stopped, as their next turns (printed first; in the TUI, lfg resume asks)",
    )
    held.add_argument(
        "--drop-held",
        action="store_true",
        help="without the TUI: drop those messages, unsent (printed first), so no later resume offers them",
    )


def _replay_arguments(replay: argparse.ArgumentParser) -> None:
    add_db(replay)
    add_config(replay)
    add_theme(replay)
    replay.add_argument("id", metavar="ID", help="a run, RUN/TICKET or an attempt id (or a unique prefix)")
    replay.add_argument(
        "--speed", type=positive_number, default=1.0, help="how many times faster than recorded (default 1)"
    )
    replay.add_argument(
        "--from",
        dest="start",
        type=positive_number,
        default=0.0,
        metavar="SECONDS",
        help="start this many seconds into the recording: what came before is shown at once",
    )


async def resume(args: argparse.Namespace) -> int:
    from lfgtui.history.recorded import provider_problems

    found = find_recorded(args.run_id, args.config, args.db, whole_run=True)
    if isinstance(found, str):
        return fail(found)
    config, db, recorded = found
    if (problem := _broker_problem(args, recorded)) is not None:
        return fail(problem)
    problems = provider_problems(recorded.as_tickets, config.providers)
    if problems:
        for problem in problems:
            fail(f"cannot resume run {recorded.run_id}: {problem}")
        return fail(f"to watch it without sending anything: lfg replay {recorded.run_id}")
    headless = args.headless or args.json or args.send_held or args.drop_held
    theme = None if headless else args.theme or config.ui.theme
    if theme is not None and (problem := tui_problem(theme, "resume")) is not None:
        return fail(problem)
    if args.send_held or args.drop_held:
        from lfgtui.commands.resume_held import settle_held

        return await settle_held(args, config, db, recorded)
    if args.broker is not None:
        from lfgtui.commands.pickup import resume_coordinated

        return await resume_coordinated(args, config, db, recorded, theme)
    assert theme is not None, "--headless and --json are refused without --broker"
    from lfgtui.providers.registry import Providers
    from lfgtui.providers.worker import ProviderWorker
    from lfgtui.run.failover import every_provider

    worker = ProviderWorker()
    concurrency = args.max_concurrency or config.run.max_concurrency
    worker.plan(min(concurrency, len(recorded.as_tickets)), config.run.provider_processes)
    async with Providers(config.providers, backend=worker) as providers:
        # the worker's imports (the SDKs, the sim) overlap the UI's below: it is asked for every
        # provider the run may use (fallbacks too) before those start
        await providers.warm(every_provider(recorded.as_tickets))
        from lfgtui.commands.compose import RunOptions, open_tui
        from lfgtui.commands.run import resumed_admits
        from lfgtui.cost.prices import run_prices
        from lfgtui.history.writer import reopen_run_history
        from lfgtui.remote.leads import serving_leads
        from lfgtui.ui.app import EXIT_DECLINED
        from lfgtui.ui.run.controller import RunController

        prices = run_prices(config.providers, recorded.as_tickets)
        options = RunOptions.of(config, args.max_concurrency, prices)
        async with reopen_run_history(db, recorded.run_id, warn, options.prices) as history:
            outside = recorded.outside(Path.cwd())
            services = options.services(providers, db, args.yes, config.ui.keymap)
            controller = RunController.resumed(services, recorded)
            assert controller.run is not None, "a resumed run runs here"
            controller.run.admits = resumed_admits(config, recorded)
            code = await open_tui(
                controller,
                theme,
                history=history,
                notice=recorded.notice(),
                question=recorded.outside_question(Path.cwd(), outside) if outside else None,
                served=lambda run: serving_leads(run, recorded.as_tickets),  # its leads lead again
            )
    if outside and code == EXIT_DECLINED:
        return fail(
            f"run {recorded.run_id} was not resumed: nothing ran. Its tickets work outside this folder; "
            f"resume it from where they work, or watch it with lfg replay {recorded.run_id}"
        )
    return recorded_exit(history, 1 if code is None else code)


def _broker_problem(args: argparse.Namespace, recorded: RecordedRun) -> str | None:
    """Why `--broker`, `--headless` and `--json` do not fit the run, or None."""
    run_id = recorded.run_id
    settling = args.send_held or args.drop_held
    if settling and args.broker is not None:
        return (
            "--send-held and --drop-held settle a run resumed here: a coordinated run's are its coordinator's"
        )
    if args.broker is None and (args.headless or args.json) and not args.send_held:
        return (
            "--headless and --json resume a run coordinated on a broker, or send a run's held messages: "
            "give --broker or --send-held too"
        )
    if args.broker is None and recorded.coordinated:
        return (
            f"run {run_id} ran on the workers of a broker (lfg run --broker), which may still be running "
            f"its tickets: pick it up there with lfg resume {run_id} --broker URL"
        )
    if args.broker is not None and not recorded.coordinated:
        return f"run {run_id} was not coordinated on a broker (lfg run --broker): resume it without --broker"
    return None


async def replay(args: argparse.Namespace) -> int:
    found = find_recorded(args.id, args.config, args.db, whole_run=False)
    if isinstance(found, str):
        return fail(found)
    config, _, recorded = found
    if not any(ticket.attempts for ticket in recorded.tickets):
        return fail(f"{args.id} has no recorded attempt to replay")
    problem = tui_problem(args.theme or config.ui.theme, "replay")
    if problem is not None:
        return fail(problem)
    from lfgtui.commands.compose import open_tui
    from lfgtui.cost.prices import run_prices
    from lfgtui.history.recorded import ReplayClock
    from lfgtui.providers.registry import Providers
    from lfgtui.ui.run.controller import RunController
    from lfgtui.ui.services import Services

    async with Providers() as providers:  # a replay has no run: nothing is ever sent
        services = Services(
            providers,
            clock=ReplayClock(args.speed, start=args.start),
            keymap=config.ui.keymap,
            prices=run_prices(config.providers, recorded.as_tickets),
        )
        code = await open_tui(RunController.replay(services, recorded), args.theme or config.ui.theme)
    return 0 if code is None else code
