"""Claude Code and Gemini CLI, the real agents, through `lfg run --json`, `lfg resume` and the TUI,
against the sim: what a person sees of each must be what the agent did.

Each scenario scripts the agent's own tools with their real arguments (Claude Code's `Read`, `Write`
and `Bash`; Gemini CLI's `list_directory`, `read_file`, `write_file` and `run_shell_command`), so the
agent really runs them in the project folder; the sim records what each agent asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import genai_prices
import pytest

from lfgtui.commands import sim as sim_command
from lfgtui.events import Outcome, SessionOpened
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.real_agents.conftest import (
    STALL,
    AgentWorld,
    after_a_plain_turn,
    agent_processes,
    agent_program,
    agent_turns,
    follow_up,
    no_agent_left,
    prose,
    received_pace,
    timed_out_keeping_what_arrived,
    tool_turn,
)
from tests.support.agents import approve
from tests.support.app import SIZE, until
from tests.support.lfg import rebuilt_metrics
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded
from tests.support.terminal import Terminal

REAL_AGENT = pytest.mark.timeout(400)
"""A real agent starts in seconds on an idle machine and in tens on a loaded one; a test's several
runs get minutes (the tests never assert on time)."""
STEP_S = 120.0
"""How long the TUI may take to reach the next thing an agent does (its start included)."""


@dataclass(frozen=True)
class Agent:
    """What a test needs to know of one real agent: its provider, its own model names and tools."""

    provider: str
    models: str  # a glob of the names it asks the sim for its main calls
    side_calls: str  # ... and of those of its side calls (titles, routing)
    write: str  # its tool that writes a file, with a `file_path` and a `content`
    shell: str  # its tool that runs a command, with a `command` and a `description`
    key: str  # the variable holding its API key
    login: str  # what its auth failure tells a person to run
    program: str  # its process's program, as its command line names it

    def __str__(self) -> str:
        return self.provider


CLAUDE = Agent(
    provider="claude-code",
    models="claude-*",
    side_calls="claude-haiku-*",
    write="Write",
    shell="Bash",
    key="ANTHROPIC_API_KEY",
    login="claude-agent-acp --cli auth login",
    program="claude-agent-acp",
)
GEMINI = Agent(
    provider="gemini",
    models="gemini-*",
    side_calls="gemini-*-lite*",
    write="write_file",
    shell="run_shell_command",
    key="GEMINI_API_KEY",
    login="gemini (choose Login with Google)",
    program="gemini",
)
AGENTS = pytest.mark.parametrize("agent", [CLAUDE, GEMINI], ids=str)

NOTES = "# Notes\n\nWritten by the agent.\n"


def work(agent: Agent) -> str:
    """A scenario: write notes.md (asks), run a command that shows it and creates a file (asks),
    report; a follow-up gets the last call's answer."""
    write = json.dumps({"file_path": "notes.md", "content": NOTES})
    command = json.dumps({"command": "cat notes.md; touch checked.txt", "description": "Check the notes"})
    return f"""
        ttft_ms = 50
        tokens_per_s = 200
        [[call]]
        text = "I'll write the notes."
        [[call.tool_call]]
        name = "{agent.write}"
        arguments_raw = '{write}'
        [[call]]
        text = "Now I'll check them."
        [[call.tool_call]]
        name = "{agent.shell}"
        arguments_raw = '{command}'
        [[call]]
        text = "Done: the notes are written."
        [[call]]
        text = "Nothing else is left to do."
        """


def long_write(agent: Agent) -> str:
    """A scenario: a paragraph, a file of ~700 words written with the agent's tool, a paragraph;
    its text at 120 tok/s."""
    write = json.dumps({"file_path": "long.md", "content": prose(696)})
    first, last = prose(120, line=120, start=1000), prose(120, line=120, start=2000)
    return f"""
        ttft_ms = 300
        tokens_per_s = 120
        [[call]]
        text = "{first}"
        [[call.tool_call]]
        name = "{agent.write}"
        arguments_raw = '{write}'
        [[call]]
        text = "{last}"
        """


