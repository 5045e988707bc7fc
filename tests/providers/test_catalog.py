"""The built-in providers (lfgtui/providers/catalog.py): which of them every worker serves unasked."""

from __future__ import annotations

import dataclasses

from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.catalog import BUILTIN, unasked


def test_the_built_in_providers_that_need_nothing_of_a_machine_are_served_unasked() -> None:
    """The sims and ollama need no key and nothing installed; the others ask for one or the other."""
    assert [name for name, config in BUILTIN.items() if unasked(config)] == [
        "ollama",
        "sim",
        "sim-responses",
        "sim-anthropic",
        "sim-agent",
        "sim-acp",
    ]


def test_a_provider_of_the_config_file_is_set_up_even_in_a_built_in_one_s_place() -> None:
    assert not unasked(ProviderConfig(name="lab", kind="sim", base_url="sim:/v1"))
    assert not unasked(dataclasses.replace(BUILTIN["sim"], default_model="hello"))
    assert unasked(dataclasses.replace(BUILTIN["sim"]))  # the built-in as it comes, written out again
