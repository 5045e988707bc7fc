"""tickets.toml: defaults, the provider chosen when none is named, and one test per validation error."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from lfgtui.config.load import Config, load_config
from lfgtui.config.validation import ValidationError
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import MAX_PROMPT_CHARS, PromptTooLong, Ticket, TicketFile, render_prompt
from tests.support.lfg import many_tickets

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("read_file", "list_dir", "search_files", "write_file", "run_command")
NO_KEYS: dict[str, str] = {}


def write(tmp_path: Path, text: str, name: str = "tickets.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, env: Mapping[str, str] = NO_KEYS, config: Config | None = None) -> TicketFile:
    return load_tickets(path, config or Config(path=None), TOOLS, env=env)


def problems(path: Path, env: Mapping[str, str] = NO_KEYS, config: Config | None = None) -> list[str]:
    """The problem lines `load_tickets` reports for `path`."""
    with pytest.raises(ValidationError) as caught:
        load(path, env, config)
    return str(caught.value).splitlines()


def one_problem(path: Path, env: Mapping[str, str] = NO_KEYS) -> str:
    (message,) = problems(path, env)
    return message


def lines_run(path: Path) -> int:
    """The Python lines run to load `path`: work counted the same way on any machine, unlike time."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += event == "line"
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        loaded = load(path)
    finally:
        sys.settrace(previous)
    assert len(loaded.tickets) > 1
    return count