def answer_with(world: AgentWorld, agent: Agent, scenario: str) -> None:
    """The agent's own model names answered by `scenario`; its side calls by `hello`."""
    world.map_models(f"{agent.side_calls}=hello", f"{agent.models}={scenario}")


@REAL_AGENT
@AGENTS
async def test_text_thinking_and_tool_calls_read_as_the_agent_means_them(
    world: AgentWorld, agent: Agent
) -> None:
    run = await world.run(world.ticket(agent.provider, "Suggest one improvement to the README."))
    assert run.code == 0, run.stderr
    end = run.ending()
    assert end["outcome"] == "completed" and end["error"] is None
    assert end["ttft_ms"] > 0 and end["output_tokens"] > 0
    text = run.text()
    assert text.startswith("Let me ") and "\n\n## What I found\n\n" in text, "a block of its own"
    assert "- **Say how to run it** in the first paragraph" in text
    calls = list(run.calls().values())
    if agent is CLAUDE:
        assert run.text(kind="reasoning") == "I should read the README before answering."
        read, bash = calls
        assert (read["name"], read["arguments"], read["kind"]) == (
            "Read README.md",
            {"file_path": "README.md"},
            "read",
        )
        assert "Renders widgets." in read["result"]["output"]
        assert (bash["name"], bash["kind"]) == ("Bash wc -l README.md", "execute")
        assert bash["arguments"] == {"command": "wc -l README.md", "description": "Count the README's lines"}
        assert "2 README.md" in bash["result"]["output"], "the command really ran: its output"
        assert not any(c["result"]["is_error"] for c in calls)
    else:
        thought = run.text(kind="reasoning")
        assert thought == "**Looking around**\nI should see what is in this folder before answering."
        listed, read = calls
        assert (listed["name"], read["name"]) == ("list_directory .", "read_file README.md")
        assert not any(c["result"]["is_error"] for c in calls)
        results = json.dumps(world.sim.log[-1].body["contents"])
        assert "Renders widgets." in results, "the agent read the project's README and told the model"
        [router] = [r for r in world.sim.log if r.body["generationConfig"].get("responseMimeType")]
        assert "complexity_score" in json.dumps(router.body), "its router asks for JSON once: no retries"
        [routed] = {r.model for r in world.sim.log if r is not router}
        assert "flash" in routed, "it routed the request by the sim's answer: the lowest complexity"


@REAL_AGENT
@AGENTS
async def test_yes_lets_the_agent_write_and_run_its_command(world: AgentWorld, agent: Agent) -> None:
    answer_with(world, agent, world.scenario("work", work(agent)))
    run = await world.run(world.ticket(agent.provider, "Write the notes."), "--yes")
    assert run.code == 0, run.stderr
    assert run.ending()["outcome"] == "completed"
    assert (world.project / "notes.md").read_text() == NOTES
    assert (world.project / "checked.txt").exists()
    calls = run.calls()
    command = next(c for c in calls.values() if "cat notes.md" in c["name"])
    assert "Written by the agent." in command["result"]["output"], "the command's output, as the agent saw it"
    assert not any(c["result"]["is_error"] for c in calls.values())
    assert "Done: the notes are written." in run.text()


@REAL_AGENT
@AGENTS
async def test_without_yes_the_agent_is_refused_and_its_turn_completes(
    world: AgentWorld, agent: Agent
) -> None:
    """lfg sets the agent's mode that asks (claude-agent-acp 0.101 starts in `auto`, where its own
    checker would decide), so each request reaches lfg, which has nobody to ask and refuses it."""
    answer_with(world, agent, world.scenario("work", work(agent)))
    run = await world.run(world.ticket(agent.provider, "Write the notes."))
    assert run.code == 0, run.stderr
    assert run.ending()["outcome"] == "completed", "refusals end no turn: the agent goes on"
    set_mode = f"(default), provider {agent.provider}'s mode (session/set_"
    assert any(s.startswith("the agent runs in mode ") and set_mode in s for s in run.statuses())
    assert run.of("agent")[-1]["mode"] == "default", "the mode the agent reports"
    assert sorted(p.name for p in world.project.iterdir()) == ["README.md"], "nothing written, nothing run"
    results = [c["result"] for c in run.calls().values()]
    assert len(results) == 2 and all(r["is_error"] and r["output"].startswith("denied") for r in results)
    assert "Done: the notes are written." in run.text()


