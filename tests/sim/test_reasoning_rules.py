"""The sim refuses what the real APIs refuse of today's reasoning models, in their words, and emits
the reasoning state they emit (sim/reasoning_rules.py): each through the real SDK, with what the
sim's log records of the reasoning that came back; then lfg's own adapters against the same rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from lfgtui.events import Outcome, Status
from lfgtui.providers.anthropic import REDACTED as SAID_REDACTED
from lfgtui.providers.anthropic import AnthropicProvider
from lfgtui.providers.base import ModelCall, UserMessage
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.providers.openai_responses import OpenAIResponsesProvider
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import FaultKind, ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.patience import PATIENCE
from tests.support.reasoning import Flavour, attempt, ended, provider
from tests.support.streams import write_scenario

READ_FILE = {
    "name": "read_file",
    "description": "Read a file.",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
}
CHAT_TOOL = {
    "type": "function",
    "function": {"name": "read_file", "parameters": READ_FILE["input_schema"]},
}
ASK = [{"role": "user", "content": "What do the notes say?"}]

REDACTED = """
[[call]]
redacted = true
reasoning = "I should read notes.txt before I answer."
text = "Let me read the notes."
[[call.tool_call]]
name = "read_file"
arguments = { path = "notes.txt" }
[[call]]
text = "The notes say: {{ result.1 }}"
"""
BETWEEN_TOOLS = """
[[call]]
reasoning = "I should read the notes first."
[[call.tool_call]]
name = "read_file"
arguments = { path = "notes.txt" }
[[call.tool_call]]
name = "read_file"
arguments = { path = "plan.txt" }
reasoning = "The notes may not say when; the plan will."
[[call]]
text = "The notes say: {{ result.1 }}"
"""
MODELS = {
    # the model names a test asks for, and the scenario that answers them
    "claude-opus-5": "think-redacted",
    "claude-sonnet-5-5": "think-between",
    "anthropic/claude-sonnet-5-5": "think-tools",
    "qwen3:8b": "think-tools",
    "gpt-5.4": "hello",
    "gpt-5.6-terra": "hello",
    "gpt-6-luna": "think-tools",
    "openai/gpt-6-sol": "hello",
    "gpt-6.2-sol": "hello",
    "gpt-6.2-astra": "hello",
    "gpt-6-astra": "hello",
    "gpt-5.2": "hello",
    "deepseek-v4-pro": "think-tools",
}


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    write_scenario(scenario_dir, "think-redacted", REDACTED)
    write_scenario(scenario_dir, "think-between", BETWEEN_TOOLS)
    rules = tuple(ModelRule(model, scenario) for model, scenario in MODELS.items())
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(rules)) as server:
        yield server


def chat_client(sim: SimServer, timeout: float = 30) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=sim.url + "/v1", api_key="sk-sim", max_retries=0, timeout=timeout * PATIENCE
    )


def claude(sim: SimServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=sim.url, api_key="sk-ant-sim", max_retries=0)


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict)
    return body.get("error", body)


# --- OpenAI's parameter rules -------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5.4", "gpt-5.6-terra", "gpt-6-luna", "openai/gpt-6-sol"])
@pytest.mark.parametrize("effort", [None, "low"])
async def test_function_tools_on_chat_need_effort_none(
    sim: SimServer, model: str, effort: str | None
) -> None:
    extra = {} if effort is None else {"reasoning_effort": effort}
    async with chat_client(sim) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model=model, messages=ASK, tools=[CHAT_TOOL], **extra)
        name = model.removeprefix("openai/")
        assert refused.value.status_code == 400
        assert error_of(refused.value) == {
            "message": f"Function tools with reasoning_effort are not supported for {name} in "
            "/v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort "
            "to 'none'.",
            "type": "invalid_request_error",
            "param": "reasoning_effort",
            "code": None,
        }
        answer = await client.chat.completions.create(
            model=model, messages=ASK, tools=[CHAT_TOOL], reasoning_effort="none"
        )
    assert answer.choices[0].message.content


async def test_older_models_keep_their_tools_on_chat(sim: SimServer) -> None:
    async with chat_client(sim) as client:
        answer = await client.chat.completions.create(model="gpt-5.2", messages=ASK, tools=[CHAT_TOOL])
    assert answer.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("effort", ["none", "minimal"])
@pytest.mark.parametrize("model", ["gpt-6.2-sol", "gpt-6.2-astra", "gpt-6-astra"])
async def test_the_gpt_6_models_without_effort_none_refuse_it(
    sim: SimServer, model: str, effort: str
) -> None:
    """Low to max: `none` and `minimal` refused (GPT-6.2's launch notes as LiteLLM #52347 quotes them,
    read 2026-11-27), in OpenAI's words for a value a parameter does not take."""
    async with chat_client(sim) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model=model, messages=ASK, reasoning_effort=effort)  # type: ignore[arg-type]
        assert error_of(refused.value) == {
            "message": f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. "
            "Supported values are: 'low', 'medium', 'high', 'xhigh', and 'max'.",
            "type": "invalid_request_error",
            "param": "reasoning_effort",
            "code": "unsupported_value",
        }
        assert await client.chat.completions.create(model=model, messages=ASK, reasoning_effort="low")
        assert await client.chat.completions.create(model="gpt-6-luna", messages=ASK, reasoning_effort="none")


