"""`lfg run --headless --json` as a subprocess against sim scenarios: events, order, exit codes."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from lfgtui.config.load import load_config
from lfgtui.sim.scenario import ScenarioLibrary, split_tokens
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support import warm_lfg
from tests.support.lfg import DEMO, Lfg, ending, many_tickets, of, quick_demo, text
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    return Lfg(tmp_path)


def test_a_tool_using_multi_turn_ticket(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        """
        [[ticket]]
        id = "explore"
        prompt = "What is this project?"
        model = "agent-demo"
        tools = ["list_dir", "read_file"]
        """
    )
    code, events, stderr = lfg.run(tickets)
    assert code == 0, stderr
    assert "running offline on the built-in sim provider" in stderr
    calls = of(events, "explore", "tool_call")
    assert [(c["name"], c["arguments"]) for c in calls] == [
        ("list_dir", {"path": "."}),
        ("read_file", {"path": "README.md"}),
    ]
    results = of(events, "explore", "tool_result")
    assert [r["id"] for r in results] == [c["id"] for c in calls]
    assert "README.md" in results[0]["output"] and not results[0]["is_error"]
    assert "A tiny service that renders widgets." in results[1]["output"]
    assert "## What this project is" in text(events, "explore")
    end = ending(events, "explore")
    assert end["outcome"] == "completed" and end["error"] is None
    assert end["ttft_ms"] > 0 and end["tokens_per_s"] > 0 and end["output_tokens"] > 0
    assert of(events, "explore", "reasoning")
    assert all(e["attempt"] == 1 and e["t"] >= 0 for e in events)
    assert events[0]["type"] == "attempt_started" and events[0]["provider"] == "sim"
    usage = of(events, "explore", "usage")
    assert usage and usage[-1]["output_tokens"] > 0


def test_a_newcomers_first_ticket_is_told_it_ran_on_the_sim_and_nothing_is_made_up(lfg: Lfg) -> None:
    """No provider named, no key, no model: the sim's default answer says what it is, quotes the
    prompt, and claims nothing about a project it never looked at (it described a "Widget" served
    with `make serve`, whatever the folder held)."""
    (lfg.workdir / "README.md").write_text("# Ledger\nDouble-entry bookkeeping for small shops.\n")
    tickets = lfg.tickets('[[ticket]]\nid = "first"\nprompt = "What does this project do?\\nBe brief."\n')
    code, events, stderr = lfg.run(tickets)
    assert code == 0, stderr
    assert "running offline on the built-in sim provider" in stderr
    assert of(events, "first", "attempt_started")[0]["model"] == "offline"
    answer = text(events, "first")
    assert "lfg's built-in simulator" in answer and "nothing here is about your project" in answer
    assert "> Be brief." in answer
    assert not of(events, "first", "tool_call")
    for invented in ("Widget", "make serve", "Ledger", "src/"):
        assert invented not in answer


async def test_a_dependency_chain_passes_the_answer_on(lfg: Lfg, sim: SimServer) -> None:
    lfg.config.write_text(f'[providers.local]\nkind = "openai"\nbase_url = "{sim.url}/v1"\n')
    tickets = lfg.tickets(
        """
        [defaults]
        provider = "local"
        model = "hello"

        [[ticket]]
        id = "first"
        prompt = "Say hello."

        [[ticket]]
        id = "second"
        prompt = "Translate this: {{ outputs.first }}"
        depends_on = ["first"]

        [[ticket]]
        id = "third"
        prompt = "Summarise: {{outputs.second}}"
        depends_on = ["second"]
        """
    )
    process = await warm_lfg.create_subprocess_exec(
        *lfg.args(tickets, "--json"), env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60 * PATIENCE)
    events = [json.loads(line) for line in stdout.decode().splitlines()]
    assert process.returncode == 0, stderr.decode()
    order = [(e["ticket"], e["type"]) for e in events if e["type"] in ("attempt_started", "attempt_ended")]
    assert order == [
        (t, kind) for t in ("first", "second", "third") for kind in ("attempt_started", "attempt_ended")
    ]
    hello = text(events, "first")
    prompts = [r.body["messages"][-1]["content"] for r in sim.log]
    assert prompts == ["Say hello.", f"Translate this: {hello}", f"Summarise: {hello}"]


def test_dependents_of_a_failed_ticket_are_skipped(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        """
        [[ticket]]
        id = "broken"
        prompt = "x"
        model = "fault-401"

        [[ticket]]
        id = "after"
        prompt = "y {{ outputs.broken }}"
        depends_on = ["broken"]

        [[ticket]]
        id = "fine"
        prompt = "z"
        model = "hello"
        """
    )
    code, events, _ = lfg.run(tickets)
    assert code == 1
    broken = ending(events, "broken")
    assert broken["outcome"] == "failed"
    assert broken["error"]["kind"] == "auth" and broken["error"]["status"] == 401
    assert ending(events, "after")["outcome"] == "skipped"
    assert not of(events, "after", "attempt_started")
    assert "broken" in of(events, "after", "status")[0]["message"]
    assert ending(events, "fine")["outcome"] == "completed"


def test_eight_slow_tickets_stream_concurrently(lfg: Lfg) -> None:
    model = lfg.scenario(
        "slow-start",  # long enough (about 0.5 s of tokens) that streams overlap on a loaded machine
        'ttft_ms = 500\ntokens_per_s = 100\n[[call]]\ntext = "' + "one two three " * 16 + '"\n',
    )
    tickets = lfg.tickets(
        "".join(f'[[ticket]]\nid = "t{i}"\nprompt = "go"\nmodel = "{model}"\n\n' for i in range(8))
    )
    code, events, stderr = lfg.run(tickets)
    assert code == 0, stderr
    first_text = next(i for i, e in enumerate(events) if e["type"] == "text")
    last_start = max(i for i, e in enumerate(events) if e["type"] == "attempt_started")
    first_end = next(i for i, e in enumerate(events) if e["type"] == "attempt_ended")
    assert last_start < first_text, "every ticket should have started before any token arrived"
    assert len({e["ticket"] for e in events[:first_end] if e["type"] == "text"}) >= 2


def test_max_concurrency_limits_the_tickets_streaming_at_once(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        "".join(f'[[ticket]]\nid = "t{i}"\nprompt = "go"\nmodel = "hello"\n\n' for i in range(4))
    )
    code, events, _ = lfg.run(tickets, "--max-concurrency", "1")
    assert code == 0
    lifecycle = [e["type"] for e in events if e["type"] in ("attempt_started", "attempt_ended")]
    assert lifecycle == ["attempt_started", "attempt_ended"] * 4


def test_risky_tools_are_denied_headless_unless_approved(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        '[[ticket]]\nid = "w"\nprompt = "write"\nmodel = "writer"\ntools = ["write_file", "run_command"]\n'
    )
    code, events, _ = lfg.run(tickets)
    assert code == 0
    results = of(events, "w", "tool_result")
    assert all(
        r["is_error"] and r["output"].startswith("denied:") and "--yes" in r["output"] for r in results
    )
    assert not (lfg.workdir / "notes").exists()

    code, events, _ = lfg.run(tickets, "--yes")
    assert code == 0
    results = of(events, "w", "tool_result")
    assert not any(r["is_error"] for r in results)
    assert (lfg.workdir / "notes" / "summary.md").read_text().startswith("# Summary")
    assert "Written by the lfg writer scenario." in results[1]["output"]


def test_auto_approve_lets_named_tools_run(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        '[[ticket]]\nid = "w"\nprompt = "write"\nmodel = "writer"\n'
        'tools = ["write_file", "run_command"]\nauto_approve = ["write_file"]\n'
    )
    _, events, _ = lfg.run(tickets)
    write, command = of(events, "w", "tool_result")
    assert not write["is_error"]
    assert command["is_error"] and command["output"].startswith("denied:")


def test_unknown_tools_and_bad_arguments_become_error_results(lfg: Lfg) -> None:
    lfg.scenario(
        "confused",
        """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        [[call.tool_call]]
        name = "launch_rockets"
        arguments = { count = 3 }
        [[call.tool_call]]
        name = "read_file"
        arguments_raw = '{"path": '
        [[call]]
        text = "Understood."
        """,
    )
    tickets = lfg.tickets('[[ticket]]\nid = "c"\nprompt = "go"\nmodel = "confused"\ntools = ["read_file"]\n')
    code, events, _ = lfg.run(tickets)
    assert code == 0
    rockets, bad_json = of(events, "c", "tool_result")
    assert rockets["is_error"] and "unknown tool 'launch_rockets'" in rockets["output"]
    assert "read_file" in rockets["output"]
    assert bad_json["is_error"] and "not valid JSON" in bad_json["output"]
    assert text(events, "c") == "Understood."


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")


def test_non_finite_numbers_in_tool_arguments_are_invalid_and_never_printed(lfg: Lfg) -> None:
    lfg.scenario(
        "nan",
        """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        [[call.tool_call]]
        name = "run_command"
        arguments_raw = '{"command": "echo ran", "timeout_s": NaN}'
        [[call.tool_call]]
        name = "run_command"
        arguments_raw = '{"command": "echo ran", "timeout_s": -Infinity}'
        [[call.tool_call]]
        name = "run_command"
        arguments_raw = '{"command": "echo ran", "timeout_s": 1e999}'
        [[call]]
        text = "Understood."
        """,
    )
    tickets = lfg.tickets(
        '[[ticket]]\nid = "n"\nprompt = "go"\nmodel = "nan"\ntools = ["run_command"]\nauto_approve = true\n'
    )
    done = subprocess.run(
        lfg.args(tickets, "--json"), env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line, parse_constant=_no_constants) for line in done.stdout.splitlines()]
    results = of(events, "n", "tool_result")
    assert len(results) == 3
    assert all(r["is_error"] and "not valid JSON" in r["output"] for r in results)


def test_max_calls_stops_a_model_that_never_stops_calling_tools(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        '[[ticket]]\nid = "loop"\nprompt = "go"\nmodel = "tool-loop"\ntools = ["list_dir"]\nmax_calls = 3\n'
    )
    code, events, _ = lfg.run(tickets)
    assert code == 1
    assert len(of(events, "loop", "tool_call")) == 3
    end = ending(events, "loop")
    assert end["outcome"] == "failed" and end["error"]["kind"] == "max_calls"


def test_a_broken_tickets_file_exits_2_naming_the_file(lfg: Lfg) -> None:
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodle = "hello"\n')
    code, events, stderr = lfg.run(tickets)
    assert code == 2 and events == []
    assert "tickets.toml" in stderr and "modle" in stderr and "model" in stderr


def test_sigint_cancels_every_ticket_and_exits_130(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "long-answer:repeat=50"\n\n'
        '[[ticket]]\nid = "b"\nprompt = "x"\nmodel = "long-answer:repeat=50"\n\n'
        '[[ticket]]\nid = "c"\nprompt = "x"\nmodel = "hello"\ndepends_on = ["a"]\n'
    )
    process = subprocess.Popen(
        lfg.args(tickets, "--json"), env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if '"type": "text"' in line:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30 * PATIENCE)
    events = [json.loads(line) for line in lines + rest.splitlines(keepends=True)]
    assert process.returncode == 130
    assert {t: ending(events, t)["outcome"] for t in "abc"} == {
        "a": "cancelled",
        "b": "cancelled",
        "c": "cancelled",
    }


def open_once_read(fifo: Path, process: subprocess.Popen[Any]) -> int:
    """The write end of `fifo`, opened once lfg has opened it to read: lfg is then loading the file."""
    deadline = time.monotonic() + 30 * PATIENCE
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: nobody reads it yet
            if exc.errno != errno.ENXIO or process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            os.set_blocking(fd, True)
            return fd


def wait_until_reading_the_pipe(process: subprocess.Popen[Any]) -> None:
    """Returns once lfg sleeps in the pipe's read.

    Its open returns as ours does; a signal sent in that instant is taken by Python between the open
    and the read, where nothing checks for it, and the read then sleeps for good (a second Ctrl-C ends
    it). The test is about a lfg that waits for the file, so it signals once lfg waits.
    """
    wchan = Path(f"/proc/{process.pid}/wchan")
    if not wchan.exists():
        pytest.skip("needs /proc to see where lfg waits")
    deadline = time.monotonic() + 30 * PATIENCE
    while not wchan.read_text().endswith("pipe_read"):
        assert process.poll() is None and time.monotonic() < deadline, "lfg never waited in the pipe's read"
        time.sleep(0.01)


@pytest.mark.parametrize("written", ["nothing", "everything"])
def test_sigint_while_loading_the_tickets_exits_130_in_one_line(lfg: Lfg, written: str) -> None:
    """The tickets file is a FIFO, so that lfg is loading it is known, not guessed: SIGINT arrives while
    lfg waits for the file, or as soon as ten thousand tickets are written, while lfg parses and checks."""
    fifo = lfg.workdir / "tickets.toml"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        lfg.args(fifo, "--headless"), env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        with os.fdopen(open_once_read(fifo, process), "w", encoding="utf-8") as writer:
            if written == "everything":
                writer.write(many_tickets(10_000))
                writer.close()
            else:
                wait_until_reading_the_pipe(process)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30 * PATIENCE)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.splitlines() == [f"lfg: interrupted while checking {fifo}"]
    assert out == ""


def test_sigterm_exits_143(lfg: Lfg) -> None:
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "long-answer:repeat=50"\n')
    process = subprocess.Popen(lfg.args(tickets, "--json"), env=lfg.env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if '"type": "text"' in line:
            break
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30 * PATIENCE)
    assert process.returncode == 143
    lines = [json.loads(line) for line in rest.splitlines()]
    (end,) = [line for line in lines if line["type"] == "attempt_ended"]
    assert end["outcome"] == "cancelled" and lines[-1]["state"] == "cancelled", "its end, then its state"


def test_readable_progress_and_closing_table(lfg: Lfg) -> None:
    tickets = lfg.tickets(
        '[[ticket]]\nid = "good"\nprompt = "x"\nmodel = "hello"\n\n'
        '[[ticket]]\nid = "bad"\nprompt = "x"\nmodel = "fault-404"\n'
    )
    done = subprocess.run(
        lfg.args(tickets, "--headless"), env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 1
    out = done.stdout
    assert "good  started on sim/hello" in out
    assert "good  ✓ completed in" in out and "tok/s" in out
    assert "│ Hello! I am the **lfg simulator**" in out
    assert "bad  ✗ failed: HTTP 404 not_found:" in out
    header = next(line for line in out.splitlines() if line.startswith("ticket"))
    assert header.split() == ["ticket", "outcome", "TTFT", "tok/s", "tokens", "cost", "cache", "duration"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[-2:]}
    assert rows["good"][1] == "completed" and rows["bad"][1] == "failed"
    assert rows["good"][6] == "$0", "the sim is free: a known zero, not an unknown `$?`"  # TTFT is 2 words


def still_running_in_session(session: int) -> list[str]:
    """The processes of `session` that still run (zombies aside), by their /proc entries."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().rsplit(")", 1)
        except OSError:  # it ended while we looked
            continue
        state, _parent, _group, sid = rest.split()[:4]
        if int(sid) == session and state != "Z":
            running.append(name.split("(", 1)[1])
    return running


