"""The registry's index as lfg reads it: fetched with a timeout, kept in lfg's cache folder, and when
the registry cannot be reached (or does not answer in time) the cached copy, else the snapshot
bundled with lfg, each with its date.

A person offline still sees what the registry offered and how old that list is; a broken or
unreachable registry never makes `lfg agents` fail.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import platformdirs

from lfgtui.agents_registry.download import DownloadFailed, Limits, download
from lfgtui.agents_registry.index import BadIndex, Index, parse_index
from lfgtui.folders import private_folder

FETCH_TIMEOUT_S = 10.0
MAX_INDEX_BYTES = 8 * 1024 * 1024
"""Far above the real index (tens of kilobytes): a larger answer is not an index."""
SNAPSHOT_DATE = "2026-11-26"
"""When `snapshot.json` was taken from the registry."""


@dataclass(frozen=True)
class Read:
    """The index and where it came from: `fetched` now, the `cache` of `date`, or the `snapshot`."""

    index: Index
    source: str
    date: str
    url: str
    why: str | None
    """Why the registry itself was not read (its error), or None when it was."""

    def describe(self) -> str:
        if self.source == "fetched":
            return f"the registry at {self.url}, fetched {self.date}"
        place = "a cached copy" if self.source == "cache" else "the snapshot bundled with lfg"
        return f"{place} of {self.date} (the registry at {self.url} could not be read: {self.why})"


def cache_file() -> Path:
    return Path(platformdirs.user_cache_dir("lfgtui")) / "acp-registry.json"


def _download(url: str, timeout: float) -> bytes:
    """The index, in `timeout` seconds in all: a registry that trickles is given up like a silent one."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    limits = Limits(
        max_bytes=MAX_INDEX_BYTES,
        deadline_s=timeout,
        pace_window_s=timeout,
        pace_min_bytes=1,
        size_option=None,
        time_option="--registry-timeout",
    )
    body = io.BytesIO()
    download(url, body, limits)
    return body.getvalue()


def _parse(body: bytes, where: str) -> Index:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadIndex(f"{where}: not JSON ({exc})") from None
    return parse_index(document, where)


def _cached(url: str) -> Read | None:
    path = cache_file()
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("url") != url:
            return None
        index = parse_index(kept["index"], str(path))
        return Read(index, "cache", str(kept["fetched"]), url, None)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no cache, or one lfg cannot read: the snapshot serves instead


def _snapshot(url: str) -> Read:
    body = resources.files(__package__).joinpath("snapshot.json").read_bytes()
    return Read(_parse(body, "lfg's bundled registry snapshot"), "snapshot", SNAPSHOT_DATE, url, None)


def read_index(url: str, timeout: float = FETCH_TIMEOUT_S) -> Read:
    """The registry's index: fetched (and cached), else the cached copy, else the bundled snapshot."""
    try:
        body = _download(url, timeout)
        index = _parse(body, url)
    except (DownloadFailed, ValueError) as exc:  # BadIndex is a ValueError
        why = exc.why if isinstance(exc, DownloadFailed) else str(exc)
        fallback = _cached(url) or _snapshot(url)
        return Read(fallback.index, fallback.source, fallback.date, url, why or type(exc).__name__)
    fetched = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    path = cache_file()
    try:
        private_folder(path.parent)
        kept = {"url": url, "fetched": fetched, "index": json.loads(body)}
        path.write_text(json.dumps(kept), encoding="utf-8")
    except OSError:
        pass  # a cache that cannot be written only means no offline copy next time
    return Read(index, "fetched", fetched, url, None)
