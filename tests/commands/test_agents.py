"""`lfg agents`, through the real command as a subprocess: the built-in and configured agents
listed (installed or not, with version, the install command, the credentials lfg would pass by
name only), and `--check` starting the sim agent for real to report its auth methods, models and
modes, and what is missing, within a bounded time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lfgtui.sim.acp_agent import KEY_ENV
from lfgtui.tools.nesting import BOXES
from tests.support import warm_lfg
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "hello"]


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` in its own folders, agent logs included, with a PATH on which no real agent is found."""
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    isolated.env["PATH"] = str(bin_folder)
    return isolated


def configure(lfg: Lfg, **agents: list[str]) -> None:
    """`[providers.NAME]` of kind acp for each agent, passed the sim agent's key variable."""
    lfg.config.write_text(
        "".join(
            f'[providers.{name}]\nkind = "acp"\ncommand = {json.dumps(command)}\nenv = ["{KEY_ENV}"]\n\n'
            for name, command in agents.items()
        )
    )


def agents(lfg: Lfg, *args: str) -> subprocess.CompletedProcess[str]:
    return warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "agents", "--config", str(lfg.config), *args],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )


def records(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    """`--json`'s array of agents, by name."""
    return {record["name"]: record for record in json.loads(done.stdout)}


def test_built_in_and_configured_agents_are_listed_with_install_commands_and_credential_names(
    lfg: Lfg,
) -> None:
    configure(lfg, mine=SIM_AGENT)
    lfg.env[KEY_ENV] = "secret-value-never-shown"
    done = agents(lfg)
    assert done.returncode == 0, done.stderr
    assert "secret-value-never-shown" not in done.stdout
    assert (
        "claude-code  (built-in)  not installed; "
        "install it: npm install -g @agentclientprotocol/claude-agent-acp@0.101.0" in done.stdout
    )
    assert (
        "codex  (built-in)  not installed; install it: npm install -g @agentclientprotocol/codex-acp@2.6.0"
        in done.stdout
    )
    assert "  variables: OPENAI_API_KEY (not set), CODEX_API_KEY (not set)," in done.stdout
    assert f"mine  (config)  installed: {sys.executable}\n" in done.stdout
    assert f"  variables: {KEY_ENV} (set)\n" in done.stdout
    listed = records(agents(lfg, "--json"))
    assert {"claude-code", "codex", "gemini", "goose", "sim-acp", "mine"} <= set(listed)
    assert "sim" not in listed  # a model API, not a coding agent
    assert listed["gemini"]["installed"] is False
    assert listed["gemini"]["install"] == "npm install -g @google/gemini-cli@0.61.0"
    assert listed["mine"]["credentials"] == [{"name": KEY_ENV, "passed": True, "set": True}]
    assert listed["mine"]["installed"] is True and "check" not in listed["mine"]


def test_an_npm_installed_agent_shows_its_packages_version(lfg: Lfg, tmp_path: Path) -> None:
    package = tmp_path / "lib" / "node_modules" / "@acme" / "agent"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text('{"name": "@acme/agent", "version": "1.4.2"}')
    entry = package / "dist" / "index.js"
    entry.write_text("#!/bin/sh\n")
    entry.chmod(0o755)
    (tmp_path / "bin" / "acme-agent").symlink_to(entry)
    configure(lfg, acme=["acme-agent", "--acp"])
    done = agents(lfg, "acme")
    assert done.returncode == 0, done.stderr
    assert f"acme  (config)  installed: {tmp_path / 'bin' / 'acme-agent'} (version 1.4.2)" in done.stdout
    assert records(agents(lfg, "acme", "--json"))["acme"]["version"] == "1.4.2"


def test_check_reports_the_auth_methods_models_and_modes_the_agent_offers(lfg: Lfg) -> None:
    configure(lfg, chooser=[*SIM_AGENT, "--models", "fast,deep", "--mcp", "http"])
    lfg.env[KEY_ENV] = "k"
    done = agents(lfg, "chooser", "--check")
    assert done.returncode == 0, done.stderr
    assert "  check: lfg-sim-acp 0.1.0 opened a session\n" in done.stdout
    assert (
        "  auth methods: sim-login (Log in to the sim; interactive), "
        f"sim-api-key (Sim API key; reads {KEY_ENV}; lfg would use it)\n"
    ) in done.stdout
    assert "  models: fast (current), deep\n" in done.stdout
    assert "  modes: default (current), plan\n" in done.stdout
    assert "  MCP servers it takes: stdio, http\n" in done.stdout
    assert "missing" not in done.stdout
    assert 'sandbox = "bwrap": ' in done.stdout, "what a sandbox allows here, or why there is none"
    (checked,) = records(agents(lfg, "chooser", "--check", "--json")).values()
    check = checked["check"]
    assert check["error"] is None and check["missing"] == []
    assert [m["id"] for m in check["auth_methods"]] == ["sim-login", "sim-api-key"]
    assert check["models"] == {
        "values": [{"id": "fast", "name": "Fast"}, {"id": "deep", "name": "Deep"}],
        "current": "fast",
    }
    assert [v["id"] for v in check["modes"]["values"]] == ["default", "plan"]
    assert check["mcp_transports"] == ["stdio", "http"]
    assert Path(check["log"]).is_file()


def test_check_reports_the_models_an_agent_offers_the_older_way(lfg: Lfg) -> None:
    """Gemini CLI's: the `models` of session/new, chosen with session/set_model."""
    configure(lfg, older=[*SIM_AGENT, "--models", "fast,deep", "--unstable-models"])
    done = agents(lfg, "older", "--check")
    assert done.returncode == 0, done.stderr
    assert "  models: fast (current), deep\n" in done.stdout
    assert "missing" not in done.stdout


def test_check_says_what_is_missing_when_the_agent_cannot_log_in(lfg: Lfg) -> None:
    configure(lfg, locked=[*SIM_AGENT, "--require-auth"])
    done = agents(lfg, "locked", "--check")
    assert done.returncode == 1
    assert "  check: lfg-sim-acp 0.1.0 opened no session\n" in done.stdout
    assert "  models: unknown: no session\n" in done.stdout
    assert "  missing: auth: the agent asks to log in" in done.stdout
    assert f"lfg passes it: {KEY_ENV} (not set)" in done.stdout


def test_check_names_an_auth_variable_lfg_does_not_pass_as_missing_when_the_agent_needs_a_login(
    lfg: Lfg,
) -> None:
    command = [*SIM_AGENT, "--require-auth"]
    lfg.config.write_text(f'[providers.bare]\nkind = "acp"\ncommand = {json.dumps(command)}\n')
    done = agents(lfg, "bare", "--check")
    assert done.returncode == 1
    assert f"  variables: {KEY_ENV} (not set; lfg does not pass it)\n" in done.stdout
    assert (
        f"  missing: {KEY_ENV} is read by one of its auth methods, but lfg does not pass it: add it to env "
        "in [providers.bare]\n"
    ) in done.stdout


def test_check_of_an_agent_that_needs_no_login_reports_nothing_missing(lfg: Lfg) -> None:
    """The built-in sim agent opens a session with no key: the variable its key method would read is
    a note, not something missing."""
    done = agents(lfg, "sim-acp", "--check")
    assert done.returncode == 0, done.stderr
    assert "  check: lfg-sim-acp 0.1.0 opened a session\n" in done.stdout
    assert "missing" not in done.stdout
    assert f"  note: {KEY_ENV} is read by one of its auth methods and lfg does not pass it; " in done.stdout
    *_, bwrap, docker, podman = done.stdout.splitlines()
    assert bwrap.startswith('sandbox = "bwrap": '), "what a sandbox does here"
    assert docker.startswith('sandbox = "docker": ') and podman.startswith('sandbox = "podman": '), (
        "each engine's"
    )
    (checked,) = records(agents(lfg, "sim-acp", "--check", "--json")).values()
    assert checked["check"]["missing"] == []
    assert checked["sandbox"] == bwrap, "--json says it too, with the check"
    assert checked["container_boxes"] == [docker, podman]


def test_the_versions_lfg_says_to_install_are_those_its_tests_drive() -> None:
    """`lfg agents` cannot read tests/real_agents at run time (an installed lfg has no tests): the
    versions are a constant in the catalog, held here to the lock file the real-agent tests install."""
    from lfgtui.providers.catalog import BUILTIN, TESTED_VERSIONS

    lock_file = Path(__file__).parents[1] / "real_agents" / "package-lock.json"
    locked = json.loads(lock_file.read_text(encoding="utf-8"))["packages"]
    assert {
        package: locked[f"node_modules/{package}"]["version"] for package in TESTED_VERSIONS
    } == TESTED_VERSIONS
    installs = {config.agent.install for config in BUILTIN.values() if config.agent.install}
    guide = (Path(__file__).parents[2] / "docs" / "guides" / "coding-agents.md").read_text(encoding="utf-8")
    for package, version in TESTED_VERSIONS.items():
        assert f"npm install -g {package}@{version}" in installs
        assert f"`npm install -g {package}@{version}`" in guide


def test_a_check_is_bounded_by_its_timeout_and_the_others_go_on(lfg: Lfg) -> None:
    """The stuck agent's own `connect_timeout_s` bounds its check; the fine one keeps the default, so
    however slowly a loaded machine starts it, it is not cut short."""
    exits = [sys.executable, "-c", "import sys; sys.exit(3)"]
    configure(lfg, stuck=[*SIM_AGENT, "--stall-initialize"], exits=exits, fine=SIM_AGENT)
    stuck = "[providers.stuck]\n"
    lfg.config.write_text(lfg.config.read_text().replace(stuck, f"{stuck}connect_timeout_s = 2\n"))
    done = agents(lfg, "--check", "--json")
    assert done.returncode == 1
    listed = records(done)
    stalled = listed["stuck"]["check"]["error"]
    assert stalled["kind"] == "timeout"
    assert stalled["message"].startswith("the agent did not start a session within 2 s (connect_timeout_s)")
    assert listed["exits"]["check"]["error"]["kind"] == "connection"
    assert listed["fine"]["check"]["error"] is None
    assert listed["claude-code"]["check"] is None  # not installed: nothing to start
    bounded = records(agents(lfg, "stuck", "--check", "--timeout", "1", "--json"))
    assert bounded["stuck"]["check"]["error"]["message"].startswith(
        "the agent did not start a session within 1 s"
    )


def test_a_named_agent_that_is_not_installed_fails_the_check_and_says_what_to_install(lfg: Lfg) -> None:
    done = agents(lfg, "codex", "--check")
    assert done.returncode == 1
    assert (
        "codex  (built-in)  not installed; install it: npm install -g @agentclientprotocol/codex-acp@2.6.0"
        in done.stdout
    )
    assert "  check: not run (not installed)" in done.stdout


def test_an_unknown_agent_name_is_a_usage_error(lfg: Lfg) -> None:
    done = agents(lfg, "sim", "nobody")
    assert done.returncode == 2
    assert (
        "lfg: no coding agent named 'sim', 'nobody' (known: claude-code, codex, gemini, goose, sim-acp)"
        in (done.stderr)
    )


@pytest.mark.timeout(180)  # a box of each kind started once, for its own probe and the nesting probe
def test_check_says_whether_an_agents_own_sandbox_starts_inside_each_box(
    lfg: Lfg, tmp_path: Path, dockerd: str
) -> None:
    """The built-in codex (the sim agent under its program's name) runs each command in a sandbox of
    its own: --check says in one line per box kind whether that starts there, as a boxed ticket's
    start would find (a root's podman maps no ids for it); an agent with none says so per box."""
    program = tmp_path / "bin" / "codex-acp"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m lfgtui.sim.acp_agent --scenario hello "$@"\n')
    program.chmod(0o755)
    lfg.config.write_text('[providers.codex]\nmode = "default"\n')  # a mode the sim agent offers
    lfg.env["PATH"] += f"{os.pathsep}/usr/sbin{os.pathsep}/usr/bin"  # the box programs
    lfg.env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    lfg.env["DOCKER_HOST"] = dockerd
    done = agents(lfg, "codex", "sim-acp", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    inside = {
        kind: [line for line in lines if line.startswith(f'  inside sandbox = "{kind}": ')] for kind in BOXES
    }
    assert all(len(said) == 2 for said in inside.values()), done.stdout  # one per agent and box
    codex, sim = zip(*inside.values(), strict=True)
    assert all(line.endswith(": runs no sandbox of its own") for line in sim), sim
    bwrap, docker, podman = codex
    assert bwrap.endswith(": its own sandbox starts"), bwrap
    assert "its own sandbox cannot start (a user namespace refused: " in docker, "docker's seccomp filter"
    if os.geteuid() == 0:
        assert "its own sandbox cannot start (its ids not mapped" in podman, podman
        assert podman.endswith('a ticket there fails at start unless mode = "agent-full-access"'), podman
    (checked, _) = records(agents(lfg, "codex", "sim-acp", "--check", "--json")).values()
    assert checked["own_sandbox"] == [line.strip() for line in codex], "--json says it too"
