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
- OpenAI's GPT-5.4 on and GPT-6 models (`OPENAI_REASONING`) on Chat Completions: function tools only
  with `reasoning_effort: "none"`, which is not their default; `temperature`/`top_p` only with it;
  GPT-6 Astra, GPT-6.1 Sol and GPT-6.2 have no `none`. On Responses the same sampling rule, and each
  assistant message carries a `phase` that should come back (`Replay.phased`).
- Flavours of Chat server, by model name (`chat_flavour`): OpenRouter's `reasoning_details` (recorded,
  not refused: its refusals are unknown), Ollama, which streams `reasoning` and hangs on a
  `reasoning_content` sent back (`Stalled`), and DeepSeek, which reports its prompt cache as
  `prompt_cache_hit_tokens` and `prompt_cache_miss_tokens` (its context-caching guide), and Kimi, which
  reports it as a top-level `cached_tokens` and streams its usage in `choices[0].usage` (Kimi's chat
  reference as quoted by pi #8075, #2017 and promptfoo #10132, read 2026-11-27).
Each rule's sources and dates are in docs/guides/sim.md.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from lfgtui.sim.scenario import Scenario, SimCall
from lfgtui.sim.wire import BadRequest, Replay, SimRequest, Stalled

ANTHROPIC_THINKING = re.compile(
    r"claude-(?:(?:opus|sonnet|haiku|mythos)-(?:[5-9]|\d\d)|opus-4-(?:[7-9]|\d\d))"
)
"""Claude models that think by default and enforce the thinking of a tool loop coming back."""
ANTHROPIC_OMITTED = re.compile(r"claude-[a-z]+-5-5")
"""Claude models whose thinking is `omitted` unless the request asks for it `summarized`."""
CHAT_REASONING_CONTENT = re.compile(r"(?:.*/)?(?:deepseek-|kimi-)")
CHAT_THOUGHT_SIGNATURE = re.compile(r"(?:.*/)?gemini-(?:[3-9]|\d\d)")
OPENAI_REASONING = re.compile(r"(?:openai/)?gpt-(?:5\.[4-9]|6)")
"""OpenAI's models that reason by default (effort not `none`) and keep Chat Completions' function
tools and sampling for effort `none`: GPT-5.4 to 5.9 and the GPT-6 family, `openai/` allowed."""
OPENAI_NO_NONE = re.compile(r"(?:openai/)?gpt-6(?:-astra|\.1-sol|\.[2-9])")
"""The GPT-6 models with no effort `none` nor `minimal` (low to max): Astra, 6.1 Sol, the 6.2 line on."""
OPENROUTER = re.compile(
    r"(?:anthropic|google|x-ai|deepseek|moonshotai|qwen|z-ai|mistralai|meta-llama|minimax)/"
)
"""A Chat model name with a vendor prefix: OpenRouter's way of naming a model (`openai/` names stay
OpenAI's, as lfg's model lists spell them)."""
OLLAMA = re.compile(r"(?:qwen3|gpt-oss|deepseek-r1)[\w.-]*:[\w.-]+$")
"""An Ollama model tag (`qwen3:8b`, `gpt-oss:20b`, `deepseek-r1:14b`): a name, a colon, a tag."""
SAMPLING = ("temperature", "top_p")

_SEAL = "lfg-sim"


def _digest(text: str) -> str:
    return hashlib.sha256(f"{_SEAL}:{text}".encode()).hexdigest()[:24]


def _sealed(kind: str, text: str) -> str:
    """`text` sealed as a `kind` of opaque state: readable back, and only as the sim wrote it."""
    return f"{kind}{_digest(text)}.{base64.urlsafe_b64encode(text.encode()).decode()}"


def _unsealed(kind: str, value: object) -> str | None:
    """What `_sealed(kind, …)` sealed in `value`; None when it is no such seal, or was changed."""
    if not isinstance(value, str) or not value.startswith(kind):
        return None
    digest, _, sealed = value.removeprefix(kind).partition(".")
    try:
        text = base64.urlsafe_b64decode(sealed.encode()).decode()
    except ValueError:
        return None
    return text if digest == _digest(text) else None


def thinking_signature(thinking: str) -> str:
    """An Anthropic thinking block's signature: the thinking itself, sealed (as the real one holds
    the full thinking, encrypted), so the sim can read back what it signed."""
    return _sealed("EqsimSig", thinking)


def signed_thinking(signature: object) -> str | None:
    """The thinking a signature the sim minted seals; None when it is no such signature."""
    return _unsealed("EqsimSig", signature)


def opaque_reasoning(call: int) -> str:
    """Reasoning nobody may read (Anthropic's `redacted_thinking` data, OpenRouter's
    `reasoning.encrypted`): the index of the model call that made it, sealed."""
    return _sealed("EnsimData", f"call {call}")


def _opaque_of(value: object, call: int) -> bool:
    return _unsealed("EnsimData", value) == f"call {call}"


DEEPSEEK = re.compile(r"deepseek-")
"""A DeepSeek model on DeepSeek's own API, which reports its cache in fields of its own."""
KIMI = re.compile(r"kimi-")
"""A Kimi model on Moonshot's own API, which reports its cache as a top-level `cached_tokens` and
streams its usage in the last chunk's `choices[0].usage`."""


def chat_flavour(model: str) -> str:
    """Which Chat Completions server a model name stands for: "openrouter", "ollama", "deepseek",
    "kimi", or "" (the API of the model's maker, or a server that speaks as it does)."""
    if OPENROUTER.match(model):
        return "openrouter"
    if OLLAMA.match(model):
        return "ollama"
    if DEEPSEEK.match(model):
        return "deepseek"
    if KIMI.match(model):
        return "kimi"
    return ""


def thought_signature(call_id: str) -> str:
    """A Gemini function call's thought signature, sealing the call it came with."""
    return base64.b64encode(f"{_SEAL} thought {call_id} {_digest(call_id)}".encode()).decode()


def _thought_signed(signature: object, call_id: str) -> bool:
    return signature == thought_signature(call_id)


def check(path: str, body: dict[str, Any], request: SimRequest, scenario: Scenario) -> Replay | None:
    """Refuse (`BadRequest`) what the real API at `path` refuses of the request's parameters and
    earlier answers, or stall (`Stalled`) where it hangs; else how much of their reasoning came back
    (None: the protocol has no such state)."""
    match path:
        case "/v1/messages":
            return _anthropic(body, request.model, scenario)
        case "/v1/responses":
            _sampling(body, request.model, _effort(body.get("reasoning")))
            return _responses(body, request.model, request.call_index, scenario)
        case "/v1/chat/completions":
            _chat_parameters(body, request.model)
            return _chat(body, request.model, scenario)
    return None


def _effort(reasoning: object) -> object:
    """The Responses API's `reasoning.effort`, or None when the request leaves it to the model."""
    return reasoning.get("effort") if isinstance(reasoning, dict) else None


def _sampling(body: dict[str, Any], model: str, effort: object) -> None:
    """GPT-5.4 on and GPT-6 take no sampling parameter unless their effort is `none` (their
    default is not), in the words OpenAI's parameter checks use."""
    if not OPENAI_REASONING.match(model) or effort == "none":
        return
    for name in SAMPLING:
        if body.get(name) is not None:
            raise BadRequest(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                param=name,
                code="unsupported_parameter",
            )


def _chat_parameters(body: dict[str, Any], model: str) -> None:
    """GPT-5.4 on and GPT-6 on Chat Completions: an effort they lack, sampling with reasoning, and
    function tools unless the effort is `none` (absent is not `none`) are refused."""
    if not OPENAI_REASONING.match(model):
        return
    effort = body.get("reasoning_effort")
    if effort in ("none", "minimal") and OPENAI_NO_NONE.match(model):
        raise BadRequest(
            f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. Supported "
            "values are: 'low', 'medium', 'high', 'xhigh', and 'max'.",
            param="reasoning_effort",
            code="unsupported_value",
        )
    _sampling(body, model, effort)
    tools = body.get("tools")
    functions = isinstance(tools, list) and any(
        isinstance(tool, dict) and tool.get("type", "function") == "function" for tool in tools
    )
    if functions and effort != "none":
        name = model.removeprefix("openai/")
        raise BadRequest(
            f"Function tools with reasoning_effort are not supported for {name} in "
            "/v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort "
            "to 'none'.",
            param="reasoning_effort",
        )


def anthropic_blocks(answer: SimCall) -> list[str]:
    """The content block types of the sim's Messages answer, in order: redacted thinking, thinking,
    text, then each tool call after the thinking that goes before it."""
    blocks = ["redacted_thinking"] if answer.redacted else []
    blocks += ["thinking"] if answer.reasoning else []
    blocks += ["text"] if answer.text else []
    for call in answer.tool_calls:
        blocks += ["thinking", "tool_use"] if call.reasoning else ["tool_use"]
    return blocks


MODIFIED = (
    "`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. "
    "These blocks must remain as they were in the original response."
)


def _anthropic(body: dict[str, Any], model: str, scenario: Scenario) -> Replay:
    strict = ANTHROPIC_THINKING.search(model) is not None
    messages = [m for m in body.get("messages", ()) if isinstance(m, dict)]
    answers = [(n, m) for n, m in enumerate(messages) if m.get("role") == "assistant"]
    expected = returned = 0
    for call, (n, message) in enumerate(answers):
        latest = n == answers[-1][0]
        content = message.get("content")
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        intact = True
        for b, block in enumerate(blocks):
            if block.get("type") == "thinking":
                said = signed_thinking(block.get("signature"))
                if said is None:
                    raise BadRequest(f"messages.{n}.content.{b}: Invalid `signature` in `thinking` block")
                if block.get("thinking") not in ("", said) and latest:
                    raise BadRequest(f"messages.{n}.content.{b}: {MODIFIED}")
            elif block.get("type") == "redacted_thinking" and not _opaque_of(block.get("data"), call):
                if latest:
                    raise BadRequest(f"messages.{n}.content.{b}: {MODIFIED}")
                intact = False
        wanted = anthropic_blocks(scenario.call(call))
        if not {"thinking", "redacted_thinking"} & set(wanted):
            continue
        expected += 1
        kinds = [block.get("type") for block in blocks]
        if kinds == wanted and intact:
            returned += 1
            continue
        if not strict or not latest or not _in_tool_loop(messages, n):
            continue  # the API strips thinking of turns before the tool loop under way itself
        if not kinds or kinds[0] not in ("thinking", "redacted_thinking"):
            found = kinds[0] if kinds else "nothing"
            raise BadRequest(
                f"messages.{n}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{found}`. When `thinking` is enabled, a final `assistant` message must start with a "
                "thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
                "recommend you include thinking blocks from previous turns. To avoid this requirement, "
                "disable `thinking`. Please consult our documentation at "
                "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
            )
        raise BadRequest(f"messages.{n}.content: {MODIFIED}")
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


def _responses(body: dict[str, Any], model: str, answered: int, scenario: Scenario) -> Replay:
    items = body.get("input")
    if not isinstance(items, list):
        return Replay(0, 0)
    phased, phased_back = _phases(items) if OPENAI_REASONING.match(model) else (0, 0)
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
    return Replay(expected, min(returned, expected), phased, phased_back)


def message_phase(followed_by_calls: bool) -> str:
    """The `phase` of an assistant message: commentary when tool calls follow it in its answer."""
    return "commentary" if followed_by_calls else "final_answer"


def _phases(items: list[Any]) -> tuple[int, int]:
    """Of the input's assistant messages (each of which went out with a phase), how many came back
    with the right one. Nothing is refused: OpenAI says a dropped phase degrades the answers."""
    phased = back = 0
    for n, item in enumerate(items):
        if not (isinstance(item, dict) and item.get("type", "message") == "message"):
            continue
        if item.get("role") != "assistant":
            continue
        rest = []
        for later in items[n + 1 :]:
            if not isinstance(later, dict) or not (_produced(later) or later.get("type") == "reasoning"):
                break
            rest.append(later.get("type"))
        phased += 1
        back += item.get("phase") == message_phase("function_call" in rest or "custom_tool_call" in rest)
    return phased, back


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
    match chat_flavour(model):
        case "openrouter":
            return _openrouter(answers, scenario)
        case "ollama":
            return _ollama(answers, scenario)
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
                    "The `reasoning_content` in the thinking mode must be passed back to the API.",
                    code="invalid_request_error",
                )
    return Replay(expected, returned)


