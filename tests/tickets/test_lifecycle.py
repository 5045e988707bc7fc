"""A tickets file is checked against the model table at load: a retired model (a ticket's, a
fallback's, a judge's, a provider's default) is refused naming file, line, field and replacement;
one retiring within 30 days warns; a gateway or the sim's own names are not the vendor's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.config.load import load_config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.model_list import ModelList, Offered, keep
from tests.support.tickets_file import load, refused


def test_a_retired_model_is_refused_with_its_line_field_and_replacement(tmp_path: Path) -> None:
    (problem,) = refused(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        provider = "xai"
        model = "grok-4"
        """,
    )
    assert problem.startswith(f"{tmp_path / 'tickets.toml'}:6: ticket 'a': model: model 'grok-4' was retired")
    assert "2026-05-15" in problem and "use 'grok-4.3' instead" in problem


def test_a_retired_snapshot_in_defaults_and_a_fallback_are_refused_where_they_are_written(
    tmp_path: Path,
) -> None:
    problems = refused(
        tmp_path,
        """
        [defaults]
        provider = "anthropic"
        model = "claude-sonnet-4-20250514"

        [[ticket]]
        id = "a"
        prompt = "hi"
        fallback = ["openai/gpt-4-turbo"]
        """,
    )
    assert (
        ":4: ticket 'a': model: model 'claude-sonnet-4-20250514' was retired on 2026-06-15: "
        "use 'claude-sonnet-4-6' instead"
    ) in problems[0]
    assert ":9: ticket 'a': fallback: model 'gpt-4-turbo' was retired on 2026-10-23" in problems[1]


def test_a_model_retiring_within_30_days_warns_and_still_loads(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        models = ["anthropic/claude-sonnet-4-5", "openai/gpt-5"]
        attempts = 2
        """,
    )
    assert len(loaded.tickets) == 4
    warnings = [str(warning) for warning in loaded.warnings]
    assert len(warnings) == 2, "one warning per model, however many attempts"
    assert (
        ":5: warning: ticket 'a': models: model 'claude-sonnet-4-5' retires on 2026-11-30 (in 4 days)"
        in (warnings[0])
    )
    assert "use 'claude-sonnet-5-5' instead" in warnings[0]
    assert "model 'gpt-5' retires on 2026-12-11 (in 15 days): use 'gpt-6.1-sol'" in warnings[1]


def test_a_provider_default_that_is_retired_names_the_provider_field(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[providers.grok]\nkind = "openai"\nbase_url = "https://api.x.ai/v1"\n'
        'api_key_env = "XAI_API_KEY"\ndefault_model = "grok-3"\n'
    )
    (problem,) = refused(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        provider = "grok"
        """,
        load_config(config_file),
    )
    assert ":2: ticket 'a': [providers.grok] default_model: model 'grok-3' was retired" in problem


def test_a_gateway_or_the_sim_may_use_the_same_names(tmp_path: Path) -> None:
    """A gateway maps names its own way and keeps its own schedule; the sim's models are scenarios."""
    config_file = tmp_path / "config.toml"
    config_file.write_text('[providers.gateway]\nkind = "openai"\nbase_url = "https://llm.example.com/v1"\n')
    loaded = load(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        models = ["gateway/grok-4", "sim/grok-4", "sim-anthropic/claude-sonnet-4-5"]
        """,
        load_config(config_file),
    )
    assert len(loaded.tickets) == 3 and loaded.warnings == ()


def test_a_current_model_loads_without_a_word(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        models = ["xai/grok-4.7", "anthropic/claude-sonnet-4-6", "openai/gpt-6-luna"]
        """,
    )
    assert loaded.warnings == ()


def test_a_model_its_providers_kept_list_lacks_warns_a_snapshot_of_a_listed_alias_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list `lfg models --refresh` read of the provider (kept with its day) names what it offers."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    configs = BUILTIN
    listed = ModelList(
        (Offered("claude-sonnet-5-5-20261001", None, None), Offered("claude-fable-5-2", None, None)), None
    )
    keep({"anthropic": listed}, configs, "2026-11-27")
    loaded = load(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        models = ["anthropic/claude-sonnet-5-5", "anthropic/claude-fable-5-2", "anthropic/claude-haiku-5-5"]
        """,
    )
    (warning,) = [str(warning) for warning in loaded.warnings]
    assert (
        ":5: warning: ticket 'a': models: 'claude-haiku-5-5' is not in anthropic's own model list "
        "(read 2026-11-27 by `lfg models --refresh`)"
    ) in warning
    elsewhere = {"anthropic": replace(configs["anthropic"], base_url="https://gateway.example/v1")}
    keep({"anthropic": listed}, elsewhere, "2026-11-27")
    again = load(
        tmp_path, '[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "anthropic"\nmodel = "claude-haiku-5-5"\n'
    )
    assert again.warnings == (), "the list kept is of another base URL now"
