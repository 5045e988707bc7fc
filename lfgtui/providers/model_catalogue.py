"""A maintained public catalogue of models, read by `lfg models --refresh`: models.dev's `api.json`
(the catalogue opencode reads), which gives each vendor's models with their context window, output
limit, whether they reason, and their price per million tokens, and is updated as models ship.

Fetched with a timeout, a size cap and a depth bound, kept in lfg's cache folder with its date
(`network/kept.py`); when it cannot be read, the cached copy, else lfg's own table
(`providers/models.py`, the snapshot bundled with lfg, of `TABLE_DATE`), each said with its date.
Its text is untrusted: an entry of the wrong shape or an absurd figure is left out, never an error.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import platformdirs

from lfgtui.network.kept import Document, Kept

CATALOGUE_URL = "https://models.dev/api.json"
CATALOGUE_ENV = "LFG_MODEL_CATALOGUE"
"""The catalogue's URL, or `off`: beats `[run] model_catalogue`."""
OFF = "off"
REFRESH_AFTER = timedelta(days=1)
"""A run reads the catalogue again once its cached copy is this old: new models ship every week."""
FETCH_TIMEOUT_S = 15.0
MAX_CATALOGUE_BYTES = 32 * 1024 * 1024
"""Far above models.dev's whole catalogue (about 1 MB in 2026): a larger answer is not it."""
TABLE_DATE = "2026-11-27"
"""When lfg's own table was last checked against the vendors' pages."""
VENDOR_IDS: Mapping[str, str] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "xai": "xai",
    "deepseek": "deepseek",
    "google": "google",
}
"""lfg's vendor (`VENDOR_HOSTS`) to the catalogue's provider id."""
MAX_PRICE = 100_000.0
MAX_CONTEXT_WINDOW = 20_000_000
"""Twice the largest context window any vendor sold in 2026 (10M): a larger figure from outside (the
catalogue, a provider's model list) is not a model's, and lfg never asks for it."""
MAX_OUTPUT_TOKENS = 2_000_000
"""Over five times the largest output limit any vendor sold in 2026 (DeepSeek V4's 384K): a larger
figure from outside would become a `max_tokens` no API takes."""


def outside_limits(context: object, output: object) -> tuple[int | None, int | None]:
    """A context window and an output limit read from outside JSON, each kept only when it is a
    whole number from 1 to its ceiling, and the output limit only when it fits the window it came
    with: what is left out is None (lfg's own figures serve)."""
    window = _bounded(context, MAX_CONTEXT_WINDOW)
    written = _bounded(output, MAX_OUTPUT_TOKENS)
    return window, None if written is not None and window is not None and written > window else written


