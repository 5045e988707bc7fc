"""Scenario files: parsing, clear errors, model-name options."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lfgtui.sim.scenario import (
    FaultKind,
    PromptCache,
    ScenarioError,
    ScenarioLibrary,
    SimToolCall,
    parse_scenario,
    split_tokens,
)
from lfgtui.sim.wire import echoes


def test_every_shipped_scenario_parses() -> None:
    library = ScenarioLibrary(extra_dirs=())
    names = library.names()
    assert {"agent-demo", "long-answer", "hello", "fault-429", "fault-drop", "fault-stall"} <= set(names)
    for name in names:
        assert library.resolve(name).calls


def test_agent_demo_calls_list_dir_then_read_file_then_answers_in_markdown() -> None:
    scenario = ScenarioLibrary(extra_dirs=()).resolve("agent-demo")
    assert [c.name for c in scenario.call(0).tool_calls] == ["list_dir"]
    assert [c.name for c in scenario.call(1).tool_calls] == ["read_file"]
    answer = scenario.call(2).text
    assert "## " in answer and "```python" in answer and "| File |" in answer and "1. " in answer


def test_model_name_options_override_the_file() -> None:
    scenario = ScenarioLibrary(extra_dirs=()).resolve("long-answer:tokens_per_s=200,ttft_ms=10,repeat=2")
    assert (scenario.tokens_per_s, scenario.ttft_ms, scenario.repeat) == (200.0, 10.0, 2)
    base = ScenarioLibrary(extra_dirs=()).resolve("long-answer")
    assert scenario.call(0).text == base.calls[0].text * 2


def test_a_scenario_reports_prompt_cache_tokens_from_its_file_or_its_name(tmp_path: Path) -> None:
    (tmp_path / "cached.toml").write_text("cache_read_tokens = 1200\n[[call]]\ntext = 'a'\n")
    library = ScenarioLibrary(extra_dirs=(tmp_path,))
    assert library.resolve("cached").prompt_cache == PromptCache(read=1200, write=0)
    assert library.resolve("cached:cache_write_tokens=300").prompt_cache == PromptCache(read=1200, write=300)
    assert library.resolve("hello").prompt_cache == PromptCache()


def test_a_model_name_may_make_the_usage_report_any_json_value() -> None:
    model = 'hello:usage_output_tokens=NaN,usage_cache_read_tokens="abc",usage_input_tokens=[1]'
    values = ScenarioLibrary(extra_dirs=()).resolve(model).usage_values
    assert math.isnan(values.pop("output_tokens"))
    assert values == {"cache_read_tokens": "abc", "input_tokens": [1]}


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("long-answer:speed=3", "bad option 'speed=3'"),
        ("hello:usage_output_tokens=abc", "option usage_output_tokens needs a JSON value"),
        ("long-answer:tokens_per_s=fast", "needs a number"),
        ("nope", "unknown sim model 'nope'"),
    ],
)
def test_bad_model_names_say_what_is_wrong(model: str, words: str) -> None:
    with pytest.raises(ScenarioError, match=words):
        ScenarioLibrary(extra_dirs=()).resolve(model)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[call]]\ntext = 'a'\ncolour = 'red'\n", "call[0]: unknown field 'colour'"),
        ("description = 'x'\n", "at least one [[call]]"),
        ("[[call]]\n[[fault]]\nkind = 'explode'\n", "fault[0].kind: must be one of"),
        ("[[call]]\n[[call.tool_call]]\narguments = {}\n", "tool_call[0]: missing field 'name'"),
        (
            "[[call]]\n[[call.tool_call]]\nname = 'exec'\ninput = 'x'\narguments = {}\n",
            "tool_call[0]: input is a freeform tool's whole input; give it without arguments",
        ),
        ("[[call]\n", "my.toml"),
        ("ttft_ms = 'soon'\n[[call]]\n", "my.toml: ttft_ms: expected float, got 'soon'"),
        ("endless = 1\n[[call]]\n", "endless: expected true or false"),
        ("cache_read_tokens = 1.5\n[[call]]\n", "cache_read_tokens: expected int, got 1.5"),
        ("variants = 'hello'\n", "my.toml: variants: expected a list of scenario names"),
    ],
)
def test_broken_files_name_the_file_and_field(text: str, words: str) -> None:
    with pytest.raises(ScenarioError, match=words.replace("[", r"\[").replace(".", r"\.")):
        parse_scenario("my", text, "my.toml")


def test_a_scenario_written_with_turns_is_read_as_calls() -> None:
    """Files written before model calls got their name say `[[turn]]` and a fault's `turn`."""
    old = "[[turn]]\ntext = 'a'\n[[turn]]\ntext = 'b'\n[[fault]]\nkind = 'drop'\nturn = 1\n"
    new = "[[call]]\ntext = 'a'\n[[call]]\ntext = 'b'\n[[fault]]\nkind = 'drop'\ncall = 1\n"
    assert parse_scenario("my", old, "my.toml") == parse_scenario("my", new, "my.toml")
    assert parse_scenario("my", old, "my.toml").faults[0].call == 1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[[call]]\ntext = 'a'\n[[turn]]\ntext = 'b'\n", "my.toml"),
        ("[[call]]\n[[fault]]\nkind = 'drop'\ncall = 1\nturn = 1\n", "my.toml: fault[0]"),
    ],
)
def test_a_call_and_its_old_name_together_are_refused(text: str, where: str) -> None:
    message = f"{where}: turn is the old name of call, which is set too; keep only call"
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_scenario("my", text, "my.toml")


