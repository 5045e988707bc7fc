"""A ticket on a model that thinks between its tool calls, through the run as a person drives it: the
tool loop, a follow-up, a fork, and a follow-up after `lfg resume` each send the reasoning state back
as the model gave it (the sim refuses a request that lost it: sim/reasoning_rules.py); a fork to
another model gets the text and tool calls only, and says so."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lfgtui.config.load import Config, load_config
from lfgtui.events import Event, Outcome, Status
from lfgtui.history.writer import open_run_history, reopen_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.seeds import earlier_of_each
from lfgtui.sim.model_map import ModelMap, ModelRule
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.recording import load_recorded
from tests.support.streams import write_scenario

THINKERS = ("claude-sonnet-5-5", "claude-opus-5")
DEEPSEEKS = ("deepseek-v4-pro", "deepseek-v4-flash", "deepseek-flash")


@pytest.fixture
async def sim(scenario_dir: Path) -> AsyncIterator[SimServer]:
    rules = tuple(ModelRule(model, "think-tools") for model in THINKERS + DEEPSEEKS)
    async with SimServer(ScenarioLibrary(extra_dirs=(scenario_dir,)), models=ModelMap(rules)) as server:
        yield server


def notes_reader(folder: Path) -> Path:
    (folder / "notes.txt").write_text("Ship on Friday.\n")
    path = folder / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "notes"\nprompt = "What do the notes say?"\nprovider = "sim-anthropic"\n'
        f'model = "{THINKERS[0]}"\ntools = ["read_file"]\nauto_approve = ["read_file"]\n'
    )
    return path


def replayed_whole(sim: SimServer, since: int) -> None:
    """Every request from `since` on was answered, and brought back each earlier answer's thinking."""
    requests = sim.log[since:]
    assert requests and all(r.status == 200 for r in requests), [r.status for r in requests]
    assert all(r.replay is not None and r.replay.whole for r in requests), [r.replay for r in requests]


