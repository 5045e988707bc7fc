"""The real Codex (codex-acp and codex, pinned in package.json) through lfg, offline: it talks to lfg's
own sim over the Responses API's WebSocket mode, as it talks to api.openai.com, with no real key.

Codex's own tools drive it: the sim's `codex-demo` answers Codex's models with `exec` calls (JavaScript
calling `tools.exec_command`), as Codex's default models call its tools. What lfg shows of it (the
text, the tool rows with Codex's titles and arguments, the output of the commands Codex runs, its
approvals, its context) is checked in the NDJSON of `lfg run --json`, in the TUI through Pilot, and
in the history that `lfg resume` loads Codex's session from. The world (conftest.py) gives Codex a
CODEX_HOME whose config.toml points it at the sim.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.events import SessionOpened
from lfgtui.history.writer import reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run.seeds import earlier_of_each
from lfgtui.sim.server import RequestRecord, SimServer
from lfgtui.ui.widgets.pane import PaneState, TicketPane
from lfgtui.ui.widgets.tool_log import ToolState
from tests.real_agents.conftest import (
    FIVES,
    STALL,
    AgentWorld,
    after_a_plain_turn,
    agent_processes,
    agent_turns,
    follow_up,
    no_agent_left,
    received_pace,
    timed_out_keeping_what_arrived,
    tool_turn,
)
from tests.support.agents import approve
from tests.support.app import SIZE, until
from tests.support.compose import first_run, resumed_app
from tests.support.lfg import rebuilt_metrics, sim_pace
from tests.support.recording import load_recorded

AGENT_TIMEOUT_S = 90  # a turn of a real agent on a loaded 2-core machine
pytestmark = pytest.mark.timeout(4 * AGENT_TIMEOUT_S)

MODEL = "gpt-5.6-terra"  # one of Codex's own models, not its default: the ticket's choice must reach the sim
FINAL = "## What I found"  # the start of codex-demo's answer
DENIED = "the agent ended its turn when told no: follow up to tell it what to do instead"
NOTES = "# Notes\n\nWritten by Codex.\n"
PATCH = r"""
    ttft_ms = 50
    tokens_per_s = 400
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "exec"
    input = '''
    const patch = "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n+\n+Written by Codex.\n*** End Patch";
    text(JSON.stringify(await tools.apply_patch(patch)));
    '''
    [[call]]
    text = "Done: the notes are written."
    """
"""A scenario: Codex adds notes.md with its `apply_patch` (called from `exec`, as its models call its
tools), then ends its turn."""


def answer_with(world: AgentWorld, scenario: str) -> None:
    """Codex's own model names answered by `scenario`; its side calls by `hello`."""
    world.map_models("gpt-*-luna=hello", f"gpt-*={scenario}")


def codex_ticket(world: AgentWorld, **fields: str) -> Path:
    """A Codex ticket in read-only mode, where Codex asks the person before a command leaves the
    sandbox (its default mode has a model review them instead)."""
    prompt = "Suggest one improvement to the README. Change nothing."
    return world.ticket("codex", prompt, mode="read-only", **fields)


def turns(sim: SimServer) -> list[RequestRecord]:
    """The model calls Codex made (its warm-ups generate nothing)."""
    return [r for r in sim.log if r.body.get("generate") is not False]


def followed(sim: SimServer, words: str) -> RequestRecord:
    """The first model call that carried a follow-up's words (Codex also makes side calls of its own)."""
    return next(r for r in turns(sim) if words in json.dumps(r.body))


