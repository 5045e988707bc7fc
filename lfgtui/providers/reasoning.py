"""How much a model reasons, and whether the person sees it: the `effort`, `thinking` and
`show_thinking` settings (`Reasoning`), checked per wire and model when a tickets file loads
(`problems`), and put in each wire's own terms by its adapter.

What each API takes (read 2026-11-26):
- Anthropic Messages: `output_config.effort` (low, medium, high, xhigh, max); `thinking` of type
  `adaptive` with a `display` (`summarized` or `omitted`), or `disabled` where the model allows it
  (the 5.5 family takes `between_tools` instead, at effort low to high only);
  no sampling parameter at all since API version 2026-10-21 (Anthropic's thinking and effort pages).
- OpenAI Responses: `reasoning.effort` (none, minimal, low, medium, high, xhigh, max) and
  `reasoning.summary`; a model that does not reason refuses the `reasoning` parameter. Each model
  takes its own part of that list (GPT-6 Astra, 6.1 Sol and 6.2: low to max, no `none`; read
  2026-11-27 from their model pages as quoted by OpenAI-compatible gateways), which lfg's model
  table holds (`ModelFacts.efforts`); a model it has no list for is held to its wire's.
- Chat Completions: `reasoning_effort`. OpenAI's GPT-5.4 and later and GPT-6 refuse function tools
  there unless it is `none` ("Function tools with reasoning_effort are not supported for … in
  /v1/chat/completions"), so a model that takes no `none` cannot call tools there at all ("Tool
  calls require the Responses API", GPT-6.1 Terra's page, read 2026-11-27). These rules are
  OpenAI's: they hold for a model whose vendor (lfg's model table, else OpenAI's names) is OpenAI,
  never for another vendor's model whose effort list also lacks `none`. DeepSeek's V4 models think
  by default, take tools while they think (each tool-calling answer's `reasoning_content` must come
  back), take `reasoning_effort` minimal to max (mapped onto low, high and max), and turn thinking off
  with `thinking: {"type": "disabled"}`, not an effort (DeepSeek's thinking-mode guide, read
  2026-11-27). OpenAI's reasoning models refuse
  `temperature` unless their effort is `none` (OpenAI's reasoning guide and model pages). xAI's Grok
  reasoning models take it (xAI's best-practices guide recommends 0.7).
"""

from __future__ import annotations

import re

from lfgtui.providers.base import Reasoning
from lfgtui.providers.models import facts
from lfgtui.turns import ANTHROPIC, CHAT, RESPONSES

THINKING_MODES = ("adaptive", "off")
EFFORTS: dict[str, tuple[str, ...]] = {
    ANTHROPIC: ("low", "medium", "high", "xhigh", "max"),
    RESPONSES: ("none", "minimal", "low", "medium", "high", "xhigh", "max"),
    CHAT: ("none", "minimal", "low", "medium", "high", "xhigh", "max"),
}
WIRES = {"anthropic": ANTHROPIC, "openai-responses": RESPONSES, "openai": CHAT, "sim": CHAT}
"""The wire each kind of model API speaks; the others (an agent service, a coding agent) take none
of these settings."""

