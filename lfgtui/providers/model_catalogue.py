"""A maintained public catalogue of models, read by `lfg models --refresh`: models.dev's `api.json`
(the catalogue opencode reads), which gives each vendor's models with their context window, output
limit, whether they reason, and their price per million tokens, and is updated as models ship.

Fetched with a timeout and a size cap, kept in lfg's cache folder with its date; when it cannot be
read, the cached copy, else lfg's own table (`providers/models.py`, the snapshot bundled with lfg,
of `TABLE_DATE`), each said with its date. Its text is untrusted: an entry of the wrong shape or an
absurd figure is left out, never an error.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from lfgtui.agents_registry.download import DownloadFailed, Limits, download
from lfgtui.folders import private_folder

CATALOGUE_URL = "https://models.dev/api.json"
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
}
"""lfg's vendor (`VENDOR_HOSTS`) to the catalogue's provider id."""
MAX_TOKENS = 100_000_000
MAX_PRICE = 100_000.0


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


@dataclass(frozen=True)
class Catalogue:
    """The catalogue's models by (vendor, id), and where they came from: `fetched` now, the `cache`
    of `date`, or `table` (none: lfg's own table of `date` alone)."""

    models: Mapping[tuple[str, str], Listed]
    source: str
    date: str
    url: str
    why: str | None
    """Why the catalogue itself was not read (its error), or None when it was or was not asked for."""

    def describe(self) -> str:
        if self.source == "fetched":
            return f"models from the catalogue at {self.url}, fetched {self.date}"
        place = f"a cached copy of {self.date}" if self.source == "cache" else None
        place = place or f"lfg's bundled table of {self.date} alone"
        unread = f" (the catalogue at {self.url} could not be read: {self.why})" if self.why else ""
        return f"models from {place}{unread}"


def cache_file() -> Path:
    return Path(platformdirs.user_cache_dir("lfgtui")) / "models-catalogue.json"


def _count(value: object) -> int | None:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TOKENS else None
    )


def _rate(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= MAX_PRICE else None


def _field(entry: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = entry.get(key)
    return value if isinstance(value, dict) else {}


def parse(document: object) -> dict[tuple[str, str], Listed]:
    """The models of lfg's vendors in a models.dev `api.json` (provider id -> `models` -> model id
    -> `limit`, `cost`, `reasoning`); what is not of that shape is left out."""
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
            found[(vendor, model)] = Listed(
                model,
                vendor,
                _count(limit.get("context")),
                _count(limit.get("output")),
                reasons if isinstance(reasons, bool) else None,
                _rate(cost.get("input")),
                _rate(cost.get("output")),
            )
    return found


def _download(url: str, timeout: float) -> object:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    limits = Limits(
        max_bytes=MAX_CATALOGUE_BYTES,
        deadline_s=timeout,
        pace_window_s=timeout,
        pace_min_bytes=1,
        size_option=None,
        time_option=None,
    )
    body = io.BytesIO()
    download(url, body, limits)
    try:
        return json.loads(body.getvalue())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None


def _cached(url: str, why: str | None) -> Catalogue | None:
    path = cache_file()
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("url") != url:
            return None
        return Catalogue(parse(kept["catalogue"]), "cache", str(kept["fetched"]), url, why)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no cache, or one lfg cannot read: lfg's own table serves instead


def read_catalogue(
    url: str = CATALOGUE_URL, refresh: bool = False, timeout: float = FETCH_TIMEOUT_S
) -> Catalogue:
    """With `refresh`, the catalogue fetched (and cached), else the cached copy, else none (lfg's
    table alone); without, the cached copy or none, and nothing is fetched."""
    if not refresh:
        return _cached(url, None) or Catalogue({}, "table", TABLE_DATE, url, None)
    try:
        document = _download(url, timeout)
    except (DownloadFailed, ValueError) as exc:
        why = (exc.why if isinstance(exc, DownloadFailed) else str(exc)) or type(exc).__name__
        return _cached(url, why) or Catalogue({}, "table", TABLE_DATE, url, why)
    fetched = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    path = cache_file()
    try:
        private_folder(path.parent)
        path.write_text(json.dumps({"url": url, "fetched": fetched, "catalogue": document}), encoding="utf-8")
    except OSError:
        pass  # a cache that cannot be written only means no offline copy next time
    return Catalogue(parse(document), "fetched", fetched, url, None)