@pytest.mark.parametrize("name", ["temperature", "top_p"])
async def test_sampling_needs_effort_none_on_chat_and_responses(sim: SimServer, name: str) -> None:
    unsupported = {
        "message": f"Unsupported parameter: '{name}' is not supported with this model.",
        "type": "invalid_request_error",
        "param": name,
        "code": "unsupported_parameter",
    }
    async with chat_client(sim) as client:
        with pytest.raises(openai.BadRequestError) as on_chat:
            await client.chat.completions.create(model="gpt-6-luna", messages=ASK, **{name: 0.2})
        with pytest.raises(openai.BadRequestError) as on_responses:
            await client.responses.create(
                model="gpt-5.6-terra", input="Hi", reasoning={"effort": "medium"}, **{name: 0.2}
            )
        assert error_of(on_chat.value) == error_of(on_responses.value) == unsupported
        assert await client.chat.completions.create(
            model="gpt-6-luna", messages=ASK, reasoning_effort="none", **{name: 0.2}
        )
        assert await client.responses.create(
            model="gpt-5.6-terra", input="Hi", reasoning={"effort": "none"}, **{name: 0.2}
        )
        assert await client.chat.completions.create(model="gpt-5.2", messages=ASK, **{name: 0.2})


# --- Anthropic: redacted thinking, and thinking between tool calls ---------------------------------


async def first_answer(client: anthropic.AsyncAnthropic, model: str) -> anthropic.types.Message:
    async with client.messages.stream(model=model, max_tokens=4096, messages=ASK, tools=[READ_FILE]) as s:
        return await s.get_final_message()


