"""What the real APIs refuse of a conversation whose reasoning state did not come back as it went out.

Today's reasoning models hand the client opaque state with each answer and want it back, unchanged
and in its place, in the next request. The sim mints that state so that it can check it without
keeping any (a signature that seals what it signs), refuses a request as the real API does, with its
status and words, and notes on each request how much came back (`Replay`), so that a test can also
see the cases the real APIs accept in silence and answer worse.

The rules, keyed on model names as the real APIs are (read 2026-11-26):
- Anthropic, Claude 5 models and Opus 4.7 on (thinking on by default): the last assistant message of
  a tool loop must come back with its thinking blocks, first, unchanged and in their order
  (Anthropic's thinking and troubleshooting-thinking pages, and the API's own errors as users quote
  them); a signature that does not seal its block's thinking is refused on any model.
- Responses: a reasoning item must be followed by the item it led to; with `store: false` it must
  carry its `encrypted_content`, which must be what the API sealed (OpenAI's reasoning guide).
- Chat Completions: DeepSeek and Kimi want each tool-calling answer's `reasoning_content` back (the
  DeepSeek thinking-mode guide); Gemini 3 wants each function call's
  `extra_content.google.thought_signature` back (Google's thought-signatures page).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from lfgtui.sim.scenario import Scenario
from lfgtui.sim.wire import BadRequest, SimRequest

ANTHROPIC_THINKING = re.compile(
    r"claude-(?:(?:opus|sonnet|haiku|mythos)-(?:[5-9]|\d\d)|opus-4-(?:[7-9]|\d\d))"
)
"""Claude models that think by default and enforce the thinking of a tool loop coming back."""
ANTHROPIC_OMITTED = re.compile(r"claude-[a-z]+-5-5")
"""Claude models whose thinking is `omitted` unless the request asks for it `summarized`."""
CHAT_REASONING_CONTENT = re.compile(r"(?:.*/)?(?:deepseek-|kimi-)")
CHAT_THOUGHT_SIGNATURE = re.compile(r"(?:.*/)?gemini-(?:[3-9]|\d\d)")

_SEAL = "lfg-sim"


def _digest(text: str) -> str:
    return hashlib.sha256(f"{_SEAL}:{text}".encode()).hexdigest()[:24]


def thinking_signature(thinking: str) -> str:
    """An Anthropic thinking block's signature: the thinking itself, sealed (as the real one holds
    the full thinking, encrypted), so the sim can read back what it signed."""
    sealed = base64.urlsafe_b64encode(thinking.encode()).decode()
    return f"EqsimSig{_digest(thinking)}.{sealed}"


def signed_thinking(signature: object) -> str | None:
    """The thinking a signature the sim minted seals; None when it is no such signature."""
    if not isinstance(signature, str) or not signature.startswith("EqsimSig"):
        return None
    digest, _, sealed = signature.removeprefix("EqsimSig").partition(".")
    try:
        thinking = base64.urlsafe_b64decode(sealed.encode()).decode()
    except ValueError:
        return None
    return thinking if digest == _digest(thinking) else None


def thought_signature(call_id: str) -> str:
    """A Gemini function call's thought signature, sealing the call it came with."""
    return base64.b64encode(f"{_SEAL} thought {call_id} {_digest(call_id)}".encode()).decode()


def _thought_signed(signature: object, call_id: str) -> bool:
    return signature == thought_signature(call_id)


@dataclass(frozen=True, slots=True)
class Replay:
    """How much of the reasoning state a request's earlier answers carried came back: of `expected`
    answers that had some, `returned` came back whole."""

    expected: int
    returned: int

    @property
    def whole(self) -> bool:
        return self.returned == self.expected


def check(path: str, body: dict[str, Any], request: SimRequest, scenario: Scenario) -> Replay | None:
    """Refuse (`BadRequest`) what the real API at `path` refuses of the request's earlier answers;
    else how much of their reasoning came back (None: the protocol has no such state)."""
    match path:
        case "/v1/messages":
            return _anthropic(body, request.model, scenario)
        case "/v1/responses":
            return _responses(body, request.call_index, scenario)
        case "/v1/chat/completions":
            return _chat(body, request.model, scenario)
    return None


def _expected_blocks(scenario: Scenario, index: int) -> list[str]:
    """The content block types the sim's answer to model call `index` had, in order."""
    answer = scenario.call(index)
    blocks = ["thinking"] if answer.reasoning else []
    blocks += ["text"] if answer.text else []
    return blocks + ["tool_use"] * len(answer.tool_calls)