def test_valid_file_round_trip(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    path = write(
        tmp_path,
        """
[[ticket]]
id = "first"
title = "The first one"
prompt = "Do the thing."
system = "Be brief."
provider = "sim"
model = "hello"
tools = ["read_file", "list_dir"]
max_calls = 5
max_tokens = 1000
temperature = 1
workdir = "work"
auto_approve = ["read_file"]

[[ticket]]
id = "second"
prompt = "Then this."
depends_on = ["first"]
auto_approve = true
""",
    )
    loaded = load(path)
    assert loaded.path == path
    first, second = loaded.tickets
    assert first == Ticket(
        id="first",
        prompt="Do the thing.",
        title="The first one",
        system="Be brief.",
        provider="sim",
        model="hello",
        tools=("read_file", "list_dir"),
        max_calls=5,
        max_tokens=1000,
        temperature=1.0,
        workdir=(tmp_path / "work").resolve(),
        depends_on=(),
        auto_approve=frozenset({"read_file"}),
        auto_approve_all=False,
        line=2,
    )
    assert second.title == "second"
    assert second.system is None
    assert second.tools == ()
    assert second.max_calls == 20
    assert (second.max_tokens, second.temperature) == (None, None)
    assert second.workdir == tmp_path.resolve()
    assert second.depends_on == ("first",)
    assert second.auto_approve_all
    assert second.line == 16


def test_defaults_are_inherited_and_overridden(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    path = write(
        tmp_path,
        """
[defaults]
provider = "sim"
model = "reasoning"
system = "Think."
tools = ["read_file"]
max_calls = 3
max_tokens = 64
temperature = 0.5
workdir = "shared"
auto_approve = ["read_file"]

[[ticket]]
id = "inherits"
prompt = "p"

[[ticket]]
id = "overrides"
prompt = "p"
model = "hello"
tools = ["list_dir"]
max_calls = 9
""",
    )
    inherits, overrides = load(path).tickets
    assert (inherits.provider, inherits.model, inherits.system) == ("sim", "reasoning", "Think.")
    assert (inherits.tools, inherits.max_calls, inherits.max_tokens) == (("read_file",), 3, 64)
    assert inherits.temperature == 0.5
    assert inherits.workdir == (tmp_path / "shared").resolve()
    assert inherits.auto_approve == frozenset({"read_file"})
    assert (overrides.model, overrides.tools, overrides.max_calls) == ("hello", ("list_dir",), 9)
    assert overrides.system == "Think."


def test_model_falls_back_to_the_providers_default_model(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim"\n')
    assert load(path).tickets[0].model == Config(path=None).providers["sim"].default_model


def test_no_provider_and_no_key_runs_everything_on_the_sim(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n\n[[ticket]]\nid = "b"\nprompt = "p"\n')
    loaded = load(path, env={})
    assert loaded.offline_default
    assert [ticket.provider for ticket in loaded.tickets] == ["sim", "sim"]


def test_no_provider_with_an_openai_key_uses_openai(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n')
    loaded = load(path, env={"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant"})
    assert not loaded.offline_default
    assert loaded.tickets[0].provider == "openai"
    assert loaded.tickets[0].model == Config(path=None).providers["openai"].default_model


def test_no_provider_with_only_an_anthropic_key_uses_anthropic(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n')
    loaded = load(path, env={"ANTHROPIC_API_KEY": "sk-ant"})
    assert not loaded.offline_default
    assert loaded.tickets[0].provider == "anthropic"


def test_naming_the_sim_is_not_the_offline_default(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\nprovider = "sim"\n\n[[ticket]]\nid = "a"\nprompt = "p"\n')
    loaded = load(path, env={})
    assert not loaded.offline_default
    assert loaded.tickets[0].provider == "sim"


def test_a_provider_from_the_config_file_can_be_used(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path, '[providers.local]\nkind = "openai"\nbase_url = "http://localhost:8000/v1"\n', "c.toml"
        ),
        env={},
    )
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "local"\nmodel = "qwen"\n')
    ticket = load(path, config=config).tickets[0]
    assert (ticket.provider, ticket.model) == ("local", "qwen")


def test_render_prompt_fills_outputs_with_or_without_spaces(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[ticket]]
id = "a"
prompt = "p"
[[ticket]]
id = "b-2"
prompt = "p"
[[ticket]]
id = "c"
prompt = "A: {{ outputs.a }} / B: {{outputs.b-2}} / again: {{  outputs.a  }}"
depends_on = ["a", "b-2"]
""",
    )
    ticket = load(path).tickets[2]
    rendered = render_prompt(ticket, {"a": "alpha \\1 $0", "b-2": "beta"})
    assert rendered == "A: alpha \\1 $0 / B: beta / again: alpha \\1 $0"


def test_render_prompt_without_the_dependency_output_raises(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\n'
        '[[ticket]]\nid = "b"\nprompt = "{{ outputs.a }}"\ndepends_on = ["a"]\n',
    )
    with pytest.raises(KeyError, match="'a'"):
        render_prompt(load(path).tickets[1], {})


def test_render_prompt_past_the_cap_names_the_answer_and_the_cap(tmp_path: Path) -> None:
    """Quoting an answer many times once made prompts of 100 MB, sent only to fail as `connection`."""
    quoted = " ".join(["{{ outputs.a }}"] * 40)
    dependent_toml = f'[[ticket]]\nid = "b"\nprompt = "{quoted}"\ndepends_on = ["a"]\n'
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n' + dependent_toml)
    dependent = load(path).tickets[1]
    answer = "x" * ((MAX_PROMPT_CHARS - 39) // 40)
    assert len(render_prompt(dependent, {"a": answer})) == 40 * len(answer) + 39
    with pytest.raises(PromptTooLong) as caught:
        render_prompt(dependent, {"a": answer + "y"})
    assert str(caught.value) == (
        f"the prompt with the output of 'a' ({len(answer) + 1:,} characters) filled in would be longer "
        f"than {MAX_PROMPT_CHARS:,} characters, lfg's cap on a prompt; nothing was sent"
    )


def test_prompt_quoting_a_ticket_not_in_depends_on_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\n\n[[ticket]]\nid = "b"\nprompt = "Use {{ outputs.a }}"\n',
    )
    assert one_problem(path) == (
        f"{path}:7: ticket 'b': the prompt uses {{{{ outputs.a }}}} but 'a' is not in depends_on; "
        "add it there"
    )


def test_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = = "p"\n')
    message = one_problem(path)
    assert message.startswith(f"{path}:3: TOML syntax error at line 3, column 10")


def test_missing_tickets_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"nope\.toml: file not found"):
        load(tmp_path / "nope.toml")


def test_unknown_field_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n\n[[ticket]]\nid = "b"\npromt = "p"\n')
    messages = problems(path)
    assert messages[0] == f"{path}:5: ticket 'b': missing prompt"
    assert messages[1].startswith(f"{path}:7: ticket 'b': unknown field 'promt' (did you mean 'prompt'?)")


def test_unknown_top_level_table_suggests_ticket(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n\n[[tickets]]\nid = "b"\n')
    assert one_problem(path).startswith(
        f"{path}:5: top level: unknown field 'tickets' (did you mean 'ticket'?)"
    )


def test_a_config_section_in_a_tickets_file_says_where_it_belongs(tmp_path: Path) -> None:
    """A guide's [providers.X] pasted into a tickets file: the error points at the config file."""
    path = write(tmp_path, '[providers.mine]\nkind = "sim"\n\n[[ticket]]\nid = "a"\nprompt = "p"\n')
    assert one_problem(path) == (
        f"{path}:1: top level: unknown field 'providers': [providers] belongs in lfg's config file "
        "(config.toml: lfg paths shows where, --config picks another), not in a tickets file, which "
        "holds [defaults] and [[ticket]] tables"
    )


def test_wrong_type_names_ticket_field_and_expected_type(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nmax_calls = "ten"\n')
    assert (
        one_problem(path)
        == f"{path}:4: ticket 'a': max_calls must be an integer of at least 1, got the string 'ten'"
    )


def test_max_turns_is_still_read_as_max_calls(tmp_path: Path) -> None:
    """A tickets file written before `max_calls` got its name keeps working, on a ticket or in
    [defaults]; a problem with its value names the field as it is written."""
    path = write(
        tmp_path,
        '[defaults]\nmax_turns = 4\n\n[[ticket]]\nid = "a"\nprompt = "p"\n\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nmax_turns = 7\n',
    )
    assert [ticket.max_calls for ticket in load(path).tickets] == [4, 7]
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nmax_turns = 0\n')
    assert (
        one_problem(path)
        == f"{path}:4: ticket 'a': max_turns must be an integer of at least 1, got the integer 0"
    )


@pytest.mark.parametrize("table", ['[[ticket]]\nid = "a"\nprompt = "p"\n', "[defaults]\n"])
def test_max_calls_and_its_old_name_together_are_a_problem(tmp_path: Path, table: str) -> None:
    ticket = "" if table.startswith("[[") else '\n[[ticket]]\nid = "a"\nprompt = "p"\n'
    path = write(tmp_path, f"{table}max_calls = 5\nmax_turns = 5\n{ticket}")
    where = "ticket 'a'" if table.startswith("[[") else "[defaults]"
    line = table.count("\n") + 2
    assert one_problem(path) == (
        f"{path}:{line}: {where}: max_turns is the old name of max_calls, which is set too; "
        "keep only max_calls"
    )


def test_wrong_type_in_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\ntools = [1, 2]\n')
    assert (
        one_problem(path)
        == f"{path}:4: ticket 'a': tools must be a list of strings, got an array of integers"
    )


def test_missing_id(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n\n[[ticket]]\nprompt = "p"\n')
    assert one_problem(path) == f"{path}:5: ticket #2: missing id"


def test_id_with_spaces_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "my ticket"\nprompt = "p"\n')
    assert one_problem(path) == (
        f"{path}:2: ticket #1: id 'my ticket' may use only letters, digits, '_', '-' and '.'"
    )


def test_defaults_cannot_set_ticket_only_fields(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ntitle = "t"\n\n[[ticket]]\nid = "a"\nprompt = "p"\n')
    assert one_problem(path) == f"{path}:2: [defaults]: title cannot have a default; set it on each ticket"


def test_checking_grows_linearly_with_the_number_of_tickets(tmp_path: Path) -> None:
    """Four times the tickets is about four times the work. It was about nine: the line of every key
    was looked for from the top of the file."""
    small = lines_run(write(tmp_path, many_tickets(200), "small.toml"))
    large = lines_run(write(tmp_path, many_tickets(800), "large.toml"))
    assert large < 5 * small, (small, large)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\n\n[[ticket]]\nid = "a"\nprompt = "q"\n')
    assert one_problem(path) == f"{path}:6: ticket 'a': duplicate id (first used on line 2)"


def test_unknown_dependency_lists_the_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[ticket]]\nid = "build"\nprompt = "p"\n\n'
        '[[ticket]]\nid = "test"\nprompt = "p"\ndepends_on = ["biuld"]\n',
    )
    assert one_problem(path) == (
        f"{path}:8: ticket 'test': depends_on: unknown ticket id 'biuld' (did you mean 'build'?); "
        "known ticket ids: build"
    )


def test_dependency_cycle_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[ticket]]
id = "a"
prompt = "p"
depends_on = ["b"]

[[ticket]]
id = "b"
prompt = "p"
depends_on = ["c"]

[[ticket]]
id = "c"
prompt = "p"
depends_on = ["a"]

[[ticket]]
id = "d"
prompt = "p"
depends_on = ["a"]
""",
    )
    assert one_problem(path) == f"{path}:5: ticket 'a': dependency cycle: a -> b -> c -> a"


def test_depending_on_itself_is_a_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\ndepends_on = ["a"]\n')
    assert one_problem(path) == f"{path}:4: ticket 'a': dependency cycle: a -> a"


def test_unknown_provider_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "opnai"\n')
    assert one_problem(path) == (
        f"{path}:4: ticket 'a': unknown provider 'opnai' (did you mean 'openai'?); "
        "known providers: anthropic, claude-code, codex, gemini, goose, ollama, openai, sim, sim-acp, "
        "sim-agent, sim-anthropic, sim-responses, xai"
    )


def test_unknown_tool_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ntools = ["read_fiel"]\n\n[[ticket]]\nid = "a"\nprompt = "p"\n')
    assert one_problem(path) == (
        f"{path}:2: [defaults]: tools: unknown tool 'read_fiel' (did you mean 'read_file'?); "
        "known tools: list_dir, read_file, run_command, search_files, write_file"
    )


def test_unknown_auto_approve_tool(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nauto_approve = ["run_comand"]\n')
    assert one_problem(path).startswith(
        f"{path}:4: ticket 'a': auto_approve: unknown tool 'run_comand' (did you mean 'run_command'?)"
    )


def test_missing_api_key_names_the_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "xai"\n\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nprovider = "xai"\n',
    )
    assert one_problem(path, env={"OPENAI_API_KEY": "sk"}) == (
        f"{path}:4: tickets 'a', 'b': provider 'xai' needs an API key: "
        "set the environment variable XAI_API_KEY"
    )
    assert load(path, env={"XAI_API_KEY": "xai-key"}).tickets[0].provider == "xai"


def test_env_passthrough_and_allow_git_writes_are_inherited(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[defaults]\nenv_passthrough = ["VIRTUAL_ENV", "CI"]\nallow_git_writes = true\n\n'
        '[[ticket]]\nid = "a"\nprompt = "p"\n\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nenv_passthrough = ["GOPATH"]\nallow_git_writes = false\n',
    )
    a, b = load(path).tickets
    assert (a.env_passthrough, a.allow_git_writes) == (("VIRTUAL_ENV", "CI"), True)
    assert (b.env_passthrough, b.allow_git_writes) == (("GOPATH",), False)
    (plain,) = load(write(tmp_path, '[[ticket]]\nid = "c"\nprompt = "p"\n', "plain.toml")).tickets
    assert (plain.env_passthrough, plain.allow_git_writes) == ((), False)


def test_env_passthrough_takes_only_variable_names(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nenv_passthrough = ["PATH=/x"]\n')
    assert one_problem(path) == (
        f"{path}:4: ticket 'a': env_passthrough must be a list of environment variable names (letters, "
        "digits and '_', not starting with a digit), got an array of strings"
    )
    path = write(tmp_path, '[defaults]\nenv_passthrough = "CI"\n[[ticket]]\nid = "a"\nprompt = "p"\n')
    assert one_problem(path).startswith(
        f"{path}:2: [defaults]: env_passthrough must be a list of environment"
    )


def test_env_passthrough_never_passes_a_providers_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[defaults]\nenv_passthrough = ["openai_api_key"]\n\n'
        '[[ticket]]\nid = "a"\nprompt = "p"\nenv_passthrough = ["CI", "ANTHROPIC_API_KEY"]\n',
    )
    assert problems(path) == [
        f"{path}:2: [defaults]: env_passthrough: 'openai_api_key' holds the API key of provider 'openai'; "
        "lfg never passes a provider's key to a command",
        f"{path}:7: ticket 'a': env_passthrough: 'ANTHROPIC_API_KEY' holds the API key of provider "
        "'anthropic'; lfg never passes a provider's key to a command",
    ]


def test_allow_git_writes_is_true_or_false(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nallow_git_writes = "yes"\n')
    assert one_problem(path) == (
        f"{path}:4: ticket 'a': allow_git_writes must be true or false, got the string 'yes'"
    )


def test_missing_workdir(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nworkdir = "missing"\n')
    missing = (tmp_path / "missing").resolve()
    assert one_problem(path) == f"{path}:4: ticket 'a': workdir '{missing}' does not exist"


def test_workdir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nworkdir = "notes.txt"\n')
    assert one_problem(path).endswith("notes.txt' is not a folder")


def test_no_tickets(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\nmodel = "hello"\n')
    assert one_problem(path) == (
        f"{path}: no tickets: add a [[ticket]] table with an id and a prompt (or run it with --open to add "
        "tickets as it runs)"
    )


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[ticket]]
id = "a"
prompt = '''
[[ticket]]
id = "not a real ticket"
'''
max_calls = 0

[[ticket]]
id = "b"
prompt = "p"
tools = ["nope"]
depends_on = ["zzz"]
""",
    )
    messages = problems(path)
    assert [message.split(":")[1] for message in messages] == ["8", "13", "14"]
    assert "ticket 'a': max_calls" in messages[0]
    assert "ticket 'b': tools: unknown tool 'nope'" in messages[1]
    assert "ticket 'b': depends_on: unknown ticket id 'zzz'" in messages[2]


def test_demo_runs_on_sim_scenarios_even_with_a_key_set() -> None:
    demo = REPO / "examples" / "demo.toml"
    loaded = load(demo, env={"OPENAI_API_KEY": "sk-test"})
    assert len(loaded.tickets) >= 4
    library = ScenarioLibrary(extra_dirs=())
    for ticket in loaded.tickets:
        assert ticket.provider == "sim"
        assert ticket.title != ticket.id
        library.resolve(ticket.model)
    by_id = {ticket.id: ticket for ticket in loaded.tickets}
    agent = next(ticket for ticket in loaded.tickets if ticket.model == "folder-tour")
    assert set(agent.tools) == {"list_dir", "read_file"}
    assert (agent.workdir / "README.md").read_text(encoding="utf-8").startswith("# Examples")
    assert any(ticket.model.startswith("reasoning") for ticket in loaded.tickets)
    assert any(ticket.model.startswith("long-answer:") for ticket in loaded.tickets)
    dependent = next(ticket for ticket in loaded.tickets if ticket.depends_on)
    outputs = {dependency: f"answer of {dependency}" for dependency in dependent.depends_on}
    assert all(value in render_prompt(dependent, outputs) for value in outputs.values())
    assert all(dependency in by_id for dependency in dependent.depends_on)


def test_models_fan_a_ticket_out_into_one_ticket_per_model(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n', "c.toml")
    )
    path = write(
        tmp_path,
        '[[ticket]]\nid = "plan"\ntitle = "Plan"\nprompt = "p"\n'
        'models = ["sim/hello", "local/org/model:8b", "sim/hello-2", "local/hello"]\n'
        'max_cost_usd = 0.5\nisolation = "worktree"\n'
        '[[ticket]]\nid = "all"\nprompt = "x"\ndepends_on = ["plan"]\n'
        '[[ticket]]\nid = "pick"\nprompt = "{{ outputs.plan@org-model-8b }}"\n'
        'depends_on = ["plan@org-model-8b"]\n',
    )
    tickets = {ticket.id: ticket for ticket in load(path, config=config).tickets}
    assert list(tickets) == [
        "plan@sim-hello",
        "plan@org-model-8b",
        "plan@hello-2",
        "plan@local-hello",
        "all",
        "pick",
    ]
    assert (tickets["plan@org-model-8b"].provider, tickets["plan@org-model-8b"].model) == (
        "local",
        "org/model:8b",
    )
    assert (tickets["plan@sim-hello"].provider, tickets["plan@sim-hello"].model) == ("sim", "hello")
    assert {ticket.group for ticket in tickets.values()} == {"plan", None}
    assert tickets["plan@hello-2"].title == "Plan" and tickets["plan@hello-2"].max_cost_usd == 0.5
    assert tickets["plan@hello-2"].isolation == "worktree"
    assert tickets["all"].depends_on == (
        "plan@sim-hello",
        "plan@org-model-8b",
        "plan@hello-2",
        "plan@local-hello",
    )
    assert tickets["pick"].depends_on == ("plan@org-model-8b",)
    assert render_prompt(tickets["pick"], {"plan@org-model-8b": "answer"}) == "answer"


def test_models_in_defaults_fan_out_tickets_that_name_no_provider(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[defaults]\nmodels = ["sim/hello", "sim/slow"]\n'
        '[[ticket]]\nid = "a"\nprompt = "p"\n[[ticket]]\nid = "b"\nprompt = "p"\nmodel = "hello"\n',
    )
    loaded = load(path)
    assert [ticket.id for ticket in loaded.tickets] == ["a@hello", "a@slow", "b"]
    assert not loaded.offline_default


def test_fan_out_mistakes_are_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\nmodels = ["sim/hello", "nope/x"]\nmodel = "hello"\n'
        '[[ticket]]\nid = "b"\nprompt = "{{ outputs.a }}"\ndepends_on = ["a"]\n'
        '[[ticket]]\nid = "c"\nprompt = "p"\nmodels = ["hello"]\n'
        '[[ticket]]\nid = "d"\nprompt = "p"\nmodels = ["sim/hello", "sim/hello"]\n',
    )
    assert problems(path) == [
        f"{path}:4: ticket 'a': models: 'nope/x': unknown provider 'nope' (did you mean 'openai'?); "
        f"known providers: {', '.join(sorted(Config(path=None).providers))}",
        f"{path}:5: ticket 'a': model cannot be set with models, "
        "which names the provider and model of each pane",
        f"{path}:8: ticket 'b': {{{{ outputs.a }}}} names a ticket that runs several models; "
        "quote one of them: outputs.a@hello",
        f"{path}:13: ticket 'c': models must be a non-empty list of \"provider/model\" names, "
        "got an array of strings",
        f"{path}:17: ticket 'd': models: a model is listed twice",
    ]


def test_isolation_is_none_or_worktree(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\nisolation = "docker"\n[[ticket]]\nid = "a"\nprompt = "p"\n')
    assert (
        one_problem(path)
        == f'{path}:2: [defaults]: isolation must be "none" or "worktree", got the string \'docker\''
    )


def test_a_mode_is_only_for_a_coding_agent(tmp_path: Path) -> None:
    path = write(tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim"\nmode = "plan"\n')
    assert one_problem(path) == (
        f"{path}:5: ticket 'a': mode is a coding agent's session mode, and provider 'sim' is not a "
        "coding agent (kind 'sim', not acp)"
    )
    agent = write(
        tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim-acp"\nmode = "plan"\n', "a.toml"
    )
    assert load(agent).tickets[0].mode == "plan"


MCP_CONFIG = (
    '[mcp_servers.docs]\ncommand = "sh"\nargs = ["-c", "exit 0"]\nenv = ["DOCS_TOKEN"]\n'
    '[mcp_servers.search]\nurl = "https://mcp.example.com/mcp"\n'
    'headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }\n'
    '[mcp_servers.gone]\ncommand = "no-such-mcp-server"\n'
)


def test_a_ticket_gets_its_mcp_servers_whole_and_defaults_give_them_too(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MCP_CONFIG, "config.toml"), env={})
    path = write(
        tmp_path,
        '[defaults]\nprovider = "sim-acp"\nmcp_servers = ["docs"]\n'
        '[[ticket]]\nid = "a"\nprompt = "p"\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nmcp_servers = ["search", "docs", "search"]\n'
        '[[ticket]]\nid = "c"\nprompt = "p"\nmcp_servers = []\n',
    )
    env = {"PATH": os.environ["PATH"], "DOCS_TOKEN": "d", "SEARCH_TOKEN": "s"}
    a, b, c = load(path, env, config).tickets
    docs, search = config.mcp_servers["docs"], config.mcp_servers["search"]
    assert (a.mcp_servers, b.mcp_servers, c.mcp_servers) == ((docs,), (search, docs), ())


def test_mcp_servers_must_be_known_given_to_a_coding_agent_and_available(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MCP_CONFIG, "config.toml"), env={})
    path = write(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim-acp"\nmcp_servers = ["dcos"]\n'  # 1
        '[[ticket]]\nid = "b"\nprompt = "p"\nprovider = "sim"\nmcp_servers = ["docs"]\n'  # 6
        '[[ticket]]\nid = "c"\nprompt = "p"\nprovider = "sim-acp"\nmcp_servers = ["search", "gone"]\n'  # 11
        '[[ticket]]\nid = "d"\nprompt = "p"\nprovider = "sim-acp"\nmcp_servers = ["search"]\n',  # 16
    )
    assert problems(path, {"PATH": os.environ["PATH"], "DOCS_TOKEN": "d"}, config) == [
        f"{path}:5: ticket 'a': mcp_servers: unknown MCP server 'dcos' (did you mean 'docs'?); known MCP "
        "servers: docs, gone, search; config.toml defines each as [mcp_servers.NAME]",
        f"{path}:10: ticket 'b': mcp_servers are given to a coding agent's session, and provider 'sim' is "
        "not a coding agent (kind 'sim', not acp)",
        f"{path}:15: tickets 'c', 'd': MCP server 'search' cannot be given to the agent: it needs "
        "SEARCH_TOKEN set in lfg's environment",
        f"{path}:15: ticket 'c': MCP server 'gone' cannot be given to the agent: its command "
        "'no-such-mcp-server' is not found on PATH",
    ]


@pytest.mark.parametrize("provider", ["", 'provider = "sim"\n'], ids=["no provider", "the same provider"])
def test_a_model_that_names_its_provider_is_caught_at_load(tmp_path: Path, provider: str) -> None:
    """`model = "sim/x"` would ask the fallback provider (or the sim) for a model called `sim/x`."""
    path = write(tmp_path, f'[[ticket]]\nid = "a"\nprompt = "p"\n{provider}model = "sim/tournament-pass"\n')
    assert one_problem(path, env={}) == (
        f"{path}:{5 if provider else 4}: ticket 'a': model = 'sim/tournament-pass' names the provider 'sim': "
        "write provider = 'sim' and model = 'tournament-pass' (or models = ['sim/tournament-pass'])"
    )


def test_a_slash_in_a_model_of_another_named_provider_is_its_own(tmp_path: Path) -> None:
    """OpenRouter's ids are `vendor/model`: `openai/gpt-4o` on another provider is that provider's."""
    config = load_config(
        write(
            tmp_path, '[providers.router]\nkind = "openai"\nbase_url = "http://localhost:8000/v1"\n', "c.toml"
        )
    )
    path = write(
        tmp_path, '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "router"\nmodel = "openai/gpt-4o"\n'
    )
    assert load(path, env={}, config=config).tickets[0].model == "openai/gpt-4o"
