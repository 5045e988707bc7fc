"""A public JSON document lfg reads from the network and keeps in its cache folder with its date: when
it cannot be read (offline, an error, no answer in time), the cached copy, else the copy bundled with
lfg, each said with its date. The ACP registry's index and the model catalogue are both read so.

The document is untrusted: `check` turns it into what its reader needs, and a document it refuses is
treated like one that could not be downloaded.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Generic, TypeVar

from lfgtui.folders import private_folder
from lfgtui.network.download import DownloadFailed, Limits, download

DATE_FORMAT = "%Y-%m-%d %H:%M UTC"
"""How a fetch's time is written in the cache and said to the person."""
T = TypeVar("T")


@dataclass(frozen=True)
class Kept(Generic[T]):
    """What was read (`value`) and where from: `fetched` now, the `cache` of `date`, or lfg's
    `bundled` copy (named `bundled_as`) of `date`."""

    value: T
    source: str
    date: str
    url: str
    why: str | None
    """Why the document itself was not read (its error), or None when it was or was not asked for."""
    bundled_as: str

    def describe(self, what: str) -> str:
        """Where it came from, in words: `what` names the document (`the registry`)."""
        if self.source == "fetched":
            return f"{what} at {self.url}, fetched {self.date}"
        place = "a cached copy" if self.source == "cache" else self.bundled_as
        unread = f" ({what} at {self.url} could not be read: {self.why})" if self.why else ""
        return f"{place} of {self.date}{unread}"


@dataclass(frozen=True)
class Document(Generic[T]):
    """One public JSON document: where it is published, where lfg keeps it, how much of it is too
    much, and how it is turned into a `T` (`check`, raising ValueError for a document it refuses)."""

    url: str
    cache: Path
    max_bytes: int
    check: Callable[[object, str], T]
    bundled: Callable[[], tuple[T, str]]
    """lfg's own copy and its date."""
    bundled_as: str
    time_option: str | None = None
    """The option that gives the download more time, named when it runs out."""

    def cached(self, why: str | None) -> Kept[T] | None:
        """The cached copy, when there is one of this URL that `check` takes."""
        try:
            kept = json.loads(self.cache.read_text(encoding="utf-8"))
            if kept.get("url") != self.url:
                return None
            value = self.check(kept["document"], str(self.cache))
            return Kept(value, "cache", str(kept["fetched"]), self.url, why, self.bundled_as)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None  # no cache, or one lfg cannot read: the bundled copy serves instead

    def fallback(self, why: str | None) -> Kept[T]:
        """The cached copy, else the bundled one; `why` the document itself was not read."""
        if (cached := self.cached(why)) is not None:
            return cached
        value, date = self.bundled()
        return Kept(value, "bundled", date, self.url, why, self.bundled_as)

    def read(self, timeout: float) -> Kept[T]:
        """The document fetched (and cached), else the cached copy, else the bundled one."""
        try:
            document = self._download(timeout)
            value = self.check(document, self.url)
        except (DownloadFailed, ValueError) as exc:
            why = exc.why if isinstance(exc, DownloadFailed) else str(exc)
            return self.fallback(why or type(exc).__name__)
        fetched = datetime.now(UTC).strftime(DATE_FORMAT)
        try:
            private_folder(self.cache.parent)
            kept = {"url": self.url, "fetched": fetched, "document": document}
            partial = self.cache.with_name(f".{self.cache.name}.{os.getpid()}")
            partial.write_text(json.dumps(kept), encoding="utf-8")
            os.replace(partial, self.cache)  # whole or not at all: a reader never sees half of it
        except (OSError, RecursionError):  # RecursionError: written from deeper in the stack than read
            pass  # a cache that cannot be written only means no offline copy next time
        return Kept(value, "fetched", fetched, self.url, None, self.bundled_as)

    def age(self, now: datetime) -> timedelta | None:
        """How old the cached copy of this URL is, or None when there is none lfg can date."""
        try:
            kept = json.loads(self.cache.read_text(encoding="utf-8"))
            if kept.get("url") != self.url:
                return None
            return now - datetime.strptime(kept["fetched"], DATE_FORMAT).replace(tzinfo=UTC)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None

    def _download(self, timeout: float) -> object:
        """The document, in `timeout` seconds in all: a server that trickles is given up like a
        silent one."""
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"not an http(s) URL: {self.url!r}")
        limits = Limits(
            max_bytes=self.max_bytes,
            deadline_s=timeout,
            pace_window_s=timeout,
            pace_min_bytes=1,
            size_option=None,
            time_option=self.time_option,
        )
        body = io.BytesIO()
        download(self.url, body, limits)
        try:
            return json.loads(body.getvalue())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{self.url}: not JSON ({exc})") from None
        except RecursionError:  # Python's parser gives up past about a thousand levels
            raise ValueError(f"{self.url}: its JSON nests deeper than lfg reads") from None
