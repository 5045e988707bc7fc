"""A lead ticket's way to the run (`lead = true`): lfg serves the run to each lead on a Unix socket
of its own, with a token of its own, showing it only itself and the tickets it added (`Seen`), and
gives each lead's coding agent `lfg mcp` as a stdio MCP server in its session (ACP `mcpServers`),
started by lfg's own interpreter.

The socket and the token files lie in a folder only this user reads, made for the run and removed
with it; the folder is kept from every sandbox (folders.py), and a boxed lead is shown only its own
token file and its socket (tools/sandbox.py `Sandbox.with_door`). What a lead's token may ask is the
run's to decide (run/decisions.py `forbidden`), enforced by the server (remote/server.py), never by
the tools' words: `LeadRole` only tells the agent who it is.

On a run coordinated on a broker's workers (`lfg run --broker`) the worker running a lead attempt
serves it its door instead (broker/lead_door.py), and what the lead asks reaches the run over the
broker (broker/lead_asks.py).

Imported by `lfg mcp` for every command (`lfg --help` too): the run's parts and the server are
imported only when a run has leads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lfgtui.config.mcp import McpServer
    from lfgtui.events import Event
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import RunServer
    from lfgtui.run.scheduler import Run
    from lfgtui.tickets.ticket import Ticket

SOCKET_PATH_MAX = 100
"""The longest path lfg binds a lead's socket at: the kernel takes 107 bytes on Linux, 103 on macOS."""

SERVER_NAME = "lfg"
"""The name a lead's agent knows lfg's MCP server by (Claude Code's tools: `mcp__lfg__add_ticket`)."""


@dataclass(frozen=True)
class LeadRole:
    """Who a lead is, for its instructions: its run, its id, and the caps the person set."""

    run_id: str
    ticket: str
    max_live: int
    max_added: int
    per_minute: int
    budget_usd: float | None

    @classmethod
    def of(cls, run_id: str, ticket: Ticket) -> LeadRole:
        return cls(
            run_id,
            ticket.id,
            ticket.lead_max_live,
            ticket.lead_max_added,
            ticket.lead_max_per_minute,
            ticket.lead_budget_usd,
        )

    def arg(self) -> str:
        """As `lfg mcp --lead` takes it (`lead_of`): no budget is `-`."""
        budget = "-" if self.budget_usd is None else f"{self.budget_usd:g}"
        return f"{self.run_id}/{self.ticket}/{self.max_live}/{self.max_added}/{self.per_minute}/{budget}"

    def instructions(self) -> str:
        budget = (
            ""
            if self.budget_usd is None
            else f" You and your tickets together may cost ${self.budget_usd:g} (lead_budget_usd): once "
            "you have, you add no more and all of you stop. A ticket on a model with no known price is "
            "refused (its cost could not be counted); a coding agent's counts as its agent reports it."
        )
        return (
            f"You are {self.ticket}, the lead ticket of lfg run {self.run_id}. Hand work to other agents "
            f"with these tools, not with sub-agents or tasks of your own: add_ticket starts a ticket (an "
            f"agent of its own), wait_for_tickets waits for yours, read_ticket reads their answers. You may "
            f"reach only the tickets you added: at most {self.max_live} unfinished at once and "
            f"{self.max_added} in all, adding tickets and sending messages at most {self.per_minute} "
            "times a minute, a refused call counting too (lead_max_live, lead_max_added, "
            "lead_max_per_minute, set by the person): read a refusal before calling again."
            f"{budget} The tickets you add take the run's defaults for their box and approvals; they "
            "cannot be leads. Once you have ended, you add and message nothing more."
        )


def lead_of(text: str) -> LeadRole:
    """`--lead RUN/TICKET/LIVE/ADDED/PER_MINUTE/BUDGET` (`LeadRole.arg`); ValueError otherwise."""
    run_id, _, rest = text.partition("/")
    parts = rest.rsplit("/", 4)
    if (
        len(parts) != 5
        or not (run_id and parts[0])
        or not all(part.isdigit() for part in parts[1:4])
        or not (parts[4] == "-" or _number(parts[4]))
    ):
        raise ValueError(f"expected RUN/TICKET/LIVE/ADDED/PER_MINUTE/BUDGET, not {text!r}")
    budget = None if parts[4] == "-" else float(parts[4])
    return LeadRole(run_id, parts[0], int(parts[1]), int(parts[2]), int(parts[3]), budget)


