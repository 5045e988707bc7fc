"""What lfg knows of each model API's models: context window, output limit, thinking, lifecycle.

A ticket names a model by its id; this table says how much the model reads and writes, whether it
thinks on its own, and when its provider shuts it down and what the provider names instead, with the
page that says so and the day it was read. `lfg run` and `lfg ask` refuse a retired model and warn
of one retiring within `RETIRING_WITHIN` days (tickets/load.py, commands/ask.py); `lfg models`
lists the table per provider; an adapter asks `max_output_tokens` what to send as `max_tokens`.

An id matches its own entry, else the entry of the id without a dated snapshot suffix
(`claude-sonnet-4-5-20250929` is `claude-sonnet-4-5`, `gpt-4.1-2025-04-14` is `gpt-4.1`), else its
family's (`FAMILIES`: `claude-*-5-*`, `gpt-6*`, `gemini-3*`, …), marked `inferred`, so that a model
shipped after this table was written gets its family's limits, thinking and efforts, not a default
for a model that does not reason. An id of no known family has no facts; none is ever refused as
retired by inference.

Anthropic's end-of-life dates are the installed SDK's own (`anthropic._data.DEPRECATED_MODELS`,
which its client warns with), read only when a `claude-*` id is looked up (importing the SDK takes
a while); the table adds the replacement Anthropic's docs name, and the dates of models already
retired, which the SDK no longer lists.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from lfgtui.providers.base import ProviderConfig

Thinking = Literal["none", "optional", "adaptive", "always"]
"""How a model thinks: `none` never; `optional` only when asked; `adaptive` on by default, deciding
how much itself, and may be turned off; `always` cannot be turned off."""

RETIRING_WITHIN = 30
"""Days before a shutdown from which a ticket on the model is warned."""

READ = "read 2026-11-26"
READ_NOW = "read 2026-11-27"
ANTHROPIC_MODELS = "https://platform.claude.com/docs/en/models/overview"
ANTHROPIC_DEPRECATIONS = "https://platform.claude.com/docs/en/about-claude/model-deprecations"
ANTHROPIC_SDK = "the installed anthropic SDK's DEPRECATED_MODELS"
OPENAI_DEPRECATIONS = "https://developers.openai.com/api/docs/deprecations"
OPENAI_MODELS = "https://developers.openai.com/api/docs/models"
XAI_MODELS = "https://docs.x.ai/developers/models"
XAI_RETIREMENT = "https://docs.x.ai/developers/migration/may-15-retirement"
DEEPSEEK_MODELS = "https://api-docs.deepseek.com/quick_start/pricing"
GOOGLE_MODELS = "https://ai.google.dev/gemini-api/docs/models"
GOOGLE_DEPRECATIONS = "https://ai.google.dev/gemini-api/docs/deprecations"


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """When the provider shuts a model down, what it names instead (None: it names nothing), and
    the page that says so with the day it was read."""

    shutdown: date
    replacement: str | None
    source: str


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """One model as its provider's docs describe it; a figure the docs did not give is None."""

    model: str
    """The table's id (a dated snapshot matches its model's)."""
    vendor: str
    """Whose API serves it: `anthropic`, `openai`, `xai`, `deepseek` or `google` (see `VENDOR_HOSTS`)."""
    context_window: int | None
    max_output_tokens: int | None
    """None also when the provider sets no limit of its own (xAI's Grok 4.6 and later)."""
    thinking: Thinking | None
    source: str
    lifecycle: Lifecycle | None = None
    efforts: tuple[str, ...] | None = None
    """The efforts its API takes for it (`reasoning.effort`, `reasoning_effort`), lowest first; None
    when its page lists none, and then its wire's own list holds (providers/reasoning.py)."""
    inferred: bool = False
    """The figures are its family's (`FAMILIES`), not its own: the table does not list it."""


VENDOR_HOSTS: Mapping[str, str] = {
    "anthropic": "api.anthropic.com",
    "openai": "api.openai.com",
    "xai": "api.x.ai",
    "deepseek": "api.deepseek.com",
    "google": "generativelanguage.googleapis.com",  # the Gemini API's OpenAI layer
}
"""The API host of each vendor: a provider whose base URL is on it serves that vendor's models."""

K = 1_000
M = 1_000_000


