"""Fan-out: a ticket with `models = ["provider/model", ...]` runs once per model, each its own ticket;
`agents = ["claude", ...]` once per coding agent, and `attempts = N` each of them N times.

Each becomes `ID@model` (`ID@agent`, `ID@N`, `ID@model-N`; `group` keeps the written id), so nothing
after the tickets file needs to know, except the comparisons and a tournament's verdict. Which list
applies and what is wrong with it are decided here; the tickets loader says where in the file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lfgtui.config.validation import POSITIVE_INT, STRING_LIST, Kind, unknown

UNSAFE_IN_ID = re.compile(r"[^A-Za-z0-9_.-]+")
OWN = ("provider", "model")
"""What `models` and `agents` name for each of their entries, so a table may not set them beside them."""
LISTS = ("models", "agents")
"""The fan-out lists: at most one of them per table."""


def _is_model_entry(value: str) -> bool:
    provider, _, model = value.partition("/")
    return bool(provider.strip() and model.strip())


MODELS = Kind(
    'a non-empty list of "provider/model" names',
    lambda value: STRING_LIST.check(value) and bool(value) and all(map(_is_model_entry, value)),
)
AGENTS = Kind(
    "a non-empty list of coding agents' provider names",
    lambda value: STRING_LIST.check(value) and bool(value) and all(entry.strip() for entry in value),
)
FALLBACK = Kind(
    'a list of "provider/model" names',
    lambda value: STRING_LIST.check(value) and all(map(_is_model_entry, value)),
)
"""A ticket's (or a provider's) `fallback`: empty turns a provider's default off."""
MAX_ATTEMPTS = 100
"""The most `attempts` a ticket may ask for: each is a ticket of the run (a worktree, a pane, a
check), so a slip of the keyboard (`attempts = 1000000`) is refused when the file loads rather than
filling the memory with tickets, silently."""
ATTEMPTS = Kind(
    f"an integer from 1 to {MAX_ATTEMPTS}",
    lambda value: POSITIVE_INT.check(value) and value <= MAX_ATTEMPTS,
)


@dataclass(frozen=True)
class Variant:
    """One ticket of the run a `[[ticket]]` becomes; `group` is the written id when it fans out."""

    id: str | None
    provider: str
    model: str
    group: str | None


def clash(table: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first key a table sets beside its `models` (or `agents`) that the list already names, and
    why not."""
    lists = [key for key in LISTS if key in table]
    if len(lists) == 2:
        return "agents", "models and agents cannot both be set: one list names the panes"
    keys = [key for key in OWN if key in table]
    if not lists or not keys:
        return None
    return keys[0], (
        f"{' and '.join(keys)} cannot be set with {lists[0]}, which names the provider and model of each pane"
    )


def chosen_list(own: Mapping[str, Any], defaults: Mapping[str, Any]) -> tuple[str, list[str]] | None:
    """The ticket's own `models` or `agents` (which one, and its entries), else those of [defaults]
    unless the ticket names its own provider, model or list; None when the ticket does not fan out."""
    for key in LISTS:
        if key in own:
            return key, own[key]
    if any(key in own for key in OWN):
        return None
    return next(((key, defaults[key]) for key in LISTS if key in defaults), None)


def model_pairs(
    models: Sequence[str], providers: Collection[str], field: str = "models"
) -> tuple[list[tuple[str, str]], list[str]]:
    """Each distinct entry as (provider, model), and the problems: unknown providers, repeats (`field`
    names the list: `models`, or a ticket's `fallback`)."""
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    for entry in dict.fromkeys(models):
        provider, _, model = (part.strip() for part in entry.partition("/"))
        if provider in providers:
            pairs.append((provider, model))
        else:
            problems.append(f"{field}: {entry!r}: {unknown('provider', provider, providers)}")
    if len(models) != len(set(models)):
        problems.append(f"{field}: a model is listed twice")
    return pairs, problems


def fanned_out(
    ticket_id: str | None, pairs: Sequence[tuple[str, str]], by_provider: bool = False
) -> list[Variant]:
    """One ticket per (provider, model), called `ID@model`, or `ID@provider-model` where two
    providers serve a model of the same name (`ID@provider` for coding agents, `by_provider`);
    characters an id may not use become '-' (and a name that still clashes gets a number)."""
    models = [model for _, model in pairs]
    variants = []
    taken: set[str] = set()
    for provider, model in pairs:
        name = provider if by_provider else model if models.count(model) == 1 else f"{provider}-{model}"
        suffix = base = UNSAFE_IN_ID.sub("-", name).strip("-") or "model"
        for n in itertools.count(2):
            if suffix not in taken:
                break
            suffix = f"{base}-{n}"
        taken.add(suffix)
        variant_id = None if ticket_id is None else f"{ticket_id}@{suffix}"
        variants.append(Variant(variant_id, provider, model, ticket_id))
    return variants


def repeated(ticket_id: str | None, variants: Sequence[Variant], attempts: int) -> list[Variant]:
    """Each variant `attempts` times (`attempts = N`): a ticket that does not fan out otherwise
    becomes `ID@1` … `ID@N`, a fanned-out one's `ID@model` becomes `ID@model-1` …; one group."""
    if attempts == 1:
        return list(variants)
    return [
        Variant(
            None if ticket_id is None else f"{variant.id}-{n}" if variant.group else f"{ticket_id}@{n}",
            variant.provider,
            variant.model,
            ticket_id,
        )
        for variant in variants
        for n in range(1, attempts + 1)
    ]