def openrouter_details(reasoning: str, call: int) -> list[dict[str, Any]]:
    """OpenRouter's `reasoning_details` of a whole answer: the reasoning text with its signature,
    then the provider's encrypted part."""
    return [
        {"type": "reasoning.text", "text": reasoning, "signature": thinking_signature(reasoning), "index": 0},
        {"type": "reasoning.encrypted", "data": opaque_reasoning(call), "index": 1},
    ]


def _openrouter(answers: list[dict[str, Any]], scenario: Scenario) -> Replay:
    """OpenRouter wants each answer's `reasoning_details` back as they came; what it answers when
    they do not come back is not documented, so the sim only records it."""
    expected = returned = 0
    for call, message in enumerate(answers):
        reasoning = scenario.call(call).reasoning
        if not reasoning:
            continue
        expected += 1
        details = message.get("reasoning_details")
        details = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
        texts = [d for d in details if d.get("type") == "reasoning.text"]
        sealed = [d for d in details if d.get("type") == "reasoning.encrypted"]
        signed = any(signed_thinking(d.get("signature")) == reasoning == d.get("text") for d in texts)
        returned += signed and any(_opaque_of(d.get("data"), call) for d in sealed)
    return Replay(expected, returned)


def _ollama(answers: list[dict[str, Any]], scenario: Scenario) -> Replay:
    """Ollama streams reasoning as `reasoning` and takes it back so; a `reasoning_content` on an
    answer it is sent makes it hang: the request is taken and never answered."""
    expected = returned = 0
    for call, message in enumerate(answers):
        if scenario.call(call).reasoning:
            expected += 1
            returned += isinstance(message.get("reasoning"), str) and bool(message["reasoning"])
    replay = Replay(expected, returned)
    if any("reasoning_content" in message for message in answers):
        raise Stalled(replay)
    return replay
