"""How the SDK clients turn each streamed JSON chunk into the SDK's model: validated, else built.

By default the SDKs build a response model field by field in Python (`construct_type`): about
130 µs for a one-word Chat Completions chunk, measured here, which at 16 streams x 200 tokens/s is
almost half a core. Validating the same dict into the same SDK model in pydantic-core takes about
18 µs. A chunk that does not fit the SDK's types (an OpenAI-compatible server that leaves out a
field) fails validation and takes the SDK's own lenient path, so nothing a provider sends is
rejected here that the SDK would have accepted.

A union of event models (the Anthropic and Responses streams) is validated as the one variant whose
`type` literal the event names, found in a dict made once: the SDK would first validate the whole
union (59 variants for Responses: about 60 times the cost, measured) and, when that fails, build the
variant its discriminator names. A variant that fails validation once (the API's own
`response.output_text.delta` has no `logprobs`, which the SDK's model requires) is built by the
SDK's builder from then on, without the union's failing validation first; an event of a type no
variant declares takes the SDK's whole path.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic

Model = type[pydantic.BaseModel]


class _Variants:
    """A union of models told apart by their `type` literal."""

    def __init__(self, by_type: dict[object, Model]) -> None:
        self.by_type = by_type

    def variant(self, data: dict[str, Any]) -> Model | None:
        kind = data.get("type")
        return self.by_type.get(kind) if isinstance(kind, str) else None


def _model(cast_to: Any) -> bool:
    """A pydantic model class the SDK builds plainly (not through its own `build`)."""
    return (
        isinstance(cast_to, type)
        and issubclass(cast_to, pydantic.BaseModel)
        and not hasattr(cast_to, "build")
    )


def _variants(cast_to: Any) -> _Variants | None:
    """The variants of a union of models, each found by its `type` literal; None for anything else."""
    if get_origin(cast_to) is Annotated:
        cast_to = get_args(cast_to)[0]
    if get_origin(cast_to) not in (Union, types.UnionType):
        return None
    by_type: dict[object, Model] = {}
    for variant in get_args(cast_to):
        field = variant.model_fields.get("type") if _model(variant) else None
        if field is None or get_origin(field.annotation) is not Literal:
            return None
        for value in get_args(field.annotation):
            if value in by_type:  # two variants of one type: only the SDK knows which
                return None
            by_type[value] = variant
    return _Variants(by_type)


_parsers: dict[Any, Model | _Variants | None] = {}
"""Each `cast_to` the SDK asked for: its model, its union's variants, or None for the SDK's own path.
Asking `issubclass` and `hasattr` of a pydantic model class for every chunk cost more than the
validation itself (`hasattr` raises inside pydantic's metaclass for the absent `build`)."""

_refused: set[Model] = set()
"""Variants that failed validation once: the SDK's builder makes them from then on."""


def _parser(cast_to: Any) -> Model | _Variants | None:
    try:
        return _parsers[cast_to]
    except KeyError:
        found = _parsers[cast_to] = cast_to if _model(cast_to) else _variants(cast_to)
        return found
    except TypeError:  # an unhashable type: the SDK's path, asked every time
        return None


class ValidatingClient:
    """Mixin for an SDK client class (first in the bases): pydantic-core validation first."""

    def _process_response_data(self, *, data: object, cast_to: Any, response: Any) -> Any:
        if type(data) is dict and (parser := _parser(cast_to)) is not None:
            model = parser.variant(data) if isinstance(parser, _Variants) else parser
            if model is not None and model not in _refused:
                try:
                    return model.model_validate(data)
                except pydantic.ValidationError:
                    if model is not parser:
                        _refused.add(model)
            if model is not None and model is not parser:
                cast_to = model  # the variant the SDK's discriminator names, built by the SDK
        return super()._process_response_data(  # type: ignore[misc]
            data=data, cast_to=cast_to, response=response
        )
