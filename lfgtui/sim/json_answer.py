"""What the sim answers a request that asks for JSON output shaped by a schema.

Agents make side calls that want JSON, not prose: Gemini CLI's router asks how complex the request is
(`{"complexity_reasoning": …, "complexity_score": 1-100}`) and whether the model or the user speaks
next, and retries (for over a minute) an answer that does not parse. A scenario's prose cannot
answer them, so the sim answers with the plainest value the schema allows: every property filled,
an enum's first value, a number at its minimum (an integer with none at 1, the lowest score or
count; a number with none at 0, the lowest confidence), an array at its least length. Both schema
dialects Gemini takes are read: JSON Schema (`responseJsonSchema`, lower-case types) and the
OpenAPI subset (`responseSchema`, upper-case types such as `OBJECT`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

STRING = "sim"
"""The text of a free-form string: short, and plainly the sim's."""

MAX_DEPTH = 16
"""A schema nested deeper than this (or recursive through `$ref`) gets `null` there."""


def json_answer(schema: Any) -> str:
    """The JSON text answering `schema` (any JSON value: a schema, `true`, or nothing usable)."""
    return json.dumps(_value(schema, 0), ensure_ascii=False)


def _value(schema: Any, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for choice in ("anyOf", "oneOf", "allOf"):
        options = _get(schema, choice)
        if isinstance(options, list) and options:
            return _value(options[0], depth + 1)
    match _type(schema):
        case "object":
            properties = schema.get("properties")
            if not isinstance(properties, dict):
                return {}
            return {str(name): _value(sub, depth + 1) for name, sub in properties.items()}
        case "array":
            count = int(_number(_get(schema, "minItems")) or 0)
            return [_value(schema.get("items"), depth + 1) for _ in range(min(count, 100))]
        case "integer":
            return math.ceil(_least(schema, 1))
        case "number":
            return _least(schema, 0)
        case "boolean":
            return False
        case "string":
            return STRING
        case "null":
            return None
    return {} if "properties" in schema else STRING


def _get(schema: dict[str, Any], name: str) -> Any:
    """A field by its camelCase name or, as protobuf's JSON also allows (and google-genai sends
    some), its snake_case one."""
    if name in schema:
        return schema[name]
    return schema.get(re.sub(r"[A-Z]", lambda upper: "_" + upper[0].lower(), name))


def _type(schema: dict[str, Any]) -> str | None:
    """The schema's type in lower case; of a list of types, the first that is not `null`."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k.lower() != "null"), None)
    return kind.lower() if isinstance(kind, str) else None


def _least(schema: dict[str, Any], otherwise: float) -> float:
    least = _number(schema.get("minimum"))
    return otherwise if least is None else least


def _number(value: Any) -> float | None:
    """A bound as a number; the OpenAPI dialect writes its 64-bit ones as strings (`"1"`)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value
