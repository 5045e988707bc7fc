"""The sim's prompt cache, as the real APIs keep theirs: a request whose prefix (model, system prompt
or instructions, tools) the sim saw within the cache's lifetime reads that prefix from the cache;
any other writes it. So a scenario with `prompt_caching = 1` hits on a conversation's later calls
and misses when its system prompt, tools or model change, or after a long idle (Anthropic's
default cache lives five minutes, refreshed by each hit; OpenAI's is kept five to ten minutes)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from lfgtui.sim.scenario import Scenario
from lfgtui.sim.wire import estimate_input_tokens

LIFETIME_S = 300.0
"""How long a cached prefix lives after its last use."""
PREFIX_FIELDS = ("model", "system", "instructions", "tools")


def prefix(body: dict[str, Any]) -> dict[str, Any]:
    """What a request's cached prefix is: its model, system prompt (Anthropic's `system`, Responses'
    `instructions`, a Chat request's leading system or developer message) and tools."""
    kept = {name: body[name] for name in PREFIX_FIELDS if name in body}
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    if isinstance(first, dict) and first.get("role") in ("system", "developer"):
        kept["system"] = first.get("content")
    return kept


@dataclass
class SimPromptCache:
    seen: dict[str, float] = field(default_factory=dict)
    """Each cached prefix's digest and when it was last used."""

    def use(self, scenario: Scenario, body: dict[str, Any], now: float) -> Scenario:
        """`scenario` with the cache usage this request gets, when it caches (`prompt_caching`)."""
        if not scenario.prompt_caching:
            return scenario
        kept = prefix(body)
        digest = hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()
        tokens = estimate_input_tokens(kept)
        last = self.seen.get(digest)
        self.seen[digest] = now
        if last is not None and now - last <= LIFETIME_S:
            return replace(scenario, cache_read_tokens=tokens, cache_write_tokens=0)
        return replace(scenario, cache_read_tokens=0, cache_write_tokens=tokens)
