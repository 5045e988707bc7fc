"""A lead ticket's door on the worker that runs it (`lfg run --broker`): what remote/leads.py serves a
lead on the machine of its run, served here, where its agent runs.

The worker serves the lead's attempt its run on a Unix socket in a folder only this user reads, kept
from every sandbox, with a token of the lead's own (a `RunServer`, as locally), given to its agent as
lfg's MCP server (`lfg mcp`, ACP `mcpServers`). What the door shows is the lead's own events, from the
attempt's run here, and the events of the tickets it added, from the run's event stream on the broker
(a `BrokerAttachment`: a ticket entry names the lead that added it, `lead`), nothing of any other
ticket. What the lead asks goes to the run's coordinator over the broker (broker/lead_asks.py), which
decides it as its run decides a local lead's; the door refuses before that only what a lead may never
ask, or asks of a ticket it did not add (run/decisions.py `never_a_leads`, on what the door knows).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lfgtui.broker.watch import BrokerAttachment
from lfgtui.events import Event, SteerOffer
from lfgtui.remote.following import AttachError
from lfgtui.run.decisions import never_a_leads, paced_refusal
from lfgtui.run.requests import Lead, Request, Told

if TYPE_CHECKING:
    from lfgtui.config.broker import Broker
    from lfgtui.contest import Verdict
    from lfgtui.events import HeldMessage
    from lfgtui.remote.hub import EventHub
    from lfgtui.remote.server import RunServer
    from lfgtui.run.scheduler import Run
    from lfgtui.run.steer_words import Composing
    from lfgtui.tickets.ticket import Ticket

CAUGHT_UP_S = 10.0
"""How long the door waits to have read the run's stream to its end before the lead's agent starts
(a lead taken over by this worker sees the tickets it added before): then it starts anyway."""


@dataclass
class ForwardedControls:
    """The door's `Controls` (remote/server.py): what the lead asks goes to the coordinator
    (`forwarding`); what it may never ask, or asks of a ticket it did not add, is refused here."""

    lead: str
    forwarding: Callable[[Request], Awaitable[Told]]
    per_minute: int
    """The lead's `lead_max_per_minute`: what it may never ask counts against it here."""
    clock: Callable[[], float]
    parents: dict[str, str] = field(default_factory=dict)
    """The tickets the lead added, as the run's stream said (each to the lead)."""
    offers: dict[str, SteerOffer] = field(default_factory=dict)
    refused: deque[float] = field(default_factory=deque)
    """When the door refused the lead's asks of the last minute (its adds and messages are paced
    by the run's coordinator, which decides them)."""

    def ask(self, asked: Request, who: str) -> Awaitable[Told]:
        return self.forwarding(asked)

    def forbidden(self, asked: Request, who: str) -> str | None:
        """What the lead may never ask is refused here, paced as the run paces it (a lead looping on
        it is held back: run/decisions.py `paced_refusal`)."""
        if not (isinstance(who, Lead) and who.ticket == self.lead):
            return f"this door is lead {self.lead}'s alone"
        if (why := never_a_leads(self.parents, asked, who)) is None:
            return None
        return paced_refusal(self.refused, self.per_minute, self.clock(), who, why).said

    def synthesize(self, verdict: Verdict, who: str) -> str:
        raise AssertionError("a lead may not start a synthesis: `forbidden` refuses it first")

    def composes(self, ticket: str) -> Composing | None:
        return None

    def held(self, ticket: str) -> tuple[HeldMessage, ...]:
        """What a ticket holds is the coordinator's: its events say it (`held`) once they come."""
        return ()

    def offer(self, ticket: str) -> SteerOffer | None:
        return self.offers.get(ticket)

    def kept(self, ticket: str) -> str | None:
        """Not known here: the coordinator's worker keeps or sends it, as its turn's offer says."""
        return None


@dataclass
class LeadDoorServed:
    """One lead attempt's door (see the module docstring): `open`, then `aclose` once it ended."""

    folder: Path
    hub: EventHub
    server: RunServer
    attachment: BrokerAttachment
    following: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        broker: Broker,
        run: Run,
        ticket: Ticket,
        forwarding: Callable[[Request], Awaitable[Told]],
        said: Callable[[str], None],
    ) -> LeadDoorServed:
        """Serve the lead `ticket` of `run` (the worker's run of its attempt) and give it its door
        (`Run.lead_doors`); raises `AttachError` when the run cannot be read from the broker."""
        from lfgtui.folders import keep_from_sandboxes
        from lfgtui.remote.hub import EventHub
        from lfgtui.remote.leads import LeadRole, Seen, door_folder, mcp_server
        from lfgtui.remote.server import RunServer
        from lfgtui.remote.tokens import read_token
        from lfgtui.run.agents.launch import LeadDoor

        attachment = BrokerAttachment(broker, run.run_id, run.clock)
        try:
            described = await attachment.describe()
        except AttachError:
            await attachment.aclose()
            raise
        controls = ForwardedControls(ticket.id, forwarding, ticket.lead_max_per_minute, run.clock)
        hub = EventHub(run.clock)
        run.sinks.append(Seen(hub, ticket.id, {}))  # the lead's own events: its run here has no other
        token = read_token(None)
        server = RunServer(hub, run.run_id, [ticket], token, controls, prices=described.prices)
        folder = door_folder()
        keep_from_sandboxes(folder)
        door = cls(folder, hub, server, attachment)
        caught_up = asyncio.Event()

        def added(child: Ticket) -> None:
            if attachment.leads.get(child.id) == ticket.id:
                controls.parents[child.id] = ticket.id
                server.add(child)

        def deliver(event: Event) -> None:
            if controls.parents.get(event.ticket) == ticket.id:
                if isinstance(event, SteerOffer):
                    controls.offers[event.ticket] = event
                hub(event)

        async def read_all() -> None:
            caught_up.set()

        attachment.added = added
        door.following = asyncio.create_task(
            _follow(attachment, deliver, read_all, said, ticket.id), name=f"lead door {ticket.id}"
        )
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CAUGHT_UP_S):
                    await caught_up.wait()
            socket, token_file = folder / "lead.sock", folder / "lead.token"
            await server.start_unix(socket)
            token_file.touch(mode=0o600)
            token_file.write_text(server.lead_token(ticket.id), encoding="utf-8")
        except BaseException:
            await door.aclose()
            raise
        role = LeadRole.of(run.run_id, ticket)
        run.lead_doors[ticket.id] = LeadDoor(mcp_server(role, socket, token_file), socket, token_file)
        return door

    async def aclose(self) -> None:
        self.hub.end()
        await self.server.aclose()
        if self.following is not None:
            self.following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.following
        await self.attachment.aclose()
        shutil.rmtree(self.folder, ignore_errors=True)


async def _follow(
    attachment: BrokerAttachment,
    deliver: Callable[[Event], None],
    caught_up: Callable[[], Awaitable[None]],
    said: Callable[[str], None],
    lead: str,
) -> None:
    """The run's stream, for the door, until the run ends; what goes wrong is said, once."""

    def state(text: str) -> None:
        if text.startswith(("gap", "disconnected")):
            said(f"lead {lead}'s door, following the run's events: {text}")

    try:
        await attachment.follow(deliver, state, caught_up)
    except AttachError as exc:
        said(f"lead {lead}'s door no longer follows the run's events: {exc}")
