"""`lfg resume RUN --broker`: a coordinator killed with kill -9 mid-run, picked up again on the same
real redis-server while its `lfg worker` processes ran on. The resumed run adopts what the workers
ran meanwhile (nothing runs twice), and the history ends as if the coordinator had never died."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from textual.pilot import Pilot
from textual.widgets import Input

from lfgtui.broker.work import WorkItem
from lfgtui.commands.common import find_recorded
from lfgtui.commands.main import build_parser
from lfgtui.commands.pickup import picked_up
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Store
from lfgtui.inert import inert
from lfgtui.outcome import Outcome
from lfgtui.providers.base import UserMessage
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.fleet import FleetScreen
from lfgtui.ui.screens.modals import ApprovalScreen, FollowUpScreen
from lfgtui.ui.screens.new_ticket import NewTicketScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support import app as pilot_support
from tests.support import warm_lfg
from tests.support.app import keys
from tests.support.fleet import (
    AGENT_TICKET,
    COORDINATOR_AGENT,
    LEASE,
    STEADY,
    Fleet,
    agent_config,
    agent_provider,
    coordinate,
    ends,
    ran_on,
)
from tests.support.lfg import of, quick_demo
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal

LONG_LEASE = "[broker]\nlease_s = 300\n"
"""A worker whose presence no slowness of the machine lapses within a test: the test lapses it."""

DEMO = ("explore", "gcd", "tour", "summary")


def lfg(fleet: Fleet, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`lfg ARGS` to its end; one that hangs fails with what it and each worker said by then (a hang
    of `lfg resume` once left only its two first lines to go on)."""
    try:
        return warm_lfg.run(
            [sys.executable, "-m", "lfgtui", *args, "--config", str(config or fleet.config(STEADY))],
            env=fleet.lfg.env,
            timeout=120 * PATIENCE,
        )
    except subprocess.TimeoutExpired as exc:
        said = [text.decode() if isinstance(text, bytes) else text or "" for text in (exc.stdout, exc.stderr)]
        workers = "".join(f"\n--- worker {name}:\n{fleet.said(name)}" for name in fleet.workers)
        raise AssertionError(
            f"lfg {' '.join(args[:2])} did not end in {exc.timeout:g} s\n--- its stderr:\n{said[1]}"
            f"\n--- the last of its stdout:\n{said[0][-4000:]}{workers}"
        ) from None


def killed_mid_stream(
    fleet: Fleet, tickets: Path, enough: Any, *extra: str
) -> tuple[str, list[dict[str, Any]]]:
    """`lfg run TICKETS --broker EXTRA` killed with SIGKILL once `enough(events)` holds: its run id,
    and the events it had printed."""
    coordinator = coordinate(fleet, tickets, *extra)
    assert coordinator.stdout is not None and coordinator.stderr is not None
    seen: list[dict[str, Any]] = []
    for line in coordinator.stdout:
        seen.append(json.loads(line))
        if enough(seen):
            break
    coordinator.send_signal(signal.SIGKILL)
    coordinator.wait(30 * PATIENCE)
    said = coordinator.stderr.read()
    return said.split(f"lfg attach {fleet.url} ")[1].split()[0], seen


