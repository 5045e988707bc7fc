"""The small commands: `lfg sim serve`, `lfg sim list`, `lfg ask`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import warm_lfg
from tests.support.lfg import free_port, imported_by
from tests.support.patience import PATIENCE


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return clean | {"XDG_CONFIG_HOME": str(tmp_path / "config")}


def lfg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return warm_lfg.run(
        [sys.executable, "-m", "lfgtui", *args],
        env=env,
        timeout=60 * PATIENCE,
    )


def test_sim_serve_runs_standalone_on_the_given_port(env: dict[str, str]) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert f"listening on http://127.0.0.1:{port}" in server.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10 * PATIENCE) as response:
            models = [m["id"] for m in json.load(response)["data"]]
        assert "agent-demo" in models
    finally:
        server.terminate()
        server.wait(timeout=10 * PATIENCE)


def test_sim_serve_maps_agents_model_names_and_answers_unknown_ones(env: dict[str, str]) -> None:
    """`--model PATTERN=SCENARIO` picks the scenario; any other unknown name gets the documented
    default (`hello`) rather than the 404 a real agent's side call would fail on."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port), "--model", "gpt-*=reasoning"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )

    def answer(model: str) -> dict[str, object]:
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "x"}]}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body)
        with urllib.request.urlopen(request, timeout=30 * PATIENCE) as response:
            return json.load(response)["choices"][0]["message"]

    try:
        assert server.stdout is not None
        assert "listening" in server.stdout.readline()
        assert "Euclid" in str(answer("gpt-5-codex")["reasoning_content"])
        assert answer("some-model-nobody-knows")["content"].startswith("Hello! I am the **lfg simulator**")
    finally:
        server.terminate()
        server.wait(timeout=10 * PATIENCE)


def test_sim_serve_refuses_a_malformed_model_rule(env: dict[str, str]) -> None:
    done = lfg("sim", "serve", "--port", str(free_port()), "--model", "claude-*", env=env)
    assert done.returncode == 2
    assert "expected PATTERN=SCENARIO" in done.stderr


def test_sim_serve_on_a_port_in_use_says_so(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = lfg("sim", "serve", "--port", str(port), env=env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"lfg sim serve: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in done.stderr


def test_sim_list_shows_each_scenario_with_its_description(env: dict[str, str]) -> None:
    done = lfg("sim", "list", env=env)
    assert done.returncode == 0
    line = next(line for line in done.stdout.splitlines() if line.startswith("agent-demo"))
    assert "coding agent" in line


def test_ask_streams_an_answer_and_reports_the_gauges(env: dict[str, str]) -> None:
    done = lfg("ask", "--model", "reasoning", "gcd?", env=env)
    assert done.returncode == 0
    assert done.stdout.strip() == "The greatest common divisor of 1071 and 462 is **21**."
    assert "Euclid" in done.stderr
    assert "sim/reasoning · TTFT" in done.stderr and "tok/s · 49 tokens" in done.stderr


def test_ask_answers_on_the_default_provider_and_says_which_model(env: dict[str, str]) -> None:
    """The first command a newcomer tries: no provider, no model, no key. `ask` gives no tools, so the
    sim answers with its ask_model, not the tool-calling default of tickets."""
    done = lfg("ask", "What is 2+2?", env=env)
    assert done.returncode == 0, done.stderr
    assert "lfg simulator" in done.stdout
    assert "sim/hello · TTFT" in done.stderr
    assert done.stderr.rstrip().endswith("· $0"), "priced as lfg run prices it: the sim is free"


def test_ask_model_of_a_provider_is_configurable(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config" / "lfgtui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[providers.sim]\nask_model = "reasoning"\n')
    done = lfg("ask", "gcd?", env=env)
    assert done.returncode == 0, done.stderr
    assert "sim/reasoning · TTFT" in done.stderr


def test_ask_reports_a_provider_failure(env: dict[str, str]) -> None:
    done = lfg("ask", "--model", "fault-401", "hi", env=env)
    assert done.returncode == 1
    assert "HTTP 401 auth: Incorrect API key" in done.stderr


def test_ask_names_the_missing_key(env: dict[str, str]) -> None:
    done = lfg("ask", "--provider", "xai", "hi", env=env)
    assert done.returncode == 2
    assert "set the environment variable XAI_API_KEY" in done.stderr


def test_serve_survives_a_dropped_client(env: dict[str, str]) -> None:
    """A client that disconnects mid-stream must not take the standalone server down."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lfgtui", "sim", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        body = json.dumps(
            {"model": "long-answer", "messages": [{"role": "user", "content": "x"}], "stream": True}
        )
        with socket.create_connection(("127.0.0.1", port)) as sock:
            head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n"
            sock.sendall((head + body).encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # on purpose: a while in which a server the drop broke would end
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10 * PATIENCE) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10 * PATIENCE)


COMMAND_MODULES = ("main", "subcommands", "ask", "run", "agents", "history", "resume", "remote")
COMMAND_MODULES += ("worktrees", "sim", "web", "common", "broker", "telemetry", "completion", "paths", "land")
COMMAND_MODULES += ("fork", "mcp")
COMMAND_MODULES += ("review", "models", "agents_install", "settings")


def test_help_and_version_import_only_the_command_line(env: dict[str, str]) -> None:
    command_line = {"lfgtui", "lfgtui.commands"} | {f"lfgtui.commands.{name}" for name in COMMAND_MODULES}
    for args in (["--help"], ["--version"], ["history", "--help"], ["history", "search", "--help"]):
        done, imported = imported_by(*args, env=env)
        assert done.returncode == 0 and done.stdout.startswith(("usage: lfg", "lfg ")), done.stderr
        assert imported - command_line <= {"lfgtui.outcome"}, args  # the choices of --status