async def test_a_follow_up_a_fork_and_a_resumed_follow_up_send_the_models_thinking_back(
    sim: SimServer, tmp_path: Path
) -> None:
    loaded = load_tickets(notes_reader(tmp_path), Config(path=None), BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    events: list[Event] = []
    async with (
        open_run_history(db, loaded, "lfg run", lambda message: None) as history,
        Providers(sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.record(history)
        run.start()
        await run.wait()
        assert run.states["notes"].outcome is Outcome.COMPLETED
        replayed_whole(sim, 0)
        assert sim.log[1].replay is not None and sim.log[1].replay.expected == 1

        before = len(sim.log)
        assert run.continue_with("notes", "And read them once more?")
        await run.wait()
        assert run.states["notes"].outcome is Outcome.COMPLETED
        replayed_whole(sim, before)
        assert sim.log[before].replay is not None and sim.log[before].replay.expected == 2

        before = len(sim.log)
        fork = run.fork("notes", "Anything else in them?")
        await run.wait()
        assert run.states[fork.id].outcome is Outcome.COMPLETED
        replayed_whole(sim, before)

        before = len(sim.log)
        other = run.fork("notes", "Say it shorter.", model=THINKERS[1])
        await run.wait()
        assert run.states[other.id].outcome is Outcome.COMPLETED
        (note,) = [e for e in events if isinstance(e, Status) and e.ticket == other.id]
        assert note.message.startswith(
            f"reasoning of sim-anthropic/{THINKERS[0]} was not carried over to sim-anthropic/{THINKERS[1]}"
        )
        first = sim.log[before].body["messages"]
        assert not any(
            block.get("type") == "thinking"
            for message in first
            if isinstance(message["content"], list)
            for block in message["content"]
        ), "another model gets no thinking it cannot read"

    recorded = load_recorded(db, history.run_id)
    async with (
        reopen_run_history(db, history.run_id, lambda message: None) as again,
        Providers(sim=sim) as providers,
    ):
        assert again is not None
        resumed = Run(
            recorded.as_tickets, providers, Approvals(), [], earlier=earlier_of_each(recorded.tickets)
        )
        resumed.run_id = history.run_id
        resumed.record(again)
        resumed.start()
        before = len(sim.log)
        assert resumed.continue_with("notes", "One last time?")
        await resumed.wait()
    assert resumed.states["notes"].outcome is Outcome.COMPLETED
    replayed_whole(sim, before)
    assert sim.log[before].replay is not None and sim.log[before].replay.expected == 3


@pytest.mark.parametrize("model", DEEPSEEKS)
async def test_a_deepseek_v4_ticket_with_tools_runs_on_chat_completions_and_sends_its_reasoning_back(
    sim: SimServer, tmp_path: Path, model: str
) -> None:
    """Issue #75: DeepSeek's own API is Chat Completions (`kind = "openai"`), where its V4 models think
    and call tools by default; the load refused such a ticket with OpenAI's GPT-6 rule. The sim, like
    DeepSeek, refuses a tool round whose `reasoning_content` did not come back."""
    (tmp_path / "config.toml").write_text('[providers.deepseek]\nkind = "openai"\nbase_url = "sim:/v1"\n')
    config = load_config(tmp_path / "config.toml", env={})
    path = notes_reader(tmp_path)
    path.write_text(path.read_text().replace('"sim-anthropic"', '"deepseek"').replace(THINKERS[0], model))
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={})
    async with Providers(config.providers, sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [])
        run.start()
        await run.wait()
    assert run.states["notes"].outcome is Outcome.COMPLETED
    replayed_whole(sim, 0)
    first, second = sim.log
    assert first.path == second.path == "/v1/chat/completions" and "tools" in second.body
    (answer,) = [m for m in second.body["messages"] if m["role"] == "assistant"]
    assert answer["reasoning_content"].startswith("The person asks what the notes say.")
    assert answer["tool_calls"][0]["function"]["name"] == "read_file"


def flaky(scenario_dir: Path, status: int) -> str:
    """`think-tools` whose first request for model call 2 (a follow-up's) is answered `status`."""
    toml = (Path(__file__).parents[2] / "lfgtui/sim/scenarios/think-tools.toml").read_text(encoding="utf-8")
    fault = f'\n[[fault]]\nkind = "http"\nstatus = {status}\ncall = 2\ntimes = 1\nmessage = "simulated"\n'
    return write_scenario(scenario_dir, f"think-tools-{status}", toml + fault)


@contextlib.asynccontextmanager
async def follow_up_once(
    scenario_dir: Path, tmp_path: Path, status: int, fallback: str = ""
) -> AsyncIterator[tuple[Run, SimServer, list[Event]]]:
    """A ticket whose follow-up's first request fails with `status`, on a sim that answers both
    thinking models with that scenario: its run, the sim and the events, once the follow-up ended."""
    rules = tuple(ModelRule(model, flaky(scenario_dir, status)) for model in THINKERS)
    path = notes_reader(tmp_path)
    path.write_text(path.read_text() + fallback)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    library = ScenarioLibrary(extra_dirs=(scenario_dir,))
    async with SimServer(library, models=ModelMap(rules)) as sim, Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        await run.wait()
        assert run.continue_with("notes", "And read them once more?")
        await run.wait()
        yield run, sim, events


async def test_a_retried_follow_up_sends_the_thinking_back_again(scenario_dir: Path, tmp_path: Path) -> None:
    async with follow_up_once(scenario_dir, tmp_path, 400) as (run, sim, _):
        assert run.states["notes"].outcome is Outcome.FAILED
        before = len(sim.log)
        assert run.retry("notes")
        await run.wait()
        assert run.states["notes"].outcome is Outcome.COMPLETED
        replayed_whole(sim, before)
        assert sim.log[before].replay is not None and sim.log[before].replay.expected == 2


async def test_a_follow_up_that_falls_back_to_another_model_drops_the_thinking_and_says_so(
    scenario_dir: Path, tmp_path: Path
) -> None:
    fallback = f'fallback = ["sim-anthropic/{THINKERS[1]}"]\n'
    async with follow_up_once(scenario_dir, tmp_path, 404, fallback) as (run, sim, events):
        assert run.states["notes"].outcome is Outcome.COMPLETED
        (note,) = [e for e in events if isinstance(e, Status) and "not carried over" in e.message]
        assert note.message.startswith(
            f"reasoning of sim-anthropic/{THINKERS[0]} was not carried over to sim-anthropic/{THINKERS[1]}"
        )
        moved = [r for r in sim.log if r.model == THINKERS[1]]
        assert moved and all(r.status == 200 for r in moved)
        assert not any("signature" in str(m) for m in moved[0].body["messages"][:-1])