def _facts(
    vendor: str,
    source: str,
    rows: Mapping[str, tuple[int | None, int | None, Thinking | None]],
    read: str = READ,
) -> dict[str, ModelFacts]:
    return {
        model: ModelFacts(model, vendor, context, output, thinking, f"{source} ({read})")
        for model, (context, output, thinking) in rows.items()
    }


def _retired(
    vendor: str, source: str, shutdown: date, replacements: Mapping[str, str | None], read: str = READ
) -> dict[str, ModelFacts]:
    """Models gone (or going) on one date, each with the replacement the provider names."""
    return {
        model: ModelFacts(
            model, vendor, None, None, None, source, Lifecycle(shutdown, replacement, f"{source} ({read})")
        )
        for model, replacement in replacements.items()
    }


def _retiring(shutdown: date, source: str, replacements: Mapping[str, str | None]) -> None:
    """Give models already in `TABLE` their shutdown and the replacement the provider names."""
    for model, replacement in replacements.items():
        TABLE[model] = replace(TABLE[model], lifecycle=Lifecycle(shutdown, replacement, f"{source} ({READ})"))


TABLE: dict[str, ModelFacts] = {
    **_facts(
        "anthropic",
        ANTHROPIC_MODELS + " and each model's page",
        {
            "claude-fable-5-2": (1 * M, 128 * K, "always"),  # released 2026-11-09
            "claude-fable-5-1": (1 * M, 128 * K, "always"),
            "claude-opus-5-5": (1 * M, 128 * K, "always"),
            "claude-sonnet-5-5": (1 * M, 128 * K, "adaptive"),
            "claude-haiku-5-5": (1 * M, 128 * K, "adaptive"),  # released 2026-10-07
            "claude-opus-5": (1 * M, 128 * K, "adaptive"),
            "claude-sonnet-5": (1 * M, 128 * K, "adaptive"),
            "claude-opus-4-8": (1 * M, 128 * K, "adaptive"),
            "claude-opus-4-7": (None, None, "adaptive"),
            "claude-opus-4-6": (1 * M, 128 * K, "optional"),
            "claude-sonnet-4-6": (1 * M, 128 * K, "optional"),
            "claude-opus-4-5": (200 * K, 64 * K, "optional"),
            "claude-sonnet-4-5": (200 * K, 64 * K, "optional"),
            "claude-haiku-4-5": (200 * K, 64 * K, "optional"),
            "claude-mythos-preview": (None, None, None),
        },
    ),
    **_retired(
        "anthropic",
        ANTHROPIC_DEPRECATIONS + " and the release notes",
        date(2026, 6, 15),
        {
            "claude-sonnet-4": "claude-sonnet-4-6",
            "claude-sonnet-4-0": "claude-sonnet-4-6",
            "claude-opus-4": "claude-opus-4-8",
            "claude-opus-4-0": "claude-opus-4-8",
        },
    ),
    **_retired(
        "anthropic",
        ANTHROPIC_DEPRECATIONS + " (the current Opus per each Opus page)",
        date(2026, 8, 5),
        {"claude-opus-4-1": "claude-opus-5-5"},
    ),
    **_facts(
        "openai",
        OPENAI_MODELS,
        {
            "gpt-6.2-astra": (1_050 * K, 128 * K, "always"),  # released 2026-11-17
            "gpt-6.2-sol": (1_050 * K, 128 * K, "always"),
            "gpt-6.1-sol": (1_050 * K, 128 * K, "always"),
            "gpt-6-astra": (1_050 * K, 128 * K, "always"),
            "gpt-6.1-terra": (1_050 * K, 128 * K, "adaptive"),
            "gpt-6-sol": (1_050 * K, 128 * K, "adaptive"),
            "gpt-6-luna": (1_050 * K, 128 * K, "adaptive"),
            "gpt-5.6-sol": (1_050 * K, 128 * K, "adaptive"),
            "gpt-5.6-terra": (1_050 * K, 128 * K, "adaptive"),
            "gpt-5.6-luna": (1_050 * K, 128 * K, "adaptive"),
            "gpt-5": (400 * K, 128 * K, "always"),
            "gpt-5-mini": (400 * K, 128 * K, "always"),
            "gpt-5-nano": (400 * K, 128 * K, "always"),
            "gpt-4.1": (1_047_576, 32_768, "none"),
            "gpt-4.1-mini": (1_047_576, 32_768, "none"),
            "gpt-4o": (128 * K, 16_384, "none"),
            "gpt-4o-mini": (128 * K, 16_384, "none"),
        },
    ),
    **_retired(
        "openai",
        OPENAI_DEPRECATIONS + " as quoted on 2026-10-15",
        date(2026, 10, 23),
        {
            "gpt-3.5-turbo": "gpt-5.6-terra",
            "gpt-4": "gpt-5.6-sol",
            "gpt-4-turbo": "gpt-5.6-sol",
            "gpt-4.1-nano": "gpt-5.6-luna",
            "o1": "gpt-5.6-sol",
            "o3-mini": "gpt-5.6-sol",
            "o4-mini": "gpt-5.6-terra",
        },
    ),
    **_retired(
        "openai",
        OPENAI_DEPRECATIONS + " (the 2026-06-11 notice, its replacements as quoted by aideprecations.com)",
        date(2026, 12, 11),
        {"o3": "gpt-5.6-sol", "o3-pro": "gpt-5.6-sol", "gpt-5-pro": "gpt-5.6-sol"},
        READ_NOW,
    ),
    **_retired(
        "openai",
        OPENAI_DEPRECATIONS + " (as listed by dev.to/aidriftline and dev.to/max_bob; no replacement quoted)",
        date(2027, 4, 1),
        {"gpt-5.1": None},
        READ_NOW,
    ),
    **_facts(
        "xai",
        XAI_MODELS + " and each model's page",
        {
            "grok-4.7": (500 * K, None, "always"),
            "grok-4.6": (500 * K, None, "always"),
            "grok-4.5": (500 * K, None, "always"),
            "grok-4.3": (1 * M, None, "adaptive"),
            "grok-4.20-reasoning": (1 * M, None, "always"),
            "grok-4.20": (1 * M, None, "always"),  # an alias of grok-4.20-0309-reasoning
            "grok-4.20-non-reasoning": (None, None, "none"),
        },
    ),
    **_retired(
        "xai",
        XAI_RETIREMENT,
        date(2026, 5, 15),
        {
            "grok-4": "grok-4.3",  # the alias of grok-4-0709
            "grok-4-0709": "grok-4.3",
            "grok-4-1-fast-reasoning": "grok-4.3",
            "grok-4-1-fast-non-reasoning": "grok-4.20-non-reasoning",
            "grok-4-fast-reasoning": "grok-4.3",
            "grok-4-fast-non-reasoning": "grok-4.20-non-reasoning",
            "grok-code-fast-1": "grok-4.3",
            "grok-3": "grok-4.3",
        },
    ),
    **_facts(
        "deepseek",
        DEEPSEEK_MODELS,
        {
            "deepseek-flash": (1 * M, 384 * K, "adaptive"),  # V4.1 Flash; deepseek-v4-flash is served by it
            "deepseek-v4-pro": (1 * M, 384 * K, "adaptive"),
            "deepseek-v4-flash": (1 * M, 384 * K, "adaptive"),
        },
    ),
    **_facts(
        "google",
        "https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/guides/gemini-3-8-flash",
        {
            "gemini-3.8-flash": (1_048_576, 65_536, "adaptive"),
            "gemini-3.7-flash": (1_048_576, 65_536, "adaptive"),
        },
        READ_NOW,
    ),
    **_retired(
        "google",
        GOOGLE_DEPRECATIONS + " as quoted by aideprecations.com, read there 2026-11-10 (its requests "
        "are then routed to the replacement, billed at its rates)",
        date(2026, 12, 1),
        {"gemini-2.5-pro": "gemini-3.8-flash", "gemini-2.5-flash": "gemini-3.5-flash-lite"},
        READ_NOW,
    ),
    **_retired(
        "deepseek",
        DEEPSEEK_MODELS + " (the names became aliases of deepseek-v4-flash until then)",
        date(2026, 7, 24),
        {"deepseek-chat": "deepseek-v4-flash", "deepseek-reasoner": "deepseek-v4-flash"},
    ),
}
"""Every model lfg knows, by id."""

