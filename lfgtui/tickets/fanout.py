"""Fan-out: a ticket with `models = ["provider/model", ...]` runs once per model, each its own ticket.

Each becomes `ID@model` (`group` keeps the written id), so nothing after the tickets file needs to
know, except the comparisons. Which `models` applies and what is wrong with it are decided here; the
tickets loader says where in the file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lfgtui.validation import STRING_LIST, Kind, unknown

UNSAFE_IN_ID = re.compile(r"[^A-Za-z0-9_.-]+")
OWN = ("provider", "model")
"""What `models` names for each of its entries, so a table may not set them beside it."""


def _is_model_entry(value: str) -> bool:
    provider, _, model = value.partition("/")
    return bool(provider.strip() and model.strip())


MODELS = Kind(
    'a non-empty list of "provider/model" names',
    lambda value: STRING_LIST.check(value) and bool(value) and all(map(_is_model_entry, value)),
)
FALLBACK = Kind(
    'a list of "provider/model" names',
    lambda value: STRING_LIST.check(value) and all(map(_is_model_entry, value)),
)
"""A ticket's (or a provider's) `fallback`: empty turns a provider's default off."""


@dataclass(frozen=True)
class Variant:
    """One ticket of the run a `[[ticket]]` becomes; `group` is the written id when it fans out."""

    id: str | None
    provider: str
    model: str
    group: str | None


def clash(table: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first key a table sets beside its `models` that `models` already names, and why not."""
    keys = [key for key in OWN if key in table]
    if "models" not in table or not keys:
        return None
    return keys[0], (
        f"{' and '.join(keys)} cannot be set with models, which names the provider and model of each pane"
    )


def chosen_models(own: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str] | None:
    """The ticket's own `models`, else those of [defaults] unless the ticket names its own provider
    or model; None when the ticket does not fan out."""
    if "models" in own:
        return own["models"]
    return None if any(key in own for key in OWN) else defaults.get("models")


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


def fanned_out(ticket_id: str | None, pairs: Sequence[tuple[str, str]]) -> list[Variant]:
    """One ticket per (provider, model), called `ID@model`, or `ID@provider-model` where two
    providers serve a model of the same name; characters an id may not use become '-' (and a name
    that still clashes gets a number)."""
    models = [model for _, model in pairs]
    variants = []
    taken: set[str] = set()
    for provider, model in pairs:
        name = model if models.count(model) == 1 else f"{provider}-{model}"
        suffix = base = UNSAFE_IN_ID.sub("-", name).strip("-") or "model"
        for n in itertools.count(2):
            if suffix not in taken:
                break
            suffix = f"{base}-{n}"
        taken.add(suffix)
        variant_id = None if ticket_id is None else f"{ticket_id}@{suffix}"
        variants.append(Variant(variant_id, provider, model, ticket_id))
    return variants