def _anthropic(body: dict[str, Any], model: str, scenario: Scenario) -> Replay:
    strict = ANTHROPIC_THINKING.search(model) is not None
    messages = [m for m in body.get("messages", ()) if isinstance(m, dict)]
    answers = [(n, m) for n, m in enumerate(messages) if m.get("role") == "assistant"]
    expected = returned = 0
    for call, (n, message) in enumerate(answers):
        content = message.get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        for b, block in enumerate(blocks):
            if block.get("type") == "thinking":
                said = signed_thinking(block.get("signature"))
                if said is None:
                    raise BadRequest(f"messages.{n}.content.{b}: Invalid `signature` in `thinking` block")
                if block.get("thinking") not in ("", said) and n == answers[-1][0]:
                    raise BadRequest(
                        f"messages.{n}.content.{b}: `thinking` or `redacted_thinking` blocks in the latest "
                        "assistant message cannot be modified. These blocks must remain as they were in "
                        "the original response."
                    )
        wanted = _expected_blocks(scenario, call)
        if "thinking" not in wanted:
            continue
        expected += 1
        kinds = [block.get("type") for block in blocks if block.get("type") != "redacted_thinking"]
        if kinds == wanted:
            returned += 1
            continue
        if not strict or n != answers[-1][0] or not _in_tool_loop(messages, n):
            continue  # the API strips thinking of turns before the tool loop under way itself
        if not kinds or kinds[0] != "thinking":
            found = kinds[0] if kinds else "nothing"
            raise BadRequest(
                f"messages.{n}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{found}`. When `thinking` is enabled, a final `assistant` message must start with a "
                "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
                "recommend you include thinking blocks from previous turns. To avoid this requirement, "
                "disable `thinking`. Please consult our documentation at "
                "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            )
        raise BadRequest(
            f"messages.{n}.content: `thinking` or `redacted_thinking` blocks in the latest assistant "
            "message cannot be modified. These blocks must remain as they were in the original response."
        )
    return Replay(expected, returned)


def _in_tool_loop(messages: list[dict[str, Any]], answer: int) -> bool:
    """Whether the answer at `answer` is answered by tool results: the tool loop under way, whose
    last answer must keep its thinking ("a final assistant message must start with a thinking block
    (preceeding the lastmost set of tool_use and tool_result blocks)")."""
    after = messages[answer + 1] if answer + 1 < len(messages) else None
    content = after.get("content") if after is not None else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _responses(body: dict[str, Any], answered: int, scenario: Scenario) -> Replay:
    items = body.get("input")
    if not isinstance(items, list):
        return Replay(0, 0)
    stored = body.get("store", True) is not False
    returned = 0
    for n, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            continue
        item_id = str(item.get("id", ""))
        follower = items[n + 1] if n + 1 < len(items) else None
        if not isinstance(follower, dict) or not _produced(follower):
            raise BadRequest(
                f"Item '{item_id}' of type 'reasoning' was provided without its required following item."
            )
        sealed = item.get("encrypted_content")
        if sealed is None and not stored:
            raise BadRequest(
                f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
                "Try again with `store` set to true, or remove this item from your input."
            )
        if sealed is not None and sealed != sealed_reasoning(item_id):
            raise BadRequest("The encrypted content could not be verified.")
        returned += 1
    expected = sum(1 for call in range(answered) if scenario.call(call).reasoning)
    return Replay(expected, min(returned, expected))


def sealed_reasoning(item_id: str) -> str:
    """A Responses reasoning item's `encrypted_content`: its own id, sealed."""
    return base64.urlsafe_b64encode(f"lfg-sim reasoning {item_id}".encode()).decode()


def _produced(item: dict[str, Any]) -> bool:
    kind = item.get("type", "message")
    return kind in ("function_call", "custom_tool_call") or (
        kind == "message" and item.get("role") == "assistant"
    )


def _chat(body: dict[str, Any], model: str, scenario: Scenario) -> Replay:
    messages = [m for m in body.get("messages", ()) if isinstance(m, dict)]
    answers = [m for m in messages if m.get("role") == "assistant"]
    wants_reasoning = CHAT_REASONING_CONTENT.match(model) is not None
    wants_signatures = CHAT_THOUGHT_SIGNATURE.match(model) is not None
    expected = returned = 0
    for call, message in enumerate(answers):
        calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
        if wants_signatures and calls:
            expected += 1
            for position, tool_call in enumerate(calls, start=1):
                extra = tool_call.get("extra_content")
                google = extra.get("google") if isinstance(extra, dict) else None
                signature = google.get("thought_signature") if isinstance(google, dict) else None
                if not _thought_signed(signature, str(tool_call.get("id", ""))):
                    function = tool_call.get("function")
                    name = function.get("name") if isinstance(function, dict) else ""
                    raise BadRequest(
                        "Function call is missing a thought_signature in functionCall parts. This is "
                        "required for tools to work correctly, and missing thought_signature may lead to "
                        f"degraded model performance. Additional data, function call `default_api:{name}` "
                        f", position {position}. Please refer to "
                        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                    )
            returned += 1
        elif scenario.call(call).reasoning:
            expected += 1
            if isinstance(message.get("reasoning_content"), str) and message["reasoning_content"]:
                returned += 1
            elif wants_reasoning and calls:
                raise BadRequest(
                    "The `reasoning_content` in the thinking mode must be passed back to the API."
                )
    return Replay(expected, returned)
