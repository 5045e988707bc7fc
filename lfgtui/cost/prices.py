"""What a model call costs in USD: a provider's own `prices` from the config, else genai-prices.

genai-prices (pydantic's price database) knows the providers by their API URLs and matches model
names its own way (dated snapshots such as `gpt-4o-2024-08-06` find `gpt-4o`); both are left to it.
A model genai-prices does not list yet, on its vendor's own API, is priced from that vendor's page
(`cost/vendor_prices.py`). The built-in sim (a base URL of `sim:`) costs nothing: its price is a
known zero, shown `$0`. A provider genai-prices cannot be sure of (a server on this machine, an
agent service or a coding agent, which bill their own way) and a model neither knows have no price:
the answer is None, shown as `$?`, never a guess.

Importing genai-prices and reading its table takes a few hundred ms, so it happens in `load()`, which
a run calls once before the UI starts when a ticket's provider is priced from the table, and a
coding agent's turn calls in a thread the first time the agent names the models that answered
(run/agents/session/prompts.py); nothing imports it at module level. Prices come only from the
table the installed package ships: its `UpdatePrices`, the one part of it that fetches prices from
the network, is never started, so a run is priced the same offline.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from lfgtui.cost.cache import whole_prompt
from lfgtui.providers.kinds import SIM_URL, kind_of

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, Provider, TieredPrices

    from lfgtui.providers.base import PriceOverride, ProviderConfig


class Pricer(Protocol):
    """The price of one provider's model: tokens in, USD out."""

    @property
    def source(self) -> str:
        """Where the price comes from, for a tooltip or a log: `config` or `genai-prices PROVIDER MODEL`."""
        ...

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """USD for a call: `input_tokens` is the whole prompt, the cache counts are parts of it."""
        ...

    def written(self) -> OverridePricer | None:
        """The same price as rates written down (what a served run tells its watchers, who price with
        it), or None when rates cannot say it: it changes with the time of day or on a date to come,
        or it charges for something other than tokens."""
        ...


@dataclass(frozen=True, slots=True)
class OverridePricer:
    """Rates written down: a provider's own (`[providers.NAME] prices`), or those a served run sends
    its watchers. Cache reads and writes cost the input rate unless given.

    `tiers` are (above, rates), ascending: a call whose prompt is more than `above` tokens pays those
    rates for all its tokens, as genai-prices' tiers do. Each rate counts as written (`0.15`, not the
    binary double nearest it) and the sum is exact until the one rounding at the end, so these rates
    cost to the last bit what genai-prices computes from the same ones.
    """

    prices: PriceOverride
    source: str = "config"
    tiers: tuple[tuple[int, PriceOverride], ...] = ()

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        prompt, read, write = whole_prompt(input_tokens, cache_read_tokens, cache_write_tokens)
        rates = self.prices
        for above, tier in self.tiers:
            if prompt > above:
                rates = tier
        read_rate = rates.input_per_mtok if rates.cache_read_per_mtok is None else rates.cache_read_per_mtok
        write_rate = (
            rates.input_per_mtok if rates.cache_write_per_mtok is None else rates.cache_write_per_mtok
        )
        usd = (
            _usd(rates.input_per_mtok, prompt - read - write)
            + _usd(read_rate, read)
            + _usd(write_rate, write)
            + _usd(rates.output_per_mtok, max(0, output_tokens))
        )
        return float(usd / 1_000_000)

    def written(self) -> OverridePricer:
        return self


def _usd(rate: float, tokens: int) -> Decimal:
    """`tokens` at `rate` per million tokens, times a million: exact."""
    return Decimal(repr(rate)) * tokens


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DatabasePricer:
    """A model genai-prices knows, found once; each cost is the library's own calculation, so tiers
    (a higher rate past 200k prompt tokens) and dated price changes come out as it computes them."""

    model: ModelInfo
    provider: Provider
    source: str
    clock: Callable[[], datetime] = utc_now

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        from genai_prices import Usage

        prompt, read, write = whole_prompt(input_tokens, cache_read_tokens, cache_write_tokens)
        # genai-prices counts cache reads and writes inside input_tokens, as we do.
        usage = Usage(
            input_tokens=prompt,
            cache_read_tokens=read,
            cache_write_tokens=write,
            output_tokens=max(0, output_tokens),
        )
        price = self.model.calc_price(usage, self.provider, genai_request_timestamp=self.clock())
        return float(price.total_price)

    def written(self) -> OverridePricer | None:
        """The database's price in force now, as rates with its tiers; None when it will not stay in
        force (the model's last dated price is for a time of day, or for a date to come) or when a
        call with no tokens costs something (a price per request)."""
        from genai_prices import Usage
        from genai_prices.types import StartDateConstraint, TieredPrices

        now = self.clock()
        if isinstance(self.model.prices, list):
            last = self.model.prices[-1].constraint  # genai-prices takes the last price in force
            if not (last is None or (isinstance(last, StartDateConstraint) and last.active(now))):
                return None
        price = self.model.get_prices(now)
        if price.calc_price(Usage())["total_price"]:
            return None
        rates = (price.input_mtok, price.output_mtok, price.cache_read_mtok, price.cache_write_mtok)
        starts = {tier.start for rate in rates if isinstance(rate, TieredPrices) for tier in rate.tiers}
        tiers = tuple((start, _rates_above(rates, start)) for start in sorted(starts))
        return OverridePricer(_rates_above(rates, None), self.source, tiers)


