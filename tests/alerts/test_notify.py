"""Telling the person: the exact escape sequences (read back as a terminal would read them, hostile text
included) and the user's notify command run for real under `/bin/sh`, bounded and never in the way."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lfgtui.alerts.attention import Attention, printable
from lfgtui.alerts.notify import NotifyCommand
from lfgtui.alerts.terminal import in_tmux, notification_protocols, terminal_alert
from tests.support.patience import PATIENCE

AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
APPROVAL = Attention.approval("r1", "build-api", "run_command", "pytest -q", at=AT)

BEL, ESC = "\x07", "\x1b"
OSC_ENDERS = {BEL, ESC, "\x9c", "\x18", "\x1a"}
"""Everything that ends (or aborts) an OSC string in one terminal or another: BEL, ESC (as in ST `ESC \\`),
the 8-bit ST, CAN and SUB."""


def actions(data: str) -> list[tuple[str, str]]:
    """What a terminal does with `data`: ("bell", ""), ("osc", payload), ("dcs", payload) or ("text", c).

    An OSC ends at the first of `OSC_ENDERS`; only BEL is what we send, so any other ender means text in
    the payload ended the sequence early and is reported as ("broken", payload). A payload holding any
    other control character is reported the same way."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(data):
        char = data[i]
        if char == BEL:
            found.append(("bell", ""))
            i += 1
        elif data.startswith(ESC + "]", i):
            end = next((j for j in range(i + 2, len(data)) if data[j] in OSC_ENDERS), len(data))
            payload = data[i + 2 : end]
            clean = end < len(data) and data[end] == BEL and payload.isprintable()
            found.append(("osc" if clean else "broken", payload))
            i = end + 1
        elif data.startswith(ESC + "P", i):
            payload, j = [], i + 2
            while not data.startswith(ESC + "\\", j):
                assert j < len(data), "an unterminated DCS"
                if data.startswith(ESC + ESC, j):
                    payload.append(ESC)
                    j += 2
                else:
                    payload.append(data[j])
                    j += 1
            found.append(("dcs", "".join(payload)))
            i = j + 2
        else:
            found.append(("text", char))
            i += 1
    return found


def through_tmux(data: str) -> list[tuple[str, str]]:
    """`actions` of `data` as tmux hands it on: each `tmux;` passthrough becomes what it wrapped."""
    result: list[tuple[str, str]] = []
    for kind, payload in actions(data):
        if kind == "dcs":
            assert payload.startswith("tmux;")
            result += actions(payload.removeprefix("tmux;"))
        else:
            result.append((kind, payload))
    return result


def test_the_exact_bytes_for_a_plain_terminal() -> None:
    assert terminal_alert(APPROVAL, tmux=False) == (
        "\x07"
        "\x1b]9;lfg: build-api needs approval: run_command: pytest -q\x07"
        "\x1b]777;notify;lfg: build-api needs approval;run_command: pytest -q\x07"
    )
    assert terminal_alert(APPROVAL, tmux=False, bell=False, protocols=("osc777",)) == (
        "\x1b]777;notify;lfg: build-api needs approval;run_command: pytest -q\x07"
    )


def test_the_exact_bytes_inside_tmux() -> None:
    assert terminal_alert(APPROVAL, tmux=True) == (
        "\x07"
        "\x1bPtmux;\x1b\x1b]9;lfg: build-api needs approval: run_command: pytest -q\x07\x1b\\"
        "\x1bPtmux;\x1b\x1b]777;notify;lfg: build-api needs approval;run_command: pytest -q\x07\x1b\\"
    )
    assert through_tmux(terminal_alert(APPROVAL, tmux=True)) == actions(terminal_alert(APPROVAL, tmux=False))


HOSTILE_TITLE = "deploy\x1b]0;pwned\x07;\u202eevil\x9c\nend"
HOSTILE_BODY = "rm -rf /; \x1b\\ \x1b[2J\x7f\u2066x\u2069 \x85 \ud800 " + "y" * 500