def _bounded(value: object, ceiling: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= ceiling:
        return value
    return None


@dataclass(frozen=True, slots=True)
class Listed:
    """A model as the catalogue lists it; a figure it did not give (or gave of the wrong shape) is None."""

    model: str
    vendor: str
    context_window: int | None
    max_output_tokens: int | None
    reasons: bool | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    cache_read_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None


Models = Mapping[tuple[str, str], Listed]
"""The catalogue's models by (vendor, id)."""
Catalogue = Kept[Models]
"""The catalogue's models and where they came from: `fetched` now, the `cache` of `date`, or none
(`bundled`: lfg's own table of `date` alone)."""


def kept() -> Catalogue | None:
    """The catalogue lfg last kept (`lfg models --refresh`, a run's daily refresh), whatever its URL,
    for a run to use; None when there is none it can read. Read again only when the file changes, so
    asking per request costs a `stat`."""
    path = cache_file()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _kept_at(path, stamp)


@functools.lru_cache(maxsize=2)
def _kept_at(path: Path, stamp: int) -> Catalogue | None:
    try:
        url = json.loads(path.read_text(encoding="utf-8")).get("url")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return catalogue(url).cached(None) if isinstance(url, str) else None


def listing(model: str) -> tuple[Listed, Catalogue] | None:
    """`model` as the kept catalogue lists it under one of lfg's vendors, with the catalogue; None
    when it does not."""
    found = kept()
    if found is None:
        return None
    listed = next(
        (found.value[key] for vendor in VENDOR_IDS if (key := (vendor, model)) in found.value), None
    )
    return None if listed is None else (listed, found)


def describe(catalogue: Catalogue) -> str:
    return f"models from {catalogue.describe('the catalogue')}"


def cache_file() -> Path:
    return Path(platformdirs.user_cache_dir("lfgtui")) / "models-catalogue.json"


def _rate(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= MAX_PRICE else None


def _field(entry: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = entry.get(key)
    return value if isinstance(value, dict) else {}


def parse(document: object) -> dict[tuple[str, str], Listed]:
    """The models of lfg's vendors in a models.dev `api.json` (provider id -> `models` -> model id
    -> `limit`, `cost` (`input`, `output`, `cache_read`, `cache_write`), `reasoning`); what is not
    of that shape is left out. A price of $0 in and $0 out is no price: these vendors sell every
    model, and a run priced at nothing would never reach its budget (the model shows `$?`, and a
    budget says its cost is not counted)."""
    found: dict[tuple[str, str], Listed] = {}
    if not isinstance(document, dict):
        return found
    for vendor, provider_id in VENDOR_IDS.items():
        provider = document.get(provider_id)
        models = provider.get("models") if isinstance(provider, dict) else None
        if not isinstance(models, dict):
            continue
        for model, entry in models.items():
            if not isinstance(model, str) or not 0 < len(model) <= 200 or not isinstance(entry, dict):
                continue
            limit, cost = _field(entry, "limit"), _field(entry, "cost")
            reasons = entry.get("reasoning")
            rates = _rate(cost.get("input")), _rate(cost.get("output"))
            found[(vendor, model)] = Listed(
                model,
                vendor,
                *outside_limits(limit.get("context"), limit.get("output")),
                reasons if isinstance(reasons, bool) else None,
                *((None, None) if rates == (0.0, 0.0) else rates),
                _rate(cost.get("cache_read")),
                _rate(cost.get("cache_write")),
            )
    return found


def _check(document: object, where: str) -> Models:
    return parse(document)


def _table() -> tuple[Models, str]:
    return {}, TABLE_DATE


def catalogue(url: str = CATALOGUE_URL) -> Document[Models]:
    return Document(
        url=url,
        cache=cache_file(),
        max_bytes=MAX_CATALOGUE_BYTES,
        check=_check,
        bundled=_table,
        bundled_as="lfg's bundled table",
    )


def read_catalogue(
    url: str = CATALOGUE_URL, refresh: bool = False, timeout: float = FETCH_TIMEOUT_S
) -> Catalogue:
    """With `refresh`, the catalogue fetched (and cached), else the cached copy, else none (lfg's
    table alone); without, the cached copy or none, and nothing is fetched."""
    document = catalogue(url)
    return document.read(timeout) if refresh else document.fallback(None)


def setting(configured: str | None, env: Mapping[str, str]) -> str:
    """The catalogue's URL or `off`: `LFG_MODEL_CATALOGUE`, else `[run] model_catalogue`, else
    models.dev's."""
    return env.get(CATALOGUE_ENV) or configured or CATALOGUE_URL


def refreshed_url(configured: str | None, env: Mapping[str, str]) -> str | None:
    """The catalogue a run keeps fresh, or None when the setting is `off`."""
    chosen = setting(configured, env)
    return None if chosen == OFF else chosen


log = logging.getLogger(__name__)


def refresh_if_stale(url: str, now: datetime) -> Catalogue | None:
    """The catalogue read again (and cached) when its cached copy is over a day old or there is
    none; None when it is fresh. A run calls this in a thread of its own (`commands/run.py`), so it
    never waits for it; a failure is one line in lfg's log, never a word to the person: the cache
    or the table serves as before."""
    document = catalogue(url)
    age = document.age(now)
    if age is not None and age < REFRESH_AFTER:
        return None
    kept = document.read(FETCH_TIMEOUT_S)
    if kept.why is not None:
        log.warning("the model catalogue was not refreshed: %s", kept.why)
    return kept
