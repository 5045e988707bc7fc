"""Telling the person when an agent needs them: a ticket waits for approval, fails, or the run ends.

In a terminal that is a bell and a desktop notification asked of the terminal itself (OSC 9 and
OSC 777), passed through tmux when lfg runs inside it. A headless run instead hands each event, as
JSON on stdin, to the user's own `--notify-command` (a Slack or ntfy hook), bounded in time and never
holding the run up.

Titles and bodies carry untrusted text (ticket titles, error messages, a model's tool arguments):
everything that reaches an escape sequence is reduced to printable characters first, so nothing in
it can end the sequence early or start another one.

asyncio is imported where it is used: `lfg --help` imports this module and must stay quick.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import asyncio

Kind = Literal["approval", "failed", "done"]
Protocol = Literal["osc9", "osc777"]

BOTH_PROTOCOLS: tuple[Protocol, ...] = ("osc9", "osc777")
"""What to send when the terminal is unknown: each terminal acts on the one it knows and ignores the other."""

TITLE_LIMIT = 80
BODY_LIMIT = 200
"""Characters of title and body in a terminal notification: a desktop banner shows little more."""

JSON_TITLE_LIMIT = 200
JSON_BODY_LIMIT = 2000
"""A hook may forward more (a whole error message to Slack), but never an unbounded amount."""

_SCAN_LIMIT = 16_384
"""Characters looked at before cleaning: a megabyte of error output is cut before it is scanned."""

_DROPPED_CATEGORIES = frozenset({"Cf"})
"""Format characters (bidi overrides and isolates, zero-width joiners, tag characters): invisible,
some reorder what is shown, so they are removed."""

_SPACED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
"""C0 and C1 controls (ESC, BEL, ST `\\x9c`, newline, DEL) and line/paragraph separators: each
becomes a space, so words either side stay apart."""

BEL = "\x07"
ESC = "\x1b"


def printable(text: str, limit: int) -> str:
    """`text` as one line of printable characters, at most `limit` long: controls become spaces,
    format characters go, lone surrogates become `�`, runs of whitespace become one space, and a cut
    ends in `…` (never between a character and the accents that follow it).

    Stricter than `inert.inert`, which shows controls as visible symbols but keeps newline and tab and
    the bidirectional controls: inside an escape sequence's payload only printable text is safe."""
    kept: list[str] = []
    for char in text[:_SCAN_LIMIT]:
        category = unicodedata.category(char)
        if category in _SPACED_CATEGORIES:
            kept.append(" ")
        elif category == "Cs":
            kept.append("\ufffd")
        elif category not in _DROPPED_CATEGORIES:
            kept.append(char)
    line = " ".join("".join(kept).split())
    if len(line) <= limit:
        return line
    cut = max(limit - 1, 0)
    while cut > 0 and unicodedata.combining(line[cut]):
        cut -= 1
    return line[:cut].rstrip() + "…" if limit > 0 else ""


