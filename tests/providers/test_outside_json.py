"""JSON lfg reads from outside about models, served for real from 127.0.0.1: the model catalogue
(`lfg models --refresh`, a run's daily refresh) and a provider's own model list (`GET /v1/models`).
A document nested past what Python parses, one of the wrong shape, or one too long is refused in one
line, and what lfg had stands; a price of $0 / $0 is no price (issue #75)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.model_catalogue import parse, read_catalogue, refresh_if_stale
from lfgtui.providers.model_list import MAX_LIST_BYTES, read_lists
from tests.support.catalogue import CatalogueServer
from tests.support.lfg import Lfg, command

DEEP = b"[" * 100_000
"""Nested far past Python's parser (about a thousand levels): it raised RecursionError."""


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_catalogue_nested_too_deep_is_refused_in_one_line_and_the_table_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with CatalogueServer(DEEP) as served:
        read = read_catalogue(served.url, refresh=True)
        with caplog.at_level(logging.WARNING):
            refreshed = refresh_if_stale(served.url, datetime.now(UTC))
    assert read.source == "bundled" and read.value == {}
    assert read.why == f"{served.url}: its JSON nests deeper than lfg reads"
    assert refreshed is not None and refreshed.why == read.why
    (said,) = caplog.records
    assert said.getMessage() == f"the model catalogue was not refreshed: {read.why}"


def test_lfg_models_refresh_from_a_catalogue_nested_too_deep_says_so_and_exits_0(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    with CatalogueServer(DEEP) as served:
        done = command(
            lfg, "models", "anthropic", "--refresh", "--catalogue", served.url, "--config", str(lfg.config)
        )
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert "Traceback" not in said and "RecursionError" not in said
    assert f"could not be read: {served.url}: its JSON nests deeper than lfg reads)" in said
    assert " claude-sonnet-5-5 " in done.stdout


def test_a_catalogue_price_of_nothing_for_a_model_lfg_does_not_know_is_no_price() -> None:
    """models.dev writes 0 where it has no price; at $0 / $0 a budget would never trip."""
    found = parse(
        {
            "anthropic": {
                "models": {
                    "claude-opus-9-1": {"cost": {"input": 0, "output": 0}},
                    "claude-opus-9-2": {"cost": {"input": 5, "output": 25, "cache_read": 0}},
                }
            }
        }
    )
    free, paid = found[("anthropic", "claude-opus-9-1")], found[("anthropic", "claude-opus-9-2")]
    assert (free.input_per_mtok, free.output_per_mtok) == (None, None)
    assert (paid.input_per_mtok, paid.output_per_mtok) == (5.0, 25.0)


WRONG_SHAPES = [
    (b"[1, 2]", "its answer to GET /models is not a JSON object"),
    (b"null", "its answer to GET /models is not a JSON object"),
    (b'"models"', "its answer to GET /models is not a JSON object"),
    (b'{"data": "x"}', "its answer to GET /models has no list of models (`data`)"),
    (b'{"data": {"id": "m"}}', "its answer to GET /models has no list of models (`data`)"),
    (b'{"object": "list"}', "its answer to GET /models has no list of models (`data`)"),
    (b'{"data": [1, "a", null]}', "its model list has 3 entries and none is a model with an id"),
    (b'{"data": [{"id": 5}]}', "its model list has 1 entry and none is a model with an id"),
    (DEEP, "its answer to GET /models nests deeper than lfg reads"),
    (
        b'{"data": [{"id": "m"}], "pad": "' + b"x" * MAX_LIST_BYTES + b'"}',
        f"its answer is longer than {MAX_LIST_BYTES:,} bytes, more than lfg reads",
    ),
]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize(("body", "why"), WRONG_SHAPES, ids=lambda x: str(x)[:24])
async def test_a_model_list_of_the_wrong_shape_is_refused_in_one_line(
    kind: str, body: bytes, why: str
) -> None:
    with CatalogueServer(body) as served:
        base = served.url.removesuffix("/api.json") + ("/v1" if kind == "openai" else "")
        config = ProviderConfig(name="p", kind=kind, base_url=base, api_key="k")
        (listed,) = (await read_lists({"p": config})).values()
    assert (listed.models, listed.why) == ((), why)


async def test_a_list_that_always_says_it_has_more_is_followed_a_bounded_number_of_pages() -> None:
    listed_twice = [
        {"id": "m2", "type": "model"},
        {"id": "m1", "type": "model"},
        {"id": "m2", "type": "model"},
    ]
    endless = {"data": listed_twice, "has_more": True, "first_id": "m2", "last_id": "m2"}
    with CatalogueServer(json.dumps(endless).encode()) as served:
        config = ProviderConfig(
            name="p", kind="anthropic", base_url=served.url.removesuffix("/api.json"), api_key="k"
        )
        (listed,) = (await read_lists({"p": config})).values()
    assert listed.why is None and [offered.model for offered in listed.models] == ["m2", "m1"]