def _rates_above(rates: tuple[Decimal | TieredPrices | None, ...], above: int | None) -> PriceOverride:
    """The database's input, output, cache read and cache write `rates` for a prompt of more than
    `above` tokens (None: the base rates). A kind it does not price is free, but for cache tokens:
    those it counts as input."""
    from genai_prices.types import TieredPrices

    from lfgtui.providers.base import PriceOverride

    def rate_above(rate: Decimal | TieredPrices | None) -> float | None:
        if isinstance(rate, TieredPrices):
            reached = [tier.price for tier in rate.tiers if above is not None and tier.start <= above]
            rate = reached[-1] if reached else rate.base  # tiers come sorted by start
        return None if rate is None else float(rate)

    input_rate, output_rate, read_rate, write_rate = map(rate_above, rates)
    return PriceOverride(input_rate or 0.0, output_rate or 0.0, read_rate, write_rate)


@functools.cache
def load() -> None:
    """Import genai-prices, read its price table and price one call, once: what the first price
    would otherwise pay (a few hundred ms) is paid here, before the UI draws anything."""
    from lfgtui.providers.sdk_import import import_sdk

    import_sdk("genai_prices")  # its pydantic models, with the collector held off (sdk_import.py)
    from genai_prices import Usage, data_snapshot

    provider, model = data_snapshot.get_snapshot().find_provider_model("gpt-4o", None, "openai", None)
    model.calc_price(Usage(input_tokens=1, cache_read_tokens=1, output_tokens=1), provider)


def _is_local(url: str) -> bool:
    """A URL with no host (the sim's `sim:`) or a host on this machine: a local server, not a price list."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return True
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def is_sim(config: ProviderConfig) -> bool:
    """The built-in simulator, on this machine, whatever its port: it charges nothing."""
    return config.base_url is not None and config.base_url.startswith(SIM_URL)


def database_provider(config: ProviderConfig) -> tuple[str | None, str | None] | None:
    """How genai-prices should find this provider, as (provider id, API URL); None when it should not.

    Its base URL when it has one (genai-prices matches API URLs), else the kind's default endpoint
    (`ProviderKind.price_endpoint`, None for a kind never priced from the database).
    """
    endpoint = kind_of(config).price_endpoint
    if endpoint is None:
        return None
    if config.base_url is None:
        return endpoint, None
    if _is_local(config.base_url):
        return None
    return None, config.base_url


def reads_table(config: ProviderConfig) -> bool:
    """Whether pricing `config`'s calls reads genai-prices' table as its provider is made ready: a
    provider found in it by its endpoint; never one priced in the config, the sim or a server on this
    machine, nor a coding agent, whose turns read it only once one names the models that answered
    (`answered_by`, Gemini CLI's), which most never do (issue #77: a fifth of a second of CPU)."""
    if config.prices is not None or is_sim(config):
        return False
    return database_provider(config) is not None


@dataclass
class PriceBook:
    """The prices of one run's providers, each (provider, model) looked up once.

    `configs` are the providers by name as the run resolved them, so a base URL taken from the
    environment (`OPENAI_BASE_URL`) counts. `clock` gives the time of day prices are taken at.
    """

    configs: Mapping[str, ProviderConfig]
    clock: Callable[[], datetime] = utc_now
    _pricers: dict[tuple[str, str], Pricer | None] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def given(cls, pricers: Mapping[tuple[str, str], Pricer | None]) -> PriceBook:
        """A book of the prices `pricers` give by (provider, model), looked up nowhere else: a
        watcher's, from the runner's card. Any other pair has no price."""
        book = cls({})
        book._pricers.update(pricers)
        return book

    def pricer(self, provider: str, model: str) -> Pricer | None:
        """The price of `model` at `provider`; None when it is not known."""
        key = (provider, model)
        if key not in self._pricers:
            self._pricers[key] = self._find(provider, model)
        return self._pricers[key]

    def _find(self, provider: str, model: str) -> Pricer | None:
        config = self.configs.get(provider)
        if config is None:
            return None
        if config.prices is not None:
            return OverridePricer(config.prices)
        if is_sim(config):
            from lfgtui.providers.base import PriceOverride

            return OverridePricer(PriceOverride(0.0, 0.0), "the sim: free")
        where = database_provider(config)
        if where is None or not model:
            return None
        return (
            self._from_database(model, *where)
            or _from_vendor(config, model)
            or _from_catalogue(config, model)
        )

    def answered_by(self, model: str) -> Pricer | None:
        """The price of a model a coding agent says answered (Gemini CLI names each model of a turn),
        found in genai-prices by its name alone; None when it is not there."""
        key = ("", model)
        if key not in self._pricers:
            self._pricers[key] = self._from_database(model, None, None, ", the model the agent said answered")
        return self._pricers[key]

    def _from_database(
        self, model: str, provider_id: str | None, api_url: str | None, said: str = ""
    ) -> Pricer | None:
        """genai-prices' price of `model` at the provider it finds by id or API URL (both None: by the
        model's name alone); None when it has none."""
        load()
        from genai_prices import data_snapshot

        try:
            found, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, api_url)
        except LookupError:
            return None
        return DatabasePricer(info, found, f"genai-prices {found.id} {info.id}{said}", self.clock)