@dataclass(frozen=True)
class Attention:
    """Something the person should know of now: which run, which ticket, and a title and body to show.

    `title` and `body` may hold untrusted text as it came; every way out of here (`terminal_alert`,
    `to_json`) cleans and caps them."""

    kind: Kind
    run_id: str
    ticket: str | None
    title: str
    body: str
    counts: tuple[tuple[str, int], ...] = ()
    """For "done": how many tickets ended with each outcome, in the order given."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def approval(
        cls, run_id: str, ticket: str, tool: str, detail: str, at: datetime | None = None
    ) -> Attention:
        """A ticket waits for the person to allow a tool call (`detail`: its arguments in short)."""
        title = f"lfg: {ticket} needs approval"
        return cls("approval", run_id, ticket, title, f"{tool}: {detail}", at=at or datetime.now(UTC))

    @classmethod
    def failed(cls, run_id: str, ticket: str, error: str, at: datetime | None = None) -> Attention:
        return cls("failed", run_id, ticket, f"lfg: {ticket} failed", error, at=at or datetime.now(UTC))

    @classmethod
    def done(cls, run_id: str, counts: Mapping[str, int], at: datetime | None = None) -> Attention:
        """The whole run ended; `counts` by outcome, e.g. {"succeeded": 3, "failed": 1}."""
        body = ", ".join(f"{count} {outcome}" for outcome, count in counts.items()) or "no tickets"
        at = at or datetime.now(UTC)
        return cls("done", run_id, None, "lfg: run finished", body, tuple(counts.items()), at)

    def as_dict(self) -> dict[str, Any]:
        """What a hook receives: the event, where it came from, when, and text it can show as it is."""
        event: dict[str, Any] = {
            "kind": self.kind,
            "run": self.run_id,
            "ticket": self.ticket,
            "title": printable(self.title, JSON_TITLE_LIMIT),
            "body": printable(self.body, JSON_BODY_LIMIT),
            "at": self.at.astimezone(UTC).isoformat(timespec="milliseconds"),
        }
        if self.kind == "done":
            event["counts"] = dict(self.counts)
        return event

    def to_json(self) -> str:
        """One line of ASCII JSON (every other character escaped), newline-terminated."""
        return json.dumps(self.as_dict(), ensure_ascii=True) + "\n"


def in_tmux(env: Mapping[str, str]) -> bool:
    """Whether lfg runs inside tmux, which swallows OSC notifications unless they are passed through."""
    return bool(env.get("TMUX"))


def notification_protocols(env: Mapping[str, str]) -> tuple[Protocol, ...]:
    """The one notification sequence a known terminal acts on, else both.

    Terminals that know both (WezTerm, Ghostty, kitty) would show two banners for one event; each of
    these is told apart by a variable it sets (one that survives into tmux where it can)."""
    program = env.get("TERM_PROGRAM", "")
    term = env.get("TERM", "")
    if program == "iTerm.app" or env.get("LC_TERMINAL") == "iTerm2" or "ITERM_SESSION_ID" in env:
        return ("osc9",)
    if "KITTY_WINDOW_ID" in env or term == "xterm-kitty":
        return ("osc9",)
    if program in ("WezTerm", "ghostty") or "WEZTERM_PANE" in env or "GHOSTTY_RESOURCES_DIR" in env:
        return ("osc777",)
    if term.startswith(("foot", "rxvt")) or "VTE_VERSION" in env:
        return ("osc777",)
    return BOTH_PROTOCOLS


def osc9(text: str) -> str:
    """`ESC ] 9 ; text BEL` (iTerm2's notification). A text that started with a digit would be read
    as one of ConEmu's OSC 9 commands (progress, working directory) by ConEmu, Windows Terminal and
    Ghostty, so it never does."""
    message = printable(text, TITLE_LIMIT + 2 + BODY_LIMIT)
    if message[:1].isdigit():
        message = f"lfg: {message}"
    return f"{ESC}]9;{message}{BEL}"


def osc777(title: str, body: str) -> str:
    """`ESC ] 777 ; notify ; title ; body BEL` (urxvt's, VTE's, Ghostty's, foot's): `;` separates the
    fields, so one inside them becomes `,`."""
    title = printable(title, TITLE_LIMIT).replace(";", ",")
    body = printable(body, BODY_LIMIT).replace(";", ",")
    return f"{ESC}]777;notify;{title};{body}{BEL}"


def tmux_passthrough(sequence: str) -> str:
    """`sequence` wrapped for tmux to hand to the outer terminal: `ESC P tmux; … ESC \\`, every ESC
    inside doubled. tmux drops it unless `allow-passthrough` is on."""
    doubled = sequence.replace(ESC, ESC + ESC)
    return f"{ESC}Ptmux;{doubled}{ESC}\\"


def terminal_alert(
    attention: Attention, *, tmux: bool, bell: bool = True, protocols: tuple[Protocol, ...] = BOTH_PROTOCOLS
) -> str:
    """What to write to the terminal for `attention`: a bell, then the notification sequences, each
    passed through tmux if `tmux`. The bell is never wrapped: tmux forwards a pane's bell itself."""
    title = printable(attention.title, TITLE_LIMIT)
    body = printable(attention.body, BODY_LIMIT)
    sequences = []
    if "osc9" in protocols:
        sequences.append(osc9(f"{title}: {body}" if body else title))
    if "osc777" in protocols:
        sequences.append(osc777(title, body))
    if tmux:
        sequences = [tmux_passthrough(sequence) for sequence in sequences]
    return (BEL if bell else "") + "".join(sequences)


STDERR_KEPT = 4096
"""Bytes of a hook's stderr kept for the warning; the rest is read and thrown away so it never blocks."""


class NotifyCommand:
    """Runs the user's `--notify-command` for each event, like a git hook: `/bin/sh -c COMMAND` with the
    event's JSON on stdin, in a session of its own (no terminal), under lfg's supervisor on Linux
    (`tools/supervised.py`): when the hook ends or is stopped, so is everything it started, even what
    left its session (`setsid`, a daemon).

    At most `parallel` run at once and `backlog` wait; beyond that the oldest waiting event is dropped
    and counted, so a hook that is slow or hangs costs the run nothing. Each run is stopped after
    `timeout` seconds. The run's end ("done") is never the one dropped: when the run ends, hooks
    still running after the grace are stopped to make room for it. Problems go to `warn` as one line
    each, never as an exception."""

    def __init__(
        self,
        command: str,
        *,
        warn: Callable[[str], None],
        timeout: float = 10.0,
        parallel: int = 2,
        backlog: int = 8,
        shell: str = "/bin/sh",
    ) -> None:
        self._command = command
        self._warn = warn
        self._timeout = timeout
        self._parallel = max(parallel, 1)
        self._backlog = max(backlog, 0)
        self._shell = shell
        self._waiting: deque[Attention] = deque()
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        self._stopping = False
        self.dropped = 0
        """Events never handed to the command: the oldest waiting on overflow, those still waiting when
        `aclose` ends, and any that came after it."""
        self.stopped = 0
        """Commands still running when `aclose` ran out of time, killed with their children."""

    def __call__(self, attention: Attention) -> None:
        """Queue `attention` for the command and return at once; the command runs on the running loop."""
        if self._closed:
            self.dropped += 1
            return
        self._waiting.append(attention)
        while len(self._waiting) > self._backlog + max(self._parallel - len(self._running), 0):
            oldest = next((a for a in self._waiting if a.kind != "done"), None)
            if oldest is None:
                break
            self._waiting.remove(oldest)
            self.dropped += 1
        self._pump()

    def _pump(self) -> None:
        """Start waiting events while fewer than `parallel` run."""
        import asyncio

        while self._waiting and len(self._running) < self._parallel and not self._stopping:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.dropped += len(self._waiting)
                self._waiting.clear()
                return
            task = loop.create_task(self._run(self._waiting.popleft()))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._pump()

    async def _run(self, attention: Attention) -> None:
        import asyncio
        from asyncio.subprocess import DEVNULL, PIPE

        from lfgtui.tools.supervised import start_supervised, stop_supervised

        of_ticket = f" of {printable(attention.ticket, TITLE_LIMIT)}" if attention.ticket else ""
        what = f"--notify-command ({attention.kind}{of_ticket})"
        try:
            argv = [self._shell, "-c", self._command]
            process = await start_supervised(argv, os.environ, stdin=PIPE, stdout=DEVNULL, stderr=PIPE)
        except OSError as error:
            self._warn(f"{what} could not start: {printable(str(error), BODY_LIMIT)}")
            return
        finished = False
        try:
            async with asyncio.timeout(self._timeout):
                await _feed(process, attention.to_json().encode("ascii"))
                assert process.stderr is not None
                stderr = await _head(process.stderr, STDERR_KEPT)
                code = await process.wait()
            finished = True
        except TimeoutError:
            self._warn(f"{what} still ran after {self._timeout:g} s and was stopped")
            return
        finally:
            if not finished:
                await stop_supervised(process)
        if code != 0:
            how = f"exit status {code}" if code > 0 else f"signal {-code}"
            said = printable(stderr.decode("utf-8", "replace"), BODY_LIMIT)
            self._warn(f"{what} failed ({how}){': ' + said if said else ''}")

    async def aclose(self, grace: float = 2.0) -> None:
        """At the end of a run: give running and waiting events up to `grace` seconds to be handled,
        then stop what still runs (with its children) and drop what still waits, except the run's
        end, which is then handed to the command (within its own `timeout`)."""
        import asyncio

        if self._stopping:
            return
        self._closed = True
        try:
            async with asyncio.timeout(grace):
                while self._running:
                    await asyncio.wait(set(self._running))
                    self._pump()
        except TimeoutError:
            pass
        self._stopping = True
        ends = [attention for attention in self._waiting if attention.kind == "done"]
        self.dropped += len(self._waiting) - len(ends)
        self._waiting.clear()
        running = list(self._running)
        self.stopped += len(running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for attention in ends:
            await self._run(attention)
        if self.dropped or self.stopped:
            self._warn(
                f"--notify-command: {self.dropped} notification(s) dropped (too many at once, or the run "
                f"ended first), {self.stopped} stopped unfinished at the end of the run"
            )


async def _feed(process: asyncio.subprocess.Process, payload: bytes) -> None:
    """Write the event and close stdin; a command that exits without reading it is no error."""
    assert process.stdin is not None
    try:
        process.stdin.write(payload)
        await process.stdin.drain()
        process.stdin.close()
        await process.stdin.wait_closed()
    except (BrokenPipeError, ConnectionResetError):
        pass


async def _head(stream: asyncio.StreamReader, limit: int) -> bytes:
    """The first `limit` bytes of `stream`, read to its end so the writer never blocks on a full pipe."""
    kept = bytearray()
    while chunk := await stream.read(65536):
        kept += chunk[: max(limit - len(kept), 0)]
    return bytes(kept)
