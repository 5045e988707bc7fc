"""The real Codex (codex-acp and codex, pinned in package.json) through lfg, offline: it talks to lfg's
own sim over the Responses API's WebSocket mode, as it talks to api.openai.com, with no real key.

Codex's own tools drive it: the sim's `codex-demo` answers Codex's models with `exec` calls (JavaScript
calling `tools.exec_command`), as Codex's default models call its tools. What lfg shows of it (the
text, the tool rows with Codex's titles and arguments, the output of the commands Codex runs, its
approvals, its context) is checked in the NDJSON of `lfg run --json`, in the TUI through Pilot, and
in the history that `lfg resume` loads Codex's session from.

Skipped when the agents are not installed here (`npm ci --prefix tests/real_agents`); under CI
(the variable `CI` set) a missing agent fails instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lfgtui.config import Config
from lfgtui.events import SessionOpened
from lfgtui.history.writer import reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.sim.model_map import ModelMap, parse_rule
from lfgtui.sim.server import RequestRecord, SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.modals import FollowUpScreen
from lfgtui.ui.pane import PaneState, TicketPane
from lfgtui.ui.run_screen import Mode
from lfgtui.ui.tool_log import ToolState
from tests.acp.test_attempt import agent_processes
from tests.acp.test_tool_updates import approve
from tests.commands.test_run import ending, of, text
from tests.history.recording import load_recorded
from tests.ui.apps import first_run, lfg_app
from tests.ui.test_app import SIZE, until
from tests.ui.test_history_screens import keys

BIN = Path(__file__).parent / "node_modules" / ".bin"
AGENT_TIMEOUT_S = 90  # a turn of a real agent on a loaded 2-core machine
pytestmark = pytest.mark.timeout(4 * AGENT_TIMEOUT_S)

MODEL = "gpt-5.6-terra"  # one of Codex's own models, not its default: the ticket's choice must reach the sim
README = "# Widget\nA tiny service that renders widgets.\n"
FINAL = "## What I found"  # the start of codex-demo's answer
DENIED = "the agent ended its turn when told no: follow up to tell it what to do instead"


@pytest.fixture(autouse=True)
def installed() -> None:
    """The agents npm installed here, else a skip (a failure under CI, which must run them)."""
    missing = [name for name in ("codex-acp", "codex") if not (BIN / name).exists()]
    if missing:
        why = f"{', '.join(missing)} not installed: npm ci --prefix tests/real_agents --no-audit --no-fund"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture
async def agent_sim() -> AsyncIterator[SimServer]:
    """`lfg sim serve` as the offline example runs it: Codex's title side calls (its `-luna` model)
    answered by `hello`, its other model names by codex-demo (at a test's pace), any other by `hello`."""
    rules = ("gpt-*-luna=hello", "gpt-*=codex-demo:ttft_ms=50,tokens_per_s=400")
    models = ModelMap(tuple(parse_rule(rule) for rule in rules), "hello")
    async with SimServer(models=models) as server:
        yield server


@dataclass
class AgentWorld:
    """A real agent's surroundings in a test: its own home, lfg's folders, a workdir with a README, the
    agents npm installed first on PATH, and the variables that point it at the sim with a fake key."""

    root: Path
    sim: SimServer
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        home, codex_home = self.root / "home", self.root / "codex-home"
        self.workdir.mkdir(parents=True)
        (self.workdir / "README.md").write_text(README)
        codex_home.mkdir(parents=True)
        (codex_home / "config.toml").write_text(f'openai_base_url = "{self.sim.url}/v1"\n')
        self.env = {
            k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")
        }
        self.env |= {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "CODEX_HOME": str(codex_home),
            "OPENAI_API_KEY": "sim",
        }

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    def tickets(self, toml: str) -> Path:
        path = self.workdir / "tickets.toml"
        path.write_text(toml)
        return path

    async def lfg(self, *args: str) -> tuple[int, list[dict[str, Any]], str]:
        """`lfg ARGS` in a subprocess (the sim serves it from this test's loop): exit code, NDJSON
        events, stderr."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lfgtui",
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.workdir,
        )
        out, err = await asyncio.wait_for(process.communicate(), 2 * AGENT_TIMEOUT_S)
        assert process.returncode is not None
        return process.returncode, [json.loads(line) for line in out.splitlines()], err.decode()

    def live(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """This process's environment as the agent's: for the TUI run in the test itself."""
        for name in [k for k in os.environ if k.endswith("_API_KEY")]:
            monkeypatch.delenv(name)
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)


def codex_ticket(ticket_id: str, **fields: str) -> str:
    """A Codex ticket in read-only mode, where Codex asks the person before a command leaves the
    sandbox (its default mode has a model review them instead)."""
    lines = [f'id = "{ticket_id}"', 'prompt = "Suggest one improvement to the README. Change nothing."']
    lines += ['provider = "codex"', 'mode = "read-only"', *(f'{k} = "{v}"' for k, v in fields.items())]
    return "[[ticket]]\n" + "\n".join(lines) + "\n"


def turns(sim: SimServer) -> list[RequestRecord]:
    """The model calls Codex made (its warm-ups generate nothing)."""
    return [r for r in sim.log if r.body.get("generate") is not False]


def followed(sim: SimServer, words: str) -> RequestRecord:
    """The first model call that carried a follow-up's words (Codex also makes side calls of its own)."""
    return next(r for r in turns(sim) if words in json.dumps(r.body))


def app_for(world: AgentWorld, toml: str, **services: Any) -> LfgApp:
    path = world.tickets(toml)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS)
    return lfg_app(loaded.tickets, Providers(), **services)