_retiring(
    date(2027, 1, 14),
    OPENAI_DEPRECATIONS,
    dict.fromkeys(("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"), "gpt-6-luna"),
)
_retiring(
    date(2026, 12, 11),
    OPENAI_DEPRECATIONS,
    {"gpt-5": "gpt-6.1-sol", "gpt-5-mini": "gpt-6.1-terra", "gpt-5-nano": None},
)


def _efforts(source: str, efforts: tuple[str, ...], models: tuple[str, ...]) -> None:
    """Give models already in `TABLE` the efforts their pages list."""
    for model in models:
        TABLE[model] = replace(
            TABLE[model], efforts=efforts, source=f"{TABLE[model].source}; efforts: {source}"
        )


LOW_TO_MAX = ("low", "medium", "high", "xhigh", "max")
_efforts(
    OPENAI_MODELS + " (each model's page; GPT-6.2's as quoted by LiteLLM's and Apidog's launch notes, read "
    "2026-11-27: none and minimal refused)",
    LOW_TO_MAX,
    ("gpt-6.2-astra", "gpt-6.2-sol", "gpt-6.1-sol", "gpt-6-astra"),
)
_efforts(
    OPENAI_MODELS + " (each model's page)",
    ("none", *LOW_TO_MAX),
    ("gpt-6.1-terra", "gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna"),
)
_efforts(
    OPENAI_MODELS + " (each model's page)",
    ("minimal", "low", "medium", "high"),
    ("gpt-5", "gpt-5-mini", "gpt-5-nano"),
)
_efforts(
    "https://api-docs.deepseek.com/guides/thinking_mode, read 2026-11-27 (minimal and low run as low, "
    "medium to xhigh as high; thinking off is `thinking: disabled`, not an effort)",
    ("minimal", "low", "medium", "high", "xhigh", "max"),
    ("deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"),
)

