"""What an ACP agent may ask of lfg: the person's permission, files in the ticket's workdir,
terminals to run commands in, and the person's answer to a question as a form (elicitation).

Everything the agent sends goes through one inbox that the attempt streams from in order, so a
permission request is asked only once the tool call it is about has been shown. Files are read and
written under exactly the rules of lfg's own tools (confined to the workdir, regular files only, a
killable reader with a time limit; writes approved, never into `.git` or through a hard link). The
ticket's additional directories (ACP `additionalDirectories`) are roots of their own under the same
rules: a path is placed in the one root it lies in (`Place`), and `confine` checks it there for real,
so `..` and symbolic links lead out of none of them.
Terminals run commands as `run_command` does (`terminals.py`), each approved as a `run_command`
call unless the person just approved that very command in the agent's own request; their output
reaches the calls that embed them through the inbox as it comes (`tool_output.py`).

A question (`elicitation/create`, form mode; unstable in the SDK, routed because the connection is
made with `use_unstable_protocol`) is asked once the inbox is streamed up to it, through the run's
`Elicit` (run/approvals.py); the person's reply goes back as the SDK's response of its action. lfg
offers the form mode only, so a URL elicitation is refused as invalid.

The class is duck-typed on purpose: for methods it lacks the SDK answers "method not found", which
an agent handles; subclassing `acp.Client` would answer null instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from acp import RequestError, schema

from lfgtui.events import LFG_CALL, Event, EventFactory, Status, ToolCallReady, ToolCallStarted, ToolResult
from lfgtui.run.agents.answered import AnswerWatch
from lfgtui.run.agents.cancel_requests import Asking, Withdrawals
from lfgtui.run.agents.stable_updates import SubagentUpdate
from lfgtui.run.agents.subagents import ChildUpdate
from lfgtui.run.agents.terminals import Terminal, Terminals
from lfgtui.run.agents.tool_output import OutputDue, TerminalNews
from lfgtui.run.agents.updates import (
    AgentView,
    UpdateReader,
    child_call_id,
    session_update,
    tool_content_text,
)
from lfgtui.run.approvals import Elicit, Reply
from lfgtui.tools import BUILTIN_TOOLS, ToolContext, ToolError, confine, run_tool
from lfgtui.tools.files import read_text
from lfgtui.tools.toolbox import Approve, Toolbox

INVALID_PARAMS = -32602
CANCELLED = schema.RequestPermissionResponse(outcome=schema.DeniedOutcome(outcome="cancelled"))
AFTER_TURN = "it came after the agent's turn had ended, when nobody is shown it"
"""Why a request the agent sent between its turns is refused (`AgentClient.turn_over`)."""
MISSING_FILE_TEXT = ""
"""What a file that does not exist (yet) in the workdir reads as, as an editor's buffer for a new file
does: agents read a file before they create it, and Gemini CLI 0.61 fails its write on any error
answered to that read (it cannot tell a client's "not found" from another failure)."""


def _normal(path: str) -> str:
    """A path with `.` and `..` folded (no file system access): how an approved edit is matched."""
    return os.path.normpath(path)


def _command_line(command: Any) -> str | None:
    """A command as one shell line: a line as is, an argument list quoted (how an agent's own
    request for a command is matched with the terminal it then creates)."""
    if isinstance(command, str):
        return command
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        return shlex.join(command)
    return None


@dataclass(frozen=True, slots=True)
class Place:
    """Where an agent's absolute path lies: the root's tool context (the workdir's, or an additional
    directory's), the path relative to that root, and the path as the person is shown it (relative
    in the workdir, absolute elsewhere)."""

    ctx: ToolContext
    name: str
    shown: str


def _option(options: list[schema.PermissionOption], *kinds: str) -> schema.PermissionOption | None:
    return next((o for kind in kinds for o in options if o.kind == kind), None)


def _asked_as(approve: Approve, shown: ToolCallReady) -> Approve:
    """`approve`, asking about `shown` (the call as the person sees it: an additional directory's
    file by its absolute path) whatever call it is given (the one run in that directory's root)."""

    async def asked(_: ToolCallReady) -> str | None:
        return await approve(shown)

    return asked


class TurnOver(Exception):
    """The turn that would have shown an agent's request ended first (`AgentClient.turn_over`)."""


class AgentClient:
    """The client side of one agent session."""

    def __init__(
        self,
        ev: EventFactory,
        toolbox: Toolbox,
        view: AgentView,
        elicit: Elicit | None = None,
        roots: tuple[Path, ...] = (),
    ) -> None:
        """`elicit`: who answers the agent's questions (None: nobody, each is declined). `roots`: the
        ticket's additional directories (absolute, resolved), where files and terminals may be too."""
        self.toolbox = toolbox
        self.roots = [replace(toolbox.ctx, workdir=root) for root in roots]
        self.elicit = elicit
        self.terminals = Terminals(toolbox.ctx, self._terminal_output)
        self.view = view
        self._told: set[str] = set()
        """lfg's terminals with a `TerminalNews` in the inbox not streamed yet: one is enough."""
        self.reader = self.new_reader(ev)
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        """Agent updates, lfg's own events, and futures to set once everything before them is out."""
        self.cancelling = False
        self.replaying = False
        self.between_turns = False
        """The agent's last prompt was answered and no other streams: see `turn_over`."""
        self._markers: set[asyncio.Future[None]] = set()
        self._writes = itertools.count(1)
        self._approved_edits: set[tuple[str, str]] = set()
        self._approved_commands: set[str] = set()
        self._terminal_asks = itertools.count(1)
        self._mode_reported: str | None = None
        self.withdrawals = Withdrawals()
        """The agent's requests waiting for the person, which its `$/cancel_request` withdraws."""
        self.answers = AnswerWatch()
        """Whether the agent went on after the person's last answer, as the pipe reads its updates
        (session/steering.py keeps a steer to Claude Code till then)."""

    def new_reader(self, ev: EventFactory) -> UpdateReader:
        """A reader for the attempt `ev` (a follow-up is a new one), showing this session's terminals."""
        box = self.toolbox.ctx.sandbox
        writable = None if box is None else box.writable
        self.reader = UpdateReader(
            ev, self.view, terminals=self.terminals, wake=self._wake, writable=writable
        )
        return self.reader

    def _terminal_output(self, terminal_id: str) -> None:
        """A terminal has new output: the inbox says so once, until it is streamed."""
        if terminal_id not in self._told:
            self._told.add(terminal_id)
            self.inbox.put_nowait(TerminalNews(terminal_id))

    def _wake(self, call_id: str, delay_s: float) -> None:
        """The reader holds a call's output for `delay_s`: the inbox says when it may go."""
        asyncio.get_running_loop().call_later(delay_s, self.inbox.put_nowait, OutputDue(call_id))

    @property
    def ev(self) -> EventFactory:
        return self.reader.ev

    def take_update(self, params: Any) -> None:
        """A `session/update` notification's params, as the agent's pipe reads them (in order: see
        transport.py): its update joins the inbox, unless the SDK would drop it as invalid. An update
        of a sub-agent's session (one a `subagent_update` announced) goes in as a `ChildUpdate`: the
        child's record in the tree (subagents.py), never the parent's answer or tool log."""
        if self.replaying:  # a loaded session's replay: the pane shows that conversation already
            return
        session_id = params.get("sessionId") if isinstance(params, dict) else None
        children = self.view.children
        update = session_update(params)
        self.answers.read(update)
        if isinstance(session_id, str) and children.known(session_id):  # a sub-agent's own session
            if update is not None:  # its record in the tree, never the parent's answer
                self.inbox.put_nowait(ChildUpdate(session_id, update))
            return
        if isinstance(update, SubagentUpdate):  # announced before any of its traffic: known now
            children.sessions.add(update.session_id)
        if update is not None:
            self._note_mode(update)
            self.inbox.put_nowait(update)

    def _note_mode(self, update: Any) -> None:
        """Keep the mode the agent reports of itself, as it arrives: lfg reads it back after it sets
        one (`mode_said`), before the inbox is streamed."""
        if isinstance(update, schema.CurrentModeUpdate):
            self._mode_reported = update.current_mode_id
        elif isinstance(update, schema.ConfigOptionUpdate):
            for option in update.config_options:
                if isinstance(option, schema.SessionConfigOptionSelect) and option.category == "mode":
                    self._mode_reported = option.current_value

    def mode_said(self) -> str | None:
        """Takes the mode the agent reported since the last call (None: none): see `choices.ModeSaid`."""
        reported, self._mode_reported = self._mode_reported, None
        return reported

    async def caught_up(self) -> None:
        """Wait until everything the agent sent before now has been streamed (shown and recorded).
        Raises `TurnOver` where no turn streams it any more."""
        if self.between_turns:
            raise TurnOver
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._markers.add(marker)
        self.inbox.put_nowait(marker)
        try:
            await marker
        finally:
            self._markers.discard(marker)

    async def in_order(self) -> None:
        """Where a request the agent sent before now waits to be shown (`caught_up`), wait until
        everything sent before now has been streamed, so that the answer to a request that shows
        nothing (a file read) cannot overtake it: an agent that asks to write, reads, then ends
        its turn on the read's answer ends it with its request shown in the turn. Where no turn
        streams (between turns) there is nothing to wait for."""
        if self._markers:
            with contextlib.suppress(TurnOver):
                await self.caught_up()

    def turn_over(self) -> None:
        """The turn stopped streaming the inbox (its prompt answered, or the attempt cut short): a
        request not yet shown, and any that comes till the next turn, is refused (`AFTER_TURN`).
        Nothing streams the inbox between turns, so it waited for a follow-up that might never come:
        the person never asked and the agent stuck."""
        self.between_turns = True
        for marker in self._markers:
            if not marker.done():
                marker.set_exception(TurnOver())

    def _refused_late(self, what: str) -> None:
        """Say that the agent's `what` was refused as `AFTER_TURN` (shown as the next turn starts, or
        in the agent's log as its session closes)."""
        self.inbox.put_nowait(self.ev(Status, message=f"refused the agent's {what}: {AFTER_TURN}"))

    async def request_permission(
        self,
        session_id: str,
        tool_call: schema.ToolCallUpdate,
        options: list[schema.PermissionOption],
        **_: Any,
    ) -> schema.RequestPermissionResponse:
        """The person's answer, through the same approval as lfg's own tools: yes picks the agent's
        allow-once option (else allow-always), no its reject option. The agent may withdraw it
        (`$/cancel_request`) until it is answered: then it leaves the pane, answered -32800."""
        try:
            with self._asking(tool_call.tool_call_id) as asking:
                return await self._request_permission(session_id, tool_call, options, asking)
        except TurnOver:
            self._refused_late(f"permission request for {tool_call.title or 'a tool call'}")
            return CANCELLED

    @contextlib.contextmanager
    def _asking(self, call: str | None) -> Iterator[Asking]:
        """One of the agent's requests, about `call` (None: no call), waits for the person:
        withdrawable until answered, and the answer's leaving noted (`answers`)."""
        try:
            with self.withdrawals.asking() as asking:
                yield asking
        finally:
            self.answers.answered(call)

    async def _request_permission(
        self,
        session_id: str,
        tool_call: schema.ToolCallUpdate,
        options: list[schema.PermissionOption],
        asking: Asking,
    ) -> schema.RequestPermissionResponse:
        allow = _option(options, "allow_once", "allow_always")
        reject = _option(options, "reject_once", "reject_always")
        if self.cancelling or allow is None:
            return CANCELLED
        await self.caught_up()
        child = self.view.children.task(session_id)
        call_id = (
            tool_call.tool_call_id if child is None else child_call_id(session_id, tool_call.tool_call_id)
        )
        title = tool_call.title or "tool"
        if child is not None:  # a sub-agent's call, whose own updates the pane does not show
            title = f"sub-agent {child or session_id}: {title}"
        if call_id not in self.reader.ready:  # asked about a call it never announced: show it first
            self.inbox.put_nowait(
                schema.ToolCallStart(
                    session_update="tool_call",
                    tool_call_id=call_id,
                    title=title,
                    kind=tool_call.kind,
                    content=tool_call.content,
                    raw_input=tool_call.raw_input,
                    locations=tool_call.locations,
                )
            )
            await self.caught_up()
        content = tool_call.content or self.reader.calls[call_id].content
        tool_call = tool_call.model_copy(update={"tool_call_id": call_id})
        asked = self._asked(tool_call, content, options, allow, reject)
        request = replace(self.reader.ready[call_id], arguments=asked)
        refusal = await asking.ask(self.toolbox.approve(request))
        if self.cancelling:
            return CANCELLED
        chosen = allow if refusal is None else reject
        if refusal is not None:
            self.reader.denied.add(call_id)
        if child is not None:
            self._answered_for_child(call_id, refusal is None)
        if chosen is None:
            return CANCELLED
        if chosen is allow:
            self._approved_edits |= self._edits_shown(content, asked.get("input"))
            raw_input = asked.get("input")
            command = _command_line(raw_input.get("command")) if isinstance(raw_input, dict) else None
            if command is not None:
                self._approved_commands.add(command)
        return schema.RequestPermissionResponse(
            outcome=schema.AllowedOutcome(outcome="selected", option_id=chosen.option_id)
        )

    def _answered_for_child(self, call_id: str, allowed: bool) -> None:
        """A sub-agent's call the person answered ends its row in the parent's pane: how it then runs
        is the sub-agent's (its session is not shown yet), not a call the agent left open."""
        said = "allowed: the sub-agent runs it in its own session" if allowed else ""
        content = [
            schema.ContentToolCallContent(
                type="content", content=schema.TextContentBlock(type="text", text=said)
            )
        ]
        self.inbox.put_nowait(
            schema.ToolCallProgress(
                session_update="tool_call_update",
                tool_call_id=call_id,
                status="completed" if allowed else "failed",
                content=content if allowed else None,
            )
        )

    async def create_elicitation(self, message: str, mode: Any, **_: Any) -> Any:
        """The person's answer to the agent's form, as the SDK's response of its action; withdrawn
        as a permission request is."""
        call = mode.tool_call_id if isinstance(mode, schema.ElicitationFormSessionMode) else None
        try:
            with self._asking(call) as asking:
                return await self._create_elicitation(message, mode, asking)
        except TurnOver:
            self._refused_late("question")
            return schema.CancelElicitationResponse(action="cancel")

    async def _create_elicitation(self, message: str, mode: Any, asking: Asking) -> Any:
        forms = (schema.ElicitationFormSessionMode, schema.ElicitationFormRequestMode)
        if not isinstance(mode, forms):
            raise RequestError.invalid_params({"reason": "lfg offers form elicitations only"})
        if self.cancelling:
            return schema.CancelElicitationResponse(action="cancel")
        if self.elicit is None:
            self.inbox.put_nowait(
                self.ev(Status, message="declined the agent's question: nobody can answer it")
            )
            return schema.DeclineElicitationResponse(action="decline")
        await self.caught_up()
        form = mode.requested_schema.model_dump(mode="json", by_alias=True, exclude_none=True)
        reply: Reply = await asking.ask(self.elicit(message, form))
        if self.cancelling or reply.action == "cancel":
            return schema.CancelElicitationResponse(action="cancel")
        if reply.action == "accept":
            return schema.AcceptElicitationResponse(action="accept", content=reply.content)
        return schema.DeclineElicitationResponse(action="decline")

    def _edits_shown(self, content: list[Any], raw_input: Any) -> set[tuple[str, str]]:
        """The (file, new text) pairs a person saw in full when approving: each diff, and an input
        that names a `path` and its whole `content`."""
        shown = {
            (_normal(item.path), item.new_text)
            for item in content
            if isinstance(item, schema.FileEditToolCallContent)
        }
        if isinstance(raw_input, dict):
            path, text = raw_input.get("path"), raw_input.get("content")
            if isinstance(path, str) and isinstance(text, str):
                shown.add((_normal(str(self.toolbox.ctx.workdir / path)), text))
        return shown

    def _asked(
        self,
        tool_call: schema.ToolCallUpdate,
        content: list[Any],
        options: list[schema.PermissionOption],
        allow: schema.PermissionOption,
        reject: schema.PermissionOption | None,
    ) -> dict[str, Any]:
        """Everything the person approves: the call's input, its changes, and what yes and no pick."""
        call = self.reader.calls[tool_call.tool_call_id]
        asked: dict[str, Any] = {"kind": tool_call.kind or call.kind or "other"}
        known = self.reader.inputs.get(tool_call.tool_call_id)
        raw_input = tool_call.raw_input if tool_call.raw_input is not None else known
        if raw_input is not None:
            asked["input"] = raw_input
        changes = "\n".join(tool_content_text(item).rstrip("\n") for item in content)
        if changes:
            asked["changes"] = changes
        asked["the agent offers"] = [f"{o.name} ({o.kind})" for o in options]
        asked["yes picks"] = allow.name
        asked["no picks"] = reject.name if reject is not None else "cancel the request"
        return asked

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **_: Any
    ) -> schema.ReadTextFileResponse:
        await self.in_order()
        try:
            place = self._place(path)
            content = await read_text(place.ctx, place.name, line or 1, limit)
        except FileNotFoundError:
            return schema.ReadTextFileResponse(content=MISSING_FILE_TEXT)
        except (ToolError, OSError) as exc:
            raise self._refused("read", path, str(exc)) from None
        return schema.ReadTextFileResponse(content=content)

    async def write_text_file(
        self, session_id: str, path: str, content: str, **_: Any
    ) -> schema.WriteTextFileResponse:
        """Write as lfg's own `write_file` does, shown as a row of the tool log. The person is asked
        unless they just approved exactly this content for this file in the agent's own request."""
        try:
            place = self._place(path)
        except ToolError as exc:
            raise self._refused("write", path, str(exc)) from None
        try:
            await self.caught_up()
        except TurnOver:
            raise self._refused("write", path, AFTER_TURN) from None
        call_id = f"{LFG_CALL}write-{next(self._writes)}"
        arguments = {"path": place.shown, "content": content}
        ready = self.ev(
            ToolCallReady,
            call_id=call_id,
            name="write_file",
            arguments=arguments,
            raw_arguments=json.dumps(arguments, ensure_ascii=False),
        )
        self.inbox.put_nowait(self.ev(ToolCallStarted, call_id=call_id, name="write_file"))
        self.inbox.put_nowait(ready)
        try:
            await self.caught_up()
        except TurnOver:
            self.inbox.put_nowait(self.ev(ToolResult, call_id=call_id, output=AFTER_TURN, is_error=True))
            raise self._refused("write", path, AFTER_TURN) from None
        written = {"path": place.name, "content": content}
        if (_normal(path), content) in self._approved_edits:
            outcome = await run_tool(BUILTIN_TOOLS["write_file"], written, place.ctx)
        else:  # asked as shown, written in its root
            toolbox = replace(self.toolbox, ctx=place.ctx, approve=_asked_as(self.toolbox.approve, ready))
            outcome = await toolbox.execute(replace(ready, arguments=written))
        self.inbox.put_nowait(
            self.ev(ToolResult, call_id=call_id, output=outcome.output, is_error=outcome.is_error)
        )
        if outcome.is_error:
            raise RequestError(INVALID_PARAMS, outcome.output, {"path": path})
        return schema.WriteTextFileResponse()

    def _refused(self, what: str, path: str, reason: str) -> RequestError:
        """Say in the pane that lfg refused the agent's `what` of `path`, and tell the agent why."""
        self.inbox.put_nowait(self.ev(Status, message=f"refused the agent's {what} of {path}: {reason}"))
        return RequestError(INVALID_PARAMS, reason, {"path": path})

    def _refused_command(self, line: str, reason: str) -> RequestError:
        """Say in the pane that lfg refused to run the agent's command, and tell the agent why."""
        self.inbox.put_nowait(self.ev(Status, message=f"refused the agent's command {line}: {reason}"))
        return RequestError(INVALID_PARAMS, reason, {"command": line})

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[schema.EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **_: Any,
    ) -> schema.CreateTerminalResponse:
        """Run the command as `run_command` runs one, once the person approved it as one (a lone
        `command` is a shell line, with `args` it is a program and its arguments)."""
        line = shlex.join([command, *args]) if args else command
        try:
            place = self._place(cwd) if cwd else None
            folder = confine(place.ctx, place.name) if place else self.toolbox.ctx.workdir
            if not folder.is_dir():
                raise ToolError(f"cwd {cwd!r} is not a folder")
        except ToolError as exc:
            raise self._refused_command(line, str(exc)) from None
        variables = {variable.name: variable.value for variable in env or ()}
        if self.cancelling:
            raise self._refused_command(line, "the attempt is being cancelled")
        if self.between_turns:
            raise self._refused_command(line, AFTER_TURN)
        if line not in self._approved_commands:
            try:
                await self.caught_up()
            except TurnOver:
                raise self._refused_command(line, AFTER_TURN) from None
            arguments: dict[str, Any] = {"command": line}
            workdir = self.toolbox.ctx.workdir
            if folder != workdir:
                arguments["cwd"] = (
                    folder.relative_to(workdir).as_posix() if folder.is_relative_to(workdir) else str(folder)
                )
            if variables:
                arguments["env"] = sorted(variables)
            asked = self.ev(
                ToolCallReady,
                call_id=f"{LFG_CALL}terminal-{next(self._terminal_asks)}",
                name="run_command",
                arguments=arguments,
                raw_arguments=json.dumps(arguments, ensure_ascii=False),
            )
            refusal = await self.toolbox.approve(asked)
            if refusal is not None:
                raise self._refused_command(line, refusal)
        terminal_id = await self.terminals.create(line, folder, variables, output_byte_limit)
        return schema.CreateTerminalResponse(terminal_id=terminal_id)

    def _terminal(self, terminal_id: str) -> Terminal:
        terminal = self.terminals.get(terminal_id)
        if terminal is None:
            raise RequestError.invalid_params({"terminalId": terminal_id, "reason": "no such terminal"})
        return terminal

    async def terminal_output(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> schema.TerminalOutputResponse:
        terminal = self._terminal(terminal_id)
        output, dropped = terminal.tail.text()
        exit_status = None
        if terminal.ended.done():
            exit_status = schema.TerminalExitStatus(exit_code=terminal.exit_code, signal=terminal.signal)
        return schema.TerminalOutputResponse(output=output, truncated=dropped > 0, exit_status=exit_status)

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> schema.WaitForTerminalExitResponse:
        terminal = self._terminal(terminal_id)
        await asyncio.shield(terminal.ended)
        return schema.WaitForTerminalExitResponse(exit_code=terminal.exit_code, signal=terminal.signal)

    async def kill_terminal(self, session_id: str, terminal_id: str, **_: Any) -> schema.KillTerminalResponse:
        terminal = self._terminal(terminal_id)
        await terminal.stop("by the agent")
        await asyncio.shield(terminal.ended)
        return schema.KillTerminalResponse()

    async def release_terminal(
        self, session_id: str, terminal_id: str, **_: Any
    ) -> schema.ReleaseTerminalResponse:
        self._terminal(terminal_id)
        await self.terminals.release(terminal_id)
        return schema.ReleaseTerminalResponse()

    def _place(self, path: str) -> Place:
        """Where the agent's absolute `path` lies, `..` folded: the workdir, else the additional
        directory it lies in; `confine` then checks it there for real (symbolic links too)."""
        if not Path(path).is_absolute():
            raise ToolError(f"path {path!r} is not absolute, as ACP file paths must be")
        lexical = Path(_normal(path))
        workdir = self.toolbox.ctx.workdir
        if lexical.is_relative_to(workdir):
            name = lexical.relative_to(workdir).as_posix()
            return Place(self.toolbox.ctx, name, name)
        for ctx in self.roots:
            if lexical.is_relative_to(ctx.workdir):
                return Place(ctx, lexical.relative_to(ctx.workdir).as_posix(), str(lexical))
        beside = " and its additional directories" if self.roots else ""
        raise ToolError(f"path {path!r} is outside the ticket's workdir{beside}")

    def events(self, item: Any) -> list[Event]:
        """What one inbox item streams as (a marker is set, and streams nothing)."""
        if isinstance(item, Event):
            return [item]
        if isinstance(item, asyncio.Future):
            if not item.done():
                item.set_result(None)
            return []
        if isinstance(item, TerminalNews):
            self._told.discard(item.terminal_id)
        return self.reader.events(item)
