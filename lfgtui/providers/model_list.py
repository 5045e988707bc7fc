"""A provider's own list of the models it offers (`GET /v1/models`), read through its official SDK:
what `lfg models --refresh` compares lfg's table with, to say which of the provider's models lfg
knows, which it infers from a family, and which models lfg lists that the provider does not offer.
The ids it read are kept in lfg's cache folder with their date, so loading tickets can warn of a
model its provider did not list.

Anthropic's list (SDK 2.x, API 2026-10-21) gives each model's `id`, `display_name`, `created_at`,
`lifecycle`, and its `max_input_tokens` and `max_tokens`; OpenAI's (and every OpenAI-compatible
server's) gives `id`, `created` and `owned_by` alone. What the list says is untrusted: an id of the
wrong shape, a figure out of range and entries past `MAX_MODELS` are left out.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from lfgtui.folders import private_folder
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.kinds import kind_of
from lfgtui.providers.model_catalogue import outside_limits
from lfgtui.providers.models import undated

MAX_MODELS = 2000
"""Far more than any provider lists (Anthropic about 20, OpenAI about 100 in 2026)."""
MAX_PAGES = 100
"""More pages than `MAX_MODELS` needs at any page size a provider uses: a list that says it has more
past this is not followed."""
MAX_LIST_BYTES = 8 * 1024 * 1024
"""Far above any provider's page (OpenAI's whole list is about 20 kB in 2026): a longer one is not
read."""


@dataclass(frozen=True, slots=True)
class Offered:
    """One model the provider lists; a figure it did not give is None."""

    model: str
    context_window: int | None
    max_output_tokens: int | None


class NoModelList(Exception):
    """The provider's wire has no model list lfg reads (a coding agent, lfg's agent protocol), or it
    answered with something that is not one (said in one line)."""


def _offered(entry: Any) -> Offered | None:
    model = getattr(entry, "id", None)
    if not isinstance(model, str) or not 0 < len(model) <= 200 or not model.isprintable():
        return None
    limits = outside_limits(getattr(entry, "max_input_tokens", None), getattr(entry, "max_tokens", None))
    return Offered(model, *limits)


async def offered_models(config: ProviderConfig) -> tuple[Offered, ...]:
    """Every model the provider lists, following its pages (the SDK's async iterator), in its order.
    Raises the SDK's own errors (`APIError`), or `NoModelList`."""
    sdk = kind_of(config).sdk
    if sdk == "anthropic":
        from lfgtui.providers.anthropic import anthropic_client

        client: Any = anthropic_client(config, MAX_LIST_BYTES)
    elif sdk == "openai":
        from lfgtui.providers.openai_chat import openai_client

        client = openai_client(config, MAX_LIST_BYTES)
    else:
        raise NoModelList(f"{config.kind} providers list no models")
    found: dict[str, Offered] = {}  # each id once, as first listed
    entries = 0
    async with client:
        page = await _page(client.models.list())
        for _ in range(MAX_PAGES):
            entries += len(page.data)
            for offered in filter(None, map(_offered, page.data)):
                found.setdefault(offered.model, offered)
            if len(found) >= MAX_MODELS or not page.has_next_page():
                break
            page = await _page(page.get_next_page())
    if entries and not found:
        said = "1 entry" if entries == 1 else f"{entries} entries"
        raise NoModelList(f"its model list has {said} and none is a model with an id")
    return tuple(found.values())[:MAX_MODELS]


async def _page(asked: Awaitable[Any]) -> Any:
    """One page of the SDK's list, refused in words when the answer is not a JSON object with a
    `data` list: the SDKs take any JSON and fail later, on a body of another shape, with an
    AttributeError (or a RecursionError, on one nested past what Python parses)."""
    try:
        page = await asked
    except AttributeError:
        raise NoModelList("its answer to GET /models is not a JSON object") from None
    except RecursionError:
        raise NoModelList("its answer to GET /models nests deeper than lfg reads") from None
    if not isinstance(getattr(page, "data", None), list):
        raise NoModelList("its answer to GET /models has no list of models (`data`)")
    return page


LIST_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class ModelList:
    """A provider's list as read: its models, or why it could not be read (`why`)."""

    models: tuple[Offered, ...]
    why: str | None

    def find(self, model: str) -> Offered | None:
        """`model`, or a dated snapshot of it (Anthropic lists `claude-sonnet-4-5-20250929`, which
        `claude-sonnet-4-5` names)."""
        exact = next((offered for offered in self.models if offered.model == model), None)
        return exact or next((offered for offered in self.models if undated(offered.model) == model), None)


async def _read(config: ProviderConfig) -> ModelList:
    import anthropic
    import openai

    from lfgtui.providers.catalog import ProviderUnavailable, resolve
    from lfgtui.providers.clients import BodyTooLarge

    try:
        models = await asyncio.wait_for(offered_models(resolve(config)), LIST_TIMEOUT_S)
    except (ProviderUnavailable, NoModelList) as exc:
        return ModelList((), str(exc))
    except TimeoutError:
        return ModelList((), f"no answer within {LIST_TIMEOUT_S:g} s")
    except (openai.APIError, anthropic.APIError) as exc:  # the SDKs' one root, status and connection
        said = exc.__cause__ if isinstance(exc.__cause__, BodyTooLarge) else exc
        return ModelList((), str(said).splitlines()[0] if str(said) else type(exc).__name__)
    return ModelList(models, None)


async def read_lists(configs: Mapping[str, ProviderConfig]) -> dict[str, ModelList]:
    """Each provider's list, read at once, its key (and base URL variable) from the environment."""
    names = list(configs)
    read = await asyncio.gather(*(_read(configs[name]) for name in names))
    return dict(zip(names, read, strict=True))


def cache_file() -> Path:
    return Path(platformdirs.user_cache_dir("lfgtui")) / "provider-models.json"


def _where(config: ProviderConfig) -> list[str | None]:
    """What a kept list was read of: a provider of another kind or base URL lists other models."""
    return [config.kind, config.base_url]


def keep(lists: Mapping[str, ModelList], configs: Mapping[str, ProviderConfig], read: str) -> None:
    """The lists that were read, kept (beside those of other providers) with the day they were read;
    a cache that cannot be written only means no warning at load."""
    path = cache_file()
    kept = _kept(path)
    for name, listed in lists.items():
        if listed.why is None:
            models = [offered.model for offered in listed.models]
            kept[name] = {"where": _where(configs[name]), "read": read, "models": models}
    try:
        private_folder(path.parent)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(kept), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass


def _kept(path: Path) -> dict[str, Any]:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


@dataclass(frozen=True)
class KeptList:
    """A provider's list as `lfg models --refresh` last read it: its ids and the day."""

    models: frozenset[str]
    read: str

    def offers(self, model: str) -> bool:
        """Whether the list has `model`, or a dated snapshot of it (Anthropic lists
        `claude-sonnet-4-5-20250929`, which `claude-sonnet-4-5` names)."""
        return model in self.models or any(undated(listed) == model for listed in self.models)


def kept_lists(configs: Mapping[str, ProviderConfig]) -> dict[str, KeptList]:
    """The kept lists of these providers, each read of the same kind and base URL."""
    found: dict[str, KeptList] = {}
    for name, entry in _kept(cache_file()).items():
        config = configs.get(name)
        if config is None or not isinstance(entry, dict) or entry.get("where") != _where(config):
            continue
        models, read = entry.get("models"), entry.get("read")
        if isinstance(models, list) and isinstance(read, str) and all(isinstance(m, str) for m in models):
            found[name] = KeptList(frozenset(models), read)
    return found