_efforts(
    "https://docs.x.ai/developers/model-capabilities/text/reasoning as quoted by opencode #39448 (Grok 4.5: "
    "low to high, no none) and grok2api #901 (xhigh from Grok 4.6; max not taken), read 2026-11-27",
    ("low", "medium", "high", "xhigh"),
    ("grok-4.7", "grok-4.6"),
)
_efforts(
    "https://docs.x.ai/developers/model-capabilities/text/reasoning as quoted by opencode #39448, "
    "read 2026-11-27",
    ("low", "medium", "high"),
    ("grok-4.5",),
)
_efforts(
    "Google's developer guide to Gemini 3.8 Flash (thinking levels LOW, MEDIUM, HIGH for 3.8 and 3.7 Flash; "
    "no MINIMAL), read 2026-11-27",
    ("low", "medium", "high"),
    ("gemini-3.8-flash", "gemini-3.7-flash"),
)

ANTHROPIC_REPLACEMENTS: Mapping[str, str | None] = {
    "claude-sonnet-4-5": "claude-sonnet-5-5",
    "claude-opus-4-5": "claude-opus-5-5",
    "claude-mythos-preview": None,
}
"""What Anthropic's docs name instead of the models its SDK lists as deprecated (each model's page,
read 2026-11-26); the dates are the SDK's."""


@dataclass(frozen=True, slots=True)
class Family:
    """Models named alike that share limits, thinking and efforts: what an id of the family that
    the table does not list is taken to have (its `facts`, whose `model` is the family's name)."""

    pattern: re.Pattern[str]
    facts: ModelFacts


def _family(
    pattern: str,
    name: str,
    vendor: str,
    figures: tuple[int | None, int | None, Thinking],
    source: str,
    efforts: tuple[str, ...] | None = None,
) -> Family:
    context, output, thinking = figures
    said = f"inferred from its family {name}: {source} ({READ_NOW})"
    return Family(
        re.compile(pattern), ModelFacts(name, vendor, context, output, thinking, said, None, efforts, True)
    )


