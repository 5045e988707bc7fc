"""An offline ACP agent over stdio, scripted by the sim scenarios (`provider = "sim-acp"`, no API key).

It speaks the Agent Client Protocol through the official SDK's agent side, so lfg's ACP client is
tested against the real protocol and a real subprocess. One prompt plays every model call of a
scenario as one agent run, like the sim's generic agent protocol: thoughts, messages, a plan, and
tool calls that ask permission and read and write files through the client. The scenario's faults
become what an agent process can do wrong: crash, write garbage on stdout, go silent, or answer
with an error. Like the real agents it offers auth methods (and with `--require-auth` opens no
session before one succeeded); it offers its modes (with `--start-mode auto` one more, `auto`, where
it asks no permission, as today's Claude Code starts; `--opencode-modes` only opencode's `build` and
`plan`, none that asks; `--refuse-mode` and `--ignore-mode` make it
an agent that will not take a mode), and with `--models` the models and modes a
client may choose as session config options (`session/set_config_option`), or with
`--unstable-models` the models the older way Gemini CLI offers them (the `models` of `session/new`,
chosen with `session/set_model`, which the SDK no longer routes: `SimPipe` answers it). With
models or a mode chosen, every answer starts by saying which model and mode it runs, and with MCP
servers given (`acp_mcp.py`), which; so a test sees what reached the agent.
Sessions are saved after every prompt (see `acp_sessions`), so a later process can `session/load`
them, `session/resume` them (no replay), list them (`session/list`, a page of `LIST_PAGE`;
`--no-sessions` offers neither, nor `session/close`), or fork one (`session/fork`, unstable in ACP:
the SDK's agent side routes it only when `run_agent` is told `use_unstable_protocol`; `--no-fork`
offers none). It takes a client's additional directories (`--no-additional-directories`: none).
ACP's `$/cancel_request` (which the SDK routes neither way) it takes as the official SDK does (a
request that listens, one stalled with `--stall METHOD`, is answered -32800; any other goes on; an
unknown id is ignored), and with `--withdraw-when PATH` it sends one for a question left unanswered
once the file PATH exists.
This module is the agent the SDK drives; `acp_prompt.py` plays each prompt.

Stdout is the JSON-RPC channel, so everything human goes to stderr through `logging`.

Its process starts for every coding-agent attempt a test runs, and its start is the SDK's import:
the pydantic models of `acp.schema`, hundreds of classes made in one go. So it imports them without
what the agent never uses (`acp_start.py`), the collector off until `main` runs, which freezes what
the start made (never scanned again) and turns it back on.
"""

from __future__ import annotations

import gc

if __name__ == "__main__":  # this is the agent's process (`lfg sim acp` does the same): see above
    from lfgtui.sim.acp_start import start_lightly

    start_lightly()

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import acp
from acp.agent.connection import AgentSideConnection
from acp.core import DEFAULT_STDIO_BUFFER_LIMIT_BYTES
from acp.helpers import (
    ContentBlock,
    update_agent_message_text,
    update_available_commands,
    update_user_message_text,
)
from acp.schema import (
    AgentCapabilities,
    AllowedOutcome,
    AuthenticateResponse,
    AuthEnvVar,
    AuthMethodAgent,
    AvailableCommand,
    ClientCapabilities,
    CloseSessionResponse,
    ConfigOptionUpdate,
    Cost,
    CurrentModeUpdate,
    EnvVarAuthMethod,
    ForkSessionResponse,
    Implementation,
    InitializeResponse,
    ListSessionsResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptResponse,
    ResumeSessionResponse,
    SessionAdditionalDirectoriesCapabilities,
    SessionCapabilities,
    SessionCloseCapabilities,
    SessionConfigOptionSelect,
    SessionConfigSelectOption,
    SessionForkCapabilities,
    SessionInfo,
    SessionListCapabilities,
    SessionMode,
    SessionModeState,
    SessionResumeCapabilities,
    SetSessionConfigOptionResponse,
    SetSessionModeResponse,
    StopReason,
    TextContentBlock,
    ToolCallUpdate,
    Usage,
    UsageUpdate,
)

from lfgtui import __version__
from lfgtui.sim.acp_mcp import MCP_TRANSPORTS, capabilities, received
from lfgtui.sim.acp_prompt import (
    ALLOWING,
    AUTO_MODE,
    LATE_ASKS,
    LATE_WORD,
    PERMISSION_OPTIONS,
    AgentRun,
    PromptCancelled,
    Quirks,
    SimSession,
    TurnEnded,
    prompt_text,
    prompt_words,
)
from lfgtui.sim.acp_sessions import (
    Message,
    SavedSession,
    SessionStore,
    default_sessions_dir,
    new_session_id,
)
from lfgtui.sim.acp_stable import StableUpdates
from lfgtui.sim.acp_steering import (
    ADVERTISED,
    OUTCOMES,
    OWN_TURN,
    QUEUED_SAID,
    QUEUEING,
    STEER_METHOD,
    said_mid_turn,
    steer,
    steered_text,
)
from lfgtui.sim.scenario import (
    Echoes,
    Scenario,
    ScenarioError,
    ScenarioLibrary,
    user_scenario_dir,
)

log = logging.getLogger(__name__)

CANCEL_REQUEST = "$/cancel_request"
REQUEST_CANCELLED = -32800
STALLABLE = ("session/new", "session/load", "session/resume", "session/list")
CLIENT_REQUEST: ContextVar[Any] = ContextVar("client_request", default=None)
"""The id of the client's request the current task answers: set by `SimPipe.receive` as it hands a
request to the SDK, whose handler task copies it."""

AGENT_NAME = "lfg-sim-acp"
DEFAULT_SCENARIO = "agent-demo"
CONTEXT_WINDOW = 200_000  # the `size` of usage updates, in tokens, like a current model's context
STOP_REASONS: tuple[StopReason, ...] = ("end_turn", "max_tokens", "max_turn_requests", "refusal")
MODES = (
    SessionMode(id="default", name="Default", description="Ask before editing files or running commands"),
    SessionMode(id="plan", name="Plan", description="Think and plan before acting"),
)
AUTO = SessionMode(id=AUTO_MODE, name="Auto", description="The agent decides its permissions itself")
BUILD_MODE = "build"
OPENCODE_MODES = (
    SessionMode(id=BUILD_MODE, name="build", description="Build: runs its tools without asking"),
    SessionMode(id="plan", name="plan", description="Plan: reads and plans, edits nothing"),
)
"""Offered alone with `--opencode-modes`, as opencode offers them: none that asks, starting in build."""
"""Offered only with `--start-mode auto`: the sessions start in it and ask no permission."""
SCENARIO_COMMAND = AvailableCommand(name="scenario", description="Say which sim scenario this agent plays")
SET_MODEL = "session/set_model"
LIST_PAGE = 20  # the sessions a `session/list` page holds: a client must follow `nextCursor`
"""ACP's older way to choose a session's model (unstable, dropped from the SDK), as Gemini CLI offers it."""
KEY_ENV = "LFG_SIM_ACP_KEY"
"""The sim agent's API key variable: its `sim-api-key` auth method succeeds when it is set."""
AUTH_METHODS = [
    AuthMethodAgent(id="sim-login", name="Log in to the sim", description="An interactive login"),
    EnvVarAuthMethod(
        type="env_var", id="sim-api-key", name="Sim API key", vars=[AuthEnvVar(name=KEY_ENV, secret=True)]
    ),
]