ANTHROPIC_ADAPTIVE = re.compile(
    r"claude-(?:(?:opus|sonnet|haiku|mythos|fable)-(?:[5-9]|\d\d)|opus-4-(?:[7-9]|\d\d))\b"
)
"""Claude models that think adaptively by default, some (the 5.5 family) with their thinking
`omitted` unless asked: lfg asks for it `summarized`, so the pane shows what the model thinks between
its tool calls (Anthropic's thinking page: controlling thinking display)."""
BETWEEN_TOOLS = re.compile(r"claude-[a-z]+-5-5\b")
"""Claude models (the 5.5 family) that refuse `thinking: {"type": "disabled"}`: their lowest setting
is `between_tools` (no thinking up front, short progress notes between tool calls), which takes an
effort of low, medium or high only (Anthropic's "What's new in Claude Sonnet 5.5", read 2026-11-26)."""
OPENAI_REASONING = re.compile(r"(?:.*/)?(?:o[1-9]|gpt-5|gpt-6|gpt-[7-9]|codex)")
"""OpenAI's reasoning models, whose reasoning lfg asks for encrypted (to send back) and summarised
(to show): any other model refuses the `reasoning` parameter."""
CHAT_TOOLS_WANT_NO_EFFORT = re.compile(r"(?:openai/)?gpt-(?:5\.(?:[4-9]|\d\d)|[6-9])")
"""OpenAI models whose function tools Chat Completions refuses unless `reasoning_effort` is `none`."""
NO_EFFORT_NONE = re.compile(r"(?:openai/)?gpt-6(?:-astra|\.1-sol|\.[2-9])")
"""OpenAI models that take no `reasoning_effort` of `none`, by name: for an id the model table does
not list (a dated snapshot of one it does is listed)."""


THINKING_SWITCH = frozenset({"deepseek"})
"""Vendors whose Chat Completions API turns thinking off with `thinking: {"type": "disabled"}`, not
with an effort of `none` (DeepSeek's thinking-mode guide, read 2026-11-27)."""


def vendor_of(model: str) -> str | None:
    """Whose model `model` is, so that one vendor's rules never hold for another's model: lfg's model
    table's vendor (a gateway's `openai/` prefix left off), else OpenAI by its reasoning models' names;
    None when nothing says."""
    known = facts(model.removeprefix("openai/"))
    if known is not None:
        return known.vendor
    return "openai" if OPENAI_REASONING.match(model) else None


def effort_of(reasoning: Reasoning) -> str | None:
    """The effort the settings ask for: `thinking = "off"` is an effort of `none` on OpenAI's wires."""
    if reasoning.thinking == "off" and reasoning.effort is None:
        return "none"
    return reasoning.effort


def reasons(model: str) -> bool | None:
    """Whether `model` reasons, by lfg's model table, else by OpenAI's and Anthropic's names; None
    when nothing says."""
    known = facts(model)
    if known is not None and known.thinking is not None:
        return known.thinking != "none"
    if OPENAI_REASONING.match(model) or ANTHROPIC_ADAPTIVE.search(model):
        return True
    return None


def model_efforts(model: str) -> tuple[str, ...] | None:
    """The efforts `model` takes by lfg's model table (a gateway's `openai/` prefix left off); None
    when the table lists none for it."""
    known = facts(model.removeprefix("openai/"))
    return None if known is None else known.efforts


def takes_no_none(model: str) -> bool:
    """Whether `model` is an OpenAI model that refuses an effort of `none` (it always reasons): by its
    efforts in the model table, else by its name. Another vendor's list without `none` says nothing
    of how it turns thinking off."""
    if vendor_of(model) != "openai":
        return False
    efforts = model_efforts(model)
    return bool(NO_EFFORT_NONE.match(model)) if efforts is None else "none" not in efforts


def chat_effort(model: str, reasoning: Reasoning, tools: bool) -> str | None:
    """The `reasoning_effort` a Chat Completions call sends: the settings', else `none` for an OpenAI
    model whose tools Chat Completions takes only so (a ticket with tools would be refused). A vendor
    that switches thinking off (`THINKING_SWITCH`) gets no effort for `none`: `chat_thinking` says it."""
    effort = effort_of(reasoning)
    if effort == "none" and vendor_of(model) in THINKING_SWITCH:
        return None
    if effort is None and tools and CHAT_TOOLS_WANT_NO_EFFORT.match(model) and not takes_no_none(model):
        return "none"
    return effort


def chat_thinking(model: str, reasoning: Reasoning) -> dict[str, str] | None:
    """The `thinking` field a Chat Completions call sends to a vendor that switches thinking off so
    (`THINKING_SWITCH`): `disabled` for an effort of `none`, else nothing (its default is on)."""
    if effort_of(reasoning) == "none" and vendor_of(model) in THINKING_SWITCH:
        return {"type": "disabled"}
    return None


