"""`lfg run --json` in this process against the built-in sim, in an isolated environment, and what it
left behind: the exit code, the NDJSON events, stderr and the attempts recorded in the history file.

Running `cli.main` in-process (rather than as a subprocess) keeps a test per fault row cheap; the
signal tests, which need a process of their own, use `tests.support.lfg.Lfg` instead.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from lfgtui.commands import main as cli

KEY_VAR = "LFG_HARDENING_KEY"
FAKE_KEY = "sk-lfgtest-5f1c9a7e3b2d4c6e8a0b"
"""A recognisable fake key: found anywhere it was written, it leaked."""


def closed_port() -> int:
    """A loopback port nothing listens on (bound once to find it, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Attempt:
    """One attempt as the history file holds it."""

    ticket: str
    number: int
    outcome: str | None
    error_kind: str | None
    error_message: str | None
    error_status: int | None
    text: str
    tool_results: tuple[str, ...]


def recorded(db: Path) -> dict[str, list[Attempt]]:
    """Every attempt of the file's one run, by ticket, each with its text parts joined in order."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        attempts = conn.execute(
            "SELECT a.id, t.ticket, a.number, a.outcome, a.error_kind, a.error_message, a.error_status "
            "FROM attempts a JOIN tickets t ON t.id = a.ticket_id ORDER BY t.ticket, a.number"
        ).fetchall()
        parts = conn.execute("SELECT attempt_id, kind, text FROM parts ORDER BY attempt_id, seq").fetchall()
    found: dict[str, list[Attempt]] = {}
    for attempt_id, ticket, number, outcome, kind, message, status in attempts:
        mine = [(k, text) for a, k, text in parts if a == attempt_id]
        found.setdefault(ticket, []).append(
            Attempt(
                ticket,
                number,
                outcome,
                kind,
                message,
                status,
                "".join(text for k, text in mine if k == "text"),
                tuple(text for k, text in mine if k == "tool_result"),
            )
        )
    return found


@dataclass
class Result:
    code: int
    events: list[dict[str, Any]]
    stderr: str
    db: Path

    def of(self, ticket: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["ticket"] == ticket and (kind is None or e["type"] == kind)]

    def text(self, ticket: str) -> str:
        return "".join(e["text"] for e in self.of(ticket, "text"))

    def ending(self, ticket: str) -> dict[str, Any]:
        (end,) = self.of(ticket, "attempt_ended")
        return end

    def statuses(self, ticket: str) -> list[str]:
        return [e["message"] for e in self.of(ticket, "status")]

    def check_history(self) -> None:
        """The history holds every ticket's attempt with the outcome, error and every token printed."""
        saved = recorded(self.db)
        assert sorted(saved) == sorted({e["ticket"] for e in self.events})
        for ticket, attempts in saved.items():
            (attempt,) = attempts
            end = self.ending(ticket)
            assert attempt.outcome == end["outcome"], ticket
            error = end["error"] or {}
            assert (attempt.error_kind, attempt.error_message, attempt.error_status) == (
                error.get("kind"),
                error.get("message"),
                error.get("status"),
            ), ticket
            assert attempt.text == self.text(ticket), f"{ticket}: the history lost or changed tokens"
            assert attempt.tool_results == tuple(r["output"] for r in self.of(ticket, "tool_result"))


class Harness:
    """An isolated `lfg`: no real keys, its own config, scenario folder, workdir and history file.

    The config names three providers besides the built-in ones: `keyed` (the sim, reached with the
    fake key from `KEY_VAR`, one retry, a half-second idle timeout), `refused` (a closed loopback
    port) and `nowhere` (a host name that cannot resolve).
    """

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.capsys = capsys
        home = tmp_path / "home"
        self.scenarios = home / "config" / "lfgtui" / "scenarios"
        self.scenarios.mkdir(parents=True)
        self.workdir = tmp_path / "work"
        self.workdir.mkdir()
        self.db = tmp_path / "history.sqlite3"
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            tomli_w.dumps(
                {
                    "providers": {
                        "keyed": {
                            "kind": "openai",
                            "base_url": "sim:/v1",
                            "api_key_env": KEY_VAR,
                            "max_retries": 1,
                            "idle_timeout_s": 0.5,
                        },
                        "refused": {
                            "kind": "openai",
                            "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                            "max_retries": 1,
                        },
                        "nowhere": {
                            "kind": "openai",
                            "base_url": "http://lfg-no-such-host.invalid/v1",
                            "max_retries": 1,
                        },
                    }
                }
            )
        )
        for name in list(os.environ):
            if name.endswith("_API_KEY") or name.startswith(("LFG_", "OPENAI_", "ANTHROPIC_")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("LFG_MODEL_CATALOGUE", "off")  # no run reads models.dev from a test
        monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
        monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
        monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))  # agents' logs and lfg's own
        monkeypatch.setenv(KEY_VAR, FAKE_KEY)

    def scenario(self, name: str, toml: str) -> str:
        (self.scenarios / f"{name}.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
        return name

    def tickets(self, *tickets: dict[str, Any]) -> Path:
        path = self.workdir / "tickets.toml"
        path.write_text(tomli_w.dumps({"ticket": list(tickets)}), encoding="utf-8")
        return path

    def run(self, tickets: Path, *extra: str) -> Result:
        self.capsys.readouterr()
        argv = ["run", str(tickets), "--json", "--config", str(self.config), "--db", str(self.db), *extra]
        code = cli.main(argv)
        out, err = self.capsys.readouterr()
        return Result(code, [json.loads(line) for line in out.splitlines()], err, self.db)