@pytest.mark.parametrize("tmux", [False, True])
def test_hostile_text_cannot_end_or_break_the_sequences(tmux: bool) -> None:
    attention = Attention("failed", "r1", "t", HOSTILE_TITLE, HOSTILE_BODY, at=AT)
    read = through_tmux if tmux else actions
    found = read(terminal_alert(attention, tmux=tmux))
    assert [kind for kind, _ in found] == ["bell", "osc", "osc"], found

    title = "deploy ]0;pwned ;evil end"
    body_start = "rm -rf /; \\ [2J x \ufffd yyy"
    osc9, osc777 = found[1][1], found[2][1]
    assert osc9.startswith(f"9;{title}: {body_start}")
    assert osc9.endswith("y…") and len(osc9) <= 2 + 80 + 2 + 200
    fields = osc777.split(";")
    assert fields[:3] == ["777", "notify", title.replace(";", ",")]
    assert len(fields) == 4, "a ; in the text made a field of its own"
    assert fields[3].startswith(body_start.replace(";", ","))
    assert fields[3].endswith("y…") and len(fields[3]) == 200


def test_every_kind_of_control_goes_and_nothing_else_changes() -> None:
    assert printable("a\x1b]0;p\x07b\x9cc\rd\te\nf", 80) == "a ]0;p b c d e f"
    assert printable("left \u202eright\u2069 \u200b|\U000e0041", 80) == "left right |"
    assert printable("Ünïcode ✓ 日本語 😀", 80) == "Ünïcode ✓ 日本語 😀"
    assert printable("lone \udc80 surrogate", 80) == "lone \ufffd surrogate"


def test_a_long_text_is_cut_on_a_character_boundary() -> None:
    cut = printable("e\u0301" * 150, 200)
    assert cut == "e\u0301" * 99 + "…"
    assert printable("x" * 80, 80) == "x" * 80
    assert printable("x" * 81, 80) == "x" * 79 + "…"


def test_a_notification_text_never_starts_like_a_conemu_command() -> None:
    """OSC 9;4;… is a progress bar in ConEmu, Windows Terminal and Ghostty, not a notification."""
    attention = Attention("failed", "r1", "t", "4;3;50", "", at=AT)
    (osc9,) = [p for kind, p in actions(terminal_alert(attention, tmux=False)) if p.startswith("9;")]
    assert osc9 == "9;lfg: 4;3;50"