@pytest.mark.parametrize("stopped_by", ["a broken file", "ctrl-c while it waits for the file"])
def test_in_a_terminal_a_run_that_never_starts_leaves_nothing_running(lfg: Lfg, stopped_by: str) -> None:
    """In a terminal, lfg starts its provider worker before it checks the tickets (the worker's
    imports then overlap the check): a check that fails, or a Ctrl-C while lfg waits for the file,
    ends lfg as without a TUI, and the worker with it."""
    terminal = Terminal()
    if stopped_by == "a broken file":
        tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodle = "hello"\n')
    else:
        os.mkfifo(tickets := lfg.workdir / "tickets.toml")
    process = terminal.start(lfg.args(tickets, "--no-history"), lfg.env)
    try:
        if stopped_by != "a broken file":
            with os.fdopen(open_once_read(tickets, process), "w"):
                wait_until_reading_the_pipe(process)
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30 * PATIENCE)
        code = process.wait(timeout=30 * PATIENCE)
        left = still_running_in_session(process.pid)
    finally:
        process.kill()
        terminal.hang_up()
    assert code == (2 if stopped_by == "a broken file" else 130), terminal.output
    assert left == [], f"still running after lfg exited: {left}"
    assert b"\x1b[?1049h" not in terminal.output
    assert (b"modle" if stopped_by == "a broken file" else b"interrupted while checking") in terminal.output


