"""Prices: genai-prices' own numbers for the providers it knows, the config's for any, `$?` otherwise."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from anthropic.types import Usage as AnthropicUsage
from genai_prices import data_snapshot
from openai.types import CompletionUsage

from lfgtui.cost.prices import PriceBook, database_provider, format_usd, load, reads_table
from lfgtui.events import EventFactory
from lfgtui.providers.anthropic import prompt_tokens
from lfgtui.providers.base import PriceOverride, ProviderConfig
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.openai_chat import cache_tokens
from lfgtui.providers.usage import UsageCheck
from tests.support.lfg import Lfg, imported_by

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
"""Prices are taken at this time, so a dated price change in the database cannot move a test."""


def book(**configs: ProviderConfig) -> PriceBook:
    return PriceBook(BUILTIN | configs, clock=lambda: AT)


def library_price(model: str, usage: tuple[int, int, int, int], **where: str) -> float:
    prompt, read, write, output = usage
    counts = genai_prices.Usage(
        input_tokens=prompt, cache_read_tokens=read, cache_write_tokens=write, output_tokens=output
    )
    return float(genai_prices.calc_price(counts, model, genai_request_timestamp=AT, **where).total_price)


def our_price(prices: PriceBook, provider: str, model: str, usage: tuple[int, int, int, int]) -> float:
    prompt, read, write, output = usage
    pricer = prices.pricer(provider, model)
    assert pricer is not None
    return pricer.cost(
        input_tokens=prompt, cache_read_tokens=read, cache_write_tokens=write, output_tokens=output
    )


USAGES = [
    (12_000, 0, 0, 800),
    (12_000, 8_000, 0, 800),
    (12_000, 8_000, 1_500, 800),
    (250_000, 100_000, 20_000, 4_000),  # past Claude Sonnet 4.5's 200k tier
]


@pytest.mark.parametrize("usage", USAGES)
@pytest.mark.parametrize(
    ("provider", "model", "where"),
    [
        ("openai", "gpt-4o", {"provider_id": "openai"}),
        ("openai", "gpt-4.1-mini", {"provider_id": "openai"}),
        ("anthropic", "claude-sonnet-4-5", {"provider_id": "anthropic"}),
        ("anthropic", "claude-haiku-4-5", {"provider_id": "anthropic"}),
        ("xai", "grok-4", {"provider_api_url": "https://api.x.ai/v1"}),
    ],
)
def test_a_known_model_costs_what_genai_prices_says(
    provider: str, model: str, where: dict[str, str], usage: tuple[int, int, int, int]
) -> None:
    assert our_price(book(), provider, model, usage) == library_price(model, usage, **where)


def test_the_prompt_includes_its_cached_parts() -> None:
    """By hand, from the database's rates: gpt-4o $2.50 / $1.25 cached / $10; Claude Haiku 4.5
    $1 / $0.10 read / $1.25 written / $5 (per million tokens)."""
    prices = book()
    assert our_price(prices, "openai", "gpt-4o", (10_000, 4_000, 0, 1_000)) == pytest.approx(
        (6_000 * 2.5 + 4_000 * 1.25 + 1_000 * 10) / 1e6
    )
    assert our_price(prices, "anthropic", "claude-haiku-4-5", (10_000, 4_000, 2_000, 1_000)) == pytest.approx(
        (4_000 * 1 + 4_000 * 0.1 + 2_000 * 1.25 + 1_000 * 5) / 1e6
    )
    sonnet = our_price(prices, "anthropic", "claude-sonnet-4-5", (250_000, 0, 0, 0))
    assert sonnet == pytest.approx(250_000 * 6 / 1e6)  # the whole prompt at the 200k tier's rate


def test_what_our_adapters_read_off_the_wire_costs_what_genai_prices_reads_off_it() -> None:
    """genai-prices' own readers of the providers' usage objects against our adapters' readings."""
    prices = book()
    wire = {"input_tokens": 4_000, "cache_creation_input_tokens": 2_000, "cache_read_input_tokens": 3_000}
    response = {"model": "claude-haiku-4-5-20251001", "usage": {**wire, "output_tokens": 700}}
    theirs = genai_prices.extract_usage(response, provider_id="anthropic").calc_price(
        genai_request_timestamp=AT
    )
    anthropic_usage = AnthropicUsage(**wire, output_tokens=700)
    prompt, _, _ = prompt_tokens(UsageCheck(EventFactory("t", 1)), anthropic_usage)
    ours = our_price(prices, "anthropic", response["model"], (prompt or 0, 3_000, 2_000, 700))
    assert ours == float(theirs.total_price)

    details = {"cached_tokens": 6_000, "cache_write_tokens": 1_000}
    chat: dict[str, Any] = {"prompt_tokens": 9_000, "completion_tokens": 300, "total_tokens": 9_300}
    response = {"model": "gpt-4.1-mini-2025-04-14", "usage": {**chat, "prompt_tokens_details": details}}
    theirs = genai_prices.extract_usage(response, provider_id="openai", api_flavor="chat").calc_price(
        genai_request_timestamp=AT
    )
    details = CompletionUsage.model_validate(response["usage"]).prompt_tokens_details
    read, write = cache_tokens(UsageCheck(EventFactory("t", 1)), "usage.prompt_tokens_details", details)
    ours = our_price(prices, "openai", response["model"], (9_000, read or 0, write or 0, 300))
    assert ours == float(theirs.total_price)


