"""The Gemini API, parsed by the official google-genai SDK: what Gemini CLI needs to run offline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from tests.support.streams import write_scenario

TOOLS = """
ttft_ms = 0
tokens_per_s = 0
[[call]]
reasoning = "Look first."
text = "Writing it."
[[call.tool_call]]
name = "write_file"
arguments = { file_path = "src/app.py", content = "print(1)\\n" }
[[call.tool_call]]
name = "run_shell_command"
arguments = { command = "ls -la" }
[[call]]
text = "Done."
"""
WRITE = ("write_file", {"file_path": "src/app.py", "content": "print(1)\n"})
SHELL = ("run_shell_command", {"command": "ls -la"})


@pytest.fixture
async def gemini(scenario_dir: Path) -> AsyncIterator[tuple[genai.Client, SimServer]]:
    """Gemini's own model names answered by the test's `tools` scenario, as `lfg sim serve --model`."""
    write_scenario(scenario_dir, "tools", TOOLS)
    models = ModelMap((ModelRule("gemini-*", "tools"),))
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=models) as sim:
        client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=sim.url))
        yield client, sim


def calls(parts: list[types.Part]) -> list[tuple[str | None, dict[str, object] | None]]:
    return [(p.function_call.name, p.function_call.args) for p in parts if p.function_call]


async def test_stream_generate_content_streams_thoughts_text_and_whole_function_calls(
    gemini: tuple[genai.Client, SimServer],
) -> None:
    client, sim = gemini
    stream = await client.aio.models.generate_content_stream(model="gemini-2.5-pro", contents="go")
    chunks = [chunk async for chunk in stream]
    parts = [part for chunk in chunks for part in (chunk.candidates or [])[0].content.parts or []]
    assert [p.text for p in parts if p.thought] == ["Look first."], "a thought arrives whole"
    assert "".join(p.text or "" for p in parts if not p.thought) == "Writing it."
    assert calls(parts) == [WRITE, SHELL]
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    usage = last.usage_metadata
    assert usage is not None and usage.thoughts_token_count == 2
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count + 2
    assert sim.log[0].path.endswith("/models/gemini-2.5-pro:streamGenerateContent")
    assert (sim.log[0].model, sim.log[0].scenario) == ("gemini-2.5-pro", "tools")


async def test_generate_content_answers_whole_and_follows_the_conversation(
    gemini: tuple[genai.Client, SimServer],
) -> None:
    client, _ = gemini
    first = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="go")
    assert first.text == "Writing it."
    assert first.candidates and calls(first.candidates[0].content.parts or []) == [WRITE, SHELL]
    assert first.usage_metadata is not None and first.usage_metadata.candidates_token_count
    results = [
        types.Part.from_function_response(name=name, response={"output": "ok"}) for name, _ in (WRITE, SHELL)
    ]
    history = [
        types.Content(role="user", parts=[types.Part.from_text(text="go")]),
        first.candidates[0].content,
        types.Content(role="user", parts=results),
    ]
    second = await client.aio.models.generate_content(model="gemini-2.5-flash", contents=history)
    assert second.text == "Done."


async def test_count_tokens_counts_the_prompt(gemini: tuple[genai.Client, SimServer]) -> None:
    client, _ = gemini
    counted = await client.aio.models.count_tokens(model="gemini-2.5-pro", contents="a longer prompt " * 20)
    assert counted.total_tokens and counted.total_tokens > 20


async def test_gemini_errors_are_google_api_errors(gemini: tuple[genai.Client, SimServer]) -> None:
    client, _ = gemini
    with pytest.raises(errors.ClientError) as refused:
        await client.aio.models.generate_content(model="fault-429", contents="go")
    assert refused.value.code == 429 and refused.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(errors.ClientError) as unknown:
        await client.aio.models.generate_content(model="nothing-like-it", contents="go")
    assert unknown.value.code == 404 and "unknown sim model" in str(unknown.value.message)


async def test_the_v1beta_path_gemini_cli_uses_streams_crlf_framed_events(
    gemini: tuple[genai.Client, SimServer],
) -> None:
    _, sim = gemini
    body = {"contents": [{"role": "user", "parts": [{"text": "go"}]}]}
    url = sim.url + "/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    async with httpx2.AsyncClient() as client:
        response = await client.post(url, json=body, headers={"x-goog-api-key": ""})
    assert response.status_code == 200
    frames = response.text.split("\r\n\r\n")
    assert frames[-1] == "" and all(frame.startswith("data: {") for frame in frames[:-1])
    assert '"finishReason":"STOP"' in frames[-2]


ROUTER_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "complexity_reasoning": {"type": "STRING", "description": "Brief explanation for the score."},
        "complexity_score": {"type": "INTEGER", "description": "Complexity score from 1-100."},
    },
    "required": ["complexity_reasoning", "complexity_score"],
}
"""Gemini CLI 0.61's numerical router: it retries an answer that is not JSON for over a minute."""


async def test_a_request_for_json_gets_json_its_schema_allows(gemini: tuple[genai.Client, SimServer]) -> None:
    client, sim = gemini
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=ROUTER_SCHEMA
    )
    routed = await client.aio.models.generate_content(model="gemini-3-flash", contents="go", config=config)
    assert json.loads(routed.text or "") == {"complexity_reasoning": "sim", "complexity_score": 1}
    speaker = types.Schema(
        type=types.Type.OBJECT,
        properties={
            "reasoning": types.Schema(type=types.Type.STRING),
            "next_speaker": types.Schema(type=types.Type.STRING, enum=["user", "model"]),
            "confidence": types.Schema(type=types.Type.NUMBER),
            "steps": types.Schema(type=types.Type.ARRAY, min_items=1, items=types.Schema(type="BOOLEAN")),
        },
    )
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=speaker)
    model = "gemini-3-flash"
    stream = await client.aio.models.generate_content_stream(model=model, contents="go", config=config)
    text = "".join([chunk.text or "" async for chunk in stream])
    assert json.loads(text) == {"reasoning": "sim", "next_speaker": "user", "confidence": 0, "steps": [False]}
    assert [record.scenario for record in sim.log] == ["tools", "tools"], "the scenario still paces it"


async def test_a_scenario_that_answers_json_itself_is_not_replaced(
    scenario_dir: Path, gemini: tuple[genai.Client, SimServer]
) -> None:
    client, _ = gemini
    write_scenario(scenario_dir, "router", 'ttft_ms = 0\n[[call]]\ntext = \'{"model_choice": "pro"}\'\n')
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=ROUTER_SCHEMA
    )
    answer = await client.aio.models.generate_content(model="router", contents="go", config=config)
    assert json.loads(answer.text or "") == {"model_choice": "pro"}
    plain = await client.aio.models.generate_content(model="gemini-3-flash", contents="go")
    assert plain.text == "Writing it.", "without a JSON request the scenario's prose"