def problems(
    kind: str, model: str, reasoning: Reasoning, tools: bool, temperature: float | None
) -> list[tuple[str, str]]:
    """What a ticket of provider kind `kind` on `model` asks that its API refuses, as (field, why):
    checked when the tickets file loads, so that no ticket fails on it mid-run."""
    wire = WIRES.get(kind)
    named = [key for key in ("effort", "thinking", "show_thinking") if getattr(reasoning, key) is not None]
    if wire is None:
        why = f"a model API's setting; a provider of kind {kind!r} reasons its own way"
        return [(key, f"{key} is {why}") for key in named]
    found: list[tuple[str, str]] = []
    own = model_efforts(model) if wire != ANTHROPIC else None
    if reasoning.effort is not None and reasoning.effort not in (own or EFFORTS[wire]):
        allowed = ", ".join(own or EFFORTS[wire])
        taker = f"{model} takes on {_api(wire)}" if own else f"{_api(wire)} takes"
        found.append(("effort", f"effort {reasoning.effort!r} is not one {taker}: {allowed}"))
    if reasoning.thinking is not None and reasoning.thinking not in THINKING_MODES:
        found.append(("thinking", f'thinking {reasoning.thinking!r} is not "adaptive" or "off"'))
    known = facts(model)
    thinks = None if known is None else known.thinking
    if thinks == "none" and (reasoning.effort not in (None, "none") or reasoning.thinking == "adaptive"):
        key = "effort" if reasoning.effort is not None else "thinking"
        found.append((key, f"{model} does not reason (lfg's model table): its API refuses {key}"))
    if thinks == "always" and reasoning.thinking == "off":
        found.append(("thinking", f'{model} always thinks: its API refuses thinking = "off"'))
    elif wire == ANTHROPIC and reasoning.thinking == "off" and BETWEEN_TOOLS.search(model):
        lowest = 'thinking = "off" is its between_tools setting, which takes effort low, medium or high'
        if reasoning.effort in ("xhigh", "max"):
            found.append(("thinking", f"on {model} {lowest}"))
    if wire != ANTHROPIC and reasoning.thinking == "off" and reasoning.effort not in (None, "none"):
        said = f"effort says {reasoning.effort!r}"
        found.append(("thinking", f'thinking = "off" is an effort of "none", and {said}'))
    effort = chat_effort(model, reasoning, tools) if wire == CHAT else effort_of(reasoning)
    responses = "use a provider of kind openai-responses (the built-in openai)"
    if takes_no_none(model):
        said = own if reasoning.effort is not None else thinks == "always"  # refused above
        if effort == "none" and not said:
            found.append(("effort", f'{model} takes no effort "none": it always reasons'))
        if wire == CHAT and tools:
            why = 'takes no effort "none", and Chat Completions refuses its tools with any other'
            found.append(("model", f"{model} {why}: {responses}"))
    elif wire == CHAT and tools and CHAT_TOOLS_WANT_NO_EFFORT.match(model) and effort != "none":
        why = 'refuses tools on Chat Completions unless its effort is "none"'
        found.append(("effort", f'{model} {why}: {responses}, or set effort = "none"'))
    if temperature is not None and wire == ANTHROPIC:
        why = "the Messages API refuses temperature (every sampling parameter) since API version 2026-10-21"
        found.append(("temperature", f"{why}: remove it"))
    elif temperature is not None and OPENAI_REASONING.match(model) and effort != "none":
        why = f"{model} refuses temperature while it reasons"
        found.append(("temperature", f'{why}: remove it, or set effort = "none"'))
    return found


def _api(wire: str) -> str:
    return {ANTHROPIC: "the Messages API", RESPONSES: "the Responses API", CHAT: "Chat Completions"}[wire]