async def test_codex_answers_shows_its_commands_with_their_output_and_its_context(world: AgentWorld) -> None:
    run = await world.run(codex_ticket(world, model=MODEL), "--yes", "--no-history")
    assert run.code == 0, run.stderr
    assert run.ending()["outcome"] == "completed", run.ending()
    notes = run.statuses()
    assert "logged the agent in with its method api-key (authenticate)" in notes, "OPENAI_API_KEY logs it in"
    assert any(n.startswith("the agent runs model ") and MODEL in n for n in notes), notes
    assert {r.model for r in turns(world.sim)} == {MODEL}, "every model call asks for the ticket's model"
    assert run.text(kind="reasoning").strip().startswith("I should see which files")
    answer = run.text()
    assert "Let me look at the files first." in answer and FINAL in answer
    calls = [(e["name"], e["arguments"]) for e in run.of("tool_call")]
    assert calls == [
        ("List files", {}),
        ("wc -l README.md", {"command": "wc -l README.md", "cwd": str(world.project)}),
    ]
    listed, counted = run.of("tool_result")
    assert "README.md\n" in listed["output"] and listed["output"].endswith("[exit code 0]")
    assert (counted["output"], counted["is_error"]) == ("2 README.md\n[exit code 0]", False)
    streamed: dict[str, str] = {}
    for piece in run.of("tool_output"):
        streamed[piece["id"]] = streamed.get(piece["id"], "") + piece["text"]
    results = [listed["output"], counted["output"]]
    assert sorted(streamed.values()) == sorted(r.removesuffix("[exit code 0]") for r in results), (
        "each command's output streamed into its row as Codex ran it"
    )
    context = run.of("context")
    assert context and context[-1]["size"] > context[-1]["used"] > 0, (
        "Codex's usage_update is the context gauge"
    )
    assert run.ending()["ttft_ms"] is not None
    assert "Traceback" not in run.stderr
    assert await no_agent_left(world, "codex"), "lfg stopped Codex and its app server when the run ended"


async def test_a_denied_command_ends_codexs_turn_completed_and_says_so(world: AgentWorld) -> None:
    run = await world.run(codex_ticket(world), "--no-history")
    assert run.code == 0, run.stderr
    assert run.ending()["outcome"] == "completed", "a no ends Codex's turn cancelled; the ticket is not"
    assert DENIED in run.statuses()
    details = run.of("agent")[-1]
    assert details["mode"] == "read-only" and "(gpt-" in details["settings"]["Model"], "what Codex runs"
    listed, refused = run.of("tool_result")
    assert not listed["is_error"], "the listing ran in the sandbox, unasked"
    assert (refused["output"], refused["is_error"]) == ("denied: the person said no", True)
    assert FINAL not in run.text()


async def test_without_a_key_codexs_login_failure_says_what_to_do(world: AgentWorld) -> None:
    del world.env["OPENAI_API_KEY"]
    run = await world.run(codex_ticket(world), "--no-history")
    assert run.code == 1
    error = run.ending()["error"]
    assert error["kind"] == "auth"
    message = error["message"]
    assert message.startswith("the agent asks to log in: Authentication required")
    assert (
        "the agent offers: api-key (API Key; reads CODEX_API_KEY or OPENAI_API_KEY), chat-gpt (ChatGPT)"
        in message
    )
    assert "OPENAI_API_KEY (not set)" in message and "CODEX_API_KEY (not set)" in message
    assert "to log in, run: codex-acp cli login" in message
    assert turns(world.sim) == [], "nothing reached the model"


def asks_to_run_wc(pane: TicketPane) -> bool:
    return pane.state is PaneState.APPROVAL and str(pane.notice.render()).startswith(
        "approve wc -l README.md"
    )


async def test_in_the_tui_an_approved_command_shows_its_output_and_a_follow_up_goes_on_in_codexs_session(
    in_world: AgentWorld,
) -> None:
    world = in_world
    app = world.app(codex_ticket(world))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["t"]
        await until(pilot, lambda: asks_to_run_wc(pane), AGENT_TIMEOUT_S)
        pane.shown.focus()
        await approve(pilot, app)
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, AGENT_TIMEOUT_S)
        listed, counted = pane.tools.rows.values()
        assert (listed.tool_name, listed.state) == ("List files", ToolState.OK)
        assert (counted.tool_name, counted.state) == ("wc -l README.md", ToolState.OK)
        assert counted.output == "2 README.md\n[exit code 0]"
        assert FINAL in pane.body.source
        gauges = pane.gauges.text.plain
        assert "ctx " in gauges and "/258.4k " in gauges, gauges
        [agent] = agent_processes(world, "codex-acp")
        await follow_up(app, pilot, pane, "and the tests?", 2, AGENT_TIMEOUT_S)
        assert agent_processes(world, "codex-acp") == [agent], "the same Codex answered"
        assert "> and the tests?" in pane.body.source
        assert followed(world.sim, "and the tests?").model.startswith("gpt-"), "it reached the model"
    assert await no_agent_left(world, "codex")