@pytest.mark.parametrize(
    ("provider", "model", "found"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "GPT-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ],
)
def test_dated_snapshots_find_their_model(provider: str, model: str, found: str) -> None:
    prices = book()
    pricer = prices.pricer(provider, model)
    assert pricer is not None
    assert pricer.source == f"genai-prices {provider} {found}"
    assert our_price(prices, provider, model, USAGES[2]) == our_price(prices, provider, found, USAGES[2])


@pytest.mark.parametrize(
    ("provider", "model"),
    [("openai", "agent-demo"), ("openai", ""), ("anthropic", "gpt-4o"), ("nope", "gpt-4o")],
)
def test_an_unknown_model_or_provider_has_no_price(provider: str, model: str) -> None:
    assert book().pricer(provider, model) is None


LOCAL_OR_AGENT = {
    "loopback": ProviderConfig(name="loopback", kind="openai", base_url="http://127.0.0.1:8765/v1"),
    "ipv6": ProviderConfig(name="ipv6", kind="openai-responses", base_url="http://[::1]:8000/v1"),
    "any": ProviderConfig(name="any", kind="anthropic", base_url="http://0.0.0.0:8000"),
    "dev": ProviderConfig(name="dev", kind="openai", base_url="http://gpu.localhost/v1"),
    "elsewhere": ProviderConfig(name="elsewhere", kind="openai", base_url="https://llm.example.com/v1"),
    "agent": ProviderConfig(name="agent", kind="sse", base_url="https://api.openai.com/v1/agent"),
}


@pytest.mark.parametrize("provider", ["sim-acp", "claude-code", "ollama", *LOCAL_OR_AGENT])
@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-5"])
def test_local_servers_agents_and_unknown_hosts_have_no_database_price(provider: str, model: str) -> None:
    assert book(**LOCAL_OR_AGENT).pricer(provider, model) is None


@pytest.mark.parametrize("provider", ["sim", "sim-responses", "sim-anthropic", "sim-agent"])
def test_the_built_in_sim_is_free_whatever_the_model(provider: str) -> None:
    """Its price is a known zero (`$0`), not an unknown one (`$?`): a model name it shares with a
    real model (`gpt-4o`) is still the sim's."""
    pricer = book().pricer(provider, "gpt-4o")
    assert pricer is not None and pricer.source == "the sim: free"
    assert pricer.cost(input_tokens=10_000, output_tokens=5_000, cache_read_tokens=2_000) == 0.0
    assert format_usd(pricer.cost(input_tokens=1, output_tokens=1), estimated=True) == "$0"


def test_a_base_url_finds_its_provider() -> None:
    prices = book(
        proxy=ProviderConfig(name="proxy", kind="openai", base_url="https://api.openai.com/v1"),
        claude=ProviderConfig(name="claude", kind="anthropic", base_url="https://api.anthropic.com"),
    )
    assert prices.pricer("proxy", "gpt-4o").source == "genai-prices openai gpt-4o"  # type: ignore[union-attr]
    assert prices.pricer("claude", "claude-haiku-4-5").source == (  # type: ignore[union-attr]
        "genai-prices anthropic claude-haiku-4-5"
    )


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (BUILTIN["openai"], ("openai", None)),
        (replace(BUILTIN["openai"], kind="openai-responses"), ("openai", None)),
        (BUILTIN["anthropic"], ("anthropic", None)),
        (BUILTIN["xai"], (None, "https://api.x.ai/v1")),
        *((config, None) for config in LOCAL_OR_AGENT.values() if config.name != "elsewhere"),
        *(
            (BUILTIN[name], None)
            for name in ("sim", "sim-responses", "sim-anthropic", "sim-agent", "sim-acp")
        ),
        (BUILTIN["ollama"], None),
    ],
)
def test_where_genai_prices_looks_for_a_provider(
    config: ProviderConfig, where: tuple[str | None, str | None] | None
) -> None:
    assert database_provider(config) == where