@REAL_AGENT
@AGENTS
async def test_a_tickets_model_reaches_the_sim(world: AgentWorld, agent: Agent) -> None:
    model = "claude-sonnet-4-5" if agent is CLAUDE else "gemini-2.5-pro"
    run = await world.run(world.ticket(agent.provider, "hi", model=model))
    assert run.code == 0, run.stderr
    assert run.of("attempt_started")[0]["model"] == model
    asked = {r.model for r in world.sim.log if r.scenario != "hello"}
    assert asked == {model}, f"every main call asked for the ticket's model: {asked}"
    how = "session/set_config_option" if agent is CLAUDE else "session/set_model"  # Gemini's older models
    assert any(model in s and how in s for s in run.statuses()), run.statuses()
    if agent is GEMINI:  # it names the model that answered, and lfg prices it as that model
        [usage] = run.of("usage")
        assert [share["model"] for share in usage["models"]] == [model], usage
        price = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"]),
            model,
            provider_id="google",
        )
        assert run.ending()["cost_usd"] == pytest.approx(float(price.total_price), rel=1e-6)


@REAL_AGENT
@AGENTS
async def test_no_key_fails_as_auth_saying_what_to_do(world: AgentWorld, agent: Agent) -> None:
    """No key, as a person who never set one up: Gemini CLI pointed at a base URL of its own (a
    gateway) goes on without a key, so it goes too."""
    for name in (agent.key, "GOOGLE_GEMINI_BASE_URL"):
        world.env.pop(name)
    run = await world.run(world.ticket(agent.provider, "hi"))
    assert run.code == 1
    error = run.ending()["error"]
    assert error["kind"] == "auth"
    message = error["message"]
    assert message.startswith("the agent asks to log in: ")
    assert f"{agent.key} (not set)" in message and agent.login in message
    if agent is GEMINI:
        assert "gemini-api-key (Gemini API key; reads GEMINI_API_KEY)" in message, "the methods it offers"
    assert world.sim.log == [], "nothing reached a model"
    if agent is CLAUDE:  # it opens a session all the same: --check looks for its login where it keeps it
        checked = await world.lfg("agents", "claude-code", "--check")
        home = world.home / ".claude"
        said = "  missing: login: Claude Code has none: ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN"
        assert said in checked.stdout, checked.stdout
        assert f"no {home / '.credentials.json'}" in checked.stdout, checked.stdout
        (home / ".credentials.json").write_text("{}")
        checked = await world.lfg("agents", "claude-code", "--check")
        assert "opened a session" in checked.stdout and "missing:" not in checked.stdout, checked.stdout


@REAL_AGENT
@AGENTS
async def test_an_agent_that_goes_silent_is_stalled_then_fails_as_timeout(
    world: AgentWorld, agent: Agent
) -> None:
    answer_with(world, agent, world.scenario("stall", STALL))
    world.idle_timeout(agent.provider)
    timed_out_keeping_what_arrived(await world.run(world.ticket(agent.provider, "hi")))