def _number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def mcp_server(role: LeadRole, socket: Path, token_file: Path) -> McpServer:
    """lfg's MCP server as a lead's session gets it: `lfg mcp` on lfg's own interpreter, on the socket."""
    from lfgtui.config.mcp import McpServer
    from lfgtui.remote.server import UNIX_URL

    args = ("-m", "lfgtui", "mcp", UNIX_URL, "--token-file", str(token_file), "--unix-socket", str(socket))
    return McpServer(SERVER_NAME, "stdio", sys.executable, (*args, "--lead", role.arg()))


@dataclass
class Seen:
    """A lead's view of the run: the sink that passes its hub only the events of the lead itself and
    of the tickets it added (`Run.parents`), so its token reads nothing of any other ticket."""

    hub: EventHub
    lead: str
    parents: Mapping[str, str]

    def __call__(self, event: Event) -> None:
        ticket = getattr(event, "ticket", None)
        if ticket == self.lead or self.parents.get(ticket) == self.lead:
            self.hub(event)


@contextlib.asynccontextmanager
async def serving_leads(run: Run, tickets: Sequence[Ticket]) -> AsyncIterator[None]:
    """While the block runs, serve `run` to each of its lead tickets on a socket of its own, which
    describes and streams the lead and the tickets it added, nothing else (`Seen`), and give each
    its door (`Run.lead_doors`); nothing when it has none (see the module docstring)."""
    leads = [ticket for ticket in tickets if ticket.lead]
    if not leads or run.runner.far:  # a broker's worker serves each lead its door (broker/lead_door.py)
        yield
        return
    from lfgtui.folders import keep_from_sandboxes
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import EngineControls, RunServer
    from lfgtui.remote.tokens import ServeError, read_token
    from lfgtui.run.agents.launch import LeadDoor
    from lfgtui.run.decisions import children

    try:
        folder = door_folder()
    except OSError as exc:  # each lead fails at start saying so; the run goes on
        why = f"lfg could not make the folder of its doors in {tempfile.gettempdir()}: {exc.strerror or exc}"
        run.lead_doors |= dict.fromkeys((ticket.id for ticket in leads), why)
        yield
        return
    keep_from_sandboxes(folder)
    served: list[tuple[EventHub, RunServer]] = []
    try:
        for number, ticket in enumerate(leads):
            hub = EventHub(run.clock)
            run.sinks.append(Seen(hub, ticket.id, run.parents))
            own = [ticket, *(run.states[child].written for child in children(run, ticket.id))]  # resumed
            server = RunServer(
                hub, run.run_id, own, read_token(None), EngineControls(run), prices=run.book.prices
            )
            served.append((hub, server))
            run.added.append(functools.partial(_told, server, ticket.id, run.parents))
            socket, token_file = folder / f"{number}.sock", folder / f"{number}.token"
            try:
                await server.start_unix(socket)
                token_file.touch(mode=0o600)
                token_file.write_text(server.lead_token(ticket.id), encoding="utf-8")
            except ServeError as exc:  # the lead fails at start saying so; the run goes on
                run.lead_doors[ticket.id] = f"lfg could not serve the lead its run: {exc}"
                continue
            except OSError as exc:
                why = f"cannot write its token file {token_file}: {exc.strerror or exc}"
                run.lead_doors[ticket.id] = f"lfg could not serve the lead its run: {why}"
                continue
            role = LeadRole.of(run.run_id, ticket)
            run.lead_doors[ticket.id] = LeadDoor(mcp_server(role, socket, token_file), socket, token_file)
        yield
    finally:
        for hub, server in served:
            hub.end()
            await server.aclose()
        shutil.rmtree(folder, ignore_errors=True)


def _told(server: RunServer, lead: str, parents: Mapping[str, str], ticket: Ticket) -> None:
    """A ticket the run took on: described to the lead that added it, to no other."""
    if parents.get(ticket.id) == lead:
        server.add(ticket)


def door_folder() -> Path:
    """A new folder for lead doors, this user's alone (0700): in the temp folder, or in /tmp where
    the temp folder's path leaves a socket in it no room (a long TMPDIR: a socket there could not be
    bound, and the lead's attempt failed)."""
    folder = Path(tempfile.mkdtemp(prefix="lfg-lead-"))
    if len(os.fsencode(folder / "lead-99999.sock")) <= SOCKET_PATH_MAX:
        return folder
    folder.rmdir()
    return Path(tempfile.mkdtemp(prefix="lfg-lead-", dir="/tmp"))
