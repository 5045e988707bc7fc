"""Prices from the vendors' own pages for models genai-prices does not list yet: what a run on the
vendor's API pays, so that a model shipped after the installed genai-prices reads a price, not `$?`.

Each entry names its page and the day it was read. genai-prices comes first (cost/prices.py); an
entry here is dropped once genai-prices lists the model. A gateway or a server of its own (not the
vendor's API, `providers/models.py` `serves`) is never priced from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lfgtui.providers.base import PriceOverride


@dataclass(frozen=True, slots=True)
class VendorPrice:
    """A model's rates, with those for a prompt of more than `above` tokens (all its tokens pay
    them), and the page that says so."""

    rates: PriceOverride
    tiers: tuple[tuple[int, PriceOverride], ...]
    source: str


XAI_GROK_4_20 = VendorPrice(
    PriceOverride(1.25, 2.50, cache_read_per_mtok=0.20),
    ((199_999, PriceOverride(2.50, 5.00, cache_read_per_mtok=0.40)),),  # "reaches 200k": 200,000 on
    "https://docs.x.ai/developers/models/grok-4.20-0309 (read 2026-11-27)",
)
OPENAI_GPT_6_2_SOL = VendorPrice(
    PriceOverride(2.00, 10.00, cache_read_per_mtok=0.10, cache_write_per_mtok=2.50),
    ((272_000, PriceOverride(4.00, 15.00, cache_read_per_mtok=0.20, cache_write_per_mtok=5.00)),),
    "https://developers.openai.com/api/docs/models/gpt-6.2-sol (read 2026-11-27)",
)
OPENAI_GPT_6_2_ASTRA = VendorPrice(
    PriceOverride(8.00, 40.00, cache_read_per_mtok=0.40, cache_write_per_mtok=10.00),
    ((272_000, PriceOverride(16.00, 60.00, cache_read_per_mtok=0.80, cache_write_per_mtok=20.00)),),
    "https://developers.openai.com/api/docs/models/gpt-6.2-astra as quoted by LiteLLM discussion #52347, "
    "AgentCompass v0.6.8 and LaoZhang's GPT-6.2 notice ($8 / $40, $0.40 cached); cache writes at 1.25x and "
    "past 272K input 2x input and cache, 1.5x output, OpenAI's GPT-6 rule (read 2026-11-27)",
)

VENDOR_PRICES: Mapping[tuple[str, str], VendorPrice] = {
    ("xai", "grok-4.20-reasoning"): XAI_GROK_4_20,
    ("openai", "gpt-6.2-sol"): OPENAI_GPT_6_2_SOL,
    ("openai", "gpt-6.2-astra"): OPENAI_GPT_6_2_ASTRA,
}
"""By (vendor, model id): the vendor as `providers/models.py` `VENDOR_HOSTS` names it."""