@REAL_AGENT
@AGENTS
async def test_the_rate_is_the_texts_pace_though_the_agent_counts_a_file_it_wrote(
    world: AgentWorld, agent: Agent
) -> None:
    """Issues 33 and 67: the agent's count includes the ~700 words of a file it writes through its
    tool, which reach lfg whole (Claude Code's input, Gemini CLI's diff); the rate is the pace lfg
    received the turn's output at, the file's time and tokens in it (`received_pace`), and a resumed
    pane reads the same. Gemini CLI's count is its own (`_meta.quota`), the sim's counts of its model
    calls summed."""
    answer_with(world, agent, world.scenario("long", long_write(agent)))
    run = await world.run(world.ticket(agent.provider, "Write the long file."), "--yes")
    assert run.code == 0, f"{run.ending()['error']} {run.statuses()}"
    assert (world.project / "long.md").read_text().rstrip("\n") == prose(696)
    end = run.ending()
    assert end["output_tokens"] > 2 * 120 + 696, "the agent's count includes the file"
    pace = received_pace(run.events, [r.usage.output_tokens for r in agent_turns(world, "long", agent.write)])
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), f"the pace lfg received: {end} {pace}"
    assert not end["tokens_per_s_estimated"], "measured over the time the file took, not split off"
    resumed = rebuilt_metrics(world.db, "t").tokens_per_s
    assert resumed == pytest.approx(end["tokens_per_s"], abs=0.05), "a resumed pane shows the live rate"
    if agent is GEMINI:
        write = next(c for c in run.calls().values() if c["name"].startswith(GEMINI.write))
        assert write["arguments"]["content"].rstrip("\n") == prose(696), "what it wrote, as its diff said"
        [usage] = run.of("usage")
        counted = [r.usage for r in world.sim.log if r.scenario == "long" and r.usage is not None]
        reported = sum(u.output_tokens - u.reasoning_tokens for u in counted)
        assert end["output_tokens"] == usage["output_tokens"] == reported, "what Gemini CLI reported"
        assert sum(share["output_tokens"] for share in usage["models"]) == usage["output_tokens"], usage


@REAL_AGENT
@AGENTS
async def test_a_short_turn_around_a_command_is_rated_at_its_texts_pace(
    world: AgentWorld, agent: Agent
) -> None:
    """Issue 33: the command's input is a good share of what the agent counts. Claude Code sends it
    to lfg as the model wrote it; Gemini CLI only says what it runs, so its count is rated with what
    the history learnt a character is worth, within what the count allows."""
    command = json.dumps({"command": "ls", "description": "List the files"})
    shell = f"[[call.tool_call]]\nname = \"{agent.shell}\"\narguments_raw = '{command}'"
    tickets = world.ticket(agent.provider, "What is here?")
    run = await after_a_plain_turn(
        world, tickets, lambda scenario: answer_with(world, agent, scenario), shell
    )
    assert [c["result"]["is_error"] for c in run.calls().values()] == [False], run.calls()
    end = run.ending()
    pace = received_pace(
        run.events, [r.usage.output_tokens for r in agent_turns(world, "short", agent.shell)]
    )
    timeline = [(e["type"], e["t"], e.get("arguments") or len(e.get("text") or "")) for e in run.of_all()]
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), (
        f"the pace lfg received: {pace} {end} {timeline}"
    )
    resumed = rebuilt_metrics(world.db, "t").tokens_per_s
    assert resumed == pytest.approx(end["tokens_per_s"], abs=0.05), "a resumed pane shows the live rate"


@REAL_AGENT
@AGENTS
async def test_a_first_run_with_a_tool_is_rated_at_its_texts_pace_on_an_empty_history(
    world: AgentWorld, agent: Agent
) -> None:
    """Issue 53: with nothing counted yet, the first run's rate of a turn around a tool call is
    within 10 % of the pace lfg received its output at (`received_pace`, issue 67), by the run's
    own count, not a calibration learnt from an agent's notices or its side calls."""
    command = json.dumps({"command": "ls", "description": "List the files"})
    shell = f"[[call.tool_call]]\nname = \"{agent.shell}\"\narguments_raw = '{command}'"
    answer_with(world, agent, world.scenario("first", tool_turn(shell, before=80, after=120)))
    run = await world.run(world.ticket(agent.provider, "What is here?"), "--yes")
    assert run.code == 0, f"{run.ending()['error']} {run.statuses()}"
    assert [c["result"]["is_error"] for c in run.calls().values()] == [False], run.calls()
    end = run.ending()
    pace = received_pace(
        run.events, [r.usage.output_tokens for r in agent_turns(world, "first", agent.shell)]
    )
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.10), f"the pace lfg received: {end} {pace}"


