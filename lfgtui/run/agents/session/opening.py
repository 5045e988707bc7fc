"""Opening an agent's session: `initialize` (and `authenticate`), then `session/load`,
`session/resume`, `session/fork` or `session/new` with the ticket's folders and MCP servers, then
its mode and model; and the agent's own sessions listed (`session/list`)."""

from __future__ import annotations

import asyncio
from typing import Any

import acp
from acp import schema

from lfgtui import __version__
from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.inert import inert
from lfgtui.providers.base import ProviderError
from lfgtui.run.agents.choices import Offered, choose, session_models, wanted
from lfgtui.run.agents.choices import said as _said
from lfgtui.run.agents.folder_settings import FolderWatch, leaves_out
from lfgtui.run.agents.login import AUTH_REQUIRED, login_guidance, offered_methods, usable_method
from lfgtui.run.agents.mcp import AcpServer, given_line, session_servers
from lfgtui.run.agents.session.state import SessionState
from lfgtui.run.agents.session.steering import advertises_steering
from lfgtui.run.agents.updates import describes_inputs

MAX_LIST_PAGES = 100
"""The most `session/list` pages lfg reads: an agent's cursor that never ends cannot hold it."""
RESOURCE_NOT_FOUND = -32002
"""ACP's `resource_not_found` error code: an agent's answer for a session it does not have."""


