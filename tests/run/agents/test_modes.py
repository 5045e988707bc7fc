"""The person's approval mode holds in a coding agent's session (issue 53): lfg sets the mode at start,
whatever the agent started in, reads back the mode the agent reports, and fails the attempt before
any prompt when the agent refuses it or stays in another. Through the real `lfg run --json` and the
sim agent as a real subprocess, started in `auto` as today's Claude Code starts: there it asks
nobody, so a tool call that reaches the person's approval proves the mode was set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lfgtui import __version__
from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.sim.acp_agent import AGENT_NAME
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.widgets.pane import PaneState
from tests.support.agents import no_agent_left
from tests.support.app import SIZE, until
from tests.support.compose import lfg_app
from tests.support.lfg import Lfg, ending, of, text

WRITER = "writer:ttft_ms=0,tokens_per_s=300"
"""The sim's scenario that writes notes/summary.md, then runs a command on it."""
TICKET = f'[[ticket]]\nid = "a"\nprompt = "x"\nprovider = "agent"\nmodel = "{WRITER}"\n'
AGENT = f"the agent of provider agent ({AGENT_NAME} {__version__})"
ASKS = "provider agent names no mode: 'default', which asks you"
"""Why lfg sets `default` in an agent whose provider names no mode."""
ASKED_AND_REFUSED = ["denied: rejected by the user"] * 2
"""The writer's edit and command, each asked of lfg, which has nobody to ask in a headless run."""


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    return isolated


def agent(lfg: Lfg, *args: str, settings: str = "") -> None:
    """`[providers.agent]`: the sim agent with `args`, playing the ticket's model as its scenario."""
    command = [sys.executable, "-m", "lfgtui.sim.acp_agent", *args, "--scenario", "{model}"]
    lfg.config.write_text(f'[providers.agent]\nkind = "acp"\ncommand = {json.dumps(command)}\n' + settings)


def notes(events: list[dict]) -> list[str]:
    return [e["message"] for e in of(events, "a", "status")]


def results(events: list[dict]) -> list[str]:
    return [str(e.get("error") or e.get("output")) for e in of(events, "a", "tool_result")]


@pytest.mark.parametrize("models", [(), ("--models", "fast")], ids=["session-modes", "config-options"])
def test_an_agent_that_starts_in_auto_is_set_to_default_and_its_edit_asks_the_person(
    lfg: Lfg, models: tuple[str, ...]
) -> None:
    """In `auto` the sim writes without asking; set to `default` its write asks lfg, which has nobody
    to ask in a headless run and refuses: the file is never written."""
    agent(lfg, "--start-mode", "auto", *models)
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history")
    assert code == 0, stderr
    assert ending(events, "a")["outcome"] == "completed"
    assert not (lfg.workdir / "notes" / "summary.md").exists(), "the write waited for the person"
    assert results(events) == ASKED_AND_REFUSED
    how = "session/set_config_option" if models else "session/set_mode"
    assert f"the agent runs in mode Default (default), {ASKS} ({how})" in notes(events)
    details = of(events, "a", "agent")
    assert details and details[-1]["mode"] == "default", "the mode the agent reports"
    assert "in mode auto" not in text(events, "a")


def test_a_providers_mode_is_set_and_yes_mode_only_with_yes(lfg: Lfg) -> None:
    """The provider names the mode that asks; under `--yes` its `yes_mode` (here the agent's own
    `auto`) is set instead; without a `yes_mode`, `--yes` keeps the asking mode and approves each
    request itself."""
    agent(lfg, "--start-mode", "auto", settings='mode = "default"\nyes_mode = "auto"\n')
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history")
    assert code == 0, stderr
    assert "the agent runs in mode Default (default), provider agent's mode (session/set_mode)" in notes(
        events
    )
    assert not (lfg.workdir / "notes" / "summary.md").exists()
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history", "--yes")
    assert code == 0, stderr
    set_auto = "the agent runs in mode Auto (auto), provider agent's yes_mode, with --yes (session/set_mode)"
    assert set_auto in notes(events)
    assert text(events, "a").startswith("(the sim agent runs model (none chosen) in mode auto)")
    assert (lfg.workdir / "notes" / "summary.md").exists()
    (lfg.workdir / "notes" / "summary.md").unlink()
    agent(lfg, "--start-mode", "auto", settings='mode = "default"\n')
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history", "--yes")
    assert code == 0, stderr
    assert "the agent runs in mode Default (default), provider agent's mode (session/set_mode)" in notes(
        events
    )
    assert (lfg.workdir / "notes" / "summary.md").exists(), "asked, and --yes approved it"
    assert "in mode auto" not in text(events, "a")


