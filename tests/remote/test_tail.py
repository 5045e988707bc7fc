"""`lfg serve RUN_ID` on a run still recording: each attempt's events as `replay_events` gives them once
the run is over, each once, published while it runs; a killed runner ends the stream."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    ErrorInfo,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    Retrying,
    Status,
    SubagentChanged,
    SubagentDelta,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.history.recorded import replay_events
from lfgtui.history.recorder import Item, Started
from lfgtui.history.recovery import INTERRUPTED_STATUS
from lfgtui.remote.attach import Attachment
from lfgtui.remote.tail import RunTail
from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE
from tests.support.recording import WALL, Clock, load_recorded, record, sample_attempt, ticket
from tests.support.remote import identities, read_stream
from tests.support.serving import TOKEN, Tailed, tailing

Attempts = dict[tuple[str, int], list[Event]]


def by_attempt(events: list[Event]) -> Attempts:
    """Each attempt's events in the order they came: what a watcher's panes are made of."""
    attempts: Attempts = {}
    for event in events:
        attempts.setdefault((event.ticket, event.attempt), []).append(event)
    return attempts


def anthropic_attempt(ticket_id: str) -> list[Item]:
    """Counts reported when each call starts and again when it ends (as Anthropic's stream does), a
    sub-agent's words amid the answer's, a streamed tool call that runs for 3 s, and a call that
    drops after its first count and is sent again; t0 = 100 s."""
    clock = Clock()
    ev = EventFactory(ticket_id, 1, clock=clock)
    items: list[Item] = []

    def at(t: float, event_type: type[Event], **fields: object) -> None:
        clock.now = 100.0 + t
        items.append(ev(event_type, **fields))

    at(0.0, AttemptStarted, provider="sim-anthropic", model="agent-demo")
    started = items.pop()
    assert isinstance(started, AttemptStarted)
    items.append(Started(started, WALL))
    at(0.06, PromptSent, text="What is this project?")
    at(0.07, RequestSent, call=0)
    at(0.2, Usage, input_tokens=50)
    for i in range(4):
        at(0.3 + i / 100, ReasoningDelta, text=f"think {i} ")
    at(0.35, SubagentChanged, message="sub-agent started: Skim", child="k1", task="Skim", state="running")
    for i in range(6):
        at(0.4 + i / 100, TextDelta, text=f"word {i} ")
        at(0.405 + i / 100, SubagentDelta, child="k1", text=f"skim {i} ")  # a background child's words
    at(0.5, ToolCallStarted, call_id="c1", name="list_dir")
    at(0.51, ToolCallArgsDelta, call_id="c1", fragment='{"path": ')
    at(0.52, ToolCallArgsDelta, call_id="c1", fragment='"."}')
    raw = '{"path":"."}'  # what a call ended with may be written otherwise than it streamed
    at(0.53, ToolCallReady, call_id="c1", name="list_dir", arguments={"path": "."}, raw_arguments=raw)
    at(0.54, Usage, input_tokens=50, output_tokens=30)
    at(0.55, CallEnded, stop_reason="tool_use")
    at(3.6, ToolResult, call_id="c1", output="README.md\nsrc/")
    at(3.7, RequestSent, call=1)
    at(3.8, Usage, input_tokens=80)
    at(3.9, TextDelta, text="It is ")
    error = ErrorInfo(ErrorKind.CONNECTION, "the stream ended before the model finished")
    at(4.0, Retrying, message="retrying in 0.1 s", error=error, retry=1, max_retries=2, delay_s=0.1)
    at(4.1, RequestSent, call=1)
    at(4.2, Usage, input_tokens=80)
    for i in range(5):
        at(4.3 + i / 100, TextDelta, text=f"a widget {i}. ")
    at(4.4, Usage, input_tokens=80, output_tokens=12)
    at(4.45, CallEnded, stop_reason="stop")
    at(4.5, AttemptEnded, outcome=Outcome.COMPLETED)
    return items


def later(items: list[Item], seconds: float) -> list[Item]:
    """The same attempt, started `seconds` later."""
    return [
        Started(dataclasses.replace(item.event, t=item.event.t + seconds), item.wall + seconds)
        if isinstance(item, Started)
        else dataclasses.replace(item, t=item.t + seconds)
        for item in items
    ]


def a_run() -> list[Item]:
    """Four attempts: two at once; a third while the second's tool runs, more than a second after
    the first ended (no pause: the second was running); a fourth after a pause (replay shortens it)."""
    attempts = sample_attempt("explore") + anthropic_attempt("claude") + later(sample_attempt("mid"), 2.5)
    attempts.sort(key=lambda item: (item.event if isinstance(item, Started) else item).t)
    return attempts + later(sample_attempt("last"), 30)


def splits(items: list[Item]) -> Iterator[tuple[str, list[list[Item]]]]:
    yield "one batch", [items]
    yield "one event per batch", [[item] for item in items]
    rng = random.Random(7)
    for n in range(3):
        cuts = sorted(rng.sample(range(1, len(items)), 12))
        yield (
            f"random batches {n}",
            [items[a:b] for a, b in zip([0, *cuts], [*cuts, len(items)], strict=True)],
        )


@pytest.mark.parametrize(("name", "batches"), list(splits(a_run())))
def test_what_is_read_after_each_batch_adds_up_to_the_finished_run(
    tmp_path: Path, name: str, batches: list[list[Item]]
) -> None:
    db = tmp_path / "h.sqlite3"
    tickets = tuple(ticket(ticket_id) for ticket_id in ("explore", "claude", "mid", "last"))
    recorder = record(db, tmp_path, tickets=tickets)
    tail = RunTail.open(db, recorder.run_id)
    published: list[Event] = []
    for batch in batches:
        recorder.write(batch)
        events, crashed = tail.catch_up(alive=True)
        assert not crashed
        published += events
        (item,) = batch if name == "one event per batch" else [None]
        if isinstance(item, TextDelta | ReasoningDelta):
            read = [(type(e), e.ticket, e.text) for e in events if isinstance(e, TextDelta | ReasoningDelta)]
            assert read == [(type(item), item.ticket, item.text)], "streamed text is read as it is written"
    recorder.finish()
    events, crashed = tail.catch_up(alive=False)
    published += events
    tail.store.close()
    assert not crashed
    final = replay_events(load_recorded(db, recorder.run_id))
    assert by_attempt(published) == by_attempt(final), "each attempt's events, in order, each once"
    said = [e.text for e in by_attempt(final)[("claude", 1)] if isinstance(e, SubagentDelta)]
    assert said == [f"skim {i} " for i in range(6)], "a sub-agent's words, each delta at its place"
    assert by_attempt(final)[("mid", 1)][0].t == pytest.approx(2.5), "no pause while one ran"
    assert by_attempt(final)[("last", 1)][0].t == pytest.approx(4.5 + 1), "a pause lasts a second"

    whole = RunTail.open(db, recorder.run_id)
    assert whole.catch_up(alive=False) == (final, False), "a finished run is read whole, as replay_events"
    whole.store.close()


def identity(event: Event) -> tuple[str, int, int]:
    return event.ticket, event.attempt, event.seq


STORY = """
[[ticket]]
id = "story"
prompt = "Tell it."
model = "long-answer:tokens_per_s=250,repeat=2"

[[ticket]]
id = "claude"
provider = "sim-anthropic"
prompt = "What is this project?"
model = "{agent}"
tools = ["list_dir", "read_file"]

[[ticket]]
id = "after"
provider = "sim-responses"
prompt = "Summarise: {{{{ outputs.claude }}}}"
model = "hello"
depends_on = ["claude"]
"""
SLOW_AGENT = """
ttft_ms = 50
tokens_per_s = 80

[[call]]
reasoning = "Look at the files first, then read the README to see what it is about."
text = '''Let me look around the folder before I answer, one file at a time, to be sure of what I say.
I will list the folder first, then read the README, then tell you what this project is and does, in
a few words, with nothing made up and nothing left out that matters to someone new to it.'''
[[call.tool_call]]
name = "list_dir"
arguments = { path = "." }

[[call]]
[[call.tool_call]]
name = "read_file"
arguments = { path = "README.md" }

[[call]]
text = "## Widget\\nIt renders **widgets** for dashboards, small and large, as fast as it can."
"""


@contextlib.contextmanager
def running(lfg: Lfg, tickets: Path, db: Path) -> Iterator[subprocess.Popen[str]]:
    """`lfg run --json` recording into `db`, in its own process (killed if the test leaves early)."""
    args = lfg.args(tickets, "--json", "--yes", "--db", str(db))
    process = warm_lfg.popen(args, env=lfg.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.kill()
        process.wait(10 * PATIENCE)
        if process.stderr is not None:
            process.stderr.close()


def recorded_run_id(db: Path) -> str | None:
    """The id of the run the file records, once it does."""
    if not db.exists():
        return None
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            row = conn.execute("SELECT id FROM runs").fetchone()
        except sqlite3.OperationalError:  # not made yet
            return None
    return None if row is None else str(row[0])


async def run_id_of(db: Path) -> str:
    async with asyncio.timeout(60 * PATIENCE):
        while (run_id := await asyncio.to_thread(recorded_run_id, db)) is None:
            await asyncio.sleep(0.02)
    return run_id


async def test_a_running_run_is_served_as_it_is_recorded_and_ends_as_recorded(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    agent = lfg.scenario("slow-agent", SLOW_AGENT)
    tickets = lfg.tickets('[defaults]\nprovider = "sim"\n' + STORY.format(agent=agent))
    db = tmp_path / "h.sqlite3"
    with running(lfg, tickets, db) as process:
        run_id = await run_id_of(db)
        async with tailing(db, run_id) as tailed:
            attachment = Attachment(tailed.url, TOKEN)
            assert (await attachment.describe()).run_id == run_id
            watched: list[tuple[Event, bool]] = []
            states: list[str] = []
            follow = attachment.follow(lambda e: watched.append((e, process.poll() is None)), states.append)
            watching = asyncio.create_task(follow)
            async with asyncio.timeout(60 * PATIENCE):  # the runner may take long to start on a busy machine
                while len(tailed.batches) < 3:
                    await asyncio.sleep(0.02)
            before, last_id, _ = await read_stream(tailed, messages=3)  # type: ignore[arg-type]
            await asyncio.wait_for(watching, 60 * PATIENCE)
            after, _, kinds = await read_stream(tailed, last_id)  # type: ignore[arg-type]
            await attachment.aclose()
            assert process.wait(30 * PATIENCE) == 0, process.stderr.read() if process.stderr else ""
    final = replay_events(load_recorded(db, run_id))
    published = tailed.published
    assert by_attempt(published) == by_attempt(final), "each attempt's events, in order, each once"
    assert len(published) == len(final)
    assert identities(before + after) == identities(published), (
        "resumed with Last-Event-ID: none lost or twice"
    )
    assert kinds[0] == "hello" and kinds[-1] == "end" and len(before) < len(published)

    events = [event for event, _ in watched]
    assert [identity(e) for e in events] == [identity(e) for e in published], "the watcher got it all"
    assert any(alive for _, alive in watched), "it came while the run ran"
    assert states[0] == "live" and states[-1] == "ended"
    assert tailed.said[0].endswith("is still running: its events are served as its history records them")
    assert tailed.said[-1] == f"run {run_id} has ended"
    first_call_streamed_live(tailed)


async def test_lfg_serve_follows_a_run_that_another_lfg_runs_until_it_ends(tmp_path: Path) -> None:
    """Its watchers see the run's events, and its costs: `lfg serve` prices the run with the config
    it was run with, as that lfg did."""
    lfg = Lfg(tmp_path)
    lfg.config.write_text("[providers.sim]\nprices = { input_per_mtok = 2.5, output_per_mtok = 10.0 }\n")
    tickets = lfg.tickets(
        '[[ticket]]\nid = "story"\nprovider = "sim"\nprompt = "Tell it."\n'
        'model = "long-answer:tokens_per_s=150,repeat=5"\n'
    )
    db = tmp_path / "h.sqlite3"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    with running(lfg, tickets, db) as process:
        run_id = await run_id_of(db)
        await asyncio.sleep(2)  # served a while after it started: its times still count from its start
        command = [
            "serve",
            run_id[:6],
            "--db",
            str(db),
            "--config",
            str(lfg.config),
            "--token-file",
            str(token_file),
        ]
        serve = warm_lfg.popen(
            [sys.executable, "-m", "lfgtui", *command], env=lfg.env, stderr=subprocess.PIPE, text=True
        )
        try:
            assert serve.stderr is not None
            said = [await asyncio.to_thread(serve.stderr.readline) for _ in range(4)]
            url = said[0].split(" at ")[1].split()[0]
            attachment = Attachment(url, TOKEN)
            remote = await attachment.describe()
            assert remote.prices is not None and remote.prices_problem is None
            pricer = remote.prices.pricer("sim", "long-answer:tokens_per_s=150,repeat=5")
            assert pricer is not None and pricer.cost(input_tokens=10**6, output_tokens=10**6) == 12.5
            watched: list[Event] = []
            await asyncio.wait_for(attachment.follow(watched.append, lambda _: None), 60 * PATIENCE)
            await attachment.aclose()
            started = watched[0]
            assert isinstance(started, AttemptStarted)
            # From the run's start, not the serve's 2 s later (its first attempt would be before it), and
            # within those 2 s: a loaded machine may take more than half a second to start the attempt.
            assert 0 <= started.t - attachment.offset < 2, "its times count from the run's start"
            said.append(await asyncio.to_thread(serve.stderr.readline))
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                inbox = (await client.get(f"{url}/v1/inbox", timeout=10 * PATIENCE)).json()
            assert process.wait(30 * PATIENCE) == 0
        finally:
            serve.terminate()
            serve.wait(10 * PATIENCE)
    assert said[1].startswith("lfg: watch it with: lfg attach")
    assert (
        said[2]
        == f"lfg: or open its inbox in a browser: {url}/inbox (it asks for the token in {token_file})\n"
    )
    assert (
        said[3] == f"lfg: run {run_id} is still running: its events are served as its history records them\n"
    )
    assert said[4] == f"lfg: run {run_id} has ended\n"
    assert inbox["ended"] and not inbox["control"], "a recorded run's inbox is read-only"
    assert [(item["ticket"], item["state"]) for item in inbox["unread"]] == [("story", "unread")]
    assert inbox["unread"][0]["answer"] and inbox["needs_you"] == inbox["rest"] == []
    final = replay_events(load_recorded(db, run_id))
    assert [identity(e) for e in watched] == [identity(e) for e in final]
    assert "".join(e.text for e in watched if isinstance(e, TextDelta)) == "".join(
        e.text for e in final if isinstance(e, TextDelta)
    )


def first_call_streamed_live(tailed: Tailed) -> None:
    """The Anthropic ticket's first answer was published in pieces, before that call's counts were
    final: its usage at the start of the call held nothing back."""
    batch_of = {identity(e): n for n, batch in enumerate(tailed.batches) for e in batch}
    claude = by_attempt(tailed.published)[("claude", 1)]
    usage = next(e for e in claude if isinstance(e, Usage))
    text = [e for e in claude if isinstance(e, TextDelta) and e.seq < usage.seq]
    assert len({batch_of[identity(e)] for e in text}) >= 2
    assert batch_of[identity(text[0])] < batch_of[identity(usage)]


HANG = """
ttft_ms = 10
tokens_per_s = 500
[[call]]
text = "Running the slow check."
[[call.tool_call]]
name = "run_command"
arguments = { command = "echo $$ > hang.pid; exec sleep 30" }
[[call]]
text = "Never reached."
"""


async def test_a_killed_runner_ends_the_stream_with_its_attempts_interrupted(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    hang = lfg.scenario("hang-in-tool", HANG)
    tickets = lfg.tickets(
        '[[ticket]]\nid = "story"\nprovider = "sim"\nprompt = "Tell it."\n'
        'model = "long-answer:tokens_per_s=100,repeat=50"\n\n'
        f'[[ticket]]\nid = "tool"\nprovider = "sim"\nprompt = "Check."\nmodel = "{hang}"\n'
        'tools = ["run_command"]\n'
    )
    db = tmp_path / "h.sqlite3"
    try:
        with running(lfg, tickets, db) as process:
            run_id = await run_id_of(db)
            async with tailing(db, run_id) as tailed:
                attachment = Attachment(tailed.url, TOKEN)
                await attachment.describe()
                watched: list[Event] = []
                watching = asyncio.create_task(attachment.follow(watched.append, lambda _: None))
                async with asyncio.timeout(60 * PATIENCE):
                    while not any(isinstance(e, ToolCallReady) for e in watched) or not any(
                        isinstance(e, TextDelta) and e.ticket == "story" for e in watched
                    ):
                        await asyncio.sleep(0.02)
                process.send_signal(signal.SIGKILL)
                await asyncio.wait_for(watching, 30 * PATIENCE)
                await attachment.aclose()
    finally:
        pid_file = lfg.workdir / "hang.pid"
        if pid_file.exists():  # on Linux the command's supervisor has already killed it when lfg died
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert tailed.said[-1] == (
        f"run {run_id} stopped without ending: its lfg was killed or crashed, so its open attempts are "
        "recorded as interrupted"
    )
    final = replay_events(load_recorded(db, run_id))
    assert by_attempt(tailed.published) == by_attempt(final)
    for ticket_id in ("story", "tool"):
        *_, note, end = by_attempt(watched)[(ticket_id, 1)]
        assert isinstance(note, Status) and note.message == INTERRUPTED_STATUS
        assert isinstance(end, AttemptEnded) and end.outcome is Outcome.INTERRUPTED
    result = next(e for e in watched if isinstance(e, ToolResult))
    assert result.is_error and "interrupted" in result.output