def test_tmux_and_the_terminal_are_told_from_the_environment() -> None:
    assert in_tmux({"TMUX": "/tmp/tmux-1000/default,4242,0"})
    assert not in_tmux({}) and not in_tmux({"TMUX": ""})
    assert notification_protocols({"TERM_PROGRAM": "iTerm.app"}) == ("osc9",)
    assert notification_protocols({"TERM_PROGRAM": "tmux", "WEZTERM_PANE": "3"}) == ("osc777",)
    assert notification_protocols({"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}) == ("osc9",)
    assert notification_protocols({"TERM": "xterm-256color"}) == ("osc9", "osc777")


def test_the_hook_event_says_what_happened_where_and_when() -> None:
    done = Attention.done("r1", {"succeeded": 3, "failed": 1}, at=AT)
    assert done.as_dict() == {
        "kind": "done",
        "run": "r1",
        "ticket": None,
        "title": "lfg: run finished",
        "body": "3 succeeded, 1 failed",
        "at": "2025-01-02T03:04:05.000+00:00",
        "counts": {"succeeded": 3, "failed": 1},
    }
    failed = Attention.failed("r1", "api", "boom\x1b]0;x\x07 \u202e" + "z" * 5000, at=AT)
    line = failed.to_json()
    assert line.endswith("\n") and line.count("\n") == 1 and line.isascii()
    event = json.loads(line)
    assert "counts" not in event and event["ticket"] == "api" and event["title"] == "lfg: api failed"
    assert event["body"].startswith("boom ]0;x z") and len(event["body"]) == 2000


# The notify command, run for real.


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie no one reaped (PID 1 in a container may not) counts as dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def eventually(condition: object, what: str, timeout: float = 15.0) -> None:
    """Poll `condition()` until true, bounded so a broken feature fails rather than hangs."""
    deadline = time.monotonic() + timeout * PATIENCE
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_the_command_gets_the_event_as_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    warnings: list[str] = []
    notify = NotifyCommand(f"cat > {shlex.quote(str(out))}", warn=warnings.append)
    notify(APPROVAL)
    await notify.aclose(grace=30)
    assert json.loads(out.read_text()) == APPROVAL.as_dict()
    assert warnings == [] and notify.dropped == 0


async def test_a_hanging_command_is_killed_with_its_children_after_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    command = f"sh -c 'echo $$ > {shlex.quote(str(pid_file))}; exec sleep 1000' & wait"
    warnings: list[str] = []
    notify = NotifyCommand(command, warn=warnings.append, timeout=0.3)
    notify(APPROVAL)
    await notify.aclose(grace=30)
    grandchild = int(pid_file.read_text())
    await eventually(lambda: not pid_alive(grandchild), "the sleep outlived the timeout")
    assert len(warnings) == 1 and "was stopped" in warnings[0], warnings
    assert notify.stopped == 0, "the timeout stopped it, not aclose"


async def test_aclose_kills_what_still_runs_and_drops_what_waits(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    command = f"sh -c 'echo $$ > {shlex.quote(str(pid_file))}; exec sleep 1000' & wait"
    warnings: list[str] = []
    notify = NotifyCommand(command, warn=warnings.append, timeout=600 * PATIENCE, parallel=1)
    notify(APPROVAL)
    notify(APPROVAL)
    await eventually(pid_file.exists, "the command never started")
    await notify.aclose(grace=0.2)
    await eventually(lambda: not pid_alive(int(pid_file.read_text())), "the sleep outlived aclose")
    assert (notify.stopped, notify.dropped) == (1, 1)
    assert warnings == [
        "--notify-command: 1 notification(s) dropped (too many at once, or the run ended first), "
        "1 stopped unfinished at the end of the run"
    ]
    notify(APPROVAL)
    assert notify.dropped == 2, "an event after aclose is dropped"


@pytest.mark.parametrize("hangs", [False, True], ids=["exits", "times-out"])
async def test_what_a_hook_started_in_a_session_of_its_own_ends_with_it(tmp_path: Path, hangs: bool) -> None:
    """`setsid` took a hook's child out of the process group that was killed: it lived on."""
    pid_file = tmp_path / "daemon.pid"
    daemon = f"setsid sleep 1000 < /dev/null > /dev/null 2>&1 & echo $! > {shlex.quote(str(pid_file))}"
    command = f"{daemon}; sleep 1000" if hangs else daemon
    warnings: list[str] = []
    notify = NotifyCommand(command, warn=warnings.append, timeout=1 if hangs else 30 * PATIENCE)
    notify(APPROVAL)
    await notify.aclose(grace=30)
    await eventually(lambda: not pid_alive(int(pid_file.read_text())), "the setsid child outlived its hook")
    assert warnings == (
        ["--notify-command (approval of build-api) still ran after 1 s and was stopped"] if hangs else []
    )


DONE = Attention.done("r1", {"completed": 1, "failed": 2}, at=AT)
HANGS_BUT_AT_THE_END = (
    'event=$(cat); echo "$event" >> {out}; case $event in *\'"done"\'*) ;; *) sleep 1000;; esac'
)
"""A hook that records each event and hangs on all but the run's end."""


async def test_two_hung_hooks_do_not_keep_the_run_finished_notification_from_the_command(
    tmp_path: Path,
) -> None:
    out = tmp_path / "events"
    warnings: list[str] = []
    notify = NotifyCommand(HANGS_BUT_AT_THE_END.format(out=shlex.quote(str(out))), warn=warnings.append)
    notify(Attention.failed("r1", "a", "x", at=AT))
    notify(Attention.failed("r1", "b", "x", at=AT))
    notify(DONE)
    await eventually(lambda: out.exists() and len(out.read_text().splitlines()) == 2, "the hooks never ran")
    await notify.aclose(grace=0.2)
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert kinds == ["failed", "failed", "done"]
    assert (notify.stopped, notify.dropped) == (2, 0)
    assert warnings == [
        "--notify-command: 0 notification(s) dropped (too many at once, or the run ended first), "
        "2 stopped unfinished at the end of the run"
    ]


async def test_overflow_never_drops_the_run_finished_notification(tmp_path: Path) -> None:
    out = tmp_path / "events"
    warnings: list[str] = []
    command = HANGS_BUT_AT_THE_END.format(out=shlex.quote(str(out)))
    notify = NotifyCommand(command, warn=warnings.append, parallel=1, backlog=1)
    notify(Attention.failed("r1", "a", "x", at=AT))
    notify(DONE)
    notify(Attention.failed("r1", "b", "x", at=AT))
    assert notify.dropped == 1
    await notify.aclose(grace=0.2)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["kind"], e["ticket"]) for e in events] == [("failed", "a"), ("done", None)]


async def test_overflow_drops_the_oldest_waiting_and_counts_them(tmp_path: Path) -> None:
    out, gate = tmp_path / "events", tmp_path / "gate"
    command = f"cat >> {shlex.quote(str(out))}; while [ ! -e {shlex.quote(str(gate))} ]; do sleep 0.02; done"
    warnings: list[str] = []
    notify = NotifyCommand(command, warn=warnings.append, timeout=60 * PATIENCE, parallel=1, backlog=2)
    for ticket in "abcde":
        notify(Attention.failed("r1", ticket, "x", at=AT))
    assert notify.dropped == 2
    gate.touch()
    await notify.aclose(grace=30)
    tickets = [json.loads(line)["ticket"] for line in out.read_text().splitlines()]
    assert tickets == ["a", "d", "e"]
    assert warnings == [
        "--notify-command: 2 notification(s) dropped (too many at once, or the run ended first), "
        "0 stopped unfinished at the end of the run"
    ]


@pytest.mark.parametrize(
    ("command", "shell", "expected"),
    [
        ("echo boom >&2; exit 3", "/bin/sh", "--notify-command (failed of api) failed (exit status 3): boom"),
        ("lfg-no-such-command-anywhere", "/bin/sh", "(exit status 127): "),
        ("true", "/no/such/shell", "--notify-command (failed of api) could not start: "),
        (
            "printf '\\033]0;pwned\\007 \\233 bad\\n' >&2; exit 1",
            "/bin/sh",
            "failed (exit status 1): ]0;pwned",
        ),
    ],
)
async def test_a_failing_or_missing_command_is_a_warning_not_an_exception(
    command: str, shell: str, expected: str
) -> None:
    warnings: list[str] = []
    notify = NotifyCommand(command, warn=warnings.append, shell=shell)
    notify(Attention.failed("r1", "api", "x", at=AT))
    await notify.aclose(grace=30)
    (warning,) = warnings
    assert expected in warning
    assert warning.isprintable(), "the command's stderr reached the warning raw"


async def test_the_call_returns_before_the_command_has_read_its_event(tmp_path: Path) -> None:
    """The command waits on a fifo that this test opens only after the call returned: a call that waited
    for the command would never return (until the command's timeout killed it, and then the fifo never
    finds a reader)."""
    out, gate = tmp_path / "event.json", tmp_path / "gate"
    os.mkfifo(gate)
    command = f"read go < {shlex.quote(str(gate))}; cat > {shlex.quote(str(out))}"
    notify = NotifyCommand(command, warn=pytest.fail, timeout=10 * PATIENCE)
    notify(APPROVAL)
    assert not out.exists()

    def open_gate() -> bool:
        try:
            writer = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return False
        os.write(writer, b"go\n")
        os.close(writer)
        return True

    await eventually(open_gate, "the command never waited on the gate")
    await notify.aclose(grace=30)
    assert json.loads(out.read_text()) == APPROVAL.as_dict()


def test_without_a_running_loop_the_event_is_dropped_not_raised() -> None:
    notify = NotifyCommand("true", warn=pytest.fail)
    notify(APPROVAL)
    assert notify.dropped == 1
