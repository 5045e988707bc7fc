"""A served run's price card: the rates its runner prices each (provider, model) with, for watchers.

A watcher has none of the runner's provider configs, so the runner writes each price down (see
`Pricer.written`) in `GET /v1/run`, and `lfg attach` prices every event with those rates, exactly as
the runner does. A price that rates cannot say goes as null, as does an unknown one: `$?`.

The card comes from the network: `read_card` takes it strictly or not at all. Each number must be a
finite rate from 0 to `MAX_PRICE_PER_MTOK`, each pair one of the run's tickets', once; the source is short
printable text. Anything else drops the whole card (and costs show `$?`), never the watcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lfgtui.cost.prices import OverridePricer, PriceBook
from lfgtui.providers.base import MAX_PRICE_PER_MTOK, PriceOverride

if TYPE_CHECKING:
    from lfgtui.cost.prices import Pricer
    from lfgtui.tickets.ticket import Ticket

RATES = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")
"""USD per million tokens of each kind, every one given (the runner fills in the input rate)."""
MAX_TIERS = 16
MAX_SOURCE = 200
"""The longest `source` taken, in characters."""
MAX_TOKENS = 2**63 - 1


class CardError(ValueError):
    """A card that is not valid; the message names the entry and field, never quotes the network."""


def price_card(book: PriceBook | None, tickets: Iterable[Ticket]) -> list[dict[str, Any]] | None:
    """Each (provider, model) of `tickets`, in order, with its price written down or null; None when
    the run has no prices (a recorded run served by `lfg serve`)."""
    if book is None:
        return None
    card = []
    for provider, model in dict.fromkeys((ticket.provider, ticket.model) for ticket in tickets):
        pricer = book.pricer(provider, model)
        written = None if pricer is None else pricer.written()
        price = None if written is None else _price_json(written)
        card.append({"provider": provider, "model": model, "price": price})
    return card


def _price_json(pricer: OverridePricer) -> dict[str, Any]:
    tiers = [{"above": above, **_rates_json(rates)} for above, rates in pricer.tiers]
    return {"source": pricer.source, **_rates_json(pricer.prices), "tiers": tiers}


def _rates_json(rates: PriceOverride) -> dict[str, float]:
    read, write = rates.cache_read_per_mtok, rates.cache_write_per_mtok
    return {
        "input_per_mtok": rates.input_per_mtok,
        "output_per_mtok": rates.output_per_mtok,
        "cache_read_per_mtok": rates.input_per_mtok if read is None else read,
        "cache_write_per_mtok": rates.input_per_mtok if write is None else write,
    }


def read_card(data: object, tickets: Iterable[Ticket]) -> PriceBook:
    """The book a watcher of the run of `tickets` prices with, from the card `data` (`json.loads`'s);
    raises `CardError` unless every part of it is valid."""
    if not isinstance(data, list):
        raise CardError("expected an array of prices")
    pairs = {(ticket.provider, ticket.model) for ticket in tickets}
    pricers: dict[tuple[str, str], Pricer | None] = {}
    for index, entry in enumerate(data):
        where = f"price {index + 1}"
        if not isinstance(entry, dict):
            raise CardError(f"{where}: expected an object")
        provider, model = entry.get("provider"), entry.get("model")
        if not isinstance(provider, str) or not isinstance(model, str) or (provider, model) not in pairs:
            raise CardError(f"{where}: not the provider and model of a ticket of the run")
        if (provider, model) in pricers:
            raise CardError(f"{where}: a second price for one provider and model")
        price = entry.get("price")
        pricers[provider, model] = None if price is None else _price(price, where)
    return PriceBook.given(pricers)


def _price(data: object, where: str) -> OverridePricer:
    if not isinstance(data, dict):
        raise CardError(f"{where}: expected an object or null")
    source = data.get("source")
    if not isinstance(source, str) or not 0 < len(source) <= MAX_SOURCE or not source.isprintable():
        raise CardError(f"{where}: source: expected printable text of at most {MAX_SOURCE} characters")
    tiers = data.get("tiers")
    if not isinstance(tiers, list) or len(tiers) > MAX_TIERS:
        raise CardError(f"{where}: tiers: expected an array of at most {MAX_TIERS}")
    written: list[tuple[int, PriceOverride]] = []
    for index, tier in enumerate(tiers):
        place = f"{where}: tier {index + 1}"
        if not isinstance(tier, dict):
            raise CardError(f"{place}: expected an object")
        above, lowest = tier.get("above"), written[-1][0] + 1 if written else 0
        if type(above) is not int or not lowest <= above <= MAX_TOKENS:
            raise CardError(f"{place}: above: expected a token count above the tier before's")
        written.append((above, _rates(tier, place)))
    return OverridePricer(_rates(data, where), source, tuple(written))


def _rates(data: dict[str, Any], where: str) -> PriceOverride:
    rates = []
    for name in RATES:
        value = data.get(name)
        if type(value) not in (int, float) or not 0 <= value <= MAX_PRICE_PER_MTOK:  # NaN fails both
            raise CardError(f"{where}: {name}: expected a number from 0 to {MAX_PRICE_PER_MTOK:,}")
        rates.append(float(value))
    return PriceOverride(*rates)