@REAL_AGENT
async def test_claude_codes_context_reaches_the_gauge(world: AgentWorld) -> None:
    run = await world.run(world.ticket("claude-code", "hi"))
    assert run.code == 0, run.stderr
    contexts = run.of("context")
    assert contexts, "Claude Code reports its context window"
    last = contexts[-1]
    assert 0 < last["used"] < last["size"] and last["percent"] == pytest.approx(
        100 * last["used"] / last["size"], abs=0.1
    )
    assert run.ending()["cost_by_agent"] and run.ending()["cost_usd"] > 0, (
        "its own cost, marked as the agent's"
    )


@REAL_AGENT
@AGENTS
async def test_in_the_tui_a_yes_writes_a_no_refuses_and_a_follow_up_goes_on(
    in_world: AgentWorld, agent: Agent
) -> None:
    world = in_world
    answer_with(world, agent, world.scenario("work", work(agent)))
    app = world.app(world.ticket(agent.provider, "Write the notes."))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["t"]

        def asks(tool: str) -> bool:
            return (
                pane.state is PaneState.APPROVAL and pane.approval is not None and tool in pane.approval.name
            )

        await until(pilot, lambda: asks("notes.md"), timeout=STEP_S)
        await approve(pilot, app)
        await until(pilot, lambda: asks("cat notes.md"), timeout=STEP_S)
        assert (world.project / "notes.md").read_text() == NOTES, "written once the person said yes"
        await pilot.press("n")
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=STEP_S)
        assert not (world.project / "checked.txt").exists(), "the command the person refused never ran"
        rows = list(pane.tools.rows.values())
        assert rows[0].state is ToolState.OK and rows[-1].state is ToolState.DENIED
        assert "Done: the notes are written." in pane.body.source
        if agent is CLAUDE:
            assert str(rows[0].heading()).startswith("Write notes.md ")
            await until(pilot, lambda: "ctx " in pane.gauges.text.plain, timeout=5)
        agents = agent_processes(world, agent.program)
        assert agents, "the agent is kept for a follow-up"
        await follow_up(app, pilot, pane, "anything else?", 2, STEP_S)
        assert "Nothing else is left to do." in pane.body.source
        assert agent_processes(world, agent.program) == agents, "the same agent went on"
    assert await no_agent_left(world, agent.program)


async def shown(terminal: Terminal, needle: bytes, timeout: float = STEP_S) -> None:
    """Until the app in the terminal has written `needle`, letting the sim answer meanwhile."""
    async with asyncio.timeout(timeout * PATIENCE):
        while needle not in terminal.output:
            await asyncio.sleep(0.05)


@REAL_AGENT
@AGENTS
async def test_lfg_resume_loads_the_agents_session_for_a_follow_up(world: AgentWorld, agent: Agent) -> None:
    run = await world.run(world.ticket(agent.provider, "Suggest one improvement to the README."))
    assert run.code == 0 and run.ending()["outcome"] == "completed", run.stderr
    run_id = run.run_id
    asked_before = len(world.sim.log)
    if agent is GEMINI:
        await next_minute()
    terminal = Terminal(columns=140)
    process = terminal.start(world.lfg_args("resume", run_id, "--db", str(world.db)), world.env)
    try:
        await shown(terminal, b"1 completed")
        terminal.type(b"i")
        await shown(terminal, b"your next prompt")
        terminal.type(b"And the tests?")
        await shown(terminal, b"And the tests?")
        terminal.type(b"\r")
        async with asyncio.timeout(STEP_S * PATIENCE):
            while len(load_recorded(world.db, run_id).tickets[0].attempts) < 2 or not ended(world, run_id):
                await asyncio.sleep(0.2)
        terminal.type(b"q")
        async with asyncio.timeout(60 * PATIENCE):
            while process.poll() is None:
                await asyncio.sleep(0.1)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        terminal.hang_up()
    [ticket] = load_recorded(world.db, run_id).tickets
    first, second = ticket.attempts
    [opened] = [e for e in second.events if isinstance(e, SessionOpened)]
    assert first.agent_session is not None
    assert (opened.session_id, opened.loaded) == (first.agent_session, True), (
        "session/load, not a new session"
    )
    assert second.outcome is Outcome.COMPLETED
    # Claude Code also asks its model a side question (the session's title), which may come last
    asked = [json.dumps(request.body) for request in world.sim.log[asked_before:]]
    whole = [body for body in asked if "And the tests?" in body and "Suggest one improvement" in body]
    assert whole, "the loaded agent sent the model the whole conversation"
    assert len(world.sim.log) > asked_before
    assert await no_agent_left(world, agent.program)


