"""Credentials, models and modes reach a coding agent, through the real `lfg run --json` and the sim
agent as a real subprocess: it logs in with the key lfg passes when the agent asks, an agent that
cannot log in fails saying what to do, and the ticket's model and mode are the ones the agent runs."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from acp import schema

from lfgtui import __version__
from lfgtui.events import AgentDetails
from lfgtui.providers.catalog import BUILTIN
from lfgtui.run.agents.login import (
    claude_login_missing,
    login_guidance,
    login_missing,
    offered_methods,
    usable_method,
)
from lfgtui.sim.acp_agent import AGENT_NAME, KEY_ENV
from tests.support import warm_lfg
from tests.support.lfg import Lfg, ending, of, text
from tests.support.patience import PATIENCE
from tests.support.recording import load_recorded

TICKET = '[[ticket]]\nid = "a"\nprompt = "hi"\nprovider = "agent"\n'


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    return isolated


def agent(lfg: Lfg, *args: str, settings: str = "") -> None:
    """`[providers.agent]`: the sim agent with `args`, passed its key variable, and `settings`."""
    command = [sys.executable, "-m", "lfgtui.sim.acp_agent", *args, "--scenario", "hello"]
    lfg.config.write_text(
        "[providers.agent]\n"
        'kind = "acp"\n'
        f"command = {json.dumps(command)}\n"
        f'env = ["{KEY_ENV}"]\n'
        'default_model = "default"\n' + settings
    )


def notes(events: list[dict], ticket: str = "a") -> list[str]:
    return [e["message"] for e in of(events, ticket, "status")]


def test_an_agent_that_asks_to_log_in_is_logged_in_with_the_key_lfg_passes(lfg: Lfg) -> None:
    agent(lfg, "--require-auth")
    lfg.env[KEY_ENV] = "k"
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history")
    assert code == 0, stderr
    assert ending(events, "a")["outcome"] == "completed"
    assert "logged the agent in with its method sim-api-key (authenticate)" in notes(events)


def test_an_agent_that_cannot_log_in_says_which_methods_variables_and_login_command(lfg: Lfg) -> None:
    agent(lfg, "--require-auth", settings='login = "sim-agent login"\n')
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    assert code == 1
    error = ending(events, "a")["error"]
    assert error["kind"] == "auth"
    message = error["message"]
    assert "the agent asks to log in: Authentication required (no auth method succeeded yet)" in message
    assert (
        "the agent offers: sim-login (Log in to the sim), sim-api-key (Sim API key; reads LFG_SIM_ACP_KEY)"
        in (message)
    )
    assert f"lfg passes it: {KEY_ENV} (not set)" in message
    assert "to log in, run: sim-agent login" in message
    assert "or choose a method with auth_method in [providers.agent]" in message


def test_auth_method_logs_in_before_the_session_and_a_failure_says_why(lfg: Lfg) -> None:
    agent(lfg, settings='auth_method = "sim-api-key"\n')
    lfg.env[KEY_ENV] = "k"
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history")
    assert code == 0, stderr
    assert "logged the agent in with its method sim-api-key (authenticate)" in notes(events)
    del lfg.env[KEY_ENV]
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "auth"
    assert error["message"].startswith(
        f"logging the agent in with sim-api-key failed: Authentication required ({KEY_ENV} is not set); "
        "the agent offers: sim-login"
    )


def test_an_auth_method_the_agent_does_not_offer_is_named_with_those_it_does(lfg: Lfg) -> None:
    agent(lfg, settings='auth_method = "api-key"\n')
    code, events, _ = lfg.run(lfg.tickets(TICKET), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "auth"
    assert error["message"].startswith(
        "auth_method 'api-key' is not one the agent offers; the agent offers: sim-login"
    )


def test_the_tickets_model_and_mode_reach_the_agent_as_session_config_options(lfg: Lfg) -> None:
    agent(lfg, "--models", "fast,smart")
    tickets = lfg.tickets(TICKET + 'model = "smart"\nmode = "plan"\n')
    code, events, stderr = lfg.run(tickets, "--no-history")
    assert code == 0, stderr
    assert text(events, "a").startswith("(the sim agent runs model smart in mode plan)")
    assert "the agent runs in mode Plan (plan), the ticket's mode (session/set_config_option)" in notes(
        events
    )
    assert "the agent runs model Smart (smart) (session/set_config_option)" in notes(events)


def test_the_model_and_mode_a_session_opened_with_are_shown_when_the_ticket_chose_none(lfg: Lfg) -> None:
    agent(lfg, "--models", "fast,smart")
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--no-history")
    assert code == 0, stderr
    [details] = of(events, "a", "agent")
    assert (details["mode"], details["settings"]) == ("default", {"Model": "Fast (fast)"})
    assert [c["name"] for c in details["commands"]] == ["scenario"], "one detail with the command list"


def test_a_mode_reaches_an_agent_that_offers_only_the_older_session_modes(lfg: Lfg) -> None:
    agent(lfg)
    code, events, stderr = lfg.run(lfg.tickets(TICKET + 'mode = "Plan"\n'), "--no-history")
    assert code == 0, stderr
    assert text(events, "a").startswith("(the sim agent runs model (none chosen) in mode plan)")
    assert "the agent runs in mode Plan (plan), the ticket's mode (session/set_mode)" in notes(events)


def test_a_model_reaches_an_agent_that_offers_only_the_older_session_models(lfg: Lfg) -> None:
    """Gemini CLI's way: `models` in session/new's answer, chosen with session/set_model."""
    agent(lfg, "--models", "fast,smart", "--unstable-models")
    code, events, stderr = lfg.run(lfg.tickets(TICKET + 'model = "Smart"\n'), "--no-history")
    assert code == 0, stderr
    assert text(events, "a").startswith("(the sim agent runs model smart in mode default)")
    assert "the agent runs model Smart (smart) (session/set_model)" in notes(events)
    *_, offered = of(events, "a", "agent")  # its commands come after its session opened
    assert offered["model"] == "smart" and offered["settings"] == {"Model": "Smart (smart)"}
    code, events, _ = lfg.run(lfg.tickets(TICKET + 'model = "huge"\n'), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == "the agent offers no model 'huge' (it offers fast, smart)"


def test_the_model_the_agent_reports_is_kept_beside_the_one_asked(lfg: Lfg, tmp_path: Path) -> None:
    """A ticket that leaves the model to the agent, then an agent that falls back to another."""
    agent(lfg, "--models", "fast,smart", "--unstable-models")
    db = tmp_path / "h.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(TICKET), "--db", str(db))
    assert code == 0, stderr
    assert of(events, "a", "attempt_started")[0]["model"] == "default", "what was asked: the agent's own"
    assert {e["model"] for e in of(events, "a", "agent")} == {"fast"}, "what the agent reports"
    shown = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "show", "--db", str(db), history_run(db)],
        env=lfg.env | {"COLUMNS": "200"},
        timeout=60 * PATIENCE,
    )
    assert shown.returncode == 0, shown.stderr
    assert "agent/default (the agent reports fast)" in shown.stdout
    [ticket] = load_recorded(db, history_run(db)).tickets
    assert {e.model for e in ticket.attempts[-1].events if isinstance(e, AgentDetails)} == {"fast"}

    agent(lfg, "--models", "fast,smart", "--fallback-model", "fast")
    code, events, stderr = lfg.run(lfg.tickets(TICKET + 'model = "smart"\n'), "--no-history")
    assert code == 0, stderr
    assert "the agent runs model Smart (smart) (session/set_config_option)" in notes(events)
    assert [e["model"] for e in of(events, "a", "agent")] == ["fast"], (
        "its agent line is held until the turn's work begins, and then says the model it fell back to"
    )
    assert text(events, "a").startswith("(the sim agent runs model fast in mode default)")


def history_run(db: Path) -> str:
    """The id of the one run recorded in `db`."""
    with sqlite3.connect(db) as conn:
        [(run_id,)] = conn.execute("SELECT id FROM runs").fetchall()
    return run_id


def test_a_model_or_mode_the_agent_does_not_offer_fails_naming_those_it_does(lfg: Lfg) -> None:
    agent(lfg, "--models", "fast,smart")
    code, events, _ = lfg.run(lfg.tickets(TICKET + 'model = "huge"\n'), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == "the agent offers no model 'huge' (it offers fast, smart)"
    assert text(events, "a") == ""
    code, events, _ = lfg.run(lfg.tickets(TICKET + 'mode = "yolo"\n'), "--no-history")
    error = ending(events, "a")["error"]
    assert code == 1 and error["kind"] == "not_found"
    assert error["message"] == (
        f"the agent of provider agent ({AGENT_NAME} {__version__}) offers no mode 'yolo' "
        "(the ticket's mode); it offers default, plan"
    )


def test_a_model_nothing_can_carry_is_said_not_to_reach_the_agent(lfg: Lfg) -> None:
    agent(lfg)
    code, events, stderr = lfg.run(lfg.tickets(TICKET + 'model = "huge"\n'), "--no-history")
    assert code == 0, stderr
    assert (
        "model 'huge' did not reach the agent: it offers no model to choose, and provider 'agent' passes "
        "none at start (no {model} in its command, no model_env); it runs a model of its own choosing"
    ) in notes(events)


def test_a_builtin_agent_gets_its_documented_variables_and_the_model_in_its_own(lfg: Lfg) -> None:
    lfg.env |= {
        "ANTHROPIC_AUTH_TOKEN": "t",
        "ANTHROPIC_MODEL": "from-the-shell",
        "HTTPS_PROXY": "http://proxy:3128",
        "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
        "STRIPE_KEY": "secret",
    }
    script = 'env > agent-env.txt; exec "$0" -m lfgtui.sim.acp_agent --scenario hello'
    lfg.config.write_text(
        f"[providers.claude-code]\ncommand = {json.dumps(['sh', '-c', script, sys.executable])}\n"
    )
    tickets = lfg.tickets('[[ticket]]\nid = "c"\nprompt = "hi"\nprovider = "claude-code"\nmodel = "opus"\n')
    code, events, stderr = lfg.run(tickets, "--no-history")
    assert code == 0, stderr
    seen = dict(
        line.split("=", 1) for line in (lfg.workdir / "agent-env.txt").read_text().splitlines() if "=" in line
    )
    assert seen["ANTHROPIC_AUTH_TOKEN"] == "t" and seen["ANTHROPIC_MODEL"] == "opus"
    assert seen["HTTPS_PROXY"] == "http://proxy:3128" and seen["NODE_EXTRA_CA_CERTS"] == "/etc/ca.pem"
    assert "STRIPE_KEY" not in seen
    assert (
        "model opus was passed in ANTHROPIC_MODEL; the agent offers no model option to confirm it"
        in notes(events, "c")
    )


def test_a_providers_default_model_reaches_the_agent_as_a_tickets_model_does(lfg: Lfg) -> None:
    """Issue 33: with no model on the ticket, its provider's `default_model` is its model, brought to
    the agent in `model_env` or its session's model option, or said at start not to reach it."""
    sim = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "hello"]
    script = 'echo "$AGENT_MODEL" > agent-model.txt; exec "$0" -m lfgtui.sim.acp_agent --scenario hello'
    lfg.config.write_text(
        f'[providers.by-env]\nkind = "acp"\ncommand = {json.dumps(["sh", "-c", script, sys.executable])}\n'
        'model_env = "AGENT_MODEL"\ndefault_model = "gw-large"\n\n'
        f'[providers.by-option]\nkind = "acp"\ncommand = {json.dumps([*sim, "--models", "fast,smart"])}\n'
        'default_model = "smart"\n\n'
        f'[providers.by-nothing]\nkind = "acp"\ncommand = {json.dumps(sim)}\ndefault_model = "huge"\n'
    )
    tickets = "".join(
        f'[[ticket]]\nid = "{name}"\nprompt = "hi"\nprovider = "{name}"\n'
        for name in ("by-env", "by-option", "by-nothing")
    )
    code, events, stderr = lfg.run(lfg.tickets(tickets), "--no-history")
    assert code == 0, stderr
    assert (lfg.workdir / "agent-model.txt").read_text() == "gw-large\n"
    assert (
        "model gw-large was passed in AGENT_MODEL; the agent offers no model option to confirm it"
        in notes(events, "by-env")
    )
    assert "the agent runs model Smart (smart) (session/set_config_option)" in notes(events, "by-option")
    assert text(events, "by-option").startswith("(the sim agent runs model smart in mode default)")
    assert any(n.startswith("model 'huge' did not reach the agent") for n in notes(events, "by-nothing"))