def test_a_terminal_without_a_keyboard_gets_progress_lines_not_the_tui(lfg: Lfg) -> None:
    """stdout is a terminal but stdin is not (`< /dev/null`): no key could reach the TUI."""
    terminal = Terminal()
    tickets = lfg.tickets('[[ticket]]\nid = "good"\nprompt = "x"\nmodel = "hello"\n')
    process = terminal.start(lfg.args(tickets, "--no-history"), lfg.env, stdin=subprocess.DEVNULL)
    try:
        assert process.wait(timeout=60 * PATIENCE) == 0
    finally:
        process.kill()
        terminal.hang_up()
    assert b"good  \xe2\x9c\x93 completed in" in terminal.output
    assert b"\x1b[?1049h" not in terminal.output, "the TUI never took over the screen"


def test_the_demo_runs_offline_and_its_tickets_build_on_what_they_saw(lfg: Lfg) -> None:
    done = subprocess.run(
        lfg.args(quick_demo(lfg.workdir), "--json"),
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    tickets = {e["ticket"] for e in events}
    assert len(tickets) >= 4
    assert all(ending(events, t)["outcome"] == "completed" for t in tickets)
    explored = text(events, "explore")
    listing = sorted(path.name for path in lfg.workdir.iterdir())
    assert f"In short, this folder holds: {', '.join(listing)}." in explored, "the real folder, listed"
    assert (lfg.workdir / "README.md").read_text() in explored, "its real README, read"
    assert explored.splitlines()[-1] in text(events, "summary"), "the summary quotes explore's answer"


def test_the_demo_lasts_long_enough_to_watch(lfg: Lfg) -> None:
    """Its slowest ticket takes 20 to 35 s at the pace its model names set (written, not timed here)."""
    library = ScenarioLibrary(extra_dirs=())
    loaded = load_tickets(DEMO, load_config(lfg.config), BUILTIN_TOOLS)

    def seconds(model: str) -> float:
        scenario = library.resolve(model)
        calls = [scenario.call(index) for index in range(len(scenario.calls))]
        tokens = sum(len(split_tokens(call.reasoning + call.text)) for call in calls)
        return len(scenario.calls) * scenario.ttft_ms / 1000 + tokens / scenario.tokens_per_s

    assert 20 <= max(seconds(ticket.model) for ticket in loaded.tickets) <= 35
