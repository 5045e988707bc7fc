"""A run as its watchers learn it: its id, its tickets, its price card, whether it takes control.

`lfg run --serve` answers `GET /v1/run` with it; `lfg run --publish` keeps it in the run's entry on
the broker. Both come from `run_description`; `read_description` takes one back as strictly as an
imported history file (its price card as strictly, see price_card.py), since whatever sent it is
trusted by nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lfgtui.cost.prices import PriceBook
from lfgtui.history.row_json import InvalidExport, row_from_json, row_json
from lfgtui.history.rows import TicketRecord, TicketRow
from lfgtui.history.ticket_rows import ticket_from_row, ticket_row
from lfgtui.remote.price_card import CardError, price_card, read_card

if TYPE_CHECKING:
    from lfgtui.tickets.ticket import Ticket


class DescriptionError(ValueError):
    """A description that is not one of a run: the message says what is wrong."""


@dataclass(frozen=True)
class RemoteRun:
    """What the server says the run is; `control` says whether it takes cancel and retry."""

    run_id: str
    tickets: tuple[Ticket, ...]
    control: bool
    prices: PriceBook | None = None
    """The runner's prices, from its card; None when it sent none or one that is not valid."""
    prices_problem: str | None = None
    """What was wrong with the card, to tell the person why costs show `$?`."""
    leads: Mapping[str, str] = field(default_factory=dict)
    """The lead ticket that added each ticket a lead added (what stops with it, unless kept)."""


def run_description(
    run_id: str,
    tickets: Iterable[Ticket],
    prices: PriceBook | None,
    control: bool,
    leads: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The run as JSON for its watchers: its tickets as the history records them, its price card,
    and which lead added each ticket a lead added (`leads`, when any did)."""
    tickets = list(tickets)
    described = {
        "run_id": run_id,
        "tickets": [ticket_json(ticket) for ticket in tickets],
        "control": control,
        "prices": price_card(prices, tickets),
    }
    return described | ({"leads": dict(leads)} if leads else {})


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """A ticket as the run's description has it (and the `ticket` message of one added later)."""
    return row_json(ticket_row(ticket))


def read_ticket(item: object, where: str, source: str = "the server") -> Ticket:
    """The ticket `item` describes (`where` in what `source` sent); raises `DescriptionError`."""
    if not isinstance(item, dict):
        raise DescriptionError(f"{source}'s description of the run is not valid: {where} is not an object")
    try:
        row = row_from_json(TicketRow, item, where, _names(item))
    except InvalidExport as exc:
        raise DescriptionError(f"{source}'s description of the run is not valid: {exc}") from None
    return ticket_from_row(TicketRecord(row, ()))


def _names(ticket: object) -> dict[str, str]:
    """An lfg from before `max_calls` describes a ticket's limit by its old name, `max_turns`."""
    old = isinstance(ticket, dict) and "max_calls" not in ticket and "max_turns" in ticket
    return {"max_calls": "max_turns"} if old else {}


def read_description(data: object, source: str = "the server") -> RemoteRun:
    """The run `data` (from `json.loads`) describes; raises `DescriptionError` naming `source`."""
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise DescriptionError(f"{source} did not describe a run (is it an lfg server?)")
    items = data.get("tickets")
    if not isinstance(items, list) or not items:
        raise DescriptionError(f"{source}'s run has no tickets")
    tickets = tuple(read_ticket(item, f"tickets[{i}]", source) for i, item in enumerate(items))
    if len({ticket.id for ticket in tickets}) != len(tickets):
        raise DescriptionError(f"{source}'s run has two tickets with one id")
    prices, problem = None, None
    if data.get("prices") is not None:
        try:
            prices = read_card(data["prices"], tickets)
        except CardError as exc:
            problem = f"{source}'s prices are not valid ({exc}): costs show $?"
    leads, ids = data.get("leads", {}), {ticket.id for ticket in tickets}
    if not isinstance(leads, dict) or not all(
        isinstance(lead, str) and {child, lead} <= ids for child, lead in leads.items()
    ):
        raise DescriptionError(f"{source}'s leads do not name its tickets: {leads!r:.200}")
    return RemoteRun(data["run_id"], tickets, data.get("control") is True, prices, problem, leads)
