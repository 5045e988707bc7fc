"""The registry's index as lfg reads it (`network/kept.py`): fetched with a timeout, kept in lfg's
cache folder, and when the registry cannot be reached (or does not answer in time) the cached copy,
else the snapshot bundled with lfg, each with its date.

A person offline still sees what the registry offered and how old that list is; a broken or
unreachable registry never makes `lfg agents` fail. The snapshot is the registry's whole list at one
commit, made by `tools/registry_snapshot.py` from a checkout of it, and says which commit and day.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import platformdirs

from lfgtui.agents_registry.index import Index, parse_index
from lfgtui.network.kept import Document, Kept

FETCH_TIMEOUT_S = 10.0
MAX_INDEX_BYTES = 8 * 1024 * 1024
"""Far above the real index (tens of kilobytes): a larger answer is not an index."""

Read = Kept[Index]
"""The index and where it came from."""


def cache_file() -> Path:
    return Path(platformdirs.user_cache_dir("lfgtui")) / "acp-registry.json"


def snapshot() -> tuple[Index, str]:
    """The bundled snapshot and the day of the registry commit it was taken at (its `taken`)."""
    document = json.loads(resources.files(__package__).joinpath("snapshot.json").read_bytes())
    return parse_index(document, "lfg's bundled registry snapshot"), document["taken"]["date"]


def registry(url: str) -> Document[Index]:
    return Document(
        url=url,
        cache=cache_file(),
        max_bytes=MAX_INDEX_BYTES,
        check=parse_index,
        bundled=snapshot,
        bundled_as="the snapshot bundled with lfg",
        time_option="--registry-timeout",
    )


def describe(read: Read) -> str:
    return read.describe("the registry")


def read_index(url: str, timeout: float = FETCH_TIMEOUT_S) -> Read:
    """The registry's index: fetched (and cached), else the cached copy, else the bundled snapshot."""
    return registry(url).read(timeout)
