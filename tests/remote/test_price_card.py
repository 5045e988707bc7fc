"""The price card: every price the database can write down costs what the database says, to the
last bit, once it has crossed the network; one it cannot is not sent; a card with garbage is refused."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from genai_prices import data_snapshot

from lfgtui.cost.prices import DatabasePricer, OverridePricer, PriceBook, Pricer
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN
from lfgtui.remote.price_card import CardError, price_card, read_card
from tests.support.recording import ticket

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""Prices are taken at this time, so a dated price change in the database cannot move a test."""


def usages(pricer: OverridePricer) -> list[tuple[int, int, int, int]]:
    """(prompt, cache read, cache write, output): small ones, and prompts at and past each tier."""
    found = [(0, 0, 0, 0), (12_000, 0, 0, 800), (12_000, 8_000, 1_500, 800), (9_000, 0, 2_000, 0)]
    for above, _ in pricer.tiers:
        found += [(above, above // 2, above // 10, 1_000), (above + 1, above // 2, above // 10, 1_000)]
    return found


def cost(pricer: Pricer, usage: tuple[int, int, int, int]) -> float:
    prompt, read, write, output = usage
    return pricer.cost(
        input_tokens=prompt, cache_read_tokens=read, cache_write_tokens=write, output_tokens=output
    )


def across_the_network(book: PriceBook, provider: str, model: str) -> Pricer | None:
    """The price a watcher of a run of one ticket on (provider, model) gets from the runner's `book`."""
    tickets = [replace(ticket("t", model), provider=provider)]
    card = json.loads(json.dumps(price_card(book, tickets)))
    return read_card(card, tickets).pricer(provider, model)


def test_every_price_the_database_can_write_down_costs_the_same_to_the_last_bit() -> None:
    """The whole installed database: each model's price in force at `AT`, written down, sent as JSON
    and read back, against genai-prices' own calculation. One left unwritten has dated prices (one
    to come, or one for a time of day) or a charge per request."""
    written = tiered = 0
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            database = DatabasePricer(model, provider, f"genai-prices {provider.id} {model.id}", lambda: AT)
            pricer = database.written()
            if pricer is None:
                assert isinstance(model.prices, list) or cost(database, (0, 0, 0, 0)) > 0, model.id
                continue
            written, tiered = written + 1, tiered + bool(pricer.tiers)
            sent = across_the_network(PriceBook.given({("p", "m"): database}), "p", "m")
            assert sent is not None
            for usage in usages(pricer):
                assert cost(sent, usage) == cost(database, usage), (provider.id, model.id, usage)
    assert written > 1_000 and tiered > 50, "tiered prices are written down too"


def test_a_price_that_changes_with_the_time_of_day_is_not_written() -> None:
    """DeepSeek's off-peak hours: the runner's price moves with its clock; rates cannot say that."""
    deepseek = replace(BUILTIN["openai"], name="deepseek", base_url="https://api.deepseek.com/v1")
    book = PriceBook(BUILTIN | {"deepseek": deepseek}, clock=lambda: AT)
    pricer = book.pricer("deepseek", "deepseek-chat")
    assert pricer is not None and pricer.written() is None
    assert across_the_network(book, "deepseek", "deepseek-chat") is None


def test_a_price_per_request_is_not_written() -> None:
    """A model that charges for each request, tokens or not, cannot be said in rates per token."""
    per_request = [
        DatabasePricer(model, provider, "", lambda: AT)
        for provider in data_snapshot.get_snapshot().providers
        for model in provider.models
        if not isinstance(model.prices, list) and model.prices.requests_kcount
    ]
    assert per_request
    for pricer in per_request:
        assert cost(pricer, (0, 0, 0, 0)) > 0 and pricer.written() is None


def test_a_configured_price_goes_as_the_config_says_with_the_cache_at_the_input_rate() -> None:
    flat = replace(BUILTIN["sim"], prices=PriceOverride(input_per_mtok=2.0, output_per_mtok=8.0))
    book = PriceBook(BUILTIN | {"sim": flat})
    tickets = [ticket("a", "hello"), ticket("b", "agent-demo"), ticket("c", "hello")]
    card = price_card(book, tickets)
    rates = {
        "input_per_mtok": 2.0,
        "output_per_mtok": 8.0,
        "cache_read_per_mtok": 2.0,
        "cache_write_per_mtok": 2.0,
    }
    assert card == [
        {"provider": "sim", "model": "hello", "price": {"source": "config", **rates, "tiers": []}},
        {"provider": "sim", "model": "agent-demo", "price": {"source": "config", **rates, "tiers": []}},
    ], "each pair once, in the tickets' order"
    watcher = read_card(card, tickets)
    runner_pricer, watcher_pricer = book.pricer("sim", "hello"), watcher.pricer("sim", "hello")
    assert runner_pricer is not None and watcher_pricer is not None
    for usage in [(10_000, 4_000, 1_000, 500), (7, 0, 0, 3)]:
        assert cost(watcher_pricer, usage) == cost(runner_pricer, usage)
    assert watcher.pricer("sim", "other") is None, "a pair the card does not name has no price"


def test_no_book_no_card_and_an_unknown_price_goes_as_null() -> None:
    assert price_card(None, [ticket("a")]) is None
    elsewhere = replace(BUILTIN["sim"], base_url="http://127.0.0.1:9/v1")  # not the sim: no price known
    card = price_card(PriceBook({**BUILTIN, "sim": elsewhere}), [ticket("a")])
    assert card == [{"provider": "sim", "model": "agent-demo", "price": None}]
    assert read_card(card, [ticket("a")]).pricer("sim", "agent-demo") is None


def test_the_sims_price_travels_as_free() -> None:
    card = price_card(PriceBook(BUILTIN), [ticket("a")])
    assert card is not None and card[0]["price"]["source"] == "the sim: free"
    pricer = read_card(card, [ticket("a")]).pricer("sim", "agent-demo")
    assert pricer is not None and cost(pricer, (12_000, 8_000, 1_500, 800)) == 0.0


RATES = {
    "input_per_mtok": 3.0,
    "output_per_mtok": 15.0,
    "cache_read_per_mtok": 0.3,
    "cache_write_per_mtok": 3.75,
}
PRICE = {
    "source": "genai-prices anthropic claude-sonnet-4-5",
    **RATES,
    "tiers": [{"above": 200_000, **RATES}],
}


def entry(**price: Any) -> list[dict[str, Any]]:
    return [{"provider": "sim", "model": "agent-demo", "price": {**PRICE, **price}}]


GARBAGE: list[tuple[object, str]] = [
    ("cheap", "expected an array"),
    ([42], "price 1: expected an object"),
    ([{"provider": ["sim"], "model": "agent-demo", "price": None}], "price 1: not the provider and model"),
    ([{"provider": "sim", "model": "gpt-4o", "price": None}], "price 1: not the provider and model"),
    (entry() + entry(), "price 2: a second price"),
    (
        [{"provider": "sim", "model": "agent-demo", "price": "3 dollars"}],
        "price 1: expected an object or null",
    ),
    (entry(input_per_mtok=-1.0), "price 1: input_per_mtok: expected a number from 0 to 1,000,000"),
    (entry(output_per_mtok=float("nan")), "output_per_mtok: expected a number"),
    (entry(output_per_mtok=float("inf")), "output_per_mtok: expected a number"),
    (entry(input_per_mtok=10**400), "input_per_mtok: expected a number"),
    (entry(input_per_mtok=True), "input_per_mtok: expected a number"),
    (entry(input_per_mtok="3.0"), "input_per_mtok: expected a number"),
    (entry(cache_write_per_mtok=None), "cache_write_per_mtok: expected a number"),
    (entry(source="x" * 10_000), "source: expected printable text"),
    (entry(source="\x1b]0;pwned\x07\x1b[2J"), "source: expected printable text"),
    (entry(source="config\u202e"), "source: expected printable text"),
    (entry(source=""), "source: expected printable text"),
    (entry(source=["config"]), "source: expected printable text"),
    (entry(tiers={"above": 1}), "tiers: expected an array of at most 16"),
    (entry(tiers=[{"above": n, **RATES} for n in range(17)]), "tiers: expected an array of at most 16"),
    (entry(tiers=[{"above": 200_000, **RATES}, {"above": 100_000, **RATES}]), "tier 2: above: expected"),
    (entry(tiers=[{"above": 5, **RATES}, {"above": 5, **RATES}]), "tier 2: above: expected"),
    (entry(tiers=[{"above": -1, **RATES}]), "tier 1: above: expected"),
    (entry(tiers=[{"above": 1.5, **RATES}]), "tier 1: above: expected"),
    (entry(tiers=[{"above": 2**64, **RATES}]), "tier 1: above: expected"),
    (entry(tiers=[{"above": 10, **RATES, "output_per_mtok": -3}]), "tier 1: output_per_mtok: expected"),
    (entry(tiers=["above"]), "tier 1: expected an object"),
]


@pytest.mark.parametrize(("card", "problem"), GARBAGE)
def test_a_card_with_garbage_is_refused_whole_and_said_without_quoting_it(card: object, problem: str) -> None:
    sent = json.loads(json.dumps(card))  # as the network delivers it: NaN and Infinity included
    with pytest.raises(CardError, match=re.escape(problem)) as raised:
        read_card(sent, [ticket("a")])
    assert "\x1b" not in str(raised.value) and "xxxx" not in str(raised.value)


def test_a_valid_card_is_taken_with_its_tiers() -> None:
    """Past 200k prompt tokens the whole call pays the tier's rates, as genai-prices' tiers do."""
    card = entry(tiers=[{"above": 200_000, **RATES, "input_per_mtok": 6.0}])
    pricer = read_card(json.loads(json.dumps(card)), [ticket("a")]).pricer("sim", "agent-demo")
    assert isinstance(pricer, OverridePricer) and pricer.source == PRICE["source"]
    assert cost(pricer, (200_000, 0, 0, 0)) == 0.6 and cost(pricer, (200_001, 0, 0, 0)) == 1.200006
