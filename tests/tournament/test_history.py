"""A tournament in the history: each contestant's check and the verdict are recorded with the run, so
`lfg history show` and `export` (Markdown and JSON, imported again) give its table and ranking, and
`lfg history stats --by contestant` ranks the models over every past tournament."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.commands import main as cli
from lfgtui.config.load import Config
from lfgtui.contest import TABLE_HEADER, CheckRan, CheckResult, Contestant, Placing, SuiteCounts
from lfgtui.cost.metrics import Metrics
from lfgtui.history.recorder import Decided, Started
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import open_run_history
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tournament.referee import Referee
from lfgtui.tournament.verdict import rank
from tests.support.git import isolate_git
from tests.support.recording import record, sample_attempt, ticket, without_imported_at
from tests.support.tournament import CHECK, CONTESTANTS, Told, calc_repo, tournament_tickets


def history(capsys: pytest.CaptureFixture[str], db: Path, config: Path, *args: str) -> str:
    """`lfg history ARGS… --db DB` in this process; its stdout (it must succeed)."""
    capsys.readouterr()
    command, *rest = args
    code = cli.main(["history", command, "--db", str(db), "--config", str(config), *rest])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


async def test_the_checks_and_verdict_are_shown_exported_and_imported_from_the_history(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.delenv("LFG_DB", raising=False)
    repo = calc_repo(tmp_path / "repo")
    loaded = load_tickets(tournament_tickets(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    db, config, told, problems = tmp_path / "h.sqlite3", tmp_path / "config.toml", Told(), []
    config.write_text("")
    async with (
        open_run_history(db, loaded, "lfg run", problems.append) as recording,
        Providers(sim=sim) as providers,
    ):
        assert recording is not None
        run = Run(loaded.tickets, providers, Approvals(yes=True), [], worktrees=tmp_path / "trees")
        run.record(recording)
        referee = Referee(run)
        run.sinks += [referee, told]
        run.start()
        assert await run.wait() == dict.fromkeys(CONTESTANTS, Outcome.COMPLETED)
        await referee.settled()
    assert not problems
    run_id = recording.run_id
    (verdict,) = told.verdicts

    shown = history(capsys, db, config, "show", run_id)
    section = shown.split("## Tournament fix\n")[1].split("\n## ")[0]
    assert "winner fix@tournament-pass · ranked by the rule" in section
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[1] for row in rows] == list(CONTESTANTS)
    assert rows[0].startswith("| ★ | fix@tournament-pass | sim/tournament-pass | passed (2 passed) |")
    assert "| failed (0 passed, 1 error) | +3 \u22120, 1 file |" in rows[2]
    assert "1. **fix@tournament-pass**: check passed (2 passed); diff +2 \u22120, 1 file" in section
    table = [
        [cell.strip() for cell in line.split("|")[1:-1]] for line in section.splitlines() if line[:1] == "|"
    ]
    assert table[0] == ["", *TABLE_HEADER], "the history's table has the columns of the verdict's"
    at = TABLE_HEADER.index("cache")
    assert {row[1]: row[1 + at] for row in table[2:]} == {
        ticket: verdict.contestant(ticket).row()[at] for ticket in CONTESTANTS
    }
    broken = shown.split("## fix@tournament-broken")[1]
    assert f"**Check** `{CHECK}`: failed (0 passed, 1 error) in " in broken
    assert "SyntaxError" in broken

    document = json.loads(history(capsys, db, config, "export", run_id, "--format", "json"))
    attempts = {t["ticket"]: t["attempts"][-1] for t in document["run"]["tickets"]}
    kept = verdict.contestant("fix@tournament-broken").check
    assert kept is not None and attempts["fix@tournament-broken"]["check"]["output"] == kept.output
    assert attempts["fix@tournament-fail"]["check"] | {"output": ""} == {
        "command": CHECK,
        "passed": False,
        "output": "",
        "tests_passed": 1,
        "tests_failed": 1,
        "tests_errors": 0,
        "tests_skipped": 0,
        "checked_ms": attempts["fix@tournament-fail"]["check"]["checked_ms"],
    }
    assert (
        attempts["fix@tournament-fail"]["check"]["checked_ms"] >= attempts["fix@tournament-fail"]["ended_ms"]
    )
    (saved,) = document["run"]["verdicts"]
    assert (saved["tournament"], saved["winner"], saved["judge"]) == ("fix", "fix@tournament-pass", None)
    assert json.loads(saved["ranking"]) == [
        {"ticket": p.ticket, "attempt": 1, "reasons": list(p.reasons)} for p in verdict.ranking
    ]
    assert "## Tournament fix" in history(capsys, db, config, "export", run_id)

    exported = tmp_path / "run.json"
    exported.write_text(json.dumps(document))
    elsewhere = tmp_path / "elsewhere.sqlite3"
    history(capsys, elsewhere, config, "import", str(exported))
    again = json.loads(history(capsys, elsewhere, config, "export", run_id, "--format", "json"))
    assert without_imported_at(again)[0] == without_imported_at(document)[0]

    board = json.loads(history(capsys, db, config, "stats", "--by", "contestant", "--json"))
    assert [(e["model"], e["tournaments"], e["wins"], e["win_rate"], e["pass_rate"]) for e in board] == [
        ("tournament-pass", 1, 1, 1.0, 1.0),
        ("tournament-broken", 1, 0, 0.0, 0.0),
        ("tournament-fail", 1, 0, 0.0, 0.0),
    ]


def contestant(ticket_id: str, passed: bool) -> Contestant:
    check = CheckResult("make test", passed, "ok" if passed else "no", SuiteCounts(passed=int(passed)))
    metrics, outcome = Metrics(), Outcome.COMPLETED
    return Contestant(ticket_id, 1, "sim/agent-demo", outcome, metrics, 1.0, check, None, None, None, None)


def decided(tournament: str, *passed: bool) -> Decided:
    """The verdict of contestants `TOURNAMENT@N` whose checks passed or not."""
    contestants = tuple(contestant(f"{tournament}@{n}", ok) for n, ok in enumerate(passed, 1))
    return Decided(rank(tournament, contestants), 1_700_000_100.0)


def checked(tournament: str, *passed: bool) -> list[CheckRan | Decided]:
    """The check of each contestant `TOURNAMENT@N` (its attempt recorded before), then the verdict."""
    told: list[CheckRan | Decided] = []
    for n, ok in enumerate(passed, 1):
        check = contestant(f"{tournament}@{n}", ok).check
        assert check is not None
        told.append(CheckRan(ticket=f"{tournament}@{n}", attempt=1, seq=n, t=101.5, result=check))
    return [*told, decided(tournament, *passed)]


def test_the_leaderboard_counts_each_tournaments_latest_verdict_per_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tournaments of two contestants each, one decided twice (a contestant's follow-up): only
    its latest verdict counts; each model's costs summed, over its wins."""
    monkeypatch.delenv("LFG_DB", raising=False)
    db, config = tmp_path / "h.sqlite3", tmp_path / "config.toml"
    config.write_text("")
    models = {"a@1": "alpha", "a@2": "beta", "b@1": "alpha", "b@2": "beta"}
    attempts = []
    for ticket_id, model in models.items():
        items = sample_attempt(ticket_id)
        started = items[0]
        assert isinstance(started, Started)
        items[0] = Started(replace(started.event, model=model), started.wall)
        attempts.append(items)
    tickets = tuple(ticket(ticket_id, model) for ticket_id, model in models.items())
    recorder = record(db, tmp_path, *attempts, tickets=tickets)
    recorder.write(checked("a", True, False))
    recorder.write([decided("b", True, False)])  # b@1 won, then b@2 was run again and won
    recorder.write(checked("b", False, True))
    recorder.conn.execute("UPDATE attempts SET cost_usd = 0.25")
    recorder.finish()
    with Store.open(db) as store:
        board = store.contestant_stats()
        tournament_b = store.load(Selection(recorder.run_id, "b@2"))
    assert [(s.model, s.tournaments, s.wins, s.passed, s.cost_usd, s.cost_per_win) for s in board] == [
        ("alpha", 2, 1, 1, 0.5, 0.5),
        ("beta", 2, 1, 1, 0.5, 0.5),
    ]
    assert [v.winner for v in tournament_b.verdicts] == ["b@1", "b@2"], "both decisions are kept"
    header, alpha, beta = history(capsys, db, config, "stats", "--by", "contestant").splitlines()
    assert header.split()[:4] == ["provider", "model", "tournaments", "wins"]
    assert "win rate" in header and "check passed" in header and "cost per win" in header
    assert alpha.split() == ["sim", "alpha", "2", "1", "50%", "50%", "$0.50", "$0.50"]
    assert beta.split()[:4] == ["sim", "beta", "2", "1"]