def test_the_tickets_mode_comes_before_the_providers(lfg: Lfg) -> None:
    agent(lfg, "--start-mode", "auto", settings='mode = "default"\nyes_mode = "auto"\n')
    code, events, stderr = lfg.run(lfg.tickets(TICKET + 'mode = "plan"\n'), "--no-history", "--yes")
    assert code == 0, stderr
    assert "the agent runs in mode Plan (plan), the ticket's mode (session/set_mode)" in notes(events)


@pytest.mark.parametrize("models", [(), ("--models", "fast")], ids=["session-modes", "config-options"])
def test_an_agent_that_refuses_the_mode_fails_before_any_prompt_saying_what_it_offers(
    lfg: Lfg, models: tuple[str, ...]
) -> None:
    agent(lfg, "--start-mode", "auto", "--refuse-mode", "default", *models)
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == (
        f"{AGENT} refused mode 'default' ({ASKS}): Invalid params (this agent will not take it); "
        "it offers default, plan, auto"
    )
    assert text(events, "a") == "" and results(events) == [], "no prompt was sent"
    assert not (lfg.workdir / "notes" / "summary.md").exists()


@pytest.mark.parametrize("models", [(), ("--models", "fast")], ids=["session-modes", "config-options"])
def test_an_agent_that_stays_in_its_own_mode_fails_naming_the_mode_it_reports(
    lfg: Lfg, models: tuple[str, ...]
) -> None:
    """It answers the request as done, but reports (a `current_mode_update`, or its config options)
    that it is still in `auto`."""
    agent(lfg, "--start-mode", "auto", "--ignore-mode", "default", *models)
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == (
        f"{AGENT} did not take mode 'default' ({ASKS}): it reports mode 'auto'; it offers default, plan, auto"
    )
    assert text(events, "a") == "" and results(events) == []


def test_a_mode_the_provider_names_that_the_agent_lacks_fails(lfg: Lfg) -> None:
    agent(lfg, settings='mode = "manual"\n')
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == (
        f"{AGENT} offers no mode 'manual' (provider agent's mode); it offers default, plan"
    )


def test_an_agent_none_of_whose_modes_asks_is_refused_unless_the_person_chose(lfg: Lfg) -> None:
    """Issue 65: opencode offers `build` (where it asks nothing) and `plan`, no `default`. With no mode
    named, lfg refuses it before any prompt rather than let it run unasked in `build`; a ticket that
    names `build`, or `--yes`, is the person's choice, and it goes on."""
    agent(lfg, "--opencode-modes")
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == (
        f"{AGENT} offers no mode that asks you (it offers build, plan, no 'default') and provider agent "
        "names no mode, so it would act unasked in its own mode build; name the mode it should run in "
        "with the ticket's mode (or the provider's mode), or run with --yes"
    )
    assert text(events, "a") == "" and results(events) == []
    assert not (lfg.workdir / "notes" / "summary.md").exists(), "nothing ran"
    code, events, stderr = lfg.run(lfg.tickets(TICKET + 'mode = "build"\n'), "--no-history")
    assert code == 0, stderr
    assert "the agent runs in mode build, the ticket's mode (session/set_mode)" in notes(events)
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history", "--yes")
    assert code == 0, stderr
    assert any(n.startswith(f"{AGENT} runs in its own mode build under --yes") for n in notes(events))


def test_the_built_in_agents_set_the_mode_that_asks() -> None:
    modes = {name: BUILTIN[name].agent.mode for name in ("claude-code", "codex", "gemini", "sim-acp")}
    assert modes == {
        "claude-code": "default",
        "codex": "read-only",
        "gemini": "default",
        "sim-acp": None,  # names none: `default`, which the sim offers, is set
    }
    assert all(BUILTIN[name].agent.yes_mode is None for name in modes), "--yes changes no mode by itself"


async def test_the_panes_header_shows_the_mode_and_the_agents_edit_waits_for_the_person(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(f'[[ticket]]\nid = "w"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "{WRITER}"\n')
    sim = BUILTIN["sim-acp"]
    agents = {
        "sim-acp": sim.with_agent(
            command=(*sim.agent.command[:3], "--start-mode", "auto", "--scenario", "{model}")
        )
    }
    loaded = load_tickets(path, Config(path=None, providers=BUILTIN | agents), BUILTIN_TOOLS)
    app = lfg_app(loaded.tickets, Providers(agents))
    async with app.run_test(size=SIZE) as pilot:
        w = app.controller.panes["w"]

        def asks(tool: str) -> bool:
            return w.state is PaneState.APPROVAL and tool in str(w.notice.render())

        await until(pilot, lambda: asks("write_file"), timeout=20)
        await until(pilot, lambda: "mode default" in w.header.text.plain, timeout=5)
        assert not (tmp_path / "notes" / "summary.md").exists()
        await pilot.press("n")
        await until(pilot, lambda: asks("run_command"), timeout=20)
        await pilot.press("n")
        await until(pilot, lambda: w.finished, timeout=20)
    assert await no_agent_left(tmp_path)
