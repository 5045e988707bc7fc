"""`effort`, `thinking` and `show_thinking` on tickets, [defaults] and providers: what a model's API
would refuse mid-run is refused when the tickets file loads, naming file, line and field, and what it
takes reaches the ticket (and, under it, its provider's)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lfgtui.config.load import Config, load_config
from lfgtui.config.validation import ValidationError
from lfgtui.providers.base import Reasoning
from tests.support.tickets_file import KEYS, load
from tests.support.tickets_file import refused as problems


def refused(tmp_path: Path, toml: str, config: Config | None = None) -> list[str]:
    """The problems, each without the file's name: `LINE: …`."""
    return [line.removeprefix(f"{tmp_path / 'tickets.toml'}:") for line in problems(tmp_path, toml, config)]


OPENAI_ON_CHAT = '[providers.oai-chat]\nkind = "openai"\napi_key_env = "OPENAI_API_KEY"\n'
"""OpenAI's API reached through Chat Completions, as a person may configure it."""


def config_file(tmp_path: Path, toml: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return load_config(path, env=KEYS)


def test_settings_reach_the_ticket_over_its_providers(tmp_path: Path) -> None:
    config = config_file(tmp_path, '[providers.anthropic]\neffort = "low"\nshow_thinking = false\n')
    loaded = load(
        tmp_path,
        """
        [defaults]
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        thinking = "adaptive"

        [[ticket]]
        id = "a"
        prompt = "hi"
        effort = "max"
        """,
        config,
    )
    (ticket,) = loaded.tickets
    assert ticket.reasoning == Reasoning(effort="max", thinking="adaptive")
    assert ticket.reasoning.over(config.providers["anthropic"].reasoning) == Reasoning(
        "max", "adaptive", False
    )


def test_an_effort_its_api_does_not_take_is_refused_with_those_it_does(tmp_path: Path) -> None:
    (problem,) = refused(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        effort = "minimal"
        """,
    )
    allowed = "low, medium, high, xhigh, max"
    assert problem == f"7: ticket 'a': effort: effort 'minimal' is not one the Messages API takes: {allowed}"


def test_tools_on_chat_completions_with_an_effort_gpt_6_refuses_there_say_to_use_responses(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, OPENAI_ON_CHAT)
    problems = refused(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        provider = "oai-chat"
        model = "gpt-6-luna"
        tools = ["read_file"]
        effort = "high"

        [[ticket]]
        id = "b"
        prompt = "hi"
        provider = "oai-chat"
        model = "gpt-6.2-sol"
        tools = ["read_file"]
        """,
        config,
    )
    assert problems[0].startswith("8: ticket 'a': effort: gpt-6-luna refuses tools on Chat Completions")
    assert "use a provider of kind openai-responses (the built-in openai)" in problems[0]
    assert problems[1].startswith("14: ticket 'b': model: gpt-6.2-sol takes no effort \"none\"")


def test_tools_on_chat_completions_with_no_effort_load_and_the_same_on_responses_with_one(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, OPENAI_ON_CHAT)
    loaded = load(
        tmp_path,
        """
        [[ticket]]
        id = "a"
        prompt = "hi"
        provider = "oai-chat"
        model = "gpt-6-luna"
        tools = ["read_file"]

        [[ticket]]
        id = "b"
        prompt = "hi"
        provider = "openai"
        model = "gpt-6.2-sol"
        tools = ["read_file"]
        effort = "xhigh"
        """,
        config,
    )
    assert [t.id for t in loaded.tickets] == ["a", "b"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            'provider = "anthropic"\nmodel = "claude-sonnet-4-6"\ntemperature = 0.2',
            "temperature: the Messages API refuses temperature (every sampling parameter) since API "
            "version 2026-10-21: remove it",
        ),
        (
            'provider = "openai"\nmodel = "gpt-6-luna"\ntemperature = 0.2',
            'temperature: gpt-6-luna refuses temperature while it reasons: remove it, or set effort = "none"',
        ),
        (
            'provider = "anthropic"\nmodel = "claude-opus-5-5"\nthinking = "off"',
            'thinking: claude-opus-5-5 always thinks: its API refuses thinking = "off"',
        ),
        (
            'provider = "anthropic"\nmodel = "claude-sonnet-5-5"\nthinking = "off"\neffort = "max"',
            'thinking: on claude-sonnet-5-5 thinking = "off" is its between_tools setting, which takes '
            "effort low, medium or high",
        ),
        (
            'provider = "openai"\nmodel = "gpt-4.1"\neffort = "high"',
            "effort: gpt-4.1 does not reason (lfg's model table): its API refuses effort",
        ),
        (
            'provider = "openai"\nmodel = "gpt-6-luna"\nthinking = "off"\neffort = "high"',
            'thinking: thinking = "off" is an effort of "none", and effort says \'high\'',
        ),
        (
            'provider = "sim-acp"\neffort = "high"',
            "effort: effort is a model API's setting; a provider of kind 'acp' reasons its own way",
        ),
    ],
)
def test_what_a_models_api_refuses_is_refused_at_load(tmp_path: Path, fields: str, expected: str) -> None:
    toml = '[[ticket]]\nid = "a"\nprompt = "hi"\n' + fields + "\n"
    problems = refused(tmp_path, toml)
    assert [p.partition(": ticket 'a': ")[2] for p in problems] == [expected]