CODEX_STARTED = {
    "protocolVersion": 1,
    "authMethods": [
        {"id": "api-key", "name": "API Key", "description": "Use an API key to authenticate"},
        {"id": "chat-gpt", "name": "ChatGPT", "description": "Use ChatGPT to authenticate"},
    ],
}
"""The auth methods of codex-acp 2.6's `initialize`: no variables named, as lfg gets them."""


@pytest.mark.parametrize("key", ["CODEX_API_KEY", "OPENAI_API_KEY"])
def test_codex_logs_in_with_its_api_key_method_when_either_key_is_set(key: str) -> None:
    started = schema.InitializeResponse.model_validate(CODEX_STARTED)
    methods = offered_methods(started, BUILTIN["codex"])
    method = usable_method(methods, {key: "k"})
    assert method is not None and method.id == "api-key"
    assert usable_method(methods, {}) is None
    guidance = login_guidance(BUILTIN["codex"], methods, {key: "k"})
    assert "api-key (API Key; reads CODEX_API_KEY or OPENAI_API_KEY), chat-gpt (ChatGPT)" in guidance
    assert "to log in, run: codex-acp cli login" in guidance


@pytest.mark.parametrize(
    ("where", "found"),
    [
        ("nothing", False),
        ("key", True),
        ("oauth token", True),
        ("settings env", True),
        ("api key helper", True),
        ("credentials file", True),
        ("config dir credentials", True),
        ("bedrock", True),
    ],
)
def test_claude_codes_login_is_looked_for_where_it_keeps_it(tmp_path: Path, where: str, found: bool) -> None:
    """Claude Code opens a session with no login at all; `lfg agents --check` looks where Claude Code
    itself does (its key variables, its settings.json, ~/.claude/.credentials.json or
    $CLAUDE_CONFIG_DIR's) and says it is missing only when none has one."""
    home = tmp_path / "home"
    claude = home / ".claude"
    claude.mkdir(parents=True)
    env = {"HOME": str(home)}
    match where:
        case "key":
            env["ANTHROPIC_API_KEY"] = "sk"
        case "oauth token":
            env["CLAUDE_CODE_OAUTH_TOKEN"] = "t"
        case "settings env":
            (claude / "settings.json").write_text(json.dumps({"env": {"ANTHROPIC_AUTH_TOKEN": "t"}}))
        case "api key helper":
            (claude / "settings.json").write_text(json.dumps({"apiKeyHelper": "echo sk"}))
        case "credentials file":
            (claude / ".credentials.json").write_text("{}")
        case "config dir credentials":
            (tmp_path / "elsewhere").mkdir()
            (tmp_path / "elsewhere" / ".credentials.json").write_text("{}")
            env["CLAUDE_CONFIG_DIR"] = str(tmp_path / "elsewhere")
        case "bedrock":
            env["CLAUDE_CODE_USE_BEDROCK"] = "1"
    missing = claude_login_missing(env, platform="linux")
    assert (missing is None) is found, missing
    if not found:
        assert missing is not None
        assert "ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN are not set" in missing
        assert (
            f"no {claude / '.credentials.json'}" in missing and "claude-agent-acp --cli auth login" in missing
        )
        assert login_missing("@agentclientprotocol/claude-agent-acp", env) == [missing]
    assert login_missing("codex-acp", env) == [], "the others' session/new says"


def test_a_credentials_file_elsewhere_does_not_count_when_claude_config_dir_points_away(
    tmp_path: Path,
) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text("{}")
    env = {"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "empty")}
    missing = claude_login_missing(env, platform="darwin")
    assert missing is not None and str(tmp_path / "empty" / ".credentials.json") in missing