async def test_in_the_tui_after_a_no_a_follow_up_tells_codex_what_to_do_instead(in_world: AgentWorld) -> None:
    world = in_world
    app = world.app(codex_ticket(world))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["t"]
        await until(pilot, lambda: asks_to_run_wc(pane), AGENT_TIMEOUT_S)
        pane.shown.focus()
        await pilot.press("n")
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, AGENT_TIMEOUT_S)
        assert [row.state for row in pane.tools.rows.values()] == [ToolState.OK, ToolState.DENIED]
        await follow_up(app, pilot, pane, "count them with grep", 2, AGENT_TIMEOUT_S)
        assert "> count them with grep" in pane.body.source
        assert FINAL in pane.body.source, "Codex went on with its answer"
    assert await no_agent_left(world, "codex")


async def test_resuming_a_recorded_codex_ticket_loads_its_session(in_world: AgentWorld) -> None:
    world = in_world
    run = await world.run(codex_ticket(world), "--yes")
    assert run.code == 0, run.stderr
    [session] = [s.removeprefix("agent session ") for s in run.statuses() if s.startswith("agent session ")]
    recorded = load_recorded(world.db, run.run_id)
    assert earlier_of_each(recorded.tickets)["t"].agent_session == session
    async with reopen_run_history(world.db, run.run_id, pytest.fail) as again:
        assert again is not None
        app = resumed_app(recorded, Providers(), history=world.db)
        first_run(app).record(again)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.controller.panes["t"]
            await follow_up(app, pilot, pane, "and the tests?", 2, AGENT_TIMEOUT_S)
            assert pane.body.source.count(FINAL) == 2, (
                "the answer before and after; Codex's replay is not shown"
            )
    [ticket] = load_recorded(world.db, run.run_id).tickets
    [opened] = [e for e in ticket.attempts[-1].events if isinstance(e, SessionOpened)]
    assert opened.session_id == session and opened.loaded
    resumed = followed(world.sim, "and the tests?")
    assert "Suggest one improvement to the README." in json.dumps(resumed.body), (
        "Codex had the whole conversation"
    )
    assert await no_agent_left(world, "codex")


async def test_a_codex_gone_silent_is_stalled_then_fails_as_timeout_keeping_what_arrived(
    world: AgentWorld,
) -> None:
    answer_with(world, world.scenario("stall", STALL))
    world.idle_timeout("codex")
    timed_out_keeping_what_arrived(await world.run(world.ticket("codex", "hi"), "--no-history"))
    assert await no_agent_left(world, "codex"), "lfg stopped the silent Codex"


async def test_in_the_tui_an_approved_apply_patch_writes_the_file_and_its_row_shows_the_diff(
    in_world: AgentWorld,
) -> None:
    world = in_world
    answer_with(world, world.scenario("patch", PATCH))
    notes = world.project / "notes.md"
    app = world.app(codex_ticket(world))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.controller.panes["t"]
        await until(pilot, lambda: pane.state is PaneState.APPROVAL, AGENT_TIMEOUT_S)
        assert not notes.exists(), "in read-only mode Codex asks before it writes"
        pane.shown.focus()
        await approve(pilot, app)
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, AGENT_TIMEOUT_S)
        assert notes.read_text() == NOTES
        [row] = pane.tools.rows.values()
        assert row.state is ToolState.OK
        diff = f"--- /dev/null\n+++ {notes}\n@@ -0,0 +1,3 @@\n+# Notes\n+\n+Written by Codex."
        assert row.output.startswith(diff), row.output
        assert "Done: the notes are written." in pane.body.source
    assert await no_agent_left(world, "codex")


def paragraph(words: int) -> str:
    """`words` five-letter words on one line: sim tokens of 6 characters each."""
    return " ".join(FIVES[i % len(FIVES)] for i in range(words))


GATEWAY = f"""
    ttft_ms = 900
    tokens_per_s = 120
    [[call]]
    text = "{paragraph(250)}"
    [[call.tool_call]]
    name = "exec"
    input = '''
    const listing = await tools.exec_command({{ cmd: "ls" }});
    text(listing.output);
    '''
    [[call]]
    text = "{paragraph(250)}"
    """