class SessionOpening(SessionState):
    """The session opened: the handshake, logging in, a new, loaded, resumed or forked session, and
    the agent's own sessions listed."""

    async def open(self, model: str) -> list[str]:
        """Open a new session and choose `model` in it, sending no prompt (`lfg agents --check`);
        returns what the pane would be told, raises `ProviderError` as a turn would fail."""
        return await self._open(None, model)

    async def _open(self, load: str | None, model: str, fork: str | None = None) -> list[str]:
        """initialize, then session/load of `load` when the agent can load sessions (or session/fork
        of `fork` when it can fork them; or the ticket's `resume_session`, which must open), else
        session/new (logging in as `login.py` says), then the ticket's mode and model, all within
        the provider's `connect_timeout_s`; returns what the pane is told."""
        config = self.launch.config
        limit = config.connect_timeout_s
        said: list[str] = []
        try:
            async with asyncio.timeout(limit):
                capabilities, logged_in = await self._handshake()
                said += logged_in
                await self._check_directories(capabilities)
                want = wanted(config, model, self.launch.mode, self.launch.yes)
                name = self.agent_info.name if self.agent_info is not None else None
                left_out = leaves_out(want.mode, self.launch.yes)
                self.folder = FolderWatch(self.client.toolbox.ctx.workdir, name, left_out)
                said += [line for line in [self.folder.opened()] if line]
                servers = session_servers(self.launch.mcp_servers, self.mcp_capabilities)
                if load:
                    said.append(await self._load(load, bool(capabilities.load_session), servers))
                elif fork:
                    offers = capabilities.session_capabilities
                    can_fork = offers is not None and offers.fork is not None
                    said.append(await self._fork(fork, can_fork, servers))
                elif self.launch.resume is not None:
                    said.append(await self._resume(self.launch.resume, capabilities, servers))
                if self.session_id is None:
                    opened, logged_in = await self._new_session(servers)
                    said += logged_in
                    self.session_id = opened.session_id
                    self.offered = self._offered(opened, "session/new")
                if servers:
                    method = "session/load" if self.loaded else "session/new"
                    method = "session/fork" if self.forked else method
                    method = self.resumed or method
                    said.append(given_line(self.launch.mcp_servers, method))
                agent, said_mode = self._agent(), self.client.mode_said
                chose, self.offered = await choose(
                    self.conn, self.session_id, self.offered, want, config, agent, said_mode
                )
                said += chose
                self.client.reader.opened(self.offered)
        except TimeoutError:
            message = f"the agent did not start a session within {limit:g} s (connect_timeout_s)"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message))) from None
        except ProviderError:
            raise
        except Exception as exc:  # whatever breaks the start fails only this ticket
            raise ProviderError(await self._failure(exc)) from None
        return said

    async def _handshake(self) -> tuple[schema.AgentCapabilities, list[str]]:
        """ACP `initialize`, then `authenticate` when the provider names its `auth_method`: what the
        agent can do, and what the pane is told."""
        started = await self.conn.initialize(
            protocol_version=acp.PROTOCOL_VERSION,
            client_capabilities=schema.ClientCapabilities(
                fs=schema.FileSystemCapabilities(read_text_file=True, write_text_file=True),
                terminal=True,
                elicitation=schema.ElicitationCapabilities(form=schema.ElicitationFormCapabilities()),
            ),
            client_info=schema.Implementation(name="lfg", title="lfgtui", version=__version__),
        )
        config = self.launch.config
        self.methods = offered_methods(started, config)
        self.agent_info = started.agent_info
        self.view.describes_inputs = describes_inputs(started.agent_info)
        capabilities = started.agent_capabilities or schema.AgentCapabilities()
        self.mcp_capabilities = capabilities.mcp_capabilities or schema.McpCapabilities()
        offers = capabilities.session_capabilities
        self.can_close = offers is not None and offers.close is not None
        self.steering = advertises_steering(started.field_meta)
        if config.agent.auth_method is None:
            return capabilities, []
        return capabilities, [await self._authenticate(config.agent.auth_method)]

    @property
    def _directories(self) -> list[str] | None:
        """The ticket's `additionalDirectories` as requests carry them; None (left out) for none."""
        return [str(folder) for folder in self.launch.additional_directories] or None

    @property
    def _opening(self) -> dict[str, Any]:
        """The `_meta` of a request that opens a session: what the folder's settings leave out."""
        return {} if self.folder is None else self.folder.meta()

    async def _check_directories(self, capabilities: schema.AgentCapabilities) -> None:
        """A ticket's additional directories need an agent that takes them
        (`sessionCapabilities.additionalDirectories`, which ACP asks a client to wait for), and each
        must still be a folder: otherwise the ticket fails saying why, rather than run without
        them, where the agent's own tools would not reach what the person named."""
        folders = self.launch.additional_directories
        if not folders:
            return
        offers = capabilities.session_capabilities
        if offers is None or offers.additional_directories is None:
            message = (
                f"additional_directories: {self._agent()} does not take additional directories (no "
                "sessionCapabilities.additionalDirectories); run the ticket without them, or on an agent "
                "that takes them"
            )
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.BAD_REQUEST, message)))
        for folder in folders:
            if not folder.is_dir() or folder.resolve() != folder:
                message = (
                    f"additional_directories: {inert(str(folder))!r} is no longer a folder (or is now a link)"
                )
                raise ProviderError(ErrorInfo(ErrorKind.BAD_REQUEST, message))

    async def sessions(self, cwd: str | None) -> list[schema.SessionInfo]:
        """The agent's own sessions, of `cwd` when given (ACP `session/list`, every page up to
        `MAX_LIST_PAGES`), within the provider's `connect_timeout_s`: what a ticket's
        `resume_session` may name (`lfg agents sessions`). Raises `ProviderError`, saying so of an
        agent that does not list them."""
        limit = self.launch.config.connect_timeout_s
        try:
            async with asyncio.timeout(limit):
                capabilities, _ = await self._handshake()
                offers = capabilities.session_capabilities
                if offers is None or offers.list is None:
                    message = f"{self._agent()} does not list its sessions (no sessionCapabilities.list)"
                    raise ProviderError(ErrorInfo(ErrorKind.BAD_REQUEST, message))
                found: list[schema.SessionInfo] = []
                cursor: str | None = None
                for _ in range(MAX_LIST_PAGES):
                    page = await self.conn.list_sessions(cursor=cursor, cwd=cwd)
                    found += page.sessions
                    cursor = page.next_cursor
                    if cursor is None:
                        break
                return found
        except TimeoutError:
            message = f"the agent did not list its sessions within {limit:g} s (connect_timeout_s)"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.TIMEOUT, message))) from None
        except ProviderError:
            raise
        except Exception as exc:  # whatever the agent does wrong, the command says it and ends
            raise ProviderError(await self._failure(exc)) from None

    async def _new_session(self, servers: list[AcpServer]) -> tuple[schema.NewSessionResponse, list[str]]:
        """session/new with the ticket's MCP servers; when the agent asks to log in first, once more
        after authenticating with the first of its methods whose variables lfg passes it. Returns
        what the pane is told too."""
        cwd = str(self.client.toolbox.ctx.workdir)
        try:
            return await self.conn.new_session(
                cwd=cwd, mcp_servers=servers, additional_directories=self._directories, **self._opening
            ), []
        except acp.RequestError as exc:
            method = usable_method(self.methods, self.env)
            if exc.code != AUTH_REQUIRED or method is None or self.authenticated is not None:
                raise
        said = await self._authenticate(method.id)
        answer = await self.conn.new_session(
            cwd=cwd, mcp_servers=servers, additional_directories=self._directories, **self._opening
        )
        return answer, [said]

    async def _authenticate(self, method_id: str) -> str:
        """Log the agent in with `method_id` (ACP `authenticate`); a failure says what to do."""
        guidance = login_guidance(self.launch.config, self.methods, self.env)
        if method_id not in {method.id for method in self.methods}:
            message = f"auth_method {inert(method_id)!r} is not one the agent offers; {guidance}"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.AUTH, message)))
        try:
            await self.conn.authenticate(method_id=method_id)
        except acp.RequestError as exc:
            message = f"logging the agent in with {inert(method_id)} failed: {_said(exc)}; {guidance}"
            raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.AUTH, message))) from None
        self.authenticated = method_id
        return f"logged the agent in with its method {inert(method_id)} (authenticate)"

    async def _load(self, session_id: str, can_load: bool, servers: list[AcpServer]) -> str:
        """Load the agent's earlier session with the ticket's MCP servers; what it replays of it is
        not shown again (the pane has it). When the agent cannot, or the load fails, the caller opens
        a new session instead."""
        if not can_load:
            return "this agent cannot load its earlier session"
        self.client.replaying = True
        try:
            loaded = await self.conn.load_session(
                cwd=str(self.client.toolbox.ctx.workdir),
                session_id=session_id,
                mcp_servers=servers,
                additional_directories=self._directories,
                **self._opening,
            )
        except acp.RequestError as exc:
            return f"loading the agent's earlier session failed: {inert(str(exc))}"
        finally:
            await asyncio.sleep(0)  # the replay's last notifications are handled before this resumes
            self.client.replaying = False
        self.session_id, self.loaded = session_id, True
        self.offered = self._offered(loaded, "session/load")
        return "the agent's earlier session was loaded (session/load): it has the whole conversation"

    async def _resume(
        self, session_id: str, capabilities: schema.AgentCapabilities, servers: list[AcpServer]
    ) -> str:
        """Continue the agent's own session the ticket names (`resume_session`): `session/resume`
        where the agent offers it (nothing replayed), else `session/load` (its replay not shown: the
        pane starts from the ticket's prompt). The person chose that session, so an agent that can
        do neither, or refuses it, fails the ticket saying why; lfg never opens another instead."""
        offers = capabilities.session_capabilities
        named = inert(session_id)
        cwd = str(self.client.toolbox.ctx.workdir)
        try:
            if offers is not None and offers.resume is not None:
                answer: (
                    schema.ResumeSessionResponse | schema.LoadSessionResponse
                ) = await self.conn.resume_session(
                    cwd=cwd,
                    session_id=session_id,
                    mcp_servers=servers,
                    additional_directories=self._directories,
                    **self._opening,
                )
                self.resumed = "session/resume"
            elif capabilities.load_session:
                self.client.replaying = True
                try:
                    answer = await self.conn.load_session(
                        cwd=cwd,
                        session_id=session_id,
                        mcp_servers=servers,
                        additional_directories=self._directories,
                        **self._opening,
                    )
                finally:
                    await asyncio.sleep(0)  # the replay's last notifications are handled before this resumes
                    self.client.replaying = False
                self.resumed = "session/load"
            else:
                message = (
                    f"resume_session: {self._agent()} can neither resume nor load a session "
                    f"(no sessionCapabilities.resume, no loadSession), so session {named} cannot be continued"
                )
                raise ProviderError(await self._with_log(ErrorInfo(ErrorKind.BAD_REQUEST, message)))
        except acp.RequestError as exc:
            message = f"resume_session: the agent would not continue session {named}: {_said(exc)}"
            kind = ErrorKind.NOT_FOUND if exc.code == RESOURCE_NOT_FOUND else ErrorKind.BAD_REQUEST
            raise ProviderError(await self._with_log(ErrorInfo(kind, message))) from None
        self.session_id, self.loaded = session_id, True
        self.offered = self._offered(answer, self.resumed)
        return f"the agent's own session {named} goes on ({self.resumed}): it has its conversation"

    async def _fork(self, session_id: str, can_fork: bool, servers: list[AcpServer]) -> str:
        """Fork the session a fork started from (ACP `session/fork`, unstable in the protocol: the
        SDK's client side sends it as any request), in the fork's workdir; the new session has the
        whole conversation. When the agent cannot, or the fork fails, the caller opens a new session,
        told the conversation in its prompt."""
        if not can_fork:
            return "this agent cannot fork a session (session/fork): the conversation goes in the prompt"
        try:
            forked = await self.conn.fork_session(
                session_id=session_id,
                cwd=str(self.client.toolbox.ctx.workdir),
                mcp_servers=servers,
                additional_directories=self._directories,
                **self._opening,
            )
        except acp.RequestError as exc:
            failed = inert(str(exc))
            return f"forking the agent's session failed: {failed}; the conversation goes in the prompt"
        self.session_id, self.loaded, self.forked = forked.session_id, True, True
        self.offered = self._offered(forked, "session/fork")
        return f"the agent forked session {inert(session_id)} (session/fork): it has the whole conversation"

    def _offered(
        self,
        answer: (
            schema.NewSessionResponse
            | schema.LoadSessionResponse
            | schema.ForkSessionResponse
            | schema.ResumeSessionResponse
        ),
        method: str,
    ) -> Offered:
        """What the session lets lfg choose, as the agent's answer to `method` said (its older
        `models` read from the raw answer: the SDK's schema has them no more)."""
        models = session_models(self.pipe.results.get(method))
        return Offered(answer.config_options or [], answer.modes, models)
