"""The provider kinds' one table (lfgtui/providers/kinds.py): every kind has a whole entry that adds
up, its adapter is the one its entry makes, and nothing else in lfg decides by a kind's name."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import itertools
from pathlib import Path

import pytest

import lfgtui
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.catalog import BUILTIN, resolve
from lfgtui.providers.errors import SDKS
from lfgtui.providers.kinds import KINDS, ErrorMapping, ProviderKind
from lfgtui.providers.registry import make_adapter

SDK_ERRORS = ("APIStatusError", "APIConnectionError", "APITimeoutError", "APIError")
"""The exception classes `providers/errors.py` `classify` looks up in an SDK by name."""


def test_an_entry_cannot_leave_a_field_out() -> None:
    missing = dataclasses.MISSING
    defaulted = [
        f.name for f in dataclasses.fields(ProviderKind) if (f.default, f.default_factory) != (missing,) * 2
    ]
    assert defaulted == [], "a default would let a new kind's entry leave the field out unnoticed"
    with pytest.raises(TypeError, match="coding_agent"):
        ProviderKind(**{f.name: None for f in dataclasses.fields(ProviderKind) if f.name != "coding_agent"})


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_each_kind_s_entry_adds_up(kind: ProviderKind) -> None:
    assert KINDS[kind.name] is kind
    assert (kind.adapter is None) is kind.coding_agent, (
        "a coding agent runs its own process, anything else an adapter"
    )
    assert (kind.errors is ErrorMapping.AGENT) is kind.coding_agent
    if kind.sdk is not None:
        assert importlib.util.find_spec(kind.sdk) is not None, (
            f"{kind.name}: its SDK {kind.sdk!r} is not installed"
        )
    if kind.errors is ErrorMapping.SDK:
        assert kind.sdk in SDKS
        sdk = importlib.import_module(kind.sdk)
        assert all(isinstance(getattr(sdk, name, None), type) for name in SDK_ERRORS), kind.sdk
    if kind.errors is ErrorMapping.HTTP:
        assert kind.sdk is None, "an SDK's own exceptions need the SDK mapping"
    if kind.base_url_env is not None:
        assert any(provider.kind == kind.name for provider in BUILTIN.values()), (
            "the variable moves the built-in provider of that kind"
        )
    assert not (kind.needs_base_url and kind.default_base_url), "a default would make the base URL optional"
    assert kind.price_endpoint is None or not kind.coding_agent, "a coding agent bills its own way"


def test_kinds_of_one_wire_speak_it_the_same_way() -> None:
    first: dict[str, ProviderKind] = {}
    for kind in KINDS.values():
        same = first.setdefault(kind.wire, kind)
        assert (kind.sdk, kind.errors, kind.adapter, kind.telemetry_name) == (
            same.sdk,
            same.errors,
            same.adapter,
            same.telemetry_name,
        ), f"{kind.name} and {same.name} both speak {kind.wire}"


def test_the_base_url_variable_moves_only_the_built_in_provider_named_as_the_kind() -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test", "XAI_API_KEY": "x"}
    assert resolve(BUILTIN["openai"], env).base_url == "http://127.0.0.1:9/v1"
    assert resolve(BUILTIN["xai"], env).base_url == "https://api.x.ai/v1", "its own URL wins"
    mine = ProviderConfig(name="mine", kind="openai", api_key_env="OPENAI_API_KEY")
    assert resolve(mine, env).base_url is None, "left to the SDK"
    assert resolve(BUILTIN["anthropic"], env | {"ANTHROPIC_API_KEY": "sk-test"}).base_url is None


def test_every_built_in_provider_is_of_a_kind_in_the_table() -> None:
    assert {config.kind for config in BUILTIN.values()} <= set(KINDS)


@pytest.mark.parametrize("name", [name for name, kind in KINDS.items() if kind.adapter is not None])
async def test_each_kind_s_adapter_is_made_by_its_entry(name: str) -> None:
    config = ProviderConfig(name="mine", kind=name, base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    adapter = make_adapter(config)
    try:
        assert adapter.config == config
        assert type(adapter).__module__.startswith("lfgtui.providers.")
    finally:
        await adapter.aclose()


def test_a_coding_agent_has_no_adapter() -> None:
    with pytest.raises(ValueError, match="no adapter for kind 'acp'"):
        make_adapter(BUILTIN["sim-acp"])


def _kind_compares(tree: ast.AST) -> list[int]:
    """Lines comparing something called `kind` (`config.kind`, `kind`) to a kind's name."""

    def is_kind(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "kind") or (
            isinstance(node, ast.Name) and node.id == "kind"
        )

    def is_name(node: ast.expr) -> bool:
        return isinstance(node, ast.Constant) and node.value in KINDS

    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(
            (is_kind(a) and is_name(b)) or (is_name(a) and is_kind(b))
            for a, b in itertools.pairwise([node.left, *node.comparators])
        )
    ]


def test_nothing_decides_by_a_kind_s_name_but_the_table() -> None:
    assert _kind_compares(ast.parse('if config.kind == "acp" or "sim" != kind: pass')) == [1, 1]
    root = Path(lfgtui.__file__).parent
    found = [
        f"{path.relative_to(root)}:{line}"
        for path in sorted(root.rglob("*.py"))
        for line in _kind_compares(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], (
        "ask the kind's entry in lfgtui/providers/kinds.py (e.g. kind_of(config).coding_agent)"
    )