def codex_processes(world: AgentWorld, marker: bytes = b"codex") -> list[int]:
    """Codex's processes working under the test's folder: codex-acp, its app server, their commands."""
    return agent_processes(world.root, marker)


async def codex_gone(world: AgentWorld) -> bool:
    """Whether every Codex process of the test has ended, allowing the moment a stop takes (bounded)."""
    for _ in range(400):
        if not codex_processes(world):
            return True
        await asyncio.sleep(0.025)
    return False


@pytest.fixture
def world(tmp_path: Path, agent_sim: SimServer) -> AgentWorld:
    return AgentWorld(tmp_path, agent_sim)


async def test_codex_answers_shows_its_commands_with_their_output_and_its_context(world: AgentWorld) -> None:
    tickets = world.tickets(codex_ticket("c", model=MODEL))
    code, events, stderr = await world.lfg("run", str(tickets), "--json", "--yes", "--no-history")
    assert code == 0, stderr
    assert ending(events, "c")["outcome"] == "completed", ending(events, "c")
    notes = [e["message"] for e in of(events, "c", "status")]
    assert "logged the agent in with its method api-key (authenticate)" in notes, "OPENAI_API_KEY logs it in"
    assert any(n.startswith("the agent runs model ") and MODEL in n for n in notes), notes
    assert {r.model for r in turns(world.sim)} == {MODEL}, "every model call asks for the ticket's model"
    assert (
        "".join(e["text"] for e in of(events, "c", "reasoning"))
        .strip()
        .startswith("I should see which files")
    )
    answer = text(events, "c")
    assert "Let me look at the files first." in answer and FINAL in answer
    calls = [(e["name"], e["arguments"]) for e in of(events, "c", "tool_call")]
    assert calls == [
        ("List files", {}),
        ("wc -l README.md", {"command": "wc -l README.md", "cwd": str(world.workdir)}),
    ]
    listed, counted = of(events, "c", "tool_result")
    assert "README.md\n" in listed["output"] and listed["output"].endswith("[exit code 0]")
    assert (counted["output"], counted["is_error"]) == ("2 README.md\n[exit code 0]", False)
    streamed: dict[str, str] = {}
    for piece in of(events, "c", "tool_output"):
        streamed[piece["id"]] = streamed.get(piece["id"], "") + piece["text"]
    results = [listed["output"], counted["output"]]
    assert sorted(streamed.values()) == sorted(r.removesuffix("[exit code 0]") for r in results), (
        "each command's output streamed into its row as Codex ran it"
    )
    context = of(events, "c", "context")
    assert context and context[-1]["size"] > context[-1]["used"] > 0, (
        "Codex's usage_update is the context gauge"
    )
    assert ending(events, "c")["ttft_ms"] is not None
    assert "Traceback" not in stderr
    assert await codex_gone(world), "lfg stopped Codex and its app server when the run ended"


async def test_a_denied_command_ends_codexs_turn_completed_and_says_so(world: AgentWorld) -> None:
    tickets = world.tickets(codex_ticket("d"))
    code, events, stderr = await world.lfg("run", str(tickets), "--json", "--no-history")
    assert code == 0, stderr
    assert ending(events, "d")["outcome"] == "completed", (
        "a no ends Codex's turn cancelled; the ticket is not"
    )
    assert DENIED in [e["message"] for e in of(events, "d", "status")]
    details = of(events, "d", "agent")[-1]
    assert details["mode"] == "read-only" and "(gpt-" in details["settings"]["Model"], "what Codex runs"
    listed, refused = of(events, "d", "tool_result")
    assert not listed["is_error"], "the listing ran in the sandbox, unasked"
    assert (refused["output"], refused["is_error"]) == ("denied: the person said no", True)
    assert FINAL not in text(events, "d")