@dataclass(frozen=True, slots=True)
class AgentOptions:
    scenario: Scenario
    stop_reason: StopReason = "end_turn"  # how a run that is not cancelled ends
    stall_initialize: bool = False  # never answer `initialize`: a client's handshake timeout is tested
    stall: str | None = None  # never answer this method, unless the client cancels it ($/cancel_request)
    sessions_dir: Path = field(default_factory=default_sessions_dir)  # where sessions outlive the process
    require_auth: bool = False  # session/new and session/load answer auth_required until authenticated
    models: tuple[str, ...] = ()  # the models a client may choose (the first runs unless it does)
    unstable_models: bool = False  # offer them as session/new's `models` and session/set_model
    quirks: Quirks = field(default_factory=Quirks)  # what real agents do that the client must show faithfully
    linger: Path | None = None  # after stdin closes, note it in this file and stay until stopped
    mcp: tuple[str, ...] = ()  # the MCP transports it takes besides stdio (http, sse)
    mcp_record: Path | None = None  # where each session request's MCP servers are appended (acp_mcp.py)
    fork: bool = True  # offer session/fork (the sessionCapabilities' fork)
    sessions: bool = True  # offer session/list, session/resume and session/close
    directories: bool = True  # offer additionalDirectories on the requests that open a session
    start_mode: str = MODES[0].id  # the mode every session starts in (`auto` offers that mode too)
    refuse_mode: str | None = None  # setting this mode answers an error (an agent that will not take it)
    ignore_mode: str | None = None  # setting this mode is answered as done, but the mode stays as it was
    opencode_modes: bool = False  # offer opencode's modes only (`OPENCODE_MODES`), starting in build
    agent_name: str = AGENT_NAME  # the name `initialize` gives (another agent's, to be taken for it)
    steering: str | None = (
        None  # advertise `_session/steering`, answering this outcome mid-turn (acp_steering.py)
    )
    prompt_queueing: bool = False  # advertise promptQueueing: a prompt sent mid-turn waits its turn

    @property
    def modes(self) -> tuple[SessionMode, ...]:
        """The modes it offers: `auto` too when sessions start in it."""
        if self.opencode_modes:
            return OPENCODE_MODES
        return (*MODES, AUTO) if self.start_mode == AUTO_MODE else MODES