"""A scenario: a paragraph, a listing through Codex's `exec`, a paragraph, at 120 tok/s; its first
token 900 ms after the request."""


EXEC_LS = """
    [[call.tool_call]]
    name = "exec"
    input = '''
    const listing = await tools.exec_command({ cmd: "ls" });
    text(listing.output);
    '''
    """
"""A call of Codex's `exec` with a script that lists the folder."""


async def test_a_short_turn_around_an_exec_script_is_rated_at_its_texts_pace(
    world: AgentWorld,
) -> None:
    """Issue 33: Codex counts the script its model wrote, which lfg never sees (codex-acp shows the
    command it ran instead) and which is a good share of a short turn; its count is rated with what
    the history learnt a character of the model's output is worth, within what the count allows."""

    def answer(scenario: str) -> None:
        world.map_models("gpt-*-luna=hello", f"gpt-*={scenario}")

    run = await after_a_plain_turn(world, codex_ticket(world), answer, EXEC_LS)
    assert len(run.calls()) == 1, run.calls()
    end = run.ending()
    pace = received_pace(run.events, [r.usage.output_tokens for r in agent_turns(world, "short", "exec")])
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), f"the pace lfg received: {end} {pace}"
    resumed = rebuilt_metrics(world.db, "t").tokens_per_s
    assert resumed == pytest.approx(end["tokens_per_s"], abs=0.05), "a resumed pane shows the live rate"


async def test_a_first_run_with_an_exec_script_is_rated_at_its_texts_pace_on_an_empty_history(
    world: AgentWorld,
) -> None:
    """Issue 53: with nothing counted yet, Codex's count holds the script lfg never saw; the first
    run's rate of a turn around it is within 10 % of the pace lfg received its output at
    (`received_pace`, issue 67)."""
    turn = tool_turn(EXEC_LS, before=80, after=120)
    world.map_models("gpt-*-luna=hello", f"gpt-*={world.scenario('first', turn)}")
    run = await world.run(codex_ticket(world), "--yes")
    assert run.code == 0, f"{run.ending()['error']} {run.statuses()}"
    assert len(run.calls()) == 1, run.calls()
    end = run.ending()
    pace = received_pace(run.events, [r.usage.output_tokens for r in agent_turns(world, "first", "exec")])
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.10), f"the pace lfg received: {end} {pace}"


async def test_a_model_outside_codexs_catalogue_its_warning_is_a_notice_and_the_rate_is_the_texts(
    world: AgentWorld,
) -> None:
    """Issue 33: Codex warns of a model it has no metadata for (a gateway's own name, in its
    config.toml) as answer text at once; lfg shows it as the agent's notice, TTFT waits for the
    model's first token, and tok/s is the pace the text streamed at though Codex counts its exec
    script too."""
    world.map_models("gpt-*-luna=hello", f"gw-*={world.scenario('gateway', GATEWAY)}")
    with (world.home / ".codex" / "config.toml").open("a") as config:  # its list has no such model to choose
        config.write('model = "gw-large"\n')
    run = await world.run(codex_ticket(world), "--yes")
    assert run.code == 0, f"{run.ending()['error']} {run.statuses()}"
    end = run.ending()
    assert end["outcome"] == "completed", end
    assert {r.model for r in turns(world.sim)} == {"gw-large"}
    # its warning, as an ACP notice now that lfg takes them (as answer text, "Warning: …", before)
    said = run.statuses()
    notices = [n for n in said if n.startswith("the agent's notice: ") and "Model metadata for" in n]
    assert notices and "gw-large" in notices[0], run.statuses()
    assert run.text().startswith(paragraph(5)), "the warning is no answer text"
    assert end["ttft_ms"] >= 900, "never before the sim's first token"
    [details] = run.of("agent")
    assert details["commands"] and details["mode"] == "read-only", "its settings and commands: one line"
    pace = sim_pace(run.events, "t")
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), f"the text's pace: {end} {pace}"
    resumed = rebuilt_metrics(world.db, "t").tokens_per_s
    assert resumed == pytest.approx(end["tokens_per_s"], abs=0.05), "a resumed pane shows the live rate"
