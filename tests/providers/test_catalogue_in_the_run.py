"""The catalogue `lfg models --refresh` kept reaches a run (issue #75): a model shipped after lfg's
table asks for the output limit the catalogue gives, not 8,192 tokens; a table row without limits
(`claude-opus-4-7`) takes the catalogue's; the table's own figures and a ticket's `max_tokens` still
come first, and the catalogue's come before a family's inference, marked with the catalogue's date."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.cost.prices import PriceBook
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.models import facts, figures_said
from lfgtui.sim.model_map import ModelMap
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.catalogue import CatalogueServer
from tests.support.lfg import Lfg, command
from tests.support.streams import ask, collect

K = 1000
CATALOGUE = {
    "anthropic": {
        "models": {
            "claude-opus-9-1": {
                "limit": {"context": 2_000_000, "output": 256 * K},
                "reasoning": True,
                "cost": {"input": 5, "output": 25, "cache_read": 0.5, "cache_write": 6.25},
            },
            "claude-opus-5-8": {"limit": {"context": 2_000_000, "output": 256 * K}},  # a family's, inferred
            "claude-opus-4-7": {"limit": {"context": 1_000_000, "output": 128 * K}},  # the table has none
            "claude-sonnet-5-5": {"limit": {"context": 1, "output": 1}},  # the table's own stand
            "claude-opus-9-2": {"limit": {"context": 10**12, "output": 50_000_000}},  # past any model's
            "claude-opus-9-3": {"limit": {"context": 100 * K, "output": 1_000_000}},  # more than it reads
        }
    }
}


@pytest.fixture
def refreshed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`lfg models --refresh` run from a catalogue served on 127.0.0.1, its copy kept in this test's
    cache folder, which this process then reads as a run does: the catalogue's URL."""
    lfg = Lfg(tmp_path)
    cache = str(tmp_path / "cache")
    with CatalogueServer(json.dumps(CATALOGUE).encode()) as served:
        args = ("models", "anthropic", "--json", "--config", str(lfg.config), "--catalogue", served.url)
        done = command(lfg, *args, "--refresh", env={"XDG_CACHE_HOME": cache})
    assert done.returncode == 0, done.stderr
    rows = {row["model"]: row for row in json.loads(done.stdout)}
    opus = rows["claude-opus-4-7"]
    assert (opus["context_window"], opus["max_output_tokens"]) == (1_000_000, 128 * K)
    assert opus["catalogue"].startswith(served.url), "lfg models says the figures are the catalogue's"
    monkeypatch.setenv("XDG_CACHE_HOME", cache)
    return served.url


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(ScenarioLibrary(extra_dirs=()), models=ModelMap(unknown="hello")) as server:
        yield server


async def first_max_tokens(sim: SimServer, model: str, max_tokens: int | None = None) -> int:
    """The `max_tokens` the Messages API adapter asks for on `model`'s first request."""
    config = ProviderConfig(name="anthropic", kind="anthropic", base_url=sim.url, api_key="sk-ant")
    adapter = AnthropicProvider(config)
    try:
        out = await collect(adapter, ask(model, max_tokens=max_tokens))
    finally:
        await adapter.aclose()
    assert out.error is None, out.error
    return int(sim.log[-1].body["max_tokens"])


async def test_a_refreshed_catalogues_limits_reach_the_first_request(refreshed: str, sim: SimServer) -> None:
    assert await first_max_tokens(sim, "claude-opus-9-1") == 256 * K


async def test_a_catalogue_limit_past_any_models_is_never_asked_for(refreshed: str, sim: SimServer) -> None:
    """Outside JSON is untrusted: an output limit of 50M (or one larger than the window it came with)
    would be a `max_tokens` no API takes; lfg asks its own default instead."""
    assert await first_max_tokens(sim, "claude-opus-9-2") == 8192
    assert await first_max_tokens(sim, "claude-opus-9-3") == 8192
    known = facts("claude-opus-9-2")
    assert known is not None and known.context_window is None
    assert await first_max_tokens(sim, "claude-opus-4-7") == 128 * K, "a table row without limits"
    assert await first_max_tokens(sim, "claude-opus-5-8") == 256 * K, "the catalogue's before the family's"
    assert await first_max_tokens(sim, "claude-sonnet-5-5") == 128 * K, "the table's own first"
    assert await first_max_tokens(sim, "claude-opus-9-1", max_tokens=1000) == 1000, "the ticket's first"


def test_the_figures_say_they_are_the_catalogues_and_its_date(refreshed: str) -> None:
    new = facts("claude-opus-9-1")
    assert new is not None and (new.vendor, new.max_output_tokens, new.inferred) == (
        "anthropic",
        256 * K,
        False,
    )
    assert new.source.startswith(f"{refreshed} (the catalogue of ")
    family = facts("claude-opus-5-8")
    assert family is not None and family.thinking == "adaptive" and not family.inferred
    said = [figures_said(model) for model in ("claude-opus-5-8", "claude-opus-5-9", "claude-opus-4-7")]
    assert said == ["catalogue", "~inferred", "catalogue"], "what the pane's header says"
    assert figures_said("claude-sonnet-5-5") is None, "the table's own"
    tabled = facts("claude-opus-4-7")
    assert tabled is not None and tabled.context_window == 1_000_000 and refreshed in tabled.source


def test_a_model_nothing_else_prices_takes_the_catalogues_price_on_its_vendors_own_api(
    refreshed: str,
) -> None:
    pricer = PriceBook(BUILTIN).pricer("anthropic", "claude-opus-9-1")
    assert pricer is not None and pricer.source.startswith(f"the catalogue at {refreshed} of ")
    cost = pricer.cost(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=500_000)
    assert cost == pytest.approx(0.5 * 5 + 0.5 * 0.5 + 0.1 * 25), "cache reads at the catalogue's cache rate"
    gateway = ProviderConfig(name="gw", kind="anthropic", base_url="https://gateway.example")
    assert PriceBook({"gw": gateway}).pricer("gw", "claude-opus-9-1") is None, (
        "a gateway's prices are its own"
    )


def test_without_a_kept_catalogue_the_table_and_families_stand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-cache"))
    assert facts("claude-opus-9-1") is None
    opus = facts("claude-opus-4-7")
    assert opus is not None and opus.max_output_tokens is None