def test_a_temperature_with_effort_none_loads(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "openai"\nmodel = "gpt-6-luna"\n'
        'effort = "none"\ntemperature = 0.2\n',
    )
    assert loaded.tickets[0].reasoning.effort == "none"


def test_a_providers_setting_its_models_refuse_names_the_provider(tmp_path: Path) -> None:
    config = config_file(tmp_path, '[providers.anthropic]\nthinking = "off"\n')
    (problem,) = refused(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "anthropic"\nmodel = "claude-opus-5-5"\n',
        config,
    )
    assert problem.endswith(
        "ticket 'a': thinking (from [providers.anthropic]): claude-opus-5-5 always thinks: its API refuses "
        'thinking = "off"'
    )


def test_a_providers_effort_its_wire_does_not_take_is_refused_in_config_toml(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        config_file(tmp_path, '[providers.anthropic]\neffort = "minimal"\n')
    assert "config.toml:2: [providers.anthropic]: effort 'minimal' is not one the Messages API takes" in str(
        caught.value
    )


@pytest.mark.parametrize("model", ["gpt-6.1-sol", "gpt-6-astra", "openai/gpt-6.1-sol"])
def test_a_model_with_no_effort_none_and_tools_on_chat_completions_is_refused_naming_responses(
    tmp_path: Path, model: str
) -> None:
    config = config_file(tmp_path, OPENAI_ON_CHAT)
    (problem,) = refused(
        tmp_path,
        f'[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "oai-chat"\nmodel = "{model}"\n'
        'tools = ["read_file"]\n',
        config,
    )
    assert problem == (
        f"5: ticket 'a': model: {model} takes no effort \"none\", and Chat Completions refuses its tools "
        "with any other: use a provider of kind openai-responses (the built-in openai)"
    )


@pytest.mark.parametrize("model", ["gpt-6.1-sol", "gpt-6-astra"])
def test_effort_none_on_a_model_that_always_reasons_is_refused_on_responses(
    tmp_path: Path, model: str
) -> None:
    (problem,) = refused(
        tmp_path,
        f'[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "openai"\nmodel = "{model}"\neffort = "none"\n',
    )
    assert problem == (
        f"6: ticket 'a': effort: effort 'none' is not one {model} takes on the Responses API: "
        "low, medium, high, xhigh, max"
    )


DEEPSEEK = (
    '[providers.deepseek]\nkind = "openai"\nbase_url = "https://api.deepseek.com"\n'
    'api_key_env = "OPENAI_API_KEY"\n'
)


def test_effort_max_loads_where_the_model_takes_it_and_is_refused_where_it_does_not(tmp_path: Path) -> None:
    config = config_file(tmp_path, OPENAI_ON_CHAT + DEEPSEEK)
    loaded = load(
        tmp_path,
        """
        [[ticket]]
        id = "responses"
        prompt = "hi"
        provider = "openai"
        model = "gpt-6.1-sol"
        effort = "max"

        [[ticket]]
        id = "chat"
        prompt = "hi"
        provider = "deepseek"
        model = "deepseek-v4-pro"
        effort = "max"
        """,
        config,
    )
    assert [ticket.reasoning.effort for ticket in loaded.tickets] == ["max", "max"]
    (problem,) = refused(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "openai"\nmodel = "gpt-5"\neffort = "max"\n',
        config,
    )
    assert problem.endswith(
        "effort: effort 'max' is not one gpt-5 takes on the Responses API: minimal, low, medium, high"
    )


def test_an_unseen_model_of_an_always_thinking_family_is_held_to_its_familys_thinking(tmp_path: Path) -> None:
    (problem,) = refused(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "anthropic"\nmodel = "claude-fable-5-9"\n'
        'thinking = "off"\n',
    )
    assert (
        problem
        == "6: ticket 'a': thinking: claude-fable-5-9 always thinks: its API refuses thinking = \"off\""
    )
