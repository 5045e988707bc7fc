"""A recognisable fake key, sent to the sim by every adapter through faults that echo it, is nowhere
in what `lfg` writes: the history file, its exports, NDJSON, progress output, the SDKs' debug logs
or error messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import tomli_w

from lfgtui.commands import main as cli
from lfgtui.providers.errors import REDACTED, redact
from tests.support import warm_lfg
from tests.support.hardening import FAKE_KEY, KEY_VAR
from tests.support.lfg import Lfg
from tests.support.patience import PATIENCE

ECHO_401 = """
    ttft_ms = 10
    [[call]]
    text = "never"
    [[fault]]
    kind = "http"
    status = 401
    message = "Incorrect API key provided: {api_key}. Sent headers: Authorization: Bearer {api_key}"
    """
ECHO_500 = ECHO_401.replace("401", "500").replace('text = "never"', 'text = "Fine now."') + "times = 1\n"
LEAKY_TOOL = """
    ttft_ms = 10
    tokens_per_s = 500
    [[call]]
    [[call.tool_call]]
    name = "run_command"
    arguments = { command = "env; echo \\"key=$LFG_HARDENING_KEY\\"" }
    [[call]]
    text = "Printed the environment."
    """
KINDS = {"chat": ("openai", "sim:/v1"), "responses": ("openai-responses", "sim:/v1")}
KINDS |= {"anthropic": ("anthropic", "sim:"), "agent": ("sse", "sim:/agent")}


def leaks(text: str) -> bool:
    return FAKE_KEY in text or FAKE_KEY[-16:] in text


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    made = Lfg(tmp_path)
    providers = {
        name: {"kind": kind, "base_url": url, "api_key_env": KEY_VAR, "max_retries": 1}
        for name, (kind, url) in KINDS.items()
    }
    made.config.write_text(tomli_w.dumps({"providers": providers}))
    made.env |= {KEY_VAR: FAKE_KEY, "OPENAI_LOG": "debug", "ANTHROPIC_LOG": "debug"}
    made.env["XDG_STATE_HOME"] = str(tmp_path / "state")  # lfg's log, where the SDKs' debug logs go
    made.scenario("echo-401", ECHO_401)
    for name in KINDS:  # a fault's `times` counts requests to its scenario: one scenario per adapter
        made.scenario(f"echo-500-{name}", ECHO_500)
    made.scenario("leaky-tool", LEAKY_TOOL)
    return made


def test_the_key_is_in_nothing_lfg_writes(
    lfg: Lfg, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = [
        {"id": f"{name}-{fault}", "prompt": "hi", "provider": name, "model": model}
        for name in KINDS
        for fault, model in (("echo-401", "echo-401"), ("echo-500", f"echo-500-{name}"))
    ]
    tickets.append(
        {"id": "tool", "prompt": "hi", "provider": "chat", "model": "leaky-tool", "tools": ["run_command"]}
    )
    path = lfg.workdir / "tickets.toml"
    path.write_text(tomli_w.dumps({"ticket": tickets}))
    dbs = {mode: tmp_path / "history" / f"{mode.strip('-')}.sqlite3" for mode in ("--json", "--headless")}
    runs = {
        mode: warm_lfg.popen(
            lfg.args(path, mode, "--yes", "--db", str(db)),
            env=lfg.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode, db in dbs.items()
    }
    written: list[str] = []
    for process in runs.values():
        written += process.communicate(timeout=60 * PATIENCE)
        assert process.returncode == 1, written[-1]
    events = [json.loads(line) for line in written[0].splitlines()]
    endings = {e["ticket"]: e for e in events if e["type"] == "attempt_ended"}
    for name in KINDS:
        message = endings[f"{name}-echo-401"]["error"]["message"]
        assert message.startswith(f"Incorrect API key provided: {REDACTED}."), message
        assert message.endswith(f"(the key comes from the environment variable {KEY_VAR})")
        assert endings[f"{name}-echo-500"]["outcome"] == "completed"
        statuses = [
            e["message"] for e in events if e["ticket"] == f"{name}-echo-500" and e["type"] == "status"
        ]
        (retrying,) = [message for message in statuses if "retrying in" in message]
        assert retrying.startswith(f"HTTP 500 server: Incorrect API key provided: {REDACTED}."), retrying
    (env_output,) = [e["output"] for e in events if e["type"] == "tool_result"]
    assert "PATH=" in env_output and "key=\n" in env_output
    debug_log = (tmp_path / "state" / "lfgtui" / "log" / "lfg.log").read_text()
    assert " DEBUG openai." in debug_log and " DEBUG anthropic." in debug_log, "the SDKs' debug logs were on"
    assert "DEBUG" not in written[3], "and went to lfg's log, not to the terminal"

    for db in dbs.values():
        (run,) = json.loads(history(capsys, lfg, db, "list", "--json"))
        for args in (["export", run["id"], "--format", "json"], ["export", run["id"]], ["show", run["id"]]):
            shown = history(capsys, lfg, db, *args)
            assert REDACTED in shown
            written.append(shown)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "scenarios" not in p.parts]
    assert len([p for p in files if p.suffix == ".sqlite3"]) == 2
    assert [p for p in files if leaks(p.read_bytes().decode("utf-8", errors="replace"))] == []
    assert not any(leaks(text) for text in written)


def history(capsys: pytest.CaptureFixture[str], lfg: Lfg, db: Path, *args: str) -> str:
    """`lfg history ARGS` on `db` in this process; its stdout and stderr."""
    capsys.readouterr()
    assert cli.main(["history", *args, "--db", str(db), "--config", str(lfg.config)]) == 0
    out, err = capsys.readouterr()
    return out + err


@pytest.mark.parametrize(
    "shown",
    [
        "Authorization: Bearer abc.def-123",
        '{"headers": {"authorization": "Bearer abc.def-123"}}',
        "x-api-key: abc.def-123",
        "api-key=abc.def-123; next",
        "proxy said: bearer abc.def-123xyz",
    ],
)
def test_credential_headers_are_redacted_wherever_a_message_shows_them(shown: str) -> None:
    cleaned = redact(shown)
    assert "abc.def-123" not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_the_rest_of_the_message() -> None:
    message = f"Incorrect API key provided: {FAKE_KEY}. You can find your API key in your account settings."
    assert redact(message, (FAKE_KEY,)) == (
        f"Incorrect API key provided: {REDACTED}. You can find your API key in your account settings."
    )
    assert redact("The model `gpt-x` does not exist", (FAKE_KEY,)) == "The model `gpt-x` does not exist"