async def next_minute() -> None:
    """Until the clock's minute (UTC) is another: Gemini CLI 0.61 names a session's file by the
    minute it was opened, and loading the session within that minute opens a file of the same name
    first, emptying it (a new session in the same minute is not affected)."""
    started = time.gmtime()[:5]
    while time.gmtime()[:5] == started:
        await asyncio.sleep(0.5)


def ended(world: AgentWorld, run_id: str) -> bool:
    """Whether the run's latest attempt has ended, as the history says."""
    return load_recorded(world.db, run_id).tickets[0].attempts[-1].outcome is not None


EXAMPLE = Path(__file__).parents[2] / "examples" / "agents-offline.toml"
DOCUMENTED_URL = "http://127.0.0.1:8765"


def documented(example: str) -> tuple[list[str], dict[str, str]]:
    """The example's `lfg sim serve` command line, and the variables it says to export."""
    comments = [line.removeprefix("#").strip() for line in example.splitlines() if line.startswith("#")]
    start = next(i for i, line in enumerate(comments) if line.startswith("lfg sim serve"))
    end = next(i for i in range(start, len(comments)) if not comments[i].endswith("\\"))
    command = shlex.split(" ".join(line.removesuffix("\\") for line in comments[start : end + 1]))
    exports = [line.removeprefix("export ") for line in comments if line.startswith("export ")]
    return command, dict(pair.split("=", 1) for line in exports for pair in line.split())


@REAL_AGENT
async def test_the_offline_example_runs_claude_code_and_gemini_cli_as_it_says(world: AgentWorld) -> None:
    """examples/agents-offline.toml's own sim command line and variables, nothing else."""
    text = EXAMPLE.read_text()
    command, exports = documented(text)
    parser = argparse.ArgumentParser()
    sim_command.add_serve_arguments(parser)
    world.sim.models = sim_command.model_map(parser.parse_args(command[3:]))
    world.env = {k: v for k, v in world.env.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "GEMINI_"))}
    world.env.pop("GOOGLE_GEMINI_BASE_URL")
    world.env |= {name: value.replace(DOCUMENTED_URL, world.sim.url) for name, value in exports.items()}
    tickets = [t for t in tomllib.loads(text)["ticket"] if t["provider"] in ("claude-code", "gemini")]
    for ticket in tickets:
        agent_program(ticket["provider"])
        ticket["workdir"] = str(world.project)
    tables = "".join(f"[[ticket]]\n{toml_table(ticket)}\n" for ticket in tickets)
    run = await world.run(world.tickets(tables))
    assert run.code == 0, run.stderr
    assert [run.ending(t)["outcome"] for t in ("claude", "gemini")] == ["completed", "completed"]
    names = {t: [c["name"] for c in run.calls(t).values()] for t in ("claude", "gemini")}
    assert names == {
        "claude": ["Read README.md", "Bash wc -l README.md"],
        "gemini": ["list_directory .", "read_file README.md"],
    }
    assert all("## What I found" in run.text(t) for t in ("claude", "gemini"))


def toml_table(table: dict[str, str]) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())