@pytest.mark.parametrize(
    ("provider", "model", "times"),
    [
        ("openai", "o3", {datetime(2025, 6, 1, tzinfo=UTC): 10.0, AT: 2.0}),  # a price cut on 2025-06-10
        ("deepseek", "deepseek-chat", {AT.replace(hour=2): 0.27, AT.replace(hour=20): 0.135}),  # off-peak
    ],
)
def test_prices_are_the_ones_in_force_at_the_clocks_time(
    provider: str, model: str, times: dict[datetime, float]
) -> None:
    clock = iter(times)
    deepseek = ProviderConfig(name="deepseek", kind="openai", base_url="https://api.deepseek.com/v1")
    pricer = PriceBook(BUILTIN | {"deepseek": deepseek}, clock=lambda: next(clock)).pricer(provider, model)
    assert pricer is not None
    costs = [pricer.cost(input_tokens=1_000_000, output_tokens=0) for _ in times]
    assert costs == pytest.approx(list(times.values()))


def test_a_configured_price_prices_any_provider_and_wins_over_the_database() -> None:
    flat = PriceOverride(input_per_mtok=2.0, output_per_mtok=8.0)
    cached = PriceOverride(
        input_per_mtok=2.0, output_per_mtok=8.0, cache_read_per_mtok=0.5, cache_write_per_mtok=2.5
    )
    prices = book(
        sim=replace(BUILTIN["sim"], prices=flat),
        codex=replace(BUILTIN["codex"], prices=cached),
        openai=replace(BUILTIN["openai"], prices=flat),
    )
    usage = (10_000, 4_000, 1_000, 500)
    assert our_price(prices, "sim", "agent-demo", usage) == pytest.approx((10_000 * 2 + 500 * 8) / 1e6)
    assert our_price(prices, "codex", "default", usage) == pytest.approx(
        (5_000 * 2 + 4_000 * 0.5 + 1_000 * 2.5 + 500 * 8) / 1e6
    )
    assert our_price(prices, "openai", "gpt-4o", usage) == our_price(prices, "sim", "agent-demo", usage)
    assert prices.pricer("openai", "gpt-4o").source == "config"  # type: ignore[union-attr]


@pytest.mark.parametrize("provider", ["sim", "anthropic"])
def test_counts_that_do_not_add_up_are_priced_not_refused(provider: str) -> None:
    """More cached than the whole prompt, negative counts: the prompt is at least its cached parts."""
    prices = book(sim=replace(BUILTIN["sim"], prices=PriceOverride(2.0, 8.0, 0.5, 2.5)))
    model = "claude-haiku-4-5"
    assert our_price(prices, provider, model, (100, 300, -5, -1)) == our_price(
        prices, provider, model, (300, 300, 0, 0)
    )
    assert our_price(prices, provider, model, (100, 300, 200, 0)) == our_price(
        prices, provider, model, (500, 300, 200, 0)
    )


def test_each_pair_is_looked_up_once() -> None:
    prices = book()
    assert prices.pricer("openai", "gpt-4o") is prices.pricer("openai", "gpt-4o")
    assert prices.pricer("openai", "gpt-4o") is not prices.pricer("openai", "gpt-4o-mini")


def test_prices_never_come_from_the_network() -> None:
    """genai-prices fetches only from its `UpdatePrices` thread, which must never have run."""
    load()
    assert book().pricer("openai", "gpt-4o") is not None
    assert "genai_prices:update" not in {thread.name for thread in threading.enumerate()}
    assert data_snapshot.get_snapshot().from_auto_update is False