def follow_up(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with `blocks` as the answer and a result for each of its tool calls."""
    results = [
        {"type": "tool_result", "tool_use_id": b["id"], "content": "Ship on Friday."}
        for b in blocks
        if b["type"] == "tool_use"
    ]
    return [*ASK, {"role": "assistant", "content": blocks}, {"role": "user", "content": results}]


def blocks_of(message: anthropic.types.Message) -> list[dict[str, Any]]:
    return [block.model_dump(mode="json", exclude_none=True) for block in message.content]


async def test_redacted_thinking_comes_first_and_must_come_back_unchanged(sim: SimServer) -> None:
    async with claude(sim) as client:
        answer = await first_answer(client, "claude-opus-5")
        blocks = blocks_of(answer)
        assert [b["type"] for b in blocks] == ["redacted_thinking", "thinking", "text", "tool_use"]
        assert isinstance(answer.content[0], anthropic.types.RedactedThinkingBlock)
        assert answer.content[0].data

        changed = [{**blocks[0], "data": blocks[0]["data"][:-4] + "AAAA"}, *blocks[1:]]
        with pytest.raises(anthropic.BadRequestError) as modified:
            await client.messages.create(model="claude-opus-5", max_tokens=4096, messages=follow_up(changed))
        assert modified.value.status_code == 400
        assert modified.value.body["error"]["message"] == (  # type: ignore[index]
            "messages.1.content.0: `thinking` or `redacted_thinking` blocks in the latest assistant "
            "message cannot be modified. These blocks must remain as they were in the original response."
        )
        with pytest.raises(anthropic.BadRequestError) as dropped:
            await client.messages.create(
                model="claude-opus-5", max_tokens=4096, messages=follow_up(blocks[1:])
            )
        assert "cannot be modified" in dropped.value.body["error"]["message"]  # type: ignore[index]
        assert sim.log[-1].replay is None and sim.log[-1].status == 400

        again = await client.messages.create(
            model="claude-opus-5", max_tokens=4096, messages=follow_up(blocks)
        )
    assert again.content[0].text == "The notes say: Ship on Friday."  # type: ignore[union-attr]
    replay = sim.log[-1].replay
    assert replay is not None and replay.expected == replay.returned == 1


async def test_thinking_between_tool_calls_is_a_block_of_its_own_and_keeps_its_place(sim: SimServer) -> None:
    async with claude(sim) as client:
        answer = await first_answer(client, "claude-sonnet-5-5")
        blocks = blocks_of(answer)
        assert [b["type"] for b in blocks] == ["thinking", "tool_use", "thinking", "tool_use"]
        assert all(b["thinking"] == "" and b["signature"] for b in blocks if b["type"] == "thinking")

        merged = [blocks[0], blocks[2], blocks[1], blocks[3]]  # every thinking first, as lfg used to
        with pytest.raises(anthropic.BadRequestError) as reordered:
            await client.messages.create(
                model="claude-sonnet-5-5", max_tokens=4096, messages=follow_up(merged)
            )
        assert reordered.value.body["error"]["message"] == (  # type: ignore[index]
            "messages.1.content: `thinking` or `redacted_thinking` blocks in the latest assistant "
            "message cannot be modified. These blocks must remain as they were in the original response."
        )
        await client.messages.create(model="claude-sonnet-5-5", max_tokens=4096, messages=follow_up(blocks))
    replay = sim.log[-1].replay
    assert sim.log[-1].status == 200 and replay is not None and replay.whole and replay.expected == 1


async def test_a_non_streaming_answer_has_the_streamed_blocks(sim: SimServer) -> None:
    async with claude(sim) as client:
        whole = await client.messages.create(
            model="claude-sonnet-5-5", max_tokens=4096, messages=ASK, tools=[READ_FILE]
        )
        streamed = await first_answer(client, "claude-sonnet-5-5")
    assert blocks_of(whole) == blocks_of(streamed)


# --- Responses: phase ----------------------------------------------------------------------------


async def test_responses_messages_carry_their_phase_and_the_log_says_if_it_came_back(sim: SimServer) -> None:
    async with chat_client(sim) as client:
        first = await client.responses.create(model="gpt-6-luna", input="What do the notes say?", store=False)
        items = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
        message = next(i for i in items if i["type"] == "message")
        assert message["phase"] == "commentary"  # function calls follow it
        call = next(i for i in items if i["type"] == "function_call")
        result = {"type": "function_call_output", "call_id": call["call_id"], "output": "Ship on Friday."}
        question = {"role": "user", "content": "What do the notes say?"}

        final = await client.responses.create(
            model="gpt-6-luna", input=[question, *items, result], store=False
        )
        assert final.output[-1].phase == "final_answer"  # type: ignore[union-attr]
        kept = sim.log[-1].replay
        stripped = [{k: v for k, v in i.items() if k != "phase"} for i in items]
        await client.responses.create(model="gpt-6-luna", input=[question, *stripped, result], store=False)
    lost = sim.log[-1].replay
    assert kept is not None and (kept.phased, kept.phased_back) == (1, 1) and kept.whole
    assert lost is not None and (lost.phased, lost.phased_back) == (1, 0) and not lost.whole
    assert sim.log[-1].status == 200, "a dropped phase degrades the answers, it is not refused"


# --- Chat flavours: OpenRouter and Ollama ----------------------------------------------------------


async def streamed(client: openai.AsyncOpenAI, model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One streamed Chat answer, rebuilt as a message (tool calls and the server's own fields)."""
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    calls: dict[int, dict[str, Any]] = {}
    stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
    async for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        message["content"] += delta.content or ""
        for name, value in (delta.model_extra or {}).items():
            if isinstance(value, str):
                message[name] = message.get(name, "") + value
            else:
                message.setdefault(name, []).extend(value)
        for tc in delta.tool_calls or ():
            call = calls.setdefault(
                tc.index, {"id": tc.id, "type": "function", "function": {"arguments": ""}}
            )
            if tc.function and tc.function.name:
                call["function"]["name"] = tc.function.name
            call["function"]["arguments"] += (tc.function and tc.function.arguments) or ""
    message["tool_calls"] = list(calls.values())
    return message


def with_result(answer: dict[str, Any]) -> list[dict[str, Any]]:
    result = {"role": "tool", "tool_call_id": answer["tool_calls"][0]["id"], "content": "Ship on Friday."}
    return [*ASK, answer, result]


async def test_openrouter_streams_reasoning_details_and_the_log_says_if_they_came_back(
    sim: SimServer,
) -> None:
    model = "anthropic/claude-sonnet-5-5"
    async with chat_client(sim) as client:
        answer = await streamed(client, model, ASK)
        assert "reasoning_content" not in answer
        assert answer["reasoning"].startswith("The person asks what the notes say.")
        kinds = [(d["type"], d["index"]) for d in answer["reasoning_details"]]
        assert kinds[-2:] == [("reasoning.text", 0), ("reasoning.encrypted", 1)]
        merged = [
            {
                "type": "reasoning.text",
                "text": answer["reasoning"],
                "signature": answer["reasoning_details"][-2]["signature"],
                "index": 0,
            },
            answer["reasoning_details"][-1],
        ]
        await streamed(client, model, with_result({**answer, "reasoning_details": merged}))
        kept = sim.log[-1].replay
        await streamed(
            client, model, with_result({k: v for k, v in answer.items() if k != "reasoning_details"})
        )
    lost = sim.log[-1].replay
    assert kept is not None and kept.expected == kept.returned == 1
    assert lost is not None and (lost.expected, lost.returned) == (1, 0)
    assert sim.log[-1].status == 200


async def test_ollama_streams_reasoning_and_hangs_on_reasoning_content(sim: SimServer) -> None:
    async with chat_client(sim, timeout=2) as client:
        answer = await streamed(client, "qwen3:8b", ASK)
        assert answer["reasoning"].startswith("The person asks") and "reasoning_content" not in answer
        await streamed(client, "qwen3:8b", with_result(answer))
        assert sim.log[-1].replay is not None and sim.log[-1].replay.whole
        renamed = {
            **{k: v for k, v in answer.items() if k != "reasoning"},
            "reasoning_content": answer["reasoning"],
        }
        with pytest.raises(openai.APITimeoutError):
            await streamed(client, "qwen3:8b", with_result(renamed))
    hung = sim.log[-1]
    await hung.disconnected.wait()
    assert hung.fault is FaultKind.STALL and hung.status == 0 and not hung.token_times
    assert hung.replay is not None and (hung.replay.expected, hung.replay.returned) == (1, 0)


# --- lfg's own adapters against the new rules ------------------------------------------------------


ADAPTERS = [
    Flavour("anthropic-redacted", "claude-opus-5", AnthropicProvider, "anthropic", ""),
    Flavour("anthropic-between-tools", "claude-sonnet-5-5", AnthropicProvider, "anthropic", ""),
    Flavour("openai-phase", "gpt-6-luna", OpenAIResponsesProvider, "openai-responses", "/v1"),
    Flavour("openrouter", "anthropic/claude-sonnet-5-5", OpenAIChatProvider, "openai", "/v1"),
    Flavour("ollama", "qwen3:8b", OpenAIChatProvider, "openai", "/v1"),
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("Ship on Friday.\n")
    (tmp_path / "plan.txt").write_text("Friday, after the review.\n")
    return tmp_path


async def test_deepseek_refuses_a_thinking_tool_round_whose_reasoning_content_did_not_come_back(
    sim: SimServer,
) -> None:
    """As DeepSeek's API does (its thinking-mode guide, read 2026-11-27, and the 400 its users quote):
    an answer that called a tool in thinking mode must come back with its `reasoning_content`."""
    client = chat_client(sim)
    first = await client.chat.completions.create(model="deepseek-v4-pro", messages=ASK, tools=[CHAT_TOOL])  # type: ignore[arg-type, list-item]
    message = first.choices[0].message
    reasoning = (message.model_extra or {})["reasoning_content"]
    assert reasoning.startswith("The person asks") and message.tool_calls
    call = message.tool_calls[0]
    answer: dict[str, Any] = {
        "role": "assistant",
        "content": message.content,
        "tool_calls": [{"id": call.id, "type": "function", "function": call.function.model_dump()}],
    }
    result = {"role": "tool", "tool_call_id": call.id, "content": "Ship on Friday."}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="deepseek-v4-pro",
            messages=[*ASK, answer, result],
            tools=[CHAT_TOOL],  # type: ignore[list-item]
        )
    assert caught.value.status_code == 400
    assert error_of(caught.value) == {
        "message": "The `reasoning_content` in the thinking mode must be passed back to the API.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_request_error",
    }
    answer["reasoning_content"] = reasoning
    second = await client.chat.completions.create(
        model="deepseek-v4-pro",
        messages=[*ASK, answer, result],
        tools=[CHAT_TOOL],  # type: ignore[list-item]
    )
    assert second.choices[0].message.content == "The notes say: Ship on Friday."
    assert sim.log[-1].replay is not None and sim.log[-1].replay.whole


def with_tools(model: str) -> ModelCall:
    """The question, with the read_file tool offered as a ticket offers it."""
    question = (UserMessage("What do the notes say?"),)
    return ModelCall(model=model, messages=question, tools=(BUILTIN_TOOLS["read_file"].spec,))


@pytest.mark.parametrize("flavour", ADAPTERS, ids=lambda f: f.name)
async def test_lfgs_adapters_send_the_new_reasoning_state_back(
    flavour: Flavour, sim: SimServer, workdir: Path
) -> None:
    events = await attempt(provider(flavour, sim), with_tools(flavour.model), workdir)
    assert ended(events).outcome is Outcome.COMPLETED, ended(events).error
    last = sim.log[-1]
    assert last.status == 200 and last.call_index == 1
    assert last.replay is not None and last.replay.expected == 1 and last.replay.whole, last.replay
    redacted = [e for e in events if isinstance(e, Status) and e.message == SAID_REDACTED]
    assert len(redacted) == (1 if flavour.name == "anthropic-redacted" else 0), "shown as redacted, once"


async def test_lfgs_chat_adapter_on_gpt_6_sends_effort_none_with_its_tools(
    sim: SimServer, workdir: Path
) -> None:
    chat = Flavour("openai-chat", "gpt-6-luna", OpenAIChatProvider, "openai", "/v1")
    events = await attempt(provider(chat, sim), with_tools(chat.model), workdir)
    assert ended(events).outcome is Outcome.COMPLETED, ended(events).error


async def test_the_sim_refuses_a_tool_use_not_answered_by_tool_results_opening_the_next_message(
    sim: SimServer,
) -> None:
    """As the Messages API does: the user turn after a `tool_use` opens with its `tool_result` blocks;
    text (a steer) may follow them, never precede them, and no message may come between."""
    asked = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read", "input": {}}]}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
    steer = {"type": "text", "text": "answer in French"}
    opening = {"role": "user", "content": "go"}

    async def status(*after: dict[str, object]) -> int:
        body = {"model": "hello", "max_tokens": 10, "messages": [opening, asked, *after]}
        async with httpx2.AsyncClient() as client:
            answer = await client.post(sim.url + "/v1/messages", json=body)
        if answer.status_code == 400:
            assert (
                "`tool_use` ids were found without `tool_result` blocks immediately after: t1" in answer.text
            )
        return answer.status_code

    assert await status({"role": "user", "content": [result, steer]}) == 200
    assert await status({"role": "user", "content": [steer, result]}) == 400
    assert (
        await status({"role": "user", "content": "answer in French"}, {"role": "user", "content": [result]})
        == 400
    )