def test_user_scenarios_override_built_in_ones(tmp_path: Path) -> None:
    (tmp_path / "hello.toml").write_text("[[call]]\ntext = 'mine'\n[[fault]]\nkind = 'drop'\ntimes = 1\n")
    scenario = ScenarioLibrary(extra_dirs=(tmp_path,)).resolve("hello")
    assert scenario.call(0).text == "mine"
    assert scenario.faults[0].kind is FaultKind.DROP and scenario.faults[0].times == 1


def test_a_scenario_file_that_cannot_be_read_breaks_only_its_own_model(tmp_path: Path) -> None:
    """Only the file a model plays is read: one not UTF-8 beside it fails that model alone, saying which."""
    (tmp_path / "broken.toml").write_bytes(b"\xff\xfe[[call]]\n")
    library = ScenarioLibrary(extra_dirs=(tmp_path,))
    assert library.resolve("hello").calls and "broken" in library.names()
    with pytest.raises(ScenarioError, match=r"broken\.toml: cannot be read as UTF-8 text"):
        library.resolve("broken")


def test_calls_past_the_script_repeat_the_last_without_tool_calls() -> None:
    scenario = ScenarioLibrary(extra_dirs=()).resolve("parallel-tools")
    assert scenario.call(5) == scenario.calls[-1]
    assert not scenario.call(5).tool_calls


def test_tokens_keep_every_character() -> None:
    text = "## Title\n\n- item `code`\n\n```py\nx = 1\n```\nsupercalifragilistic"
    tokens = split_tokens(text)
    assert "".join(tokens) == text
    assert all(len(t.strip()) <= 8 for t in tokens)


@pytest.mark.parametrize(
    ("written", "carried"),
    [
        ('{"path": "a.txt", "limit": 2.5}', {"path": "a.txt", "limit": 2.5}),
        (" ", {}),
        ('{"path": ', None),
        ('["a.txt"]', None),
        ('{"timeout_s": NaN}', None),
        ('{"timeout_s": -Infinity}', None),
        ('{"timeout_s": [1e999]}', None),
    ],
)
def test_a_tool_calls_arguments_are_an_object_a_wire_carries_or_none(written: str, carried: object) -> None:
    """The sim reads a scenario's arguments itself (it checks lfg's parsing, so it shares none of it)."""
    assert SimToolCall("read_file", written).json_object == carried


def test_a_fault_without_a_message_says_the_default_one() -> None:
    text = '[[call]]\ntext = "hi"\n[[fault]]\nkind = "http"\nstatus = 503\n'
    (fault,) = parse_scenario("my", text, "my.toml").faults
    assert fault.message == "simulated failure"


@pytest.mark.parametrize(
    "body",
    [
        {  # OpenAI chat
            "messages": [
                {"role": "user", "content": "Report:\nthe last line"},
                {"role": "assistant", "tool_calls": []},
                {"role": "tool", "content": "a.txt\nb.txt\n"},
            ]
        },
        {  # Anthropic: results are blocks of a user message
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Report:\nthe last line"}]},
                {"role": "assistant", "content": []},
                {"role": "user", "content": [{"type": "tool_result", "content": "a.txt\nb.txt\n"}]},
            ]
        },
        {  # Responses: input items
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Report:\nthe last line"}]},
                {"type": "function_call", "name": "list_dir"},
                {"type": "function_call_output", "output": "a.txt\nb.txt\n"},
            ]
        },
    ],
)
def test_a_call_echoes_its_requests_prompt_and_tool_results(body: dict[str, object]) -> None:
    script = "{{ result.1.inline }} | {{result.1}}| {{ result.2 }} | {{ prompt.last_line }} | {{ prompt }}"
    scenario = parse_scenario("echo", f"[[call]]\ntext = {script!r}\n", "echo.toml")
    (call,) = scenario.echoing(echoes(body)).calls
    assert call.text == "a.txt, b.txt | a.txt\nb.txt\n|  | the last line | Report:\nthe last line"


def test_a_scenario_without_placeholders_is_answered_as_written() -> None:
    scenario = ScenarioLibrary(extra_dirs=()).resolve("agent-demo")
    assert scenario.echoing(echoes({"messages": [{"role": "user", "content": "hi"}]})) is scenario


def test_a_request_without_tool_results_quotes_the_ones_its_script_gives() -> None:
    """The agent protocols run no real tools: `folder-tour` there describes its scripted folder."""
    scenario = ScenarioLibrary(extra_dirs=()).resolve("folder-tour")
    answer = scenario.echoing(echoes({"model": "folder-tour", "prompt": "What is here?"})).calls[-1]
    assert "In short, this folder holds: README.md, tickets.toml." in answer.text
    assert "{{" not in answer.text
