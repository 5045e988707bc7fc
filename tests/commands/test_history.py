"""`lfg run` records into the history; `lfg history …` reads it back, as subprocesses."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lfgtui.formats import context_percent
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from tests.support.lfg import Lfg, data, history, imported_by
from tests.support.patience import PATIENCE
from tests.support.recording import without_imported_at
from tests.support.run import Answerer, run_writer

TICKETS = """
[[ticket]]
id = "explore"
prompt = "What is this project?"
model = "agent-demo"
tools = ["list_dir", "read_file"]

[[ticket]]
id = "hello"
prompt = "Say hello."
model = "hello"
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lfg, str]:
    """One recorded run in the default history file (the user data folder), shared by the tests."""
    lfg = Lfg(tmp_path_factory.mktemp("recorded"))
    code, _, stderr = lfg.run(lfg.tickets(TICKETS))
    assert code == 0, stderr
    run_id = stderr.split("recorded as run ")[1].split()[0]
    return lfg, run_id


def test_the_run_lands_in_the_user_data_folder_privately(recorded: tuple[Lfg, str]) -> None:
    lfg, _ = recorded
    db = lfg.home / "data" / "lfgtui" / "history.sqlite3"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_list(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    (run,) = data(history(lfg, "list", "--json"))
    assert run["id"] == run_id and run["tickets"] == 2
    assert run["outcomes"] == {"completed": 2} and run["output_tokens"] > 0
    assert run["tickets_file"].endswith("tickets.toml")
    text = history(lfg, "list").stdout
    assert run_id in text and "2 completed" in text


def test_list_makes_no_event_row_or_stats_classes(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    done, imported = imported_by("history", "list", "--config", str(lfg.config), env=lfg.env)
    assert done.returncode == 0 and run_id in done.stdout, done.stderr
    heavy = {"lfgtui.events", "lfgtui.history.rows", "lfgtui.history.rebuild", "lfgtui.history.stats"}
    heavy |= {"lfgtui.cost.metrics", "lfgtui.cost.prices", "lfgtui.providers.registry"}
    assert imported & heavy == set()
    assert {"lfgtui.config.load", "lfgtui.history.store", "lfgtui.formats"} <= imported, (
        "the test sees imports"
    )


@pytest.mark.parametrize("command", [("list",), ("show", "RUN"), ("export", "RUN")])
def test_a_history_command_imports_no_event_loop(recorded: tuple[Lfg, str], command: tuple[str, ...]) -> None:
    """They read a file and print: asyncio (imported by the parser of `lfg run` until issue #77) is a
    tenth of their start-up for nothing. The test lists what each imported at exit."""
    lfg, run_id = recorded
    args = [run_id if arg == "RUN" else arg for arg in command]
    done, imported = imported_by(
        "history", *args, "--config", str(lfg.config), env=lfg.env, packages=("asyncio", "lfgtui")
    )
    assert done.returncode == 0 and run_id in done.stdout, done.stderr
    assert "asyncio" not in imported, sorted(imported)
    assert "lfgtui.history.store" in imported, "the test sees imports"


def test_search(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    hits = data(history(lfg, "search", "renders", "widgets", "--json"))
    assert hits and hits[0]["ticket"] == "explore" and hits[0]["run_id"] == run_id
    start, end = hits[0]["highlights"][0]
    assert hits[0]["snippet"][start:end].lower() in ("renders", "widgets")
    tool_output = data(history(lfg, "search", '"A tiny service"', "--json"))
    assert [(h["kind"], h["name"]) for h in tool_output] == [("tool_result", "read_file")]
    assert data(history(lfg, "search", "widgets", "--ticket", "hello", "--json")) == []
    assert data(history(lfg, "search", "widgets", "--status", "failed", "--json")) == []
    assert data(history(lfg, "search", "widgets", "--since", "1h", "--model", "agent-demo", "--json"))
    assert data(history(lfg, "search", "--json", "--", "NEAR(", '"', "-*")) == []
    none = history(lfg, "search", "xylophone")
    assert none.returncode == 1 and "no matches" in none.stderr
    assert history(lfg, "search", "x", "--since", "yesterday-ish").returncode == 2


def test_show_a_run_a_ticket_and_an_attempt_by_prefix(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    shown = history(lfg, "show", run_id[:5])
    assert shown.returncode == 0, shown.stderr
    assert "What this project is" in shown.stdout and "list_dir" in shown.stdout
    ticket = data(history(lfg, "show", f"{run_id[:5]}/hello", "--json"))
    (hello,) = ticket["run"]["tickets"]
    (attempt,) = hello["attempts"]
    by_attempt = data(history(lfg, "show", attempt["id"][:7], "--json"))
    assert by_attempt == ticket
    unknown = history(lfg, "show", "ffffffffffff0")
    assert unknown.returncode == 2 and "no run or attempt" in unknown.stderr, (
        "as lfg resume and replay answer it"
    )


def test_export_markdown(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    markdown = history(lfg, "export", run_id, "--format", "md").stdout
    assert markdown.startswith(f"# Run {run_id}")
    assert "| ticket | # | attempt id | outcome | provider/model | TTFT | tok/s |" in markdown
    assert "<details><summary>Tool call: read_file</summary>" in markdown
    assert "A tiny service that renders widgets." in markdown


def test_export_json_imports_into_another_file_losslessly(recorded: tuple[Lfg, str], tmp_path: Path) -> None:
    lfg, run_id = recorded
    exported = tmp_path / "run.json"
    assert history(lfg, "export", run_id, "--format", "json", "-o", str(exported)).returncode == 0
    other = tmp_path / "other.sqlite3"
    imported = history(lfg, "import", str(exported), db=other)
    assert imported.returncode == 0, imported.stderr
    assert f"imported run {run_id} (2 tickets, 2 attempts)" in imported.stdout
    shown, imported_at = without_imported_at(data(history(lfg, "show", run_id, "--json", db=other)))
    assert isinstance(imported_at, float), "the run is marked as brought in"
    assert shown == without_imported_at(json.loads(exported.read_text()))[0], "and is as it was exported"
    again = history(lfg, "import", str(exported), db=other)
    assert again.returncode == 1 and "already in the history" in again.stderr
    (tmp_path / "bad.json").write_text('{"format": "something else"}')
    assert history(lfg, "import", str(tmp_path / "bad.json"), db=other).returncode == 1


@pytest.mark.parametrize(
    "command", [("list", "--json"), ("list",), ("show", "RUN", "--json"), ("show", "RUN"), ("export", "RUN")]
)
def test_a_reader_that_stops_reading_ends_the_command_quietly(
    recorded: tuple[Lfg, str], command: tuple[str, ...]
) -> None:
    """`lfg history list --json | head -1`: no traceback, the exit code of a tool killed by SIGPIPE."""
    lfg, run_id = recorded
    args = [sys.executable, "-m", "lfgtui", "history", *(run_id if a == "RUN" else a for a in command)]
    process = subprocess.Popen(
        [*args, "--config", str(lfg.config)], env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before it writes a byte: its first write finds no reader
    assert process.wait(timeout=60 * PATIENCE) == 141
    assert process.stderr.read() == b""


def test_stats(recorded: tuple[Lfg, str]) -> None:
    lfg, _ = recorded
    stats = {(s["provider"], s["model"]): s for s in data(history(lfg, "stats", "--json"))}
    demo = stats[("sim", "agent-demo")]
    assert demo["attempts"] == demo["completed"] == 1
    assert demo["ttft_p50_ms"] > 0 and demo["ttft_p95_ms"] >= demo["ttft_p50_ms"]
    assert demo["tokens_per_s_p50"] > 0
    assert "TTFT p95" in history(lfg, "stats").stdout


QUOTA_TICKETS = (
    "".join(f'[[ticket]]\nid = "q{n}"\nprompt = "go"\nmodel = "quota"\n\n' for n in range(3))
    + '[[ticket]]\nid = "refused"\nprompt = "go"\nprovider = "sim-anthropic"\nmodel = "refused"\n'
)


def test_stats_by_quota_read_a_runs_quotas_waits_and_429s_back(tmp_path: Path) -> None:
    """Three tickets one at a time through a quota of two requests a window: the third waits for the
    reset; another provider meets a 429 on each of its three requests (two retries, then it fails)."""
    lfg = Lfg(tmp_path)
    lfg.config.write_text("[providers.sim]\nmax_concurrency = 1\n")
    lfg.scenario(
        "quota", 'ttft_ms = 1\nratelimit_requests = 2\nratelimit_window_ms = 1500\n[[call]]\ntext = "ok"\n'
    )
    lfg.scenario(
        "refused",
        'ttft_ms = 1\n[[call]]\ntext = "ok"\n[[fault]]\nkind = "http"\nstatus = 429\nretry_after = 0.05\n',
    )
    before = time.time()
    code, events, stderr = lfg.run(lfg.tickets(QUOTA_TICKETS))
    after = time.time()
    assert code == 1, stderr
    assert [e["outcome"] for e in events if e["type"] == "attempt_ended"].count("completed") == 3

    sim, anthropic = data(history(lfg, "stats", "--by", "quota", "--json"))
    assert (sim["provider"], sim["requests_limit"], sim["requests_remaining"]) == ("sim", 2, 1)
    assert sim["tokens_limit"] is None and sim["tokens_remaining"] is None
    assert before < sim["seen_at"] < after and 0 < sim["requests_reset_at"] - sim["seen_at"] <= 1.5
    assert (sim["quota_waits"], sim["rate_limited"]) == (1, 0)
    assert anthropic == {
        "provider": "sim-anthropic",
        "seen_at": None,
        "requests_remaining": None,
        "requests_limit": None,
        "requests_reset_at": None,
        "tokens_remaining": None,
        "tokens_limit": None,
        "tokens_reset_at": None,
        "quota_waits": 0,
        "rate_limited": 3,
        "context_used": None,
        "context_size": None,
        "context_at": None,
        "agent_cost_usd": None,
        "limit": None,
        "limit_at": None,
    }
    table = history(lfg, "stats", "--by", "quota").stdout.splitlines()
    assert table[0].split() == [
        "provider",
        "requests",
        "left",
        "tokens",
        "left",
        "context",
        "agent",
        "cost",
        "agent",
        "limit",
        "seen",
        "waits",
        "for",
        "a",
        "reset",
        "429s",
    ]
    assert table[1].split()[:3] == ["sim", "1/2", "-"] and table[1].split()[-2:] == ["1", "0"]
    assert table[2].split() == ["sim-anthropic", "-", "-", "-", "-", "-", "-", "0", "3"]
    only = data(history(lfg, "stats", "--by", "quota", "--provider", "sim-anthropic", "--json"))
    assert [row["provider"] for row in only] == ["sim-anthropic"]


SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]


def test_stats_by_quota_read_a_coding_agents_last_context_and_its_reported_cost_back(tmp_path: Path) -> None:
    """Two tickets on an agent that reports $0.03 a prompt and a five-hour limit 91% used: its last
    context, both prompts' cost, and the limit."""
    lfg = Lfg(tmp_path)
    costly = json.dumps([*SIM_AGENT, "--cost", "0.03", "--rate-limit", "0.91"])
    lfg.config.write_text(f'[providers.costly]\nkind = "acp"\ncommand = {costly}\n')
    tickets = "".join(
        f'[[ticket]]\nid = "{name}"\nprompt = "{prompt}"\nprovider = "costly"\nmodel = "hello:ttft_ms=0"\n'
        for name, prompt in (("short", "x"), ("long", "say hello to everyone in the room"))
    )
    before = time.time()
    code, events, stderr = lfg.run(lfg.tickets(tickets))
    after = time.time()
    assert code == 0, stderr
    contexts = [e for e in events if e["type"] == "context"]
    for name in ("short", "long"):  # the two tickets' events interleave as they run at once
        mine = [(c["cost_usd"], c["limit"] is None) for c in contexts if c["ticket"] == name]
        assert mine == [(None, False), (0.03, True)], name

    [agent] = data(history(lfg, "stats", "--by", "quota", "--json"))
    assert (agent["provider"], agent["agent_cost_usd"], agent["context_size"]) == ("costly", 0.06, 200_000)
    assert agent["context_used"] == contexts[-1]["used"] and before < agent["context_at"] < after
    assert agent["seen_at"] is None and agent["requests_remaining"] is None
    limit, said_at = agent["limit"], agent["limit_at"]
    assert (limit["window"], limit["status"], limit["used"]) == ("five_hour", "allowed_warning", 0.91)
    assert before < said_at < after and 3590 < limit["reset_s"] <= 3600
    table = history(lfg, "stats", "--by", "quota").stdout.splitlines()
    used = contexts[-1]["used"]
    shown = f"{used:,}/200,000 ({context_percent(used, 200_000)}) $0.06 5h 91% used"
    assert table[1].split()[:9] == ["costly", "-", "-", *shown.split()], table
    assert table[1].split()[9].startswith("↻"), table


def test_no_history_records_nothing(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n')
    code, _, stderr = lfg.run(tickets, "--no-history")
    assert code == 0 and "recorded as run" not in stderr
    assert not (lfg.home / "data").exists()


def test_the_flag_beats_the_environment_beats_the_config(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    configured, from_env, flagged = tmp_path / "config.db", tmp_path / "env.db", tmp_path / "flag.db"
    lfg.config.write_text(f'[history]\npath = "{configured}"\n')
    tickets = lfg.tickets('[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n')
    assert lfg.run(tickets)[0] == 0
    lfg.env["LFG_DB"] = str(from_env)
    assert lfg.run(tickets)[0] == 0
    assert lfg.run(tickets, "--db", str(flagged))[0] == 0
    dbs = (configured, from_env, flagged)
    counts = {db.name: len(data(history(lfg, "list", "--json", db=db))) for db in dbs}
    assert counts == {"config.db": 1, "env.db": 1, "flag.db": 1}
    assert len(data(history(lfg, "list", "--json"))) == 1, "history commands follow LFG_DB too"
    assert not (lfg.home / "data").exists()


async def test_show_tells_a_calls_approval_between_its_request_and_its_result(
    sim: SimServer, tmp_path: Path
) -> None:
    """The writer asks for two calls at once; each is asked about and answered, then runs (or not):
    `show` and the Markdown export read in that order, each approval inside its own call's block."""
    lfg, db = Lfg(tmp_path), tmp_path / "approvals.sqlite3"
    run = await run_writer(sim, tmp_path, Approvals(askable=True), Answerer([True, False]), db)
    said = [
        "→ write_file",
        "notes/summary.md",
        "write_file waits for approval",
        "write_file approved by 203.0.113.9 (lfg attach)",
        "Result:",
        "created 'notes/summary.md'",
        "→ run_command",
        "cat notes/summary.md",
        "run_command waits for approval",
        "run_command denied by 203.0.113.9 (lfg attach)",
        "Result (error):",
        "denied: the user did not approve",
        "Done: the notes are in",
    ]
    shown = history(lfg, "show", run.run_id, db=db)
    assert shown.returncode == 0, shown.stderr
    places = [shown.stdout.find(text) for text in said]
    assert -1 not in places and places == sorted(places), list(zip(said, places, strict=True))
    assert shown.stdout.count("waits for approval") == 2, "each note once, in its call's block"
    markdown = history(lfg, "export", run.run_id, "--format", "md", db=db).stdout
    blocks = markdown.split("<details><summary>Tool call: ")[1:]
    assert [block.split("</summary>")[0] for block in blocks] == ["write_file", "run_command"]
    for block, answer in zip(blocks, ["approved by", "denied by"], strict=True):
        inside = block.split("</details>")[0]
        assert inside.index("waits for approval") < inside.index(answer) < inside.index("*Result")


def test_the_run_records_its_command_line_as_given(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    run = data(history(lfg, "show", run_id, "--json"))["run"]
    assert run["command"] == f"lfg run {lfg.workdir / 'tickets.toml'} --json --config {lfg.config}"


def test_a_models_headings_nest_under_its_attempts_heading(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    markdown = history(lfg, "export", run_id, "--format", "md").stdout
    assert "\n#### What this project is\n" in markdown and "\n##### How to run it\n" in markdown
    outline, fenced = [], False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")  # a tool's output (the README it read) is in a code block
        if not fenced and line.startswith(("# ", "## ")):
            outline.append(line)
    assert outline[0] == f"# Run {run_id}"
    assert [line.split(" · ")[0] for line in outline[1:]] == ["## explore", "## hello"], outline


def test_piped_show_is_the_markdown_whole_not_fitted_to_80_columns(recorded: tuple[Lfg, str]) -> None:
    lfg, run_id = recorded
    shown = history(lfg, "show", run_id)
    assert shown.returncode == 0, shown.stderr
    attempt_ids = [
        a["id"] for t in data(history(lfg, "show", run_id, "--json"))["run"]["tickets"] for a in t["attempts"]
    ]
    assert all(f"`{attempt_id}`" in shown.stdout for attempt_id in attempt_ids), "whole ids"
    assert not [line for line in shown.stdout.splitlines() if line != line.rstrip()], "no padding"
    assert shown.stdout.startswith(f"# Run {run_id}\n")
