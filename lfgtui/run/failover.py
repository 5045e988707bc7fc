"""Failover: a ticket's chain of links, its own provider and model first and then each `fallback`,
and when a failed attempt moves the ticket to the next link.

An attempt moves on when it failed in a way more waiting will not fix soon: the provider refused the
key or its access (`auth`), does not know the model (`not_found`), or is rate limited or overloaded
past what the ticket waits for (its 429 or 529 asked for longer than `max_wait_s`, so `run/calls.py`
did not wait, or it still refused after every retry). Anything else (a bad request, a budget, a
cancel, a broken stream) would fail the same way on another provider, or is the person's to decide.
The next attempt runs on the next link; a retry the person asks for starts again from the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.tickets.ticket import Ticket

MOVES_ON = frozenset({ErrorKind.AUTH, ErrorKind.NOT_FOUND, ErrorKind.RATE_LIMITED, ErrorKind.OVERLOADED})
"""The kinds of failure a ticket moves to its next link for (see the module's docstring)."""


def links(ticket: Ticket) -> tuple[tuple[str, str], ...]:
    """Every (provider, model) the ticket may run on, in order: its own, then its fallback's."""
    return ((ticket.provider, ticket.model), *ticket.fallback)


def every_provider(tickets: Iterable[Ticket]) -> set[str]:
    """The providers the tickets may run on, their fallback links' too: those to make ready before
    the run (`Providers.warm`), so that moving on does not pay an SDK's import mid-run."""
    return {provider for ticket in tickets for provider, _ in links(ticket)}


def on_link(ticket: Ticket, index: int) -> Ticket:
    """The ticket as it runs on its link `index` (0: as written)."""
    provider, model = links(ticket)[index]
    return replace(ticket, provider=provider, model=model)


def has_next(ticket: Ticket, index: int) -> bool:
    return index + 1 < len(links(ticket))


def moves_on(error: ErrorInfo | None) -> bool:
    """Whether a failed attempt's error is one the ticket's next link may not meet."""
    return error is not None and error.kind in MOVES_ON


def moved(ticket: Ticket, index: int, error: ErrorInfo) -> str:
    """What the next attempt says first: where the ticket came from and why, and where it went."""
    came_from, goes_to = (f"{p}/{m}" for p, m in links(ticket)[index - 1 : index + 1])
    of = len(ticket.fallback)
    return f"fell back from {came_from} ({error.describe()}) to {goes_to}, fallback {index} of {of}"
