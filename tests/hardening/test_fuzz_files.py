"""tickets.toml and config.toml fuzzed: random bytes, random TOML, and every known field given random
values. Whatever the file holds, `lfg run` either accepts it or exits 2 with problems that each name
the file; it never shows a traceback. An accepted config must also build every provider's client,
since a value the check let through must not fail later, mid-run."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import string
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lfgtui.commands import main as cli
from lfgtui.config.load import HISTORY_FIELDS, PROVIDER_FIELDS, RUN_FIELDS, UI_FIELDS, load_config
from lfgtui.config.validation import ValidationError
from lfgtui.providers.catalog import BUILTIN, resolve
from lfgtui.providers.kinds import KINDS
from lfgtui.providers.registry import make_adapter
from lfgtui.tickets.load import TICKET_FIELDS, load_tickets
from lfgtui.tools import BUILTIN_TOOLS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PER_FIELD = settings(FUZZ, max_examples=20)

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.datetimes(timezones=st.none() | st.just(datetime.UTC)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
names = st.sampled_from([*BUILTIN_TOOLS, *KINDS, "sim", "openai", "hello", "a", "b", ".", "..", "/tmp"])
nasty_text = st.sampled_from(
    ["", "\0", "a\0b", "bad\nname", "v\r\nX-Injected: 1", "é", "~", "../..", "x" * 300, "sim:/v1"]
)
nasty_urls = st.sampled_from(["http://127.0.0.1:9/v1", "http://[::1", "not a url", "ftp://x", "http://"])
nasty_numbers = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 2**63 - 1])
nasty = nasty_text | nasty_urls | nasty_numbers
likely = st.one_of(
    names,
    nasty,
    st.lists(names | nasty, max_size=3),
    st.dictionaries(st.text(max_size=8) | nasty_text, st.text(max_size=8) | nasty, max_size=2),
    st.integers(-2, 100),
    st.floats(-1, 5),
    st.booleans(),
    values,
)
"""A value that is often nearly right for a field, or wrong in a way that could slip past a check."""


def tables(fields: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Known fields with random values, now and then an unknown or misspelt key."""
    return st.dictionaries(
        st.sampled_from(sorted(fields)) | st.text(string.ascii_lowercase + "_", max_size=12),
        likely,
        max_size=len(fields),
    )


tickets_docs = st.fixed_dictionaries(
    {},
    optional={
        "defaults": tables(TICKET_FIELDS),
        "ticket": st.lists(tables(TICKET_FIELDS), max_size=4) | values,
        "extra": values,
    },
)
config_docs = st.fixed_dictionaries(
    {},
    optional={
        "providers": st.dictionaries(
            st.sampled_from(["openai", "sim", "mine", "agent"]) | st.text(max_size=8),
            tables(PROVIDER_FIELDS) | values,
            max_size=3,
        ),
        "run": tables(RUN_FIELDS) | values,
        "ui": tables(UI_FIELDS) | values,
        "history": tables(HISTORY_FIELDS) | values,
        "extra": values,
    },
)


def content(docs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """A file's bytes: valid TOML from `docs`, that TOML cut or spliced, random text or random bytes."""
    toml = docs.map(lambda doc: tomli_w.dumps(doc).encode())

    def spliced(data: bytes, cut: int, junk: bytes) -> bytes:
        at = cut % (len(data) + 1)
        return data[:at] + junk + data[at:]

    return st.one_of(
        toml,
        st.builds(
            spliced, toml, st.integers(0, 10_000), st.binary(max_size=8) | st.sampled_from([b"=", b"[", b'"'])
        ),
        st.text().map(str.encode),
        st.binary(max_size=200),
    )


def accepted_or_refused(tickets: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Either both files load and everything a run builds from them works, or `lfg run` exits 2 with
    problems that each name the file at fault, and prints no traceback."""
    try:
        loaded_config = load_config(config, env={})
        loaded = load_tickets(tickets, loaded_config, BUILTIN_TOOLS, env={})
    except ValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file in (tickets, config) and problem.message
            assert str(problem).startswith(str(problem.file))
        capsys.readouterr()
        assert cli.main(["run", str(tickets), "--json", "--no-history", "--config", str(config)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith((str(tickets), str(config))) and "Traceback" not in err
        return
    for name, provider in loaded_config.providers.items():
        if provider != BUILTIN.get(name) and not (provider.base_url or "sim:").startswith("sim:"):
            make_adapter(resolve(provider, {provider.api_key_env or "": "sk-test"}))
    if loaded_config.history.path is not None:
        with contextlib.suppress(OSError):  # missing is fine; a path that cannot be one is not
            os.stat(loaded_config.history.path)
    for ticket in loaded.tickets:  # what a request is built from can be sent as JSON
        json.dumps([ticket.prompt, ticket.system, ticket.temperature, ticket.max_tokens], allow_nan=False)
        assert ticket.workdir.is_dir()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "tickets.toml", tmp_path / "config.toml"


BASE_TICKET = {"id": "a", "prompt": "x", "provider": "sim", "model": "hello"}


@FUZZ
@given(tickets=content(tickets_docs), config=content(config_docs))
def test_any_bytes_in_either_file(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tickets: bytes, config: bytes
) -> None:
    files[0].write_bytes(tickets)
    files[1].write_bytes(config)
    accepted_or_refused(*files, capsys)


@pytest.mark.parametrize("field", sorted(TICKET_FIELDS))
@PER_FIELD
@given(value=likely, in_defaults=st.booleans())
def test_every_ticket_field_with_random_values(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], field: str, value: Any, in_defaults: bool
) -> None:
    ticket, doc = dict(BASE_TICKET), {}
    if in_defaults:
        doc["defaults"] = {field: value}
        ticket.pop(field, None)
    else:
        ticket[field] = value
    files[0].write_text(tomli_w.dumps(doc | {"ticket": [ticket]}))
    files[1].write_text("")
    accepted_or_refused(*files, capsys)


CONFIG_FIELDS = [
    *(("providers", "mine", name) for name in PROVIDER_FIELDS),
    *(("providers", "openai", name) for name in PROVIDER_FIELDS),
    *(("run", None, name) for name in RUN_FIELDS),
    *(("ui", None, name) for name in UI_FIELDS),
    *(("history", None, name) for name in HISTORY_FIELDS),
]


@pytest.mark.parametrize(("section", "table", "field"), CONFIG_FIELDS, ids=lambda v: str(v))
@PER_FIELD
@given(value=likely)
def test_every_config_field_with_random_values(
    files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    section: str,
    table: str | None,
    field: str,
    value: Any,
) -> None:
    if table is None:
        doc: dict[str, Any] = {section: {field: value}}
    else:
        provider = {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"} | {field: value}
        doc = {section: {table: provider}}
    files[0].write_text(tomli_w.dumps({"ticket": [BASE_TICKET | {"provider": table or "sim"}]}))
    files[1].write_text(tomli_w.dumps(doc))
    accepted_or_refused(*files, capsys)