def test_importing_prices_does_not_import_genai_prices() -> None:
    code = (
        "import sys, lfgtui.cost.prices\n"
        "print('genai_prices' in sys.modules)\n"
        "lfgtui.cost.prices.load()\n"
        "print('genai_prices' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_what_is_priced_without_the_table_never_reads_it() -> None:
    """`reads_table` says which providers a worker reads the table for as it makes them ready: the
    others' tickets are priced without it (issue #77: a fifth of a second of CPU a worker). A coding
    agent's turn reads it only once the agent names the models that answered."""
    configs = BUILTIN | LOCAL_OR_AGENT
    configs["priced"] = replace(BUILTIN["openai"], name="priced", prices=PriceOverride(1.0, 2.0))
    table = {name for name, config in configs.items() if reads_table(config)}
    assert {"sim-acp", "claude-code", "gemini"} <= set(BUILTIN), "coding agents are among those asked"
    assert table == {"openai", "anthropic", "xai", "elsewhere"}
    others = sorted(set(BUILTIN) - table)  # what a worker of the sims and `ollama` serves
    code = (
        "import sys\nfrom lfgtui.cost.prices import PriceBook\nfrom lfgtui.providers.catalog import BUILTIN\n"
        f"for name in {others!r}:\n"
        "    PriceBook(BUILTIN).pricer(name, 'gpt-4o')\n"
        "print('genai_prices' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_a_coding_agent_run_whose_agent_names_no_model_never_reads_the_table(tmp_path: Path) -> None:
    """A coding agent's tickets are priced from the table only by the models its turns say answered
    (Gemini CLI's): a run of one that names none (Claude Code, Codex, the sim agent) never imports
    genai-prices (issue #77: a fifth of a second of CPU an `lfg run`, a coordinator, a worker)."""
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets('[[ticket]]\nid = "t"\nprompt = "hi"\nprovider = "sim-acp"\nmodel = "hello"\n')
    args = ("run", "--headless", "--no-history", "--config", str(lfg.config), str(tickets))
    done, imported = imported_by(*args, env=lfg.env, packages=("genai_prices", "acp"))
    assert done.returncode == 0, done.stderr
    assert "acp" in imported, "the agent ran"
    assert not {m for m in imported if m.startswith("genai_prices")}, imported


@pytest.mark.parametrize(
    ("cost", "estimated", "shown"),
    [
        (None, False, "$?"),
        (None, True, "$?"),
        (float("nan"), False, "$?"),
        (0.0, False, "$0"),
        (0.0, True, "$0"),
        (1e-12, False, "$0.00"),
        (0.00042, False, "$0.00042"),
        (0.0123, False, "$0.0123"),
        (0.0123, True, "~$0.0123"),
        (0.009999, False, "$0.01"),
        (0.123456, False, "$0.123"),
        (0.5, False, "$0.50"),
        (0.999999, False, "$1.00"),
        (1.234, False, "$1.23"),
        (123.45, True, "~$123.45"),
        (1234.5, False, "$1,234.50"),
    ],
)
def test_format_usd(cost: float | None, estimated: bool, shown: str) -> None:
    assert format_usd(cost, estimated) == shown


@pytest.mark.parametrize(
    ("provider", "model", "usage", "usd"),
    [
        # xAI's page: $1.25 in, $0.20 cached, $2.50 out; from 200k prompt tokens $2.50, $0.40, $5.00
        (
            "xai",
            "grok-4.20-reasoning",
            (100_000, 40_000, 0, 10_000),
            (60_000 * 1.25 + 40_000 * 0.2 + 10_000 * 2.5),
        ),
        ("xai", "grok-4.20-reasoning", (200_000, 0, 0, 10_000), (200_000 * 2.5 + 10_000 * 5.0)),
        # OpenAI's page: $2 in, $0.10 cached, $2.50 cache writes, $10 out; past 272k: x2 in, x1.5 out
        ("openai", "gpt-6.2-sol", (100_000, 50_000, 0, 1_000), (50_000 * 2 + 50_000 * 0.1 + 1_000 * 10)),
        ("openai", "gpt-6.2-sol", (300_000, 0, 0, 1_000), (300_000 * 4 + 1_000 * 15)),
        # GPT-6.2 Astra (2026-11-17): $8 in, $0.40 cached, $40 out; past 272k: x2 in and cached, x1.5 out
        ("openai", "gpt-6.2-astra", (100_000, 50_000, 0, 1_000), (50_000 * 8 + 50_000 * 0.4 + 1_000 * 40)),
        ("openai", "gpt-6.2-astra", (300_000, 100_000, 0, 1_000), (200_000 * 16 + 100_000 * 0.8 + 60_000)),
    ],
)
def test_a_model_genai_prices_lacks_is_priced_from_its_vendors_page_on_its_vendors_api(
    provider: str, model: str, usage: tuple[int, int, int, int], usd: float
) -> None:
    with pytest.raises(LookupError):  # this entry goes once genai-prices lists the model
        data_snapshot.get_snapshot().find_provider_model(model, None, None, None)
    pricer = book().pricer(provider, model)
    assert pricer is not None and "page" in pricer.source
    assert our_price(book(), provider, model, usage) == pytest.approx(usd / 1_000_000)
    gateway = ProviderConfig(name="gw", kind="openai", base_url="https://openrouter.ai/api/v1")
    assert book(gw=gateway).pricer("gw", model) is None, "a gateway bills its own way"