class SimAcpAgent:
    """The agent the SDK drives: it calls these methods, each incoming message in its own task."""

    def __init__(self, options: AgentOptions, stdout: asyncio.StreamWriter) -> None:
        self.options = options
        self.stdout = stdout  # the protocol's own writer, for a malformed line between messages
        self.sessions: dict[str, SimSession] = {}
        self.children: dict[str, asyncio.Event] = {}
        """Each waiting sub-agent's cancel (`--subagent-waits`), by its session id."""
        self.unknown_cancels: set[str] = set()
        """Session ids cancelled that were no session (yet): a sub-agent cancelled before it waits."""
        self.store = SessionStore(options.sessions_dir)
        self._conn: AgentSideConnection | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.authenticated: str | None = None
        self.client_terminals = False
        """Whether the client offers terminals (`initialize`), which `--terminals` runs commands in."""
        self.client_forms = False
        """Whether the client takes questions as forms (`initialize`): a scenario's `[elicit]` asks one."""
        self.client_offers: dict[str, Any] = {}
        """The client's `clientCapabilities` as sent (the SDK's schema drops those it lacks)."""
        self.raw: Callable[..., Awaitable[None]] | None = None
        """Sends messages as they are, in one write, in order with the SDK's (the pipe's `send`)."""
        self.sent: weakref.WeakKeyDictionary[asyncio.Task[Any], Any] = weakref.WeakKeyDictionary()
        """The id of the last request each task sent the client (the pipe keeps it)."""
        self._cancellable: dict[Any, asyncio.Event] = {}
        """The client's requests a `$/cancel_request` cancels (a stalled one), by id."""
        self.running: set[str] = set()
        """The sessions a prompt runs in now: what a steer can go into (`--steering`)."""
        self.turns: dict[str, asyncio.Lock] = {}
        """Each session's turn, which a prompt sent mid-turn waits for (`--prompt-queueing`)."""

    @property
    def conn(self) -> AgentSideConnection:
        if self._conn is None:
            raise RuntimeError("the SDK has not connected the agent yet")
        return self._conn

    def on_connect(self, conn: AgentSideConnection) -> None:
        self._conn = conn

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: ClientCapabilities | None = None,
        client_info: Implementation | None = None,
        **kwargs: Any,
    ) -> InitializeResponse:
        client = f"{client_info.name} {client_info.version}" if client_info else "an unnamed client"
        log.info("initialize from %s (protocol %d)", client, protocol_version)
        self.client_terminals = bool(client_capabilities and client_capabilities.terminal)
        elicitation = client_capabilities.elicitation if client_capabilities else None
        self.client_forms = elicitation is not None and elicitation.form is not None
        if self.options.stall_initialize:
            log.info("stalling: initialize is never answered")
            await asyncio.Event().wait()
        return InitializeResponse(
            protocol_version=acp.PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                field_meta=QUEUEING if self.options.prompt_queueing else None,
                load_session=True,
                mcp_capabilities=capabilities(self.options.mcp),
                session_capabilities=SessionCapabilities(
                    fork=SessionForkCapabilities() if self.options.fork else None,
                    list=SessionListCapabilities() if self.options.sessions else None,
                    resume=SessionResumeCapabilities() if self.options.sessions else None,
                    close=SessionCloseCapabilities() if self.options.sessions else None,
                    additional_directories=(
                        SessionAdditionalDirectoriesCapabilities() if self.options.directories else None
                    ),
                ),
            ),
            agent_info=Implementation(
                name=self.options.agent_name, title="lfg simulator (ACP)", version=__version__
            ),
            auth_methods=list(AUTH_METHODS),
            field_meta=ADVERTISED if self.options.steering else None,
        )

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """`_session/steering` under `--steering` (acp_steering.py); no other extension request."""
        if method != STEER_METHOD or self.options.steering is None:
            raise acp.RequestError.method_not_found(f"_{method}")
        asked = params.get("sessionId")
        session = self.sessions.get(asked) if isinstance(asked, str) else None
        if session is not None:
            session.steered.set()
        quirks = self.options.quirks
        late = quirks.steer_reads_late and session is not None and session.asking > 0
        at_next_call = quirks.message_ids and self.options.steering == "injected" and not late
        answer = await steer(
            self.conn, self.options.steering, params, self.running, now=not late and not at_next_call
        )
        if answer["outcome"] == "injected" and late and session is not None:
            session.late.append(steered_text(params["prompt"]))
        if answer["outcome"] == "injected" and at_next_call and session is not None:
            session.read_next.append(said_mid_turn(params))
        if answer["outcome"] == "injected" and self.options.quirks.steer_cuts:
            self._session(params["sessionId"]).cut = True
        if answer["outcome"] == "startedNewTurn":
            session = self._session(params["sessionId"])
            session.own_turns.append(steered_text(params["prompt"]))
            if session.id not in self.running:
                self._play_own_turns(session)
        return answer

    def _play_own_turns(self, session: SimSession) -> None:
        """The turns the agent started itself with steers (`startedNewTurn`), played now that no
        prompt of the session runs: each a message no `session/prompt` owns. Under
        `--prompt-queueing` each holds the session's turn, so a prompt sent meanwhile waits for it."""
        for text in session.own_turns:
            self._after_response(self._own_turn(session, text))
        session.own_turns.clear()

    async def _own_turn(self, session: SimSession, text: str) -> None:
        log.info("a turn of its own in %s, with a steer", session.id)
        async with self.turns.setdefault(session.id, asyncio.Lock()):
            await self.conn.session_update(session.id, update_agent_message_text(OWN_TURN.format(text=text)))

    async def authenticate(self, method_id: str, **kwargs: Any) -> AuthenticateResponse:
        """`sim-api-key` succeeds when its variable is set, as Codex's key methods do; `sim-login`
        would need a person at a browser, which a client over stdio is not."""
        log.info("authenticate with %s", method_id)
        if method_id == "sim-api-key" and os.environ.get(KEY_ENV):
            self.authenticated = method_id
            return AuthenticateResponse()
        if method_id == "sim-api-key":
            raise acp.RequestError.auth_required({"reason": f"{KEY_ENV} is not set"})
        if method_id == "sim-login":
            raise acp.RequestError.auth_required({"reason": "logging in needs a person at a browser"})
        raise acp.RequestError.invalid_params({"methodId": method_id, "reason": "no such auth method"})

    async def _stall(self, method: str) -> None:
        """With `--stall METHOD`, this request is never answered, unless the client cancels it
        (`$/cancel_request`): then it is answered -32800 (Request Cancelled), as the official SDK
        answers a request whose handler gave up on its abort signal."""
        if self.options.stall != method:
            return
        request_id = CLIENT_REQUEST.get()
        signal = self._cancellable[request_id] = asyncio.Event()
        log.info("stalling: %s (request %s) is answered only if cancelled", method, request_id)
        try:
            await signal.wait()
        finally:
            del self._cancellable[request_id]
        log.info("%s (request %s) cancelled by the client ($/cancel_request): -32800", method, request_id)
        raise acp.RequestError(REQUEST_CANCELLED, "Request cancelled", {"requestId": request_id})

    def cancel_request(self, params: Any) -> None:
        """The client's `$/cancel_request`: a request that listens (a stalled one) gives up; any
        other goes on and is answered as usual, and an unknown id is ignored, as the official SDK
        does."""
        request_id = params.get("requestId") if isinstance(params, dict) else None
        signal = self._cancellable.get(request_id)
        if signal is None:
            log.info("$/cancel_request for request %s, which cannot be cancelled: ignored", request_id)
            return
        signal.set()

    async def _withdraw(self, answer: asyncio.Future[Any]) -> None:
        """Withdraw the request `answer`'s task sent the client (`--withdraw-when`)."""
        request_id = self.sent.get(answer) if isinstance(answer, asyncio.Task) else None
        if request_id is None or self.raw is None:
            return
        log.info("withdrawing request %s ($/cancel_request): not answered in time", request_id)
        await self.raw({"jsonrpc": "2.0", "method": CANCEL_REQUEST, "params": {"requestId": request_id}})

    def _check_auth(self) -> None:
        if self.options.require_auth and self.authenticated is None:
            raise acp.RequestError.auth_required({"reason": "no auth method succeeded yet"})

    async def new_session(
        self, cwd: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> NewSessionResponse | dict[str, Any]:
        self._check_auth()
        await self._stall("session/new")
        servers = received("session/new", mcp_servers, self.options.mcp, self.options.mcp_record)
        model = next(iter(self.options.models), None)
        session = SimSession(
            id=new_session_id(), cwd=Path(cwd), mode=self.options.start_mode, model=model, mcp_servers=servers
        )
        session.directories = self._directories(kwargs)
        self.sessions[session.id] = session
        log.info("session %s started in %s", session.id, cwd)
        self._after_response(
            self.conn.session_update(session.id, update_available_commands([SCENARIO_COMMAND]))
        )
        return self._with_models(NewSessionResponse(session_id=session.id, **self._choices(session)), session)

    def _choices(self, session: SimSession) -> dict[str, Any]:
        """What a client may choose in `session`: its modes, and with models, both as config options."""
        modes = _modes(session, self.options.modes)
        if not self.options.models or self.options.unstable_models:
            return {"modes": modes}
        return {"modes": modes, "config_options": self._config_options(session)}

    def _config_options(self, session: SimSession) -> list[Any]:
        return _config_options(session, self.options.models, self.options.modes)

    def _with_models(
        self, answer: NewSessionResponse | LoadSessionResponse | ForkSessionResponse, session: SimSession
    ) -> NewSessionResponse | LoadSessionResponse | ForkSessionResponse | dict[str, Any]:
        """The answer as it is, or with `--unstable-models` as a plain object with the session's
        `models` too (the SDK's schema has them no more)."""
        if not self.options.unstable_models:
            return answer
        listed = [{"modelId": model, "name": model.title()} for model in self.options.models]
        models = {"availableModels": listed, "currentModelId": session.model}
        return answer.model_dump(mode="json", by_alias=True, exclude_none=True) | {"models": models}

    async def set_session_model(self, session_id: str, model_id: str) -> None:
        """ACP's older `session/set_model`, offered with `--unstable-models` (see `SimPipe`)."""
        if not self.options.unstable_models:
            raise acp.RequestError.method_not_found(SET_MODEL)
        if model_id not in self.options.models:
            raise acp.RequestError.invalid_params({"modelId": model_id})
        self._session(session_id).model = model_id
        log.info("session %s model %s", session_id, model_id)

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> SetSessionConfigOptionResponse:
        session = self._session(session_id)
        allowed = {"model": self.options.models, "mode": tuple(mode.id for mode in self.options.modes)}
        if value not in allowed.get(config_id, ()):
            raise acp.RequestError.invalid_params({"configId": config_id, "value": value})
        if config_id == "model":
            session.model = str(value)
        elif self._takes_mode(session, str(value)):
            session.mode = str(value)
        log.info("session %s %s %s", session_id, config_id, value)
        return SetSessionConfigOptionResponse(config_options=self._config_options(session))

    def _takes_mode(self, session: SimSession, mode_id: str) -> bool:
        """Whether the session goes into `mode_id`: `--refuse-mode` answers an error, `--ignore-mode`
        says nothing of it (the session stays in its mode, which the client reads back)."""
        if mode_id == self.options.refuse_mode:
            log.info("session %s refuses mode %s", session.id, mode_id)
            refused = {"modeId": mode_id, "reason": "this agent will not take it"}
            raise acp.RequestError.invalid_params(refused)
        if mode_id == self.options.ignore_mode:
            log.info("session %s stays in mode %s, not %s", session.id, session.mode, mode_id)
            return False
        return True

    async def load_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> LoadSessionResponse | dict[str, Any]:
        """Continue a session saved by this or an earlier process, in the cwd given now. ACP wants
        the conversation replayed as updates before the response: a client rebuilds its view from it."""
        self._check_auth()
        await self._stall("session/load")
        servers = received("session/load", mcp_servers, self.options.mcp, self.options.mcp_record)
        saved = self.store.load(session_id)
        for message in saved.messages:
            replay = update_user_message_text if message.role == "user" else update_agent_message_text
            await self.conn.session_update(session_id, replay(message.text))
        session = self._taken_up(session_id, cwd, servers, saved, "loaded")
        session.directories = self._directories(kwargs)
        self._after_response(
            self.conn.session_update(session_id, update_available_commands([SCENARIO_COMMAND]))
        )
        return self._with_models(LoadSessionResponse(**self._choices(session)), session)

    def _directories(self, params: dict[str, Any]) -> tuple[str, ...]:
        """The additional directories a request that opens a session gave (ACP
        `additionalDirectories`); with `--no-additional-directories` refused, as an agent that does
        not take them could only ignore them."""
        given = params.get("additional_directories") or ()
        if given and not self.options.directories:
            reason = "this agent takes no additionalDirectories (it does not advertise them)"
            raise acp.RequestError.invalid_params({"additionalDirectories": list(given), "reason": reason})
        if given:
            log.info("additional directories: %s", ", ".join(given))
        return tuple(given)

    def _taken_up(
        self, session_id: str, cwd: str, servers: tuple[str, ...], saved: SavedSession, how: str
    ) -> SimSession:
        """A saved session live again in this process (`how`: loaded or resumed), in `cwd`."""
        session = SimSession(
            session_id,
            Path(cwd),
            self.options.start_mode,
            model=next(iter(self.options.models), None),
            mcp_servers=servers,
            prompts=saved.prompts,
            messages=saved.messages,
        )
        self.sessions[session_id] = session
        log.info("session %s %s with %d messages", session_id, how, len(saved.messages))
        return session

    async def list_sessions(
        self, cursor: str | None = None, cwd: str | None = None, **kwargs: Any
    ) -> ListSessionsResponse:
        """The saved sessions, the latest first, `LIST_PAGE` a page: the cursor is where the next
        page starts, as an agent's opaque token would say."""
        self._check_auth()
        if not self.options.sessions:
            raise acp.RequestError.method_not_found("session/list")
        await self._stall("session/list")
        start = int(cursor) if cursor is not None and cursor.isdigit() else 0
        listed = self.store.listed(cwd)
        page = listed[start : start + LIST_PAGE]
        more = start + LIST_PAGE < len(listed)
        return ListSessionsResponse(
            sessions=[
                SessionInfo(
                    session_id=item.session_id,
                    cwd=item.saved.cwd,
                    title=item.title,
                    updated_at=datetime.fromtimestamp(item.updated, UTC).isoformat(),
                )
                for item in page
            ],
            next_cursor=str(start + LIST_PAGE) if more else None,
        )

    async def resume_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> ResumeSessionResponse | dict[str, Any]:
        """Continue a saved session without replaying it (unlike session/load), in the cwd given."""
        self._check_auth()
        if not self.options.sessions:
            raise acp.RequestError.method_not_found("session/resume")
        await self._stall("session/resume")
        servers = received("session/resume", mcp_servers, self.options.mcp, self.options.mcp_record)
        saved = self.store.load(session_id)
        session = self._taken_up(session_id, cwd, servers, saved, "resumed")
        session.directories = self._directories(kwargs)
        return self._with_models(ResumeSessionResponse(**self._choices(session)), session)

    async def close_session(self, session_id: str, **kwargs: Any) -> CloseSessionResponse:
        """End a live session: its turn, if one runs, is cancelled first, as ACP asks."""
        if session_id not in self.sessions:
            raise acp.RequestError.resource_not_found(session_id)
        await self.cancel(session_id)
        del self.sessions[session_id]
        log.info("session %s closed", session_id)
        return CloseSessionResponse()

    async def fork_session(
        self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None, **kwargs: Any
    ) -> ForkSessionResponse | dict[str, Any]:
        """A new session holding the conversation of `session_id` (live in this process, or saved by
        an earlier one) as it is now, in the cwd given; saved at once, so it can be loaded too."""
        self._check_auth()
        if not self.options.fork:
            raise acp.RequestError.method_not_found("session/fork")
        servers = received("session/fork", mcp_servers, self.options.mcp, self.options.mcp_record)
        live = self.sessions.get(session_id)
        saved = self.store.load(session_id) if live is None else None
        prompts = live.prompts if live is not None else saved.prompts if saved is not None else 0
        messages = list(live.messages if live is not None else saved.messages if saved is not None else [])
        model = next(iter(self.options.models), None)
        start = self.options.start_mode
        session = SimSession(
            new_session_id(), Path(cwd), start, model, servers, prompts=prompts, messages=messages
        )
        session.directories = self._directories(kwargs)
        self.sessions[session.id] = session
        self.store.save(session.id, SavedSession(cwd, prompts, messages))
        log.info("session %s forked from %s with %d messages", session.id, session_id, len(messages))
        answer = ForkSessionResponse(session_id=session.id, **self._choices(session))
        return self._with_models(answer, session)

    def _after_response(self, update: Coroutine[Any, Any, None]) -> None:
        """Send an update once the current request is answered, so the client knows the session id.

        The SDK queues the response before this task first runs.
        """
        task = asyncio.create_task(update)
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        """Forget a finished background update; one the client left before is only logged."""
        self._background.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.info("an update was not sent: %r", error)

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> SetSessionModeResponse:
        """Go into `mode_id`; with `--ignore-mode` it stays, and says so in a `current_mode_update`
        sent before the answer, as an agent reports its mode."""
        if mode_id not in {mode.id for mode in self.options.modes}:
            raise acp.RequestError.invalid_params({"modeId": mode_id})
        session = self._session(session_id)
        if self._takes_mode(session, mode_id):
            session.mode = mode_id
        else:
            update = CurrentModeUpdate(session_update="current_mode_update", current_mode_id=session.mode)
            await self.conn.session_update(session_id, update)
        log.info("session %s mode %s", session_id, session.mode)
        return SetSessionModeResponse()

    async def prompt(self, session_id: str, prompt: list[ContentBlock], **kwargs: Any) -> PromptResponse:
        """Play the scenario (again, for a follow-up), or answer the `/scenario` command; under
        `--prompt-queueing` a prompt sent while another of its session runs waits for it to end."""
        session = self._session(session_id)
        try:
            if not self.options.prompt_queueing:
                return await self._prompt(session, prompt, **kwargs)
            turn = self.turns.setdefault(session.id, asyncio.Lock())
            queued = turn.locked()
            if queued:
                log.info("prompt in %s queued behind the running turn", session.id)
            async with turn:
                return await self._prompt(session, prompt, queued, **kwargs)
        finally:
            self._play_own_turns(session)

    async def _prompt(
        self, session: SimSession, prompt: list[ContentBlock], queued: bool = False, **kwargs: Any
    ) -> PromptResponse:
        session.cancelled.clear()
        session.prompts += 1
        words = prompt_words(prompt)
        log.info("prompt %d in %s: %d words", session.prompts, session.id, words)
        if "traceparent" in kwargs:  # the client's trace context, as ACP's meta-propagation RFD says
            log.info("prompt %d traceparent %s", session.prompts, kwargs["traceparent"])
        scenario = self.options.scenario.echoing(Echoes(prompt=prompt_text(prompt)))
        quirks, terminals, forms = self.options.quirks, self.client_terminals, self.client_forms
        send = functools.partial(self._send_update, session)
        ask = functools.partial(self._ask_for_child, session) if self.options.quirks.subagent_asks else None
        hold = self._hold_child if self.options.quirks.subagent_waits else None
        stable = StableUpdates(send, session.id, session.prompts, self.client_offers, ask, hold)
        run = AgentRun(
            self.conn,
            session,
            scenario,
            self.stdout,
            quirks,
            terminals,
            forms,
            stable,
            self._withdraw,
            self.sent,
        )
        stop_reason: StopReason = self.options.stop_reason
        await self._fall_back(session)
        self.running.add(session.id)
        try:
            if queued:
                await run.say(QUEUED_SAID)
            if session.model is not None or session.mode != MODES[0].id:  # `auto` is said too
                model = session.model or "(none chosen)"
                await run.say(f"(the sim agent runs model {model} in mode {session.mode})\n\n")
            if session.mcp_servers:
                await run.say(f"(the sim agent has MCP servers {', '.join(session.mcp_servers)})\n\n")
            if session.directories:
                await run.say(f"(the sim agent may work in {', '.join(session.directories)} too)\n\n")
            if _command(prompt) == SCENARIO_COMMAND.name:
                scenario = self.options.scenario
                await run.say(f"I play the sim scenario **{scenario.name}**: {scenario.description}")
            else:
                await self._play(run)
        except PromptCancelled:
            stop_reason = "cancelled"
        except TurnEnded as ended:
            stop_reason = ended.stop_reason
        finally:  # a failed prompt too: the client saw what the agent said before the failure
            self.running.discard(session.id)
            session.messages += [Message("user", prompt_text(prompt)), Message("agent", "".join(run.said))]
            self.store.save(session.id, SavedSession(str(session.cwd), session.prompts, session.messages))
        if self.options.quirks.rate_limit is not None:
            await self._report_limit(session, self.options.quirks.rate_limit)
        usage = Usage(
            input_tokens=words, output_tokens=run.output_tokens, total_tokens=words + run.output_tokens
        )
        session.used_tokens += usage.total_tokens
        if self.options.quirks.quota_meta:
            counted = {"input_tokens": words, "output_tokens": run.output_tokens - run.thought_tokens}
            split = model_usage(counted, self.options.quirks.answered_by)
            quota = {"token_count": counted, "model_usage": split}
            return PromptResponse(stop_reason=stop_reason, field_meta={"quota": quota})
        session.cost_usd += self.options.quirks.cost_usd
        cost = Cost(amount=session.cost_usd, currency="USD") if self.options.quirks.cost_usd else None
        await self.conn.session_update(
            session.id,
            UsageUpdate(
                session_update="usage_update", used=session.used_tokens, size=CONTEXT_WINDOW, cost=cost
            ),
        )
        log.info(
            "prompt %d in %s: %s after %d output tokens",
            session.prompts,
            session.id,
            stop_reason,
            run.output_tokens,
        )
        if self.options.quirks.late_word:
            self._after_response(self._late_word(session))
        if self.options.quirks.late_asks:
            self._after_response(self._late_asks(session))
        return PromptResponse(stop_reason=stop_reason, usage=usage)

    async def _late_word(self, session: SimSession) -> None:
        """`--late-word`: a file read first, which lfg answers only after it has taken the prompt's
        answer, so the word comes after the turn ended on lfg's side too."""
        with contextlib.suppress(acp.RequestError):
            await self.conn.read_text_file(session.id, str(session.cwd / "late.txt"))
        await self.conn.session_update(session.id, update_agent_message_text(LATE_WORD))
        log.info("a late word in %s after prompt %d was answered", session.id, session.prompts)

    async def _late_asks(self, session: SimSession) -> None:
        """`--late-asks`: once lfg has answered a file read asked after the prompt's answer (so the
        turn has ended on lfg's side too), a permission request, a file write and a command, each
        sent once the one before was answered; what came back, in the log and one more chunk."""
        with contextlib.suppress(acp.RequestError):
            await self.conn.read_text_file(session.id, str(session.cwd / "late.txt"))
        request = ToolCallUpdate(tool_call_id="late-ask", title="a late edit", kind="edit")
        asked = await self.conn.request_permission(session.id, request, list(PERMISSION_OPTIONS))
        said = [f"permission {asked.outcome.outcome}"]
        for name, sent in (
            ("write", lambda: self.conn.write_text_file(session.id, str(session.cwd / "late.txt"), "late\n")),
            ("command", lambda: self.conn.create_terminal(session.id, "echo late > late.txt")),
        ):
            try:
                await sent()
                said.append(f"{name} done")
            except acp.RequestError as exc:
                said.append(f"{name} refused: {exc}")
        line = f"{LATE_ASKS}{'; '.join(said)}"
        log.info("%s", line)
        await self.conn.session_update(session.id, update_agent_message_text(line))

    async def _play(self, run: AgentRun) -> None:
        """The scenario's model calls; under `--answers-early` only until the turn's first permission
        request: the prompt is answered while it waits, and the rest plays after the answer."""
        if not self.options.quirks.answers_early:
            await run.play()
            return
        playing = asyncio.ensure_future(run.play())
        early = asyncio.ensure_future(run.answer_now.wait())
        try:
            await asyncio.wait({playing, early}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            early.cancel()
        if playing.done():
            playing.result()
            return
        log.info("prompt %d in %s answered early: the turn goes on", run.session.prompts, run.session.id)

        async def goes_on() -> None:
            await playing

        self._after_response(goes_on())

    async def _report_limit(self, session: SimSession, used: float) -> None:
        """The account's limit in a usage update of its own, as Claude Code relays its SDK's rate-limit
        event: the context as it stood, `_meta["_claude/rateLimit"]` the window."""
        status = "rejected" if used >= 1 else "allowed_warning" if used >= 0.9 else "allowed"
        said = {"status": status, "rateLimitType": "five_hour", "utilization": used}
        said["resetsAt"] = int(time.time()) + 3600
        meta = {"_claude/rateLimit": said}
        context = {"used": session.used_tokens, "size": CONTEXT_WINDOW}
        update = UsageUpdate(session_update="usage_update", **context, field_meta=meta)
        await self.conn.session_update(session.id, update)

    async def _fall_back(self, session: SimSession) -> None:
        """With `--fallback-model`, run that model from now on and say so as a config option update
        (where models are config options), as an agent falls back from an overloaded model."""
        fallback = self.options.quirks.fallback_model
        if not fallback or fallback == session.model:
            return
        session.model = fallback
        options = self._choices(session).get("config_options")
        if options is not None:
            update = ConfigOptionUpdate(session_update="config_option_update", config_options=options)
            await self.conn.session_update(session.id, update)

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        if (child := self.children.get(session_id)) is not None:  # a sub-agent's: it alone stops
            log.info("cancel of sub-agent %s", session_id)
            child.set()
        elif (session := self.sessions.get(session_id)) is None:
            self.unknown_cancels.add(session_id)
        else:
            log.info("cancel in %s", session_id)
            if not self.options.quirks.deaf_to_cancel:
                session.cancelled.set()

    async def _send_update(self, session: SimSession, session_id: str, *updates: dict[str, Any]) -> None:
        """`session/update`s the SDK cannot send (of a kind its schema lacks, or several in one
        write), as raw JSON (`acp_stable.py`) on `session` or on a sub-agent's session of its prompt."""
        if session.cancelled.is_set():
            raise PromptCancelled
        if self.raw is not None:
            await self.raw(
                *(
                    {
                        "jsonrpc": "2.0",
                        "method": "session/update",
                        "params": {"sessionId": session_id, "update": u},
                    }
                    for u in updates
                )
            )

    async def _hold_child(self, child: str) -> None:
        """A sub-agent waits until the client cancels it (`--subagent-waits`)."""
        cancelled = self.children[child] = asyncio.Event()
        if child in self.unknown_cancels:
            cancelled.set()
        try:
            await cancelled.wait()
        finally:
            del self.children[child]

    async def _ask_for_child(self, session: SimSession, child: str, call: dict[str, Any]) -> bool:
        """A sub-agent's permission request for its tool call, on its own session (`--subagent-asks`)."""
        if session.cancelled.is_set():
            raise PromptCancelled
        request = ToolCallUpdate(tool_call_id=call["toolCallId"], title=call["title"], kind=call["kind"])
        response = await self.conn.request_permission(child, request, list(PERMISSION_OPTIONS))
        outcome = response.outcome
        return isinstance(outcome, AllowedOutcome) and outcome.option_id in ALLOWING

    def _session(self, session_id: str) -> SimSession:
        if session := self.sessions.get(session_id):
            return session
        raise acp.RequestError.invalid_params({"sessionId": session_id, "reason": "no such session"})


def _modes(session: SimSession, modes: tuple[SessionMode, ...]) -> SessionModeState:
    return SessionModeState(current_mode_id=session.mode, available_modes=list(modes))


def _config_options(
    session: SimSession, models: tuple[str, ...], modes: tuple[SessionMode, ...] = MODES
) -> list[Any]:
    """The session's model and mode as config options, as Claude Code and Codex offer them."""
    return [
        SessionConfigOptionSelect(
            type="select",
            id="mode",
            name="Mode",
            category="mode",
            current_value=session.mode,
            options=[SessionConfigSelectOption(value=mode.id, name=mode.name) for mode in modes],
        ),
        SessionConfigOptionSelect(
            type="select",
            id="model",
            name="Model",
            category="model",
            current_value=session.model or "",
            options=[SessionConfigSelectOption(value=model, name=model.title()) for model in models],
        ),
    ]


def model_usage(counted: dict[str, int], models: tuple[str, ...]) -> list[dict[str, Any]]:
    """Gemini CLI's `model_usage`: `counted` split between `models`, the first taking the remainders."""
    n = len(models)
    shares = [{name: count // n for name, count in counted.items()} for _ in models]
    if shares:
        shares[0] = {name: count - count // n * (n - 1) for name, count in counted.items()}
    return [{"model": model, "token_count": share} for model, share in zip(models, shares, strict=True)]


def _command(prompt: list[ContentBlock]) -> str | None:
    """The slash command a prompt starts with, if any."""
    text = next((block.text for block in prompt if isinstance(block, TextContentBlock)), "").strip()
    return text[1:].split(maxsplit=1)[0] if text.startswith("/") and len(text) > 1 else None


class SimPipe:
    """The agent's stdin and stdout as an ACP transport, one JSON object a line each way, answering
    ACP's older `session/set_model` itself: the SDK's agent side no longer routes it.

    The sim's own, not lfg's stricter pipe (`run/agents/transport.py`): the sim is what lfg's ACP
    client is checked against, so it shares none of it. A line that is no JSON object ends the stream."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, agent: SimAcpAgent
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.agent = agent

    async def send(self, *messages: dict[str, Any]) -> None:
        """Messages in one write: the client reads several at once, as it does an agent's burst."""
        task = asyncio.current_task()
        for message in messages:
            if "method" in message and "id" in message and task is not None:  # a request of the agent's
                self.agent.sent[task] = message["id"]
        lines = (json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for m in messages)
        self.writer.write(b"".join(lines))
        await self.writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        while line := await self.reader.readline():
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                return None
            if message.get("method") == "initialize" and isinstance(message.get("params"), dict):
                offered = message["params"].get("clientCapabilities")
                self.agent.client_offers.update(offered if isinstance(offered, dict) else {})
            if message.get("method") == CANCEL_REQUEST and "id" not in message:
                self.agent.cancel_request(message.get("params"))  # the SDK (0.12.1) knows it not
                continue
            # the SDK's handler task for a request, created next from this task, holds its id
            CLIENT_REQUEST.set(message.get("id") if "method" in message else None)
            if message.get("method") != SET_MODEL:
                return message
            await self.send(await self._set_model(message))
        return None

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def _set_model(self, request: dict[str, Any]) -> dict[str, Any]:
        params = request.get("params")
        params = params if isinstance(params, dict) else {}
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            await self.agent.set_session_model(str(params.get("sessionId")), str(params.get("modelId")))
        except acp.RequestError as exc:
            return answer | {"error": exc.to_error_obj()}
        return answer | {"result": {}}


async def serve(options: AgentOptions) -> None:
    """Speak ACP on stdin/stdout until the client closes stdin."""
    reader, writer = await acp.stdio_streams(limit=DEFAULT_STDIO_BUFFER_LIMIT_BYTES)
    agent = SimAcpAgent(options, writer)
    pipe = SimPipe(reader, writer, agent)
    agent.raw = pipe.send
    try:
        # session/fork is unstable in ACP: the SDK routes it only when told to
        await acp.run_agent(agent, pipe, use_unstable_protocol=True)
    finally:
        writer.close()
    if options.linger is not None:  # as a real agent takes its time to exit: until it is stopped
        with options.linger.open("a") as file:  # other agents append too: a short line is one write
            file.write(f"eof {os.getpid()}\n")
        await asyncio.Event().wait()


def _transports(value: str) -> tuple[str, ...]:
    """`--mcp http,sse`: MCP transports besides stdio."""
    names = tuple(name for name in value.split(",") if name)
    if not set(names) <= set(MCP_TRANSPORTS):
        raise argparse.ArgumentTypeError(f"MCP transports are {' and '.join(MCP_TRANSPORTS)}, not {value!r}")
    return names


class Options(Protocol):
    """Where options are added: the parser, or a group of its options."""

    def add_argument(self, *names: str, **how: Any) -> argparse.Action: ...


def build_parser() -> argparse.ArgumentParser:
    """`lfg sim acp`'s options, a function per concern: those of the agent itself, then what real
    agents do (its quirks) in a group of their own."""
    parser = argparse.ArgumentParser(
        prog="lfg sim acp",
        description="An offline ACP agent on stdin/stdout that plays a sim scenario (log on stderr).",
    )
    _scenario_options(parser)
    _handshake_options(parser)
    _steering_options(parser)
    _model_and_mode_options(parser)
    _mcp_options(parser)
    _session_options(parser)
    quirks = parser.add_argument_group("real agents' ways", "what real agents do, for a client to show")
    _message_quirks(quirks)
    _update_quirks(quirks)
    _subagent_quirks(quirks)
    _tool_quirks(quirks)
    _usage_quirks(quirks)
    _stopping_quirks(quirks)
    return parser


def _scenario_options(group: Options) -> None:
    """What it plays: the scenario, from which folders, and how a prompt ends."""
    group.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        metavar="NAME[:opt=val,...]",
        help=f"the scenario and its options, e.g. long-answer:tokens_per_s=200 (default {DEFAULT_SCENARIO})",
    )
    group.add_argument(
        "--scenario-dir",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="another folder of scenario files (repeatable; later folders win on a name clash)",
    )
    group.add_argument(
        "--stop-reason",
        choices=STOP_REASONS,
        default="end_turn",
        help="how a prompt that is not cancelled ends (default end_turn)",
    )


def _handshake_options(group: Options) -> None:
    """Before a session: a handshake or a request never answered, and authentication."""
    group.add_argument(
        "--stall-initialize", action="store_true", help="never answer initialize (handshake timeouts)"
    )
    group.add_argument(
        "--stall",
        choices=STALLABLE,
        default=None,
        metavar="METHOD",
        help="never answer METHOD unless the client cancels it ($/cancel_request): then answer -32800",
    )
    group.add_argument(
        "--require-auth",
        action="store_true",
        help=f"open no session before authenticate succeeded (sim-api-key does when {KEY_ENV} is set)",
    )
    group.add_argument(
        "--agent-name",
        default=AGENT_NAME,
        metavar="NAME",
        help="the name initialize gives for the agent, another agent's to be taken for it (codex-acp: its "
        f"calls' input is read as its account of them, not the model's) (default {AGENT_NAME})",
    )


def _steering_options(group: Options) -> None:
    """Whether it takes steers into a running turn, and what it answers them."""
    group.add_argument(
        "--steering",
        choices=OUTCOMES,
        default=None,
        metavar="OUTCOME",
        help="advertise _session/steering (as claude-agent-acp and codex-acp do) and answer a steer sent"
        f" mid-turn with OUTCOME ({', '.join(OUTCOMES)}); a taken one is said in the turn",
    )
    group.add_argument(
        "--steer-cuts",
        action="store_true",
        help="a steer taken mid-answer cuts the model call streaming off, as Claude Code does: the rest"
        " of its text is never sent, its tokens are not counted, and another call answers anew; one"
        " taken while a call's arguments stream (--paced-tool-input) stops that call before it runs",
    )
    group.add_argument(
        "--steer-reads-late",
        action="store_true",
        help="a steer taken while a permission request waits is read only after the turn's last answer,"
        " as one more model call, as Claude Code does: two steers can be read in reverse order",
    )
    group.add_argument(
        "--message-ids",
        action="store_true",
        help="give each model call's message an id (messageId on its chunks), as Claude Code does; a"
        " steer taken while no permission waits is read at the next model call, said as it begins",
    )
    group.add_argument(
        "--announce-round",
        action="store_true",
        help="announce all of a model call's tool calls before the first is asked about or run, as"
        " Claude Code does",
    )
    group.add_argument(
        "--answer-taken-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="once a permission request is answered, refine the asked call (no status) and take the"
        " answer only when a steer comes or MS have passed, still waiting on the person meanwhile",
    )
    group.add_argument(
        "--prompt-queueing",
        action="store_true",
        help="advertise prompt queueing as claude-agent-acp does (agentCapabilities._meta.claudeCode."
        "promptQueueing): a session/prompt sent while the session's turn runs waits for it to end, then"
        " plays, saying so",
    )


def _model_and_mode_options(group: Options) -> None:
    """The models and modes it offers, and a mode it will not take."""
    group.add_argument(
        "--models",
        type=lambda value: tuple(name for name in value.split(",") if name),
        default=(),
        metavar="A,B,...",
        help="offer these models (the first runs unless the client chooses) and the modes as config options",
    )
    group.add_argument(
        "--unstable-models",
        action="store_true",
        help="offer --models the older way, as Gemini CLI does: the models of session/new and "
        "session/load, chosen with session/set_model, no config options",
    )
    group.add_argument(
        "--start-mode",
        choices=(*(mode.id for mode in MODES), AUTO_MODE),
        default=MODES[0].id,
        help="the mode sessions start in; auto (offered only then) asks no permission, as today's "
        "Claude Code starts (default %(default)s)",
    )
    group.add_argument(
        "--opencode-modes",
        action="store_true",
        help="offer only opencode's modes, build (sessions start in it) and plan: none of id default, "
        "the mode a client knows asks",
    )
    group.add_argument(
        "--refuse-mode",
        default=None,
        metavar="MODE",
        help="answer an error when the client sets MODE (an agent that will not take it)",
    )
    group.add_argument(
        "--ignore-mode",
        default=None,
        metavar="MODE",
        help="answer setting MODE as done but stay in the mode the session is in, and report that mode",
    )


def _mcp_options(group: Options) -> None:
    """The MCP servers it takes, and where it writes down those it was given."""
    group.add_argument(
        "--mcp",
        type=_transports,
        default=(),
        metavar="http,sse",
        help="the MCP transports it takes besides stdio (mcpCapabilities); a server of another is refused",
    )
    group.add_argument(
        "--mcp-record",
        type=Path,
        default=None,
        metavar="FILE",
        help="append each session/new and session/load's mcpServers (values too: for tests) to FILE, "
        "a JSON line each",
    )


def _session_options(group: Options) -> None:
    """What it offers of sessions, and where it keeps them for a later process."""
    group.add_argument(
        "--no-fork",
        dest="fork",
        action="store_false",
        help="offer no session/fork (sessionCapabilities), as an agent that cannot fork sessions",
    )
    group.add_argument(
        "--no-sessions",
        dest="sessions",
        action="store_false",
        help="offer no session/list, session/resume or session/close, as an agent that has none",
    )
    group.add_argument(
        "--no-additional-directories",
        dest="directories",
        action="store_false",
        help="offer no additionalDirectories (sessionCapabilities), and refuse a session given some",
    )
    group.add_argument(
        "--sessions-dir",
        type=Path,
        default=default_sessions_dir(),
        metavar="DIR",
        help="where sessions are saved for session/load by a later agent process (default %(default)s)",
    )


def _message_quirks(group: Options) -> None:
    """How its words come: messages, chunks and its own warnings."""
    group.add_argument(
        "--bare-messages",
        action="store_true",
        help="each model call's text a message of its own, no blank line added between them (as Claude Code)",
    )
    group.add_argument(
        "--empty-first-chunk", action="store_true", help="an empty message chunk as soon as a prompt arrives"
    )
    group.add_argument(
        "--notice",
        default="",
        metavar="TEXT",
        help="the agent's own warning, sent whole as soon as a prompt arrives, before the model's output",
    )
    group.add_argument(
        "--informational",
        default="",
        metavar="TEXT",
        help="the agent's own warning marked as Claude Code marks its own, after the first call",
    )
    group.add_argument(
        "--acp-notice",
        default="",
        metavar="TITLE",
        help="an ACP notice (a warning with this title) as a prompt arrives, if the client takes notices",
    )
    group.add_argument(
        "--burst",
        default="",
        metavar="TEXT",
        help="answer every prompt with this text at once (two chunks), as an agent relays an error",
    )


def _update_quirks(group: Options) -> None:
    """The session updates besides words: a plan, a compaction, a title, one no schema has."""
    group.add_argument(
        "--plan-ops",
        action="store_true",
        help="send the plan as ACP plan operations (steps, and a Markdown plan while the turn runs), "
        "if the client takes them",
    )
    group.add_argument(
        "--compaction",
        action="store_true",
        help="each prompt ends with a compaction, if the client takes them",
    )
    group.add_argument(
        "--progress",
        default="",
        metavar="TEXT",
        help="a session_info_update titled TEXT as soon as a prompt arrives (as Codex names its thread)",
    )
    group.add_argument(
        "--unknown-update",
        default="",
        metavar="KIND",
        help="a session update of this kind, which no schema has, as a prompt arrives",
    )


def _subagent_quirks(group: Options) -> None:
    """A sub-agent amid the answer: in the background or the foreground, waiting or asking."""
    group.add_argument(
        "--subagent",
        default="",
        metavar="TITLE",
        help="a background sub-agent with this title amid the answer, if the client takes sub-agents",
    )
    group.add_argument(
        "--subagents",
        type=int,
        default=1,
        metavar="N",
        help="with --subagent, N sub-agents one after another, their titles numbered after the first",
    )
    group.add_argument(
        "--subagent-foreground",
        action="store_true",
        help="with --subagent, the sub-agent runs once the first model call's text is whole, the parent"
        " waiting for it (a foreground sub-agent)",
    )
    group.add_argument(
        "--subagent-waits",
        action="store_true",
        help="with --subagent, the sub-agent offers its cancel and waits, once it has said its first"
        " words, until the client cancels it (session/cancel with its session id)",
    )
    group.add_argument(
        "--subagent-asks",
        action="store_true",
        help="with --subagent, the sub-agent asks permission for its tool call, on its own session",
    )


def _tool_quirks(group: Options) -> None:
    """Its tool calls: how long they run, whose terminal runs them, what a denial does."""
    group.add_argument(
        "--tool-ms", type=float, default=0.0, metavar="MS", help="how long each tool call runs (default 0)"
    )
    group.add_argument(
        "--paced-tool-input",
        action="store_true",
        help="each tool call's arguments take their time at the scenario's pace before the call is shown "
        "(with late_tool_input, between its bare announcement and its input), as a model streams them",
    )
    group.add_argument(
        "--terminals",
        action="store_true",
        help="run run_command in the client's terminal when it offers one, embedded in the call",
    )
    group.add_argument(
        "--own-terminal",
        action="store_true",
        help="run run_command in the agent itself, streaming its output (the scenario's result) in the "
        "call's _meta, terminal_output_delta then terminal_exit (as Codex shows its commands to lfg)",
    )
    group.add_argument(
        "--own-writes",
        action="store_true",
        help="write write_file's file in the agent itself, as Codex's apply_patch does; a write the disk "
        "refuses ends the call with status failed alone, as Codex's ACP adapter ends a failed fileChange",
    )
    group.add_argument(
        "--after-denial",
        choices=(*STOP_REASONS, "cancelled"),
        default=None,
        metavar="STOP_REASON",
        help="end the turn at once with this stop reason when a permission request is rejected "
        "(as Codex ends it cancelled); by default the run goes on",
    )


def _usage_quirks(group: Options) -> None:
    """What a prompt reports it used: cost, a rate limit, quota counts, the model that ran."""
    group.add_argument(
        "--cost",
        type=float,
        default=0.0,
        metavar="USD",
        help="what each prompt costs: usage updates carry the session's cumulative cost (as Claude Code)",
    )
    group.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="SHARE",
        help="each prompt's end reports a five-hour limit this share used (0-1), as Claude Code does",
    )
    group.add_argument(
        "--quota-meta",
        action="store_true",
        help="report each prompt's tokens only in its answer's _meta.quota.token_count, the thoughts "
        "left out of output_tokens, with no usage update (as Gemini CLI)",
    )
    group.add_argument(
        "--answered-by",
        default="",
        metavar="MODELS",
        help="with --quota-meta, _meta.quota.model_usage splits the counts between these models "
        "(comma-separated), as Gemini CLI names the models that answered a turn",
    )
    group.add_argument(
        "--fallback-model",
        default="",
        metavar="NAME",
        help="run NAME from the next prompt on, whatever was chosen, and say so in a config option "
        "update (as an agent falls back from an overloaded model)",
    )


def _stopping_quirks(group: Options) -> None:
    """How it takes being stopped: a cancel ignored, a question withdrawn, an exit that lingers, a
    prompt answered before its turn stops."""
    group.add_argument(
        "--answers-early",
        action="store_true",
        help="answer the prompt (end_turn) while the turn's first permission request waits, and go on"
        " with the turn once it is answered (as Codex did when its Responses interrupt was refused)",
    )
    group.add_argument(
        "--late-word",
        action="store_true",
        help="after answering a prompt, read a file, then send one more message chunk of that turn"
        " (an update after its session/prompt returned)",
    )
    group.add_argument(
        "--late-asks",
        action="store_true",
        help="after answering a prompt, read a file, then ask permission, write a file and run a command"
        " (requests after its session/prompt returned), saying what came back",
    )
    group.add_argument(
        "--deaf-to-cancel",
        action="store_true",
        help="ignore session/cancel: the turn runs on until the client ends the process (a hung agent)",
    )
    group.add_argument(
        "--withdraw-when",
        default="",
        metavar="PATH",
        help="withdraw ($/cancel_request) the permission request or form waiting unanswered once the"
        " file PATH exists, then remove it",
    )
    group.add_argument(
        "--linger",
        type=Path,
        default=None,
        metavar="FILE",
        help="after stdin closes, append 'eof PID' to FILE and stay until stopped (SIGTERM), as real "
        "agents take a moment to exit",
    )


def main(argv: list[str] | None = None) -> None:
    """The entry point of `python -m lfgtui.sim.acp_agent`, and of `lfg sim acp` given its arguments;
    the collector, off while they imported the SDK, is on again from here (see above)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
    parser = build_parser()
    args = parser.parse_args(argv)
    library = ScenarioLibrary(extra_dirs=(user_scenario_dir(), *args.scenario_dir))
    try:
        scenario = library.resolve(args.scenario)
    except ScenarioError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    log.info("sim acp agent: scenario %s", args.scenario)
    options = AgentOptions(
        scenario,
        stop_reason=args.stop_reason,
        stall_initialize=args.stall_initialize,
        stall=args.stall,
        linger=args.linger,
        sessions_dir=args.sessions_dir,
        require_auth=args.require_auth,
        agent_name=args.agent_name,
        models=args.models,
        unstable_models=args.unstable_models,
        mcp=args.mcp,
        mcp_record=args.mcp_record,
        fork=args.fork,
        sessions=args.sessions,
        directories=args.directories,
        start_mode=BUILD_MODE if args.opencode_modes else args.start_mode,
        opencode_modes=args.opencode_modes,
        refuse_mode=args.refuse_mode,
        ignore_mode=args.ignore_mode,
        steering=args.steering,
        prompt_queueing=args.prompt_queueing,
        quirks=Quirks(
            bare_messages=args.bare_messages,
            empty_first_chunk=args.empty_first_chunk,
            notice=args.notice,
            informational=args.informational,
            tool_ms=args.tool_ms,
            paced_tool_input=args.paced_tool_input,
            burst=args.burst,
            terminals=args.terminals,
            cost_usd=args.cost,
            rate_limit=args.rate_limit,
            after_denial=args.after_denial,
            answers_early=args.answers_early,
            late_word=args.late_word,
            late_asks=args.late_asks,
            deaf_to_cancel=args.deaf_to_cancel,
            steer_cuts=args.steer_cuts,
            steer_reads_late=args.steer_reads_late,
            announce_round=args.announce_round,
            message_ids=args.message_ids,
            answer_taken_ms=args.answer_taken_ms,
            withdraw_when=args.withdraw_when,
            acp_notice=args.acp_notice,
            compaction=args.compaction,
            plan_ops=args.plan_ops,
            subagent=args.subagent,
            subagents=args.subagents,
            subagent_asks=args.subagent_asks,
            subagent_waits=args.subagent_waits,
            subagent_foreground=args.subagent_foreground,
            unknown_update=args.unknown_update,
            progress=args.progress,
            fallback_model=args.fallback_model,
            own_terminal=args.own_terminal,
            own_writes=args.own_writes,
            quota_meta=args.quota_meta,
            answered_by=tuple(filter(None, args.answered_by.split(","))),
        ),
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(options))


if __name__ == "__main__":
    main()