def _from_vendor(config: ProviderConfig, model: str) -> OverridePricer | None:
    """The price on the vendor's page of a model genai-prices lacks, when `config` is that vendor's
    own API; None otherwise."""
    from lfgtui.cost.vendor_prices import VENDOR_PRICES
    from lfgtui.providers.models import serves

    vendor = serves(config)
    found = VENDOR_PRICES.get((vendor, model.strip())) if vendor is not None else None
    if found is None:
        return None
    return OverridePricer(found.rates, f"{vendor}'s page: {found.source}", found.tiers)


def _from_catalogue(config: ProviderConfig, model: str) -> OverridePricer | None:
    """The kept model catalogue's price (`lfg models --refresh`) of a model neither genai-prices nor
    the vendors' pages lfg read price, when `config` is that vendor's own API; None otherwise."""
    from lfgtui.providers.base import PriceOverride
    from lfgtui.providers.model_catalogue import listing
    from lfgtui.providers.models import serves

    vendor = serves(config)
    found = listing(model.strip()) if vendor is not None else None
    if found is None or found[0].vendor != vendor:
        return None
    listed, catalogue = found
    if listed.input_per_mtok is None or listed.output_per_mtok is None:
        return None
    rates = PriceOverride(
        listed.input_per_mtok, listed.output_per_mtok, listed.cache_read_per_mtok, listed.cache_write_per_mtok
    )
    return OverridePricer(rates, f"the catalogue at {catalogue.url} of {catalogue.date}")


class Priced(Protocol):
    """What pricing a run reads of a ticket (tickets/ticket.py `Ticket`): its model and its fallbacks,
    named here so the prices stand below the tickets."""

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def fallback(self) -> tuple[tuple[str, str], ...]: ...


def run_prices(configs: Mapping[str, ProviderConfig], tickets: Iterable[Priced]) -> PriceBook:
    """A run's prices, each ticket's looked up now: the price table, when a ticket's provider is
    priced from it, is read before the UI starts rather than in its first frame. A coding agent's
    is not: it is read when the agent first names the models that answered (`answered_by`)."""
    from lfgtui.providers.catalog import resolve

    links = [link for ticket in tickets for link in ((ticket.provider, ticket.model), *ticket.fallback)]
    used = {provider for provider, _ in links}  # resolved: a base URL from the environment counts
    book = PriceBook({name: resolve(c) if name in used else c for name, c in configs.items()})
    for provider, model in links:  # a fallback's link is priced as its own provider prices it
        book.pricer(provider, model)
    return book


def format_usd(cost: float | None, estimated: bool = False) -> str:
    """`$?` when unknown; `$0` for nothing at all (a free model: no `~`, however its tokens were
    counted); cents from a dollar up (`$1.23`), else three significant digits (`$0.0123`,
    `$0.00042`); `~` in front when the tokens behind it are estimated."""
    if cost is None or not math.isfinite(cost):
        return "$?"
    if cost == 0:
        return "$0"
    sign = "~" if estimated else ""
    if cost >= 1:
        return f"{sign}${cost:,.2f}"
    decimals = 2 if cost <= 0 else min(8, max(2, 2 - math.floor(math.log10(cost))))
    digits = f"{max(cost, 0.0):.{decimals}f}".rstrip("0")
    whole, _, fraction = digits.partition(".")
    return f"{sign}${whole}.{fraction.ljust(2, '0')}"