FAMILIES: tuple[Family, ...] = (
    _family(
        r"claude-fable-5(?:-\d+)?",
        "claude-fable-5-*",
        "anthropic",
        (1 * M, 128 * K, "always"),
        ANTHROPIC_MODELS + " (Fable 5, 5.1 and 5.2: 1M, 128K, always thinking)",
    ),
    _family(
        r"claude-[a-z]+-5(?:-\d+)?",
        "claude-*-5-*",
        "anthropic",
        (1 * M, 128 * K, "adaptive"),
        ANTHROPIC_MODELS + " (every Claude 5 and 5.5 model: 1M, 128K, adaptive thinking)",
    ),
    _family(
        r"gpt-6(?:-astra|\.[2-9]-[a-z]+|\.1-sol)",
        "gpt-6.2*, gpt-6*-astra",
        "openai",
        (1_050 * K, 128 * K, "always"),
        OPENAI_MODELS + " (GPT-6 Astra, 6.1 Sol, 6.2: low to max, no none)",
        LOW_TO_MAX,
    ),
    _family(
        r"gpt-6(?:\.\d+)?-[a-z]+",
        "gpt-6*",
        "openai",
        (1_050 * K, 128 * K, "adaptive"),
        OPENAI_MODELS + " (every GPT-6 model: 1.05M, 128K)",
    ),
    _family(
        r"gpt-5\.[4-9]-?[a-z]*",
        "gpt-5.4* to gpt-5.9*",
        "openai",
        (1_050 * K, 128 * K, "adaptive"),
        OPENAI_MODELS + " (GPT-5.4 on: 1.05M, 128K)",
    ),
    _family(
        r"gemini-3(?:\.\d+)?-[a-z][\w.-]*",
        "gemini-3*",
        "google",
        (1_048_576, 65_536, "adaptive"),
        GOOGLE_MODELS + " (Gemini 3: 1M in, 64K out, thinking by default)",
    ),
    _family(
        r"deepseek-(?:v4(?:\.\d+)?-[a-z]+|pro|flash)",
        "deepseek-v4-*",
        "deepseek",
        (1 * M, 384 * K, "adaptive"),
        DEEPSEEK_MODELS + " (V4 Pro and Flash, V4.1 deepseek-flash: 1M, 384K, thinking by default)",
        ("minimal", "low", "medium", "high", "xhigh", "max"),
    ),
)
"""The families an unlisted id is matched to, first match wins (the whole id, snapshot date left
off): narrower families before the wider ones they sit in."""

_SNAPSHOT = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
"""A dated snapshot's suffix: Anthropic's `-20250929`, OpenAI's `-2025-04-14`."""


def _table_id(model: str) -> str | None:
    """The table's id for `model`: its own, else its model's without the snapshot date."""
    model = model.strip()
    if model in TABLE:
        return model
    base = _SNAPSHOT.sub("", model)
    return base if base in TABLE else None


def undated(model: str) -> str:
    """`model` without a dated snapshot's suffix: the alias a person names it by."""
    return _SNAPSHOT.sub("", model.strip())


def inferred(model: str) -> ModelFacts | None:
    """`model`'s family's facts, under its own id and marked inferred; None when no family matches."""
    base = undated(model)
    family = next((family for family in FAMILIES if family.pattern.fullmatch(base)), None)
    return None if family is None else replace(family.facts, model=base)


def figures_said(model: str) -> str | None:
    """What a pane's header says of lfg's figures for `model`: `~inferred` (its family's, neither the
    table nor the kept catalogue listing it), `catalogue` (the kept catalogue's, where the table has
    none), or None (the table's own, or none at all): cheap (no SDK import)."""
    found = _table_id(model)
    own = TABLE[found] if found is not None else None
    if own is not None and own.context_window and own.max_output_tokens:
        return None
    if catalogued(model, None) is not None:
        return "catalogue"
    return "~inferred" if own is None and inferred(model) is not None else None


def catalogued(model: str, known: ModelFacts | None) -> ModelFacts | None:
    """`known` (the table's or a family's facts of `model`) with the figures the kept model catalogue
    gives (`lfg models --refresh`), ranked after the table's own and before a family's inference,
    its source naming the catalogue and its date; `known` as it is when the catalogue does not list
    the model, None when neither knows it."""
    from lfgtui.providers.model_catalogue import listing

    found = listing(undated(model))
    if found is None:
        return known
    listed, catalogue = found
    said = f"{catalogue.url} (the catalogue of {catalogue.date})"
    tabled = known is not None and not known.inferred
    if known is None:
        known = ModelFacts(undated(model), listed.vendor, None, None, None, said)
    thinking = "none" if listed.reasons is False else known.thinking
    if tabled:  # the table's figures first; the catalogue's where it has none
        context, output = known.context_window, known.max_output_tokens
        context, output = context or listed.context_window, output or listed.max_output_tokens
        if (context, output) == (known.context_window, known.max_output_tokens):
            return known
        return replace(
            known, context_window=context, max_output_tokens=output, source=f"{known.source}; {said}"
        )
    return replace(
        known,
        context_window=listed.context_window or known.context_window,
        max_output_tokens=listed.max_output_tokens or known.max_output_tokens,
        thinking=thinking,
        source=said,
        inferred=known.inferred and not (listed.context_window or listed.max_output_tokens),
    )