def test_a_judged_verdict_keeps_the_labels_and_a_failed_judging_why(tmp_path: Path) -> None:
    """The judge's ranking with the label each contestant was shown under; a judge that failed, why
    (the ranking then the rule's)."""
    db = tmp_path / "h.sqlite3"
    tickets = tuple(ticket(ticket_id, "m") for ticket_id in ("j@1", "j@2", "k@1", "k@2"))
    recorder = record(db, tmp_path, *(sample_attempt(t.id) for t in tickets), tickets=tickets)
    rule = decided("j", True, True).verdict  # both passed: the judge's pick wins
    labels = (("A", "j@2"), ("B", "j@1"))
    judged = rule.by_judge("j@judge", labels, (Placing("j@2", ("smaller",)), Placing("j@1", ("bigger",))))
    failed = decided("k", True, False).verdict.judge_failed("k@judge", (), "its attempt ended failed")
    recorder.write([Decided(judged, 1_700_000_200.0), Decided(failed, 1_700_000_300.0)])
    recorder.finish()
    with Store.open(db) as store:
        j, k = store.load(Selection(recorder.run_id)).verdicts
    assert (j.judge, j.winner, j.judge_error) == ("j@judge", "j@2", None)
    assert [(p["ticket"], p["label"], p["reasons"]) for p in json.loads(j.ranking)] == [
        ("j@2", "A", ["smaller"]),
        ("j@1", "B", ["bigger"]),
    ]
    assert (k.judge, k.winner, k.judge_error) == ("k@judge", "k@1", "its attempt ended failed")
    assert all("label" not in place for place in json.loads(k.ranking))
