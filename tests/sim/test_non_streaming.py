"""Non-streaming answers (`stream` false or absent) on every model protocol, parsed by the official SDKs.

Real agents fall back to them (Claude Code retries a failed stream without streaming) and make side
calls with them, so the sim answers them in each API's own response shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from lfgtui.sim.server import SimServer
from tests.support.streams import write_scenario

TOOLS = """
ttft_ms = 0
tokens_per_s = 0
[[call]]
reasoning = "Look first."
text = "Writing it."
[[call.tool_call]]
name = "Write"
arguments = { file_path = "src/app.py", content = "print(1)\\n" }
[[call.tool_call]]
name = "Bash"
arguments = { command = "ls -la" }
[[call]]
text = "Done."
"""
USER = [{"role": "user", "content": "go"}]


async def test_chat_completions_answer_whole_when_not_streaming(sim: SimServer, scenario_dir: Path) -> None:
    model = write_scenario(scenario_dir, "tools", TOOLS)
    client = openai.AsyncOpenAI(api_key="x", base_url=sim.url + "/v1", max_retries=0)
    async with client:
        first = await client.chat.completions.create(model=model, messages=USER)
        second = await client.chat.completions.create(
            model=model,
            messages=[
                *USER,
                first.choices[0].message.model_dump(exclude_none=True),
                {"role": "user", "content": "ok"},
            ],
            stream=False,
        )
    message = first.choices[0].message
    assert message.content == "Writing it."
    assert first.choices[0].finish_reason == "tool_calls"
    calls = message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("Write", {"file_path": "src/app.py", "content": "print(1)\n"}),
        ("Bash", {"command": "ls -la"}),
    ]
    assert first.usage is not None and first.usage.completion_tokens > 0
    assert first.model == model
    assert second.choices[0].message.content == "Done."
    assert second.choices[0].finish_reason == "stop"


async def test_responses_answer_whole_when_not_streaming(sim: SimServer, scenario_dir: Path) -> None:
    model = write_scenario(scenario_dir, "tools", TOOLS)
    client = openai.AsyncOpenAI(api_key="x", base_url=sim.url + "/v1", max_retries=0)
    async with client:
        response = await client.responses.create(model=model, input="go")
    assert response.status == "completed"
    assert [item.type for item in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert response.output_text == "Writing it."
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("Write", {"file_path": "src/app.py", "content": "print(1)\n"}),
        ("Bash", {"command": "ls -la"}),
    ]
    assert response.usage is not None and response.usage.output_tokens > 0


async def test_anthropic_messages_answer_whole_when_not_streaming(sim: SimServer, scenario_dir: Path) -> None:
    model = write_scenario(scenario_dir, "tools", TOOLS)
    client = anthropic.AsyncAnthropic(api_key="x", base_url=sim.url, max_retries=0)
    async with client:
        message = await client.messages.create(model=model, max_tokens=1024, messages=USER)
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    thinking, text, write, bash = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Look first." and thinking.signature
    assert text.type == "text" and text.text == "Writing it."
    assert write.type == "tool_use" and (write.name, write.input) == (
        "Write",
        {"file_path": "src/app.py", "content": "print(1)\n"},
    )
    assert bash.type == "tool_use" and bash.input == {"command": "ls -la"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens > 1
    assert message.model == model


async def test_a_non_streaming_answer_meets_its_faults(sim: SimServer, scenario_dir: Path) -> None:
    """An error event due mid-answer is a 500 in the provider's shape; a malformed chunk a cut-off body."""
    answer = "[[call]]\ntext = 'one two three'\n[[fault]]\n"
    error = answer + "kind = 'error_event'\nafter_tokens = 2\nmessage = 'boom'\n"
    malformed = answer + "kind = 'malformed'\nafter_tokens = 1\n"
    body = {"messages": USER, "max_tokens": 10}
    async with httpx2.AsyncClient() as client:
        failed = await client.post(
            sim.url + "/v1/messages", json=body | {"model": write_scenario(scenario_dir, "err", error)}
        )
        broken = await client.post(
            sim.url + "/v1/messages", json=body | {"model": write_scenario(scenario_dir, "bad", malformed)}
        )
    assert failed.status_code == 500
    assert failed.json()["error"]["message"] == "boom"
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert [record.fault for record in sim.log] == ["error_event", "malformed"]
