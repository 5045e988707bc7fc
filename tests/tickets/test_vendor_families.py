"""Every vendor family's tickets load on its own API kind, with and without tools, at each effort its
docs list and with thinking off where they allow it: a load-time rule written for one vendor's models
(OpenAI's Chat Completions refusing GPT-6's tools) must never refuse another's (issue #75: every
DeepSeek V4 ticket with a tool was refused on its own Chat Completions API).

The efforts are the vendors' own pages' (read 2026-11-27), written here rather than read from lfg's
model table, so that the table and the rules are both checked against them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from lfgtui.config.load import load_config
from lfgtui.providers.base import Reasoning
from lfgtui.providers.models import facts
from tests.support.tickets_file import KEYS, load, refused


@dataclass(frozen=True)
class VendorFamily:
    name: str
    provider: str
    """The provider table that reaches the vendor's own API (empty: a built-in provider)."""
    models: tuple[str, ...]
    efforts: tuple[str, ...]
    thinking_off: bool
    """Whether the vendor's docs let these models turn thinking off."""


FAMILIES = (
    VendorFamily(
        "anthropic", "", ("claude-sonnet-5-5", "claude-sonnet-4-6"), ("low", "medium", "high"), True
    ),
    VendorFamily(
        "anthropic-always",
        "",
        ("claude-opus-5-5", "claude-fable-5-2"),
        ("low", "medium", "high", "xhigh", "max"),
        False,
    ),
    VendorFamily(
        "openai",
        "",
        ("gpt-6.2-sol", "gpt-6.1-sol", "gpt-6-astra"),
        ("low", "medium", "high", "xhigh", "max"),
        False,
    ),
    VendorFamily(
        "openai", "", ("gpt-6-luna", "gpt-6.1-terra"), ("none", "low", "medium", "high", "xhigh", "max"), True
    ),
    VendorFamily(
        "xai",
        'kind = "openai"\nbase_url = "https://api.x.ai/v1"\napi_key_env = "XAI_API_KEY"\n',
        ("grok-4.7",),
        ("low", "medium", "high", "xhigh"),
        False,
    ),
    VendorFamily(
        "deepseek",
        'kind = "openai"\nbase_url = "https://api.deepseek.com"\napi_key_env = "DEEPSEEK_API_KEY"\n',
        ("deepseek-v4-pro", "deepseek-v4-flash", "deepseek-flash"),
        ("minimal", "low", "medium", "high", "xhigh", "max"),
        True,
    ),
    VendorFamily(
        "google",
        'kind = "openai"\nbase_url = "https://generativelanguage.googleapis.com/v1beta/openai/"\n'
        'api_key_env = "GEMINI_API_KEY"\n',
        ("gemini-3-pro", "gemini-3.8-flash"),
        ("low", "high"),
        False,
    ),
)
BUILT_IN = {"anthropic": "anthropic", "anthropic-always": "anthropic", "openai": "openai"}
"""The built-in provider of a vendor whose own API it is (openai: kind openai-responses)."""


def tickets(family: VendorFamily, provider: str) -> tuple[str, list[tuple[str, Reasoning, bool]]]:
    """A tickets file with one ticket per model, effort (or none said, or thinking off) and tools or
    not; and what each ticket should load as."""
    settings = [Reasoning(), *(Reasoning(effort=effort) for effort in family.efforts)]
    settings += [Reasoning(thinking="off")] if family.thinking_off else []
    text, expected = "", []
    for model in family.models:
        for setting in settings:
            for tools in (False, True):
                ticket = f"t{len(expected)}"
                text += f'[[ticket]]\nid = "{ticket}"\nprompt = "hi"\nprovider = "{provider}"\n'
                text += f'model = "{model}"\n'
                text += f'effort = "{setting.effort}"\n' if setting.effort else ""
                text += f'thinking = "{setting.thinking}"\n' if setting.thinking else ""
                text += 'tools = ["read_file"]\n' if tools else ""
                expected.append((ticket, setting, tools))
    return text, expected


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f"{f.name}:{f.models[0]}")
def test_each_vendors_tickets_load_on_its_own_api_with_and_without_tools_at_each_effort(
    tmp_path: Path, family: VendorFamily, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("DEEPSEEK_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setitem(KEYS, key, "sk-test")
    provider = BUILT_IN.get(family.name, family.name)
    config = None
    if family.provider:
        (tmp_path / "config.toml").write_text(f"[providers.{provider}]\n{family.provider}")
        config = load_config(tmp_path / "config.toml", env=KEYS)
    text, expected = tickets(family, provider)
    loaded = load(tmp_path, text, config)
    got = [(t.id, t.reasoning, bool(t.tools)) for t in loaded.tickets]
    assert got == expected


@pytest.mark.parametrize(
    ("family", "model", "effort"),
    [
        (FAMILIES[2], "gpt-6.2-astra", "minimal"),
        (FAMILIES[2], "gpt-6.2-astra", "none"),
        (FAMILIES[4], "grok-4.7", "max"),
        (FAMILIES[4], "grok-4.7", "minimal"),
        (FAMILIES[6], "gemini-3.8-flash", "minimal"),
        (FAMILIES[6], "gemini-3.7-flash", "max"),
    ],
)
def test_an_effort_the_vendors_page_does_not_list_is_refused_at_load_naming_those_it_does(
    tmp_path: Path, family: VendorFamily, model: str, effort: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GPT-6.2 takes low to max, Grok 4.7 low to xhigh, Gemini 3.7 and 3.8 Flash low to high (their
    pages, read 2026-11-27): what they refuse is said at load, not met as a 400 mid-run."""
    monkeypatch.setitem(KEYS, "GEMINI_API_KEY", "sk-test")
    provider = BUILT_IN.get(family.name, family.name)
    config = None
    if family.provider:
        (tmp_path / "config.toml").write_text(f"[providers.{provider}]\n{family.provider}")
        config = load_config(tmp_path / "config.toml", env=KEYS)
    text = f'[[ticket]]\nid = "t"\nprompt = "hi"\nprovider = "{provider}"\nmodel = "{model}"\n'
    (problem,) = refused(tmp_path, text + f'effort = "{effort}"\n', config)
    assert f"effort {effort!r} is not one {model} takes" in problem


CURRENT = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-6.2-sol", "xai": "grok-4.7"}
"""Each vendor's current everyday model, by its pages read 2026-11-27 (Anthropic's models overview:
the 5.5 line; OpenAI's GPT-6.2 launch of 2026-11-17; xAI's models page)."""


@pytest.mark.parametrize("provider", sorted(CURRENT))
def test_a_ticket_naming_no_model_gets_its_vendors_current_model_and_loads_with_tools(
    tmp_path: Path, provider: str
) -> None:
    text = f'[[ticket]]\nid = "t"\nprompt = "hi"\nprovider = "{provider}"\ntools = ["read_file"]\n'
    (ticket,) = load(tmp_path, text).tickets
    assert ticket.model == CURRENT[provider]
    known = facts(ticket.model)
    assert known is not None and not known.inferred, "a default is a model lfg's table lists itself"