async def test_without_a_key_codexs_login_failure_says_what_to_do(world: AgentWorld) -> None:
    del world.env["OPENAI_API_KEY"]
    tickets = world.tickets(codex_ticket("k"))
    code, events, _ = await world.lfg("run", str(tickets), "--json", "--no-history")
    assert code == 1
    error = ending(events, "k")["error"]
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


async def follow_up(app: LfgApp, pilot: Any, pane: TicketPane, words: str, attempt: int) -> None:
    pane.shown.focus()
    await pilot.press("i")
    assert isinstance(app.screen, FollowUpScreen)
    await pilot.press(*keys(words), "enter")
    await until(pilot, lambda: pane.attempt == attempt and pane.state is PaneState.COMPLETED, AGENT_TIMEOUT_S)


def asks_to_run_wc(pane: TicketPane) -> bool:
    return pane.state is PaneState.APPROVAL and str(pane.notice.render()).startswith(
        "approve wc -l README.md"
    )


async def test_in_the_tui_an_approved_command_shows_its_output_and_a_follow_up_goes_on_in_codexs_session(
    world: AgentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.live(monkeypatch)
    app = app_for(world, codex_ticket("t"))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.session.panes["t"]
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
        [agent] = codex_processes(world, b"codex-acp")
        await follow_up(app, pilot, pane, "and the tests?", 2)
        assert codex_processes(world, b"codex-acp") == [agent], "the same Codex answered"
        assert "> and the tests?" in pane.body.source
        assert followed(world.sim, "and the tests?").model.startswith("gpt-"), "it reached the model"
    assert await codex_gone(world)


async def test_in_the_tui_after_a_no_a_follow_up_tells_codex_what_to_do_instead(
    world: AgentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.live(monkeypatch)
    app = app_for(world, codex_ticket("n"))
    async with app.run_test(size=SIZE) as pilot:
        pane = app.session.panes["n"]
        await until(pilot, lambda: asks_to_run_wc(pane), AGENT_TIMEOUT_S)
        pane.shown.focus()
        await pilot.press("n")
        await until(pilot, lambda: pane.state is PaneState.COMPLETED, AGENT_TIMEOUT_S)
        assert [row.state for row in pane.tools.rows.values()] == [ToolState.OK, ToolState.DENIED]
        await follow_up(app, pilot, pane, "count them with grep", 2)
        assert "> count them with grep" in pane.body.source
        assert FINAL in pane.body.source, "Codex went on with its answer"
    assert await codex_gone(world)


async def test_resuming_a_recorded_codex_ticket_loads_its_session(
    world: AgentWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = world.root / "history.sqlite3"
    tickets = world.tickets(codex_ticket("r"))
    code, events, stderr = await world.lfg("run", str(tickets), "--json", "--yes", "--db", str(db))
    assert code == 0, stderr
    [session] = [e["message"] for e in of(events, "r", "status") if e["message"].startswith("agent session ")]
    run_id = load_recorded_run_id(db)
    recorded = load_recorded(db, run_id)
    assert recorded.earlier()["r"].agent_session == session.removeprefix("agent session ")
    world.live(monkeypatch)
    async with reopen_run_history(db, run_id, pytest.fail) as again:
        assert again is not None
        app = lfg_app(recorded.as_tickets, Providers(), Mode.RESUMED, recorded=recorded, history=db)
        first_run(app).record(again)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.session.panes["r"]
            await follow_up(app, pilot, pane, "and the tests?", 2)
            assert pane.body.source.count(FINAL) == 2, (
                "the answer before and after; Codex's replay is not shown"
            )
    [ticket] = load_recorded(db, run_id).tickets
    [opened] = [e for e in ticket.attempts[-1].events if isinstance(e, SessionOpened)]
    assert opened.session_id == session.removeprefix("agent session ") and opened.loaded
    resumed = followed(world.sim, "and the tests?")
    assert "Suggest one improvement to the README." in json.dumps(resumed.body), (
        "Codex had the whole conversation"
    )
    assert await codex_gone(world)


def load_recorded_run_id(db: Path) -> str:
    from lfgtui.history.store import Store

    with Store.open(db) as store:
        [run] = store.list_runs(1)
    return run.id