def exported(fleet: Fleet, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """The run's attempts in the history, by ticket (`lfg history export --format json`)."""
    done = lfg(fleet, "history", "export", run_id, "--format", "json")
    assert done.returncode == 0, done.stderr
    return {t["ticket"]: t["attempts"] for t in json.loads(done.stdout)["run"]["tickets"]}


def recorded_kinds(fleet: Fleet, run_id: str, attempt: int) -> list[str]:
    """The kinds of the parts the history holds so far of the run's only ticket's attempt `attempt`,
    read from the file (a reader beside the running coordinator's writer)."""
    with Store.open_read_only(fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3") as store:
        (ticket,) = store.load(store.resolve(run_id)).tickets
    return [part.kind for record in ticket.attempts if record.row.number == attempt for part in record.parts]


def text_of(attempt: dict[str, Any]) -> str:
    return "".join(part["text"] for part in attempt["parts"] if part["kind"] == "text")


def until(check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout * PATIENCE
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_coordinator_is_picked_up_and_adopts_what_its_workers_ran_meanwhile(fleet: Fleet) -> None:
    quick_demo(fleet.lfg.workdir)
    for name in ("w1", "w2"):
        fleet.start(name, "--max-concurrency", "2")
    run_id, seen = killed_mid_stream(
        fleet, fleet.lfg.workdir / "demo.toml", lambda seen: len(of(seen, "tour", "text")) >= 10
    )
    assert ("tour", 1) not in ends(seen), "killed while the tour streamed"
    said = lambda: fleet.said("w1") + fleet.said("w2")  # noqa: E731
    until(lambda: f"tour of run {run_id} (attempt 1): completed" in said())  # finished while it was away
    assert "summary" not in said(), "nothing enqueued the summary: the coordinator that would is dead"
    before = exported(fleet, run_id)
    assert before["tour"][0]["outcome"] == "interrupted" and not before["summary"]

    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json")
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert ends(seen).keys().isdisjoint(ends(events)), "an end said twice"
    assert {**ends(seen), **ends(events)} == {(t, 1): "completed" for t in DEMO}, "ended before or after"
    after = exported(fleet, run_id)
    assert {t: [(a["number"], a["outcome"]) for a in after[t]] for t in DEMO} == {
        t: [(1, "completed")] for t in DEMO
    }, "each attempt once, its number unchanged, none left interrupted"
    assert after["tour"][0]["id"] == before["tour"][0]["id"], "the same attempt, reopened"
    streamed = "".join(e["text"] for e in of(seen, "tour", "text"))
    tour = text_of(after["tour"][0])
    assert tour.startswith(streamed) and len(tour) > len(streamed), "the whole answer, nothing twice"
    assert tour == "".join(e["text"] for e in of(events, "tour", "text"))
    explored = text_of(after["explore"][0])
    (prompt,) = [p["text"] for p in after["summary"][0]["parts"] if p["kind"] == "prompt"]
    assert len(explored) > 200 and explored[-200:] in prompt, "the summary was sent the explore answer"
    for ticket in DEMO:
        assert said().count(f"took {ticket} of run {run_id}") == 1, f"{ticket} ran once:\n{said()}"
    assert ran_on(events, "summary") <= {"w1", "w2"}
    listed = lfg(fleet, "runs", "--broker", fleet.url, "--json")
    (indexed,) = [run for run in json.loads(listed.stdout) if run["run_id"] == run_id]
    assert indexed["states"] == {"completed": 4} and indexed["ended"] is not None
    watched = lfg(fleet, "attach", f"{fleet.url}/{run_id}", "--json")
    assert watched.returncode == 0, watched.stderr
    watcher_saw = [json.loads(line) for line in watched.stdout.splitlines()]
    assert ends(watcher_saw) == {(t, 1): "completed" for t in DEMO}, "lfg attach follows it to its end"


def test_a_run_that_cannot_be_picked_up_from_the_broker_says_why_and_changes_nothing(fleet: Fleet) -> None:
    fleet.start("w1")
    tickets = fleet.lfg.tickets(
        '[[ticket]]\nid = "long"\nprompt = "go"\nprovider = "sim"\n'
        'model = "long-answer:tokens_per_s=60,repeat=2"\n'
    )
    run_id, _ = killed_mid_stream(fleet, tickets, lambda seen: len(of(seen, "long", "text")) >= 5)
    before = exported(fleet, run_id)

    plain = lfg(fleet, "resume", run_id, "--headless")
    assert plain.returncode == 2 and "give --broker" in plain.stderr
    unknown = lfg(fleet, "resume", "0000nosuchrun", "--broker", fleet.url, "--json")
    assert unknown.returncode == 2 and unknown.stderr
    local = lfg(fleet, "resume", run_id)
    assert local.returncode == 2 and f"lfg resume {run_id} --broker URL" in local.stderr
    other = fleet.config(LEASE.replace("[broker]\n", '[broker]\nprefix = "other"\n'), "other.toml")
    elsewhere = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json", config=other)
    assert elsewhere.returncode == 2 and f"has no run {run_id}" in elsewhere.stderr
    refused_in_terminal(fleet, f"has no run {run_id}", "resume", run_id, "--broker", fleet.url, config=other)
    no_terminal = lfg(fleet, "resume", run_id, "--broker", fleet.url)
    assert no_terminal.returncode == 2 and "opens the TUI: run it in a terminal" in no_terminal.stderr
    assert exported(fleet, run_id) == before, "nothing changed"

    done = lfg(fleet, "run", str(tickets), "--json")  # not coordinated
    local_id = done.stderr.split("recorded as run ")[1].split()[0]
    not_coordinated = lfg(fleet, "resume", local_id, "--broker", fleet.url, "--json")
    assert not_coordinated.returncode == 2 and "not coordinated on a broker" in not_coordinated.stderr

    Redis.from_url(fleet.url).xtrim(f"lfg:run:{run_id}:events", maxlen=1)
    trimmed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json")
    assert trimmed.returncode == 2 and "trimmed" in trimmed.stderr
    refused_in_terminal(fleet, "trimmed", "resume", run_id, "--broker", fleet.url)
    assert exported(fleet, run_id) == before, "nothing changed"


def refused_in_terminal(fleet: Fleet, why: str, *args: str, config: Path | None = None) -> None:
    """`lfg ARGS` in a terminal, where it would open the TUI, says `why` and exits 2 before it does."""
    terminal = Terminal()
    command = [sys.executable, "-m", "lfgtui", *args, "--config", str(config or fleet.config(STEADY))]
    process = terminal.start(command, fleet.lfg.env)
    try:
        terminal.wait_for(why.encode(), timeout=60)
        assert process.wait(timeout=30 * PATIENCE) == 2, terminal.output.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10 * PATIENCE)
        terminal.hang_up()
    assert b"\x1b[?1049h" not in terminal.output, "the TUI never opened"


LONG = '[[ticket]]\nid = "long"\nprompt = "go"\nprovider = "sim"\n'
LONG += 'model = "long-answer:tokens_per_s=40,repeat=3"\n'


def test_an_attempt_still_streaming_on_its_worker_is_followed_to_its_end_not_run_again(fleet: Fleet) -> None:
    fleet.start("w1")
    tickets = fleet.lfg.tickets(LONG)
    run_id, seen = killed_mid_stream(fleet, tickets, lambda seen: len(of(seen, "long", "text")) >= 5)
    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "(attempt 1): completed" in fleet.said("w1") and fleet.said("w1").count("took long") == 1
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert ends(events) == {("long", 1): "completed"}
    (attempt,) = exported(fleet, run_id)["long"]
    assert attempt["outcome"] == "completed"
    whole = text_of(attempt)
    assert whole == "".join(e["text"] for e in of(events, "long", "text"))
    assert whole.startswith("".join(e["text"] for e in of(seen, "long", "text")))
    assert len(whole) > len("".join(e["text"] for e in of(seen, "long", "text")))


def test_a_ticket_taken_over_while_its_coordinator_was_away_is_recorded_as_both_attempts(
    fleet: Fleet,
) -> None:
    lapsing = fleet.config(LEASE, "lease.toml")
    first = fleet.start("w1", config=lapsing)
    tickets = fleet.lfg.tickets(LONG)
    run_id, _ = killed_mid_stream(fleet, tickets, lambda seen: len(of(seen, "long", "text")) >= 5)
    first.send_signal(signal.SIGKILL)  # its worker dies too: another takes the ticket over as attempt 2
    fleet.start("w2", config=lapsing)
    until(lambda: f"long of run {run_id} (attempt 2): completed" in fleet.said("w2"))
    before = exported(fleet, run_id)["long"]
    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json")
    assert resumed.returncode == 0, resumed.stderr
    after = exported(fleet, run_id)["long"]
    assert [(a["number"], a["outcome"]) for a in after] == [(1, "interrupted"), (2, "completed")]
    assert after[0]["id"] == before[0]["id"]
    assert "took the ticket over as attempt 2" in after[0]["error_message"], "not lfg's interruption"
    assert fleet.said("w2").count("took over long") == 1


AFTER = LONG + '\n[[ticket]]\nid = "quick"\nprompt = "hi"\nprovider = "sim"\nmodel = "hello"\n'
AFTER += '\n[[ticket]]\nid = "after"\nprompt = "sum up"\nprovider = "sim"\nmodel = "hello"\n'
AFTER += 'depends_on = ["long"]\n'


@contextlib.asynccontextmanager
async def resumed_in_tui(fleet: Fleet, run_id: str) -> AsyncIterator[tuple[LfgApp, Pilot[None]]]:
    """`lfg resume RUN --broker URL` in this process, as it opens the TUI: the run picked up by the
    command's own `picked_up` and `PickedUp`, the app through Pilot, the run published while it runs."""
    db = fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3"  # where its lfg processes record
    config = fleet.config(STEADY)
    args = build_parser().parse_args(
        ["resume", run_id, "--broker", fleet.url, "--config", str(config), "--db", str(db)]
    )
    found = find_recorded(args.run_id, args.config, args.db, whole_run=True)
    assert not isinstance(found, str), found
    config, db, recorded = found
    async with picked_up(args, config, db, recorded) as picked:
        services = picked.options.services(picked.providers, db, False, config.ui.keymap)
        controller = picked.controller(services, config)
        assert controller.run is not None and picked.history is not None
        controller.run.record(picked.history)
        async with picked.served(lambda _: None)(controller.run):
            app = LfgApp(controller.services, controller)
            async with app.run_test(size=(140, 40)) as pilot:
                yield app, pilot


async def test_a_killed_coordinator_is_picked_up_in_the_tui_its_panes_restored_and_streaming_on(
    fleet: Fleet,
) -> None:
    fleet.start("w1", "--max-concurrency", "2")
    tickets = fleet.lfg.tickets(AFTER)
    run_id, seen = killed_mid_stream(
        fleet, tickets, lambda seen: ("quick", 1) in ends(seen) and len(of(seen, "long", "text")) >= 5
    )
    streamed = "".join(e["text"] for e in of(seen, "long", "text"))
    before = exported(fleet, run_id)
    async with resumed_in_tui(fleet, run_id) as (app, pilot):
        panes = app.controller.panes
        assert "Hello" in panes["quick"].body.source, "a pane restored from the history at once"
        assert panes["quick"].finished and not panes["after"].finished
        long = panes["long"].body
        await until_shown(pilot, lambda: inert(streamed) in long.source)
        await until_shown(pilot, lambda: all(pane.finished for pane in panes.values()), "the run completes")
        assert long.source.startswith(inert(streamed)) and len(long.source) > len(inert(streamed)), (
            "the rest came in after what streamed before the coordinator died (live, or from the broker "
            "if the attempt ended before the TUI opened: a loaded machine decides which)"
        )
        assert app.controller.run is not None
        assert {t: s.outcome for t, s in app.controller.run.states.items()} == dict.fromkeys(
            ("long", "quick", "after"), Outcome.COMPLETED
        )
        shown_text = long.source
        requests = app.controller.book.attempts["long", 1].requests
        assert len(requests) == 1, "its metrics count the attempt once, restored or streamed"
        run_screen = app.screen
        await pilot.press("F")
        await until_shown(pilot, lambda: isinstance(app.screen, FleetScreen), "the fleet view opens")
        fleet_view = app.screen
        assert isinstance(fleet_view, FleetScreen)
        await until_shown(pilot, lambda: run_id in {run.run_id for run in fleet_view.shown}, "its run listed")
        await pilot.press("escape")
        await until_shown(pilot, lambda: app.screen is run_screen, "back on the run")
        quick = panes["quick"]
        await pilot.press("tab")
        assert app.controller.screen.focused_pane is quick
        await pilot.press("i")
        assert isinstance(app.screen, FollowUpScreen), "a ticket restored from the history follows up"
        await pilot.press(*keys("once more"), "enter")
        await until_shown(pilot, lambda: quick.attempt == 2 and quick.finished, "the follow-up on a worker")
        assert quick.state is PaneState.COMPLETED and "> once more" in quick.body.source
        await pilot.press("N")  # the picked-up run takes new work, under its recorded [defaults]
        assert isinstance(app.screen, NewTicketScreen), "a picked-up run takes new tickets"
        for name, value in (("prompt", "hi"), ("model", "hello")):
            app.screen.query_one(f"#new-ticket-{name}", Input).value = value
        app.screen.query_one("#new-ticket-prompt", Input).focus()
        await pilot.press("enter")
        await until_shown(pilot, lambda: "added-1" in panes, "the added ticket's pane")
        await until_shown(pilot, lambda: panes["added-1"].state is PaneState.COMPLETED, "it ran on a worker")
    after = exported(fleet, run_id)
    assert {t: [(a["number"], a["outcome"]) for a in after[t]] for t in after} == {
        "long": [(1, "completed")],
        "quick": [(1, "completed"), (2, "completed")],
        "after": [(1, "completed")],
        "added-1": [(1, "completed")],
    }, "each attempt once, none left interrupted"
    assert fleet.said("w1").count("took added-1") == 1, "the added ticket ran on the worker"
    assert after["long"][0]["id"] == before["long"][0]["id"] and after["quick"][0] == before["quick"][0]
    assert fleet.said("w1").count("took quick") == 2, "the follow-up ran on the worker"
    whole = text_of(after["long"][0])
    assert whole.startswith(streamed) and len(whole) > len(streamed)
    assert shown_text.rstrip() == inert(whole).rstrip(), "the whole answer once: the earlier text not twice"
    assert fleet.said("w1").count("took long") == 1, "adopted, not run again"


async def until_shown(
    pilot: Pilot[None], check: Callable[[], bool], what: str = "", timeout: float = 30
) -> None:
    try:
        await pilot_support.until(pilot, check, timeout)
    except TimeoutError:
        pytest.fail(f"timed out: {what}")


WRITER = (
    '[[ticket]]\nid = "w"\nprompt = "write"\nprovider = "sim"\nmodel = "writer"\ntools = ["write_file"]\n'
)


async def test_an_approval_asked_before_the_coordinator_died_is_answered_with_a_key_in_the_tui(
    fleet: Fleet,
) -> None:
    fleet.start("w1")
    tickets = fleet.lfg.tickets(WRITER)
    served = ("--serve", "127.0.0.1:0", "--control")  # someone can answer: its worker asks
    run_id, _ = killed_mid_stream(fleet, tickets, lambda seen: bool(of(seen, "w", "approval")), *served)
    async with resumed_in_tui(fleet, run_id) as (app, pilot):
        pane = app.controller.panes["w"]
        await until_shown(pilot, lambda: pane.state is PaneState.APPROVAL, "the question, from the broker")
        assert app.controller.screen.focused_pane is pane
        await pilot.press("y")  # the file in full first, then approved
        await until_shown(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the whole request")
        await pilot.press("y")
        await until_shown(pilot, lambda: pane.finished, "the worker goes on")
        assert pane.state is PaneState.COMPLETED
    assert (fleet.lfg.workdir / "notes" / "summary.md").exists(), "allowed: written on its worker"
    assert [(a["number"], a["outcome"]) for a in exported(fleet, run_id)["w"]] == [(1, "completed")]


def following_up(
    fleet: Fleet, tickets: Path, config: Path | None = None
) -> tuple[str, subprocess.Popen[str]]:
    """tests/support/follow_up_coordinator.py on `tickets`, recording where `lfg resume` looks: its run
    id once it started, and the process (a line on its stdin sends the follow-up of `t`)."""
    db = fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    config = config or fleet.config(LEASE)
    args = [fleet.url, str(tickets), str(config), str(db), "t", "And then?"]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.follow_up_coordinator", *args],
        env=fleet.lfg.env,
        cwd=Path(__file__).parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process.stdout.readline().strip(), process


def read_until(process: subprocess.Popen[str], line: str) -> None:
    assert process.stdout is not None
    while (said := process.stdout.readline()) != f"{line}\n":
        assert said, f"the coordinator ended before it said {line!r}"


def send_follow_up(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.flush()


def streaming_follow_up(process: subprocess.Popen[str]) -> None:
    """Once `t` completed, its follow-up sent; back when the follow-up's answer streams on its worker."""
    read_until(process, "AttemptEnded t 1")
    send_follow_up(process)
    read_until(process, "TextDelta t 2")


def killed(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(30 * PATIENCE)


def work_items(fleet: Fleet) -> list[WorkItem]:
    """Each ticket's latest work entry, as the runs' work indexes keep them (a stream forgets an entry
    once its attempt ended)."""
    broker = Redis.from_url(fleet.url)
    indexed = [json.loads(v) for key in broker.scan_iter("lfg:run:*:work") for v in broker.hvals(key)]
    return sorted((WorkItem.read({b"data": i["data"].encode()}) for i in indexed), key=lambda i: i.attempt)


def never_enqueued(broker: Redis, run_id: str, before: bytes) -> None:
    """As if the coordinator died before it enqueued `t`'s latest attempt: its entry gone from its
    stream, and the run's work index holding the entry before it (`before`) again."""
    index = f"lfg:run:{run_id}:work"
    latest = json.loads(broker.hget(index, "t"))
    broker.xdel(latest["stream"], latest["entry"])
    broker.hset(index, "t", before)


SLOW_WRITER = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "writer:tokens_per_s=20"\n'


async def test_a_follow_up_running_on_its_worker_when_its_coordinator_died_is_adopted_with_its_conversation(
    fleet: Fleet,
) -> None:
    fleet.start("w1", config=fleet.config(STEADY, "steady.toml"))
    run_id, coordinator = following_up(fleet, fleet.lfg.tickets(SLOW_WRITER))
    try:
        streaming_follow_up(coordinator)
    finally:
        killed(coordinator)
    async with resumed_in_tui(fleet, run_id) as (app, pilot):
        run = app.controller.run
        assert run is not None
        state = run.states["t"]
        # completed, and its attempt wound up (`running` lasts a moment past the end's event)
        await until_shown(pilot, lambda: state.attempt == 2 and run.can_continue("t"))
        assert state.outcome is Outcome.COMPLETED
        adopted = state.conversation
        assert run.continue_with("t", "And after that?")
        await until_shown(pilot, lambda: state.attempt == 3 and state.outcome is Outcome.COMPLETED)
    with Store.open(fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3") as store:
        (ticket,) = recorded_run(store.load(store.resolve(run_id))).tickets
    assert [(a.number, a.outcome, a.continues) for a in ticket.attempts] == [
        (1, Outcome.COMPLETED, None),
        (2, Outcome.COMPLETED, 1),
        (3, Outcome.COMPLETED, 2),
    ]
    assert adopted == ticket.conversation(2) and adopted[0] == UserMessage("go"), "with the earlier one"
    *_, third = work_items(fleet)
    assert (third.attempt, third.follow_up, third.continues) == (3, "And after that?", 2)
    assert third.base == ticket.conversation(2), "the later follow-up sent the whole conversation"
    assert fleet.said("w1").count("took t of run") == 3, "the follow-up adopted, not run again"


def test_a_follow_up_its_coordinator_died_before_any_worker_had_is_not_sent_as_the_first_prompt(
    fleet: Fleet,
) -> None:
    first = fleet.start("w1", config=fleet.config(STEADY, "steady.toml"))
    tickets = fleet.lfg.tickets('[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n')
    run_id, coordinator = following_up(fleet, tickets)
    broker = Redis.from_url(fleet.url)
    try:
        read_until(coordinator, "AttemptEnded t 1")
        until(lambda: not broker.xpending("lfg:work:sim", "workers")["pending"])
        before = broker.hget(f"lfg:run:{run_id}:work", "t")
        first.send_signal(signal.SIGTERM)  # no worker takes the follow-up
        first.wait(15 * PATIENCE)
        send_follow_up(coordinator)
        until(
            lambda: [i.attempt for i in work_items(fleet)] == [2] and len(exported(fleet, run_id)["t"]) == 2
        )
    finally:
        killed(coordinator)
    never_enqueued(broker, run_id, before)  # its text is nowhere
    fleet.start("w2", config=fleet.config(STEADY, "steady.toml"))

    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json")
    assert "t: its follow-up (attempt 2) was never sent to a worker" in resumed.stderr, resumed.stderr
    attempts = exported(fleet, run_id)["t"]
    assert [(a["number"], a["outcome"]) for a in attempts] == [(1, "completed"), (2, "interrupted")]
    assert "took t" not in fleet.said("w2"), "the ticket's first prompt was not sent in its place"
    assert [item.attempt for item in work_items(fleet)] == [1]


def test_a_follow_up_whose_work_entry_is_gone_is_enqueued_again_as_the_history_recorded_it(
    fleet: Fleet,
) -> None:
    fleet.start("w1", config=fleet.config(STEADY, "steady.toml"))
    # the follow-up streams for ~8 s: still streaming once the coordinator's writer recorded its
    # prompt (a flush later), read from the file in this process, not by a command that has to start
    run_id, coordinator = following_up(fleet, fleet.lfg.tickets(SLOW_WRITER.replace("=20", "=2,repeat=2")))
    broker = Redis.from_url(fleet.url)
    try:
        read_until(coordinator, "AttemptEnded t 1")
        before = broker.hget(f"lfg:run:{run_id}:work", "t")
        send_follow_up(coordinator)
        read_until(coordinator, "TextDelta t 2")
        until(lambda: "prompt" in recorded_kinds(fleet, run_id, attempt=2))
    finally:
        killed(coordinator)
    never_enqueued(broker, run_id, before)  # what the attempt asked is the history's alone

    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json")
    assert resumed.returncode == 0, resumed.stderr
    with Store.open(fleet.lfg.home / "data" / "lfgtui" / "history.sqlite3") as store:
        (ticket,) = recorded_run(store.load(store.resolve(run_id))).tickets
    *_, again = work_items(fleet)
    assert (again.attempt, again.follow_up, again.continues) == (2, "And then?", 1), "not the first prompt"
    assert again.base == ticket.conversation(1) and again.base[0] == UserMessage("go")


def test_a_coding_agents_follow_up_on_its_workers_own_stream_when_its_coordinator_died_is_adopted(
    fleet: Fleet,
) -> None:
    """A coding agent's follow-up goes on the stream of the worker that has its session, not its
    provider's: the resumed coordinator finds it there and adopts it rather than sending it again."""
    fleet.start("w1", config=agent_config(fleet, "w1"))
    slow = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "agent"\n'
    slow += 'model = "long-answer:tokens_per_s=20,repeat=2"\n'  # two answers of ~5 s: streaming when killed
    run_id, coordinator = following_up(
        fleet, fleet.lfg.tickets(slow), fleet.config(COORDINATOR_AGENT, "c.toml")
    )
    try:
        streaming_follow_up(coordinator)
    finally:
        killed(coordinator)
    resumed = lfg(
        fleet,
        "resume",
        run_id,
        "--broker",
        fleet.url,
        "--json",
        config=fleet.config(COORDINATOR_AGENT, "c.toml"),
    )
    assert resumed.returncode == 0, resumed.stderr
    attempts = exported(fleet, run_id)["t"]
    assert [(a["number"], a["outcome"]) for a in attempts] == [(1, "completed"), (2, "completed")]
    assert fleet.said("w1").count("took t of run") == 2, "the follow-up adopted, not run again"


@pytest.mark.timeout(300)  # a lapse of w1's presence (three of its leases), two workers' warm-ups
def test_a_follow_up_adopted_on_the_own_stream_of_a_worker_gone_since_moves_to_another_worker(
    fleet: Fleet,
) -> None:
    """A resumed coordinator tracks the entries it adopts as it tracks those it enqueues: a coding
    agent's follow-up left on the own stream of a worker that died while no coordinator ran is taken
    back once that worker's presence lapsed, and runs on another worker. Before, the resumed run
    never looked at an adopted entry and waited for it forever. w1's lease is long, so that its
    presence cannot lapse while the first coordinator runs however slow the machine (that coordinator
    would take the entry back itself); the test lapses it once that coordinator is gone."""
    first = fleet.start("w1", config=agent_config(fleet, "w1", LONG_LEASE))
    coordinating = fleet.config(COORDINATOR_AGENT, "c.toml")
    tickets = fleet.lfg.tickets(AGENT_TICKET.replace('id = "a"', 'id = "t"'))
    run_id, coordinator = following_up(fleet, tickets, coordinating)
    broker = Redis.from_url(fleet.url)
    own = "lfg:worker:w1:work"
    try:
        read_until(coordinator, "AttemptEnded t 1")
        until(lambda: not broker.xpending("lfg:work:agent", "workers")["pending"])
        first.send_signal(signal.SIGKILL)  # no goodbye: its presence lingers for three of its leases
        first.wait(15 * PATIENCE)
        send_follow_up(coordinator)  # to w1, which seems here still: it has the agent's session
        read_until(coordinator, "AttemptQueued t 2")
        until(lambda: len(exported(fleet, run_id)["t"]) == 2)
    finally:
        killed(coordinator)
    assert json.loads(broker.hget(f"lfg:run:{run_id}:work", "t"))["stream"] == own
    assert broker.xlen(own) == 1, "left on w1's own stream, which nobody reads now"
    broker.zadd("lfg:workers", {"w1": 0})  # its presence lapsed, as it does three leases after its last
    fleet.start("w2", config=agent_config(fleet, "w2"))
    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json", config=coordinating)
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    said = [e["message"] for e in of(events, "t", "status") if e["attempt"] == 2]
    assert (
        "worker w1, which ran attempt 1 and has its agent's session, left the broker before it took this "
        "follow-up: this follow-up starts a new agent session on any worker, told the earlier conversation"
    ) in said, said
    assert ran_on(events, "t") == {"w2"}
    assert ends(events) == {("t", 2): "completed"}
    assert [(e["attempt"], e["continues"]) for e in of(events, "t", "prompt")] == [(2, 1)], "the same attempt"
    attempts = exported(fleet, run_id)["t"]
    assert [(a["number"], a["outcome"]) for a in attempts] == [(1, "completed"), (2, "completed")]
    assert broker.xlen(own) == 0 and "(attempt 2)" not in fleet.said("w1")


@pytest.mark.timeout(300)
def test_an_adopted_work_entry_the_broker_lost_is_enqueued_again_not_waited_for_forever(
    fleet: Fleet, admin: Redis
) -> None:
    """A resumed coordinator looks whether each entry it adopted is still on its stream, as it looks
    at those it enqueues: one the broker lost (no worker had it) is declared lost once gone for a
    lease, and the ticket runs as the next attempt. Before, the resumed run waited for it forever."""
    fleet.start("w1")  # runs a (sim), so the run has events; no worker serves t's provider yet
    toml = '[[ticket]]\nid = "a"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'
    toml += AGENT_TICKET.replace('id = "a"', 'id = "t"')
    coordinator = coordinate(fleet, fleet.lfg.tickets(toml), config=fleet.config(COORDINATOR_AGENT, "c.toml"))
    assert coordinator.stdout is not None and coordinator.stderr is not None
    seen: list[dict[str, Any]] = []
    try:
        for line in coordinator.stdout:
            seen.append(json.loads(line))
            if ("a", 1) in ends(seen) and of(seen, "t", "attempt_queued"):
                break
    finally:
        killed(coordinator)
    run_id = coordinator.stderr.read().split(f"lfg attach {fleet.url} ")[1].split()[0]
    (entry,) = [entry for entry, _ in admin.xrange("lfg:work:agent")]
    assert json.loads(admin.hget(f"lfg:run:{run_id}:work", "t"))["entry"] == entry.decode()
    admin.xdel("lfg:work:agent", entry)  # lost, as a broker restarted without persistence loses it
    fleet.start("w2", config=agent_config(fleet, "w2"))
    config = fleet.config(LEASE + agent_provider([sys.executable]), "lease.toml")
    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json", config=config)
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert {k: v for k, v in ends(events).items() if k[0] == "t"} == {
        ("t", 1): "interrupted",
        ("t", 2): "completed",
    }
    (lost,) = [e["error"]["message"] for e in of(events, "t", "attempt_ended") if e["attempt"] == 1]
    assert lost.startswith(f"the broker lost this attempt's work entry {entry.decode()} before a worker")
    assert fleet.said("w2").count("took t of run") == 1


@pytest.mark.timeout(300)
def test_a_follow_up_adopted_while_running_on_a_worker_that_then_died_runs_again_elsewhere(
    fleet: Fleet,
) -> None:
    """An adopted follow-up that its worker was running when the coordinator died, on that worker's
    own stream, is given up once the worker is gone and its lease lapsed, as one the run enqueued:
    ended `interrupted`, and run again as the next attempt on another worker. Before, the resumed run
    waited for it forever."""
    first = fleet.start("w1", config=agent_config(fleet, "w1", LEASE))
    slow = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "agent"\n'
    slow += 'model = "long-answer:tokens_per_s=20,repeat=4"\n'  # ~10 s an answer: running when killed
    coordinating = fleet.config(COORDINATOR_AGENT, "c.toml")
    run_id, coordinator = following_up(fleet, fleet.lfg.tickets(slow), coordinating)
    try:
        streaming_follow_up(coordinator)
    finally:
        killed(coordinator)
    first.send_signal(signal.SIGKILL)  # mid-follow-up, while no coordinator runs
    first.wait(15 * PATIENCE)
    fleet.start("w2", config=agent_config(fleet, "w2", LEASE))
    config = fleet.config(LEASE + agent_provider([sys.executable]), "lease.toml")
    resumed = lfg(fleet, "resume", run_id, "--broker", fleet.url, "--json", config=config)
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert ends(events) == {("t", 2): "interrupted", ("t", 3): "completed"}
    (why,) = [e["error"]["message"] for e in of(events, "t", "attempt_ended") if e["attempt"] == 2]
    assert why == (
        "its worker w1 left the broker (killed, paused, or cut off from it) and stopped renewing its lease, "
        "and nobody else reads that worker's own stream: enqueued again as attempt 3"
    )
    assert ran_on(events, "t") == {"w1", "w2"}
    attempts = exported(fleet, run_id)["t"]
    assert [(a["number"], a["outcome"]) for a in attempts] == [
        (1, "completed"),
        (2, "interrupted"),
        (3, "completed"),
    ]
    assert f"took t of run {run_id} (attempt 3)" in fleet.said("w2")