def facts(model: str) -> ModelFacts | None:
    """What lfg knows of `model`, Anthropic's SDK end-of-life included: the table's, else its
    family's (marked `inferred`), each with the kept catalogue's figures where the table has none
    (`catalogued`); None for a model it cannot place."""
    found = _table_id(model)
    known = catalogued(model, TABLE[found] if found is not None else inferred(model))
    if known is None:
        return None
    found = found or known.model
    if known.vendor == "anthropic" and (sdk := _sdk_end_of_life(model.strip(), found)) is not None:
        known = replace(known, lifecycle=Lifecycle(sdk, ANTHROPIC_REPLACEMENTS.get(found), ANTHROPIC_SDK))
    return known


def max_output_tokens(model: str) -> int | None:
    """The most `model` may write in one answer (its `max_tokens` ceiling); None when not known."""
    known = facts(model)
    return None if known is None else known.max_output_tokens


class Status(enum.Enum):
    OK = "ok"
    RETIRING = "retiring"
    RETIRED = "retired"


class Verdict(NamedTuple):
    """A model's lifecycle on a day: `message` says what to do (empty when OK)."""

    status: Status
    message: str


def lifecycle(model: str, today: date) -> Verdict:
    """Whether `model` is retired on `today`, retires within `RETIRING_WITHIN` days, or neither,
    with a message naming the date and the replacement."""
    known = facts(model)
    if known is None or known.lifecycle is None:
        return Verdict(Status.OK, "")
    life = known.lifecycle
    instead = f"use {life.replacement!r} instead" if life.replacement else "its provider names no replacement"
    shutdown, source = life.shutdown.isoformat(), f"(source: {life.source})"
    days = (life.shutdown - today).days
    if days <= 0:
        return Verdict(
            Status.RETIRED,
            f"model {model!r} was retired on {shutdown}: {instead} {source}",
        )
    if days <= RETIRING_WITHIN:
        when = "tomorrow" if days == 1 else f"in {days} days"
        return Verdict(
            Status.RETIRING,
            f"model {model!r} retires on {shutdown} ({when}): {instead} {source}",
        )
    return Verdict(Status.OK, "")


def vendor_models(vendor: str) -> list[ModelFacts]:
    """Every model of `vendor` the table holds, in the table's order (newest first)."""
    return [facts(model) or known for model, known in TABLE.items() if known.vendor == vendor]


KIND_VENDORS: Mapping[str, str] = {"openai": "openai", "openai-responses": "openai", "anthropic": "anthropic"}
"""The vendor a provider of this kind talks to when it names no base URL."""


def serves(config: ProviderConfig) -> str | None:
    """The vendor whose API `config` talks to (by its base URL's host, else its kind's own API);
    None for any other server (a gateway, a server on this machine, the sim, a coding agent), whose
    model names and schedule are its own."""
    if config.base_url is None:
        return KIND_VENDORS.get(config.kind)
    from urllib.parse import urlsplit

    try:
        host = urlsplit(config.base_url).hostname
    except ValueError:
        return None
    return next((vendor for vendor, api in VENDOR_HOSTS.items() if host == api), None)


def _sdk_end_of_life(model: str, table_id: str) -> date | None:
    """The end of life the anthropic SDK gives `model` (or its snapshot's model), if any."""
    dates = sdk_deprecations()
    return dates.get(model, dates.get(table_id))


@functools.cache
def sdk_deprecations() -> dict[str, date]:
    """The anthropic SDK's `DEPRECATED_MODELS` as dates (it writes `November 30th, 2026`); an entry
    it writes some other way is left out. Empty when the SDK is not installed."""
    try:
        from anthropic._data import DEPRECATED_MODELS
    except ImportError:
        return {}
    found = {}
    for model, written in DEPRECATED_MODELS.items():
        parsed = sdk_date(written)
        if parsed is not None:
            found[model] = parsed
    return found


_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)\b")


def sdk_date(written: str) -> date | None:
    """`November 30th, 2026` as a date; None when it is not written so."""
    try:
        return datetime.strptime(_ORDINAL.sub(r"\1", written.strip()), "%B %d, %Y").date()
    except ValueError:
        return None
