"""lfg's live token estimate, calibrated by the provider's own counts earlier in the run or, before the
run has any, in the history: on the real scheduler, the sim and a real history file, whose tokens (a
word each) a fixed four characters a token reads a third high."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.cost.metrics import Metrics
from lfgtui.cost.tokens import ANY_MODEL, RECENT_COUNTS, OutputCalibration, tokens_in
from lfgtui.events import Event, Outcome, RequestSent, TextDelta, Usage
from lfgtui.history.calibration import recorded_calibration
from lfgtui.history.store import Store
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.recording import as_schema_19, record, sample_attempt


def uncounted(events: list[Event]) -> int:
    """How many of `events` came before the provider reported its count."""
    return next(n for n, e in enumerate(events) if isinstance(e, Usage) and e.output_tokens)


def metrics_of(events: list[Event]) -> Metrics:
    metrics = Metrics()
    for event in events:
        metrics.apply(event)
    return metrics


async def test_a_later_attempt_is_estimated_within_ten_percent_of_its_reported_rate_before_the_count_arrives(
    sim: SimServer, tmp_path: Path
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "long-answer:tokens_per_s=2000"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == {"t": Outcome.COMPLETED}
        assert run.continue_with("t", "go on")  # the ticket's next attempt, on the same model
        assert await run.wait() == {"t": Outcome.COMPLETED}

    requests = [e for e in events if isinstance(e, RequestSent)]
    assert [r.attempt for r in requests] == [1, 2]
    assert requests[0].tokens_per_char is None, "nothing reported yet: the default quarter token"
    assert requests[1].tokens_per_char is not None
    second = [e for e in events if e.attempt == 2]
    counted = next(n for n, e in enumerate(second) if isinstance(e, Usage) and e.output_tokens)
    before, final = metrics_of(second[:counted]), metrics_of(second)
    assert before.rate_estimated and not final.rate_estimated
    assert before.tokens_per_s is not None and final.tokens_per_s is not None
    assert abs(before.tokens_per_s / final.tokens_per_s - 1) <= 0.10, (
        before.tokens_per_s,
        final.tokens_per_s,
    )
    assert abs(before.output_tokens / final.output_tokens - 1) <= 0.10


async def test_a_new_runs_first_attempt_starts_from_what_the_history_counted_within_ten_percent(
    sim: SimServer, tmp_path: Path
) -> None:
    """Tickets that start together all stream before any reports its count: the history's latest
    counts of the model are what they are estimated with. The sim streams (and counts) three
    characters a token here, text lfg's five a token would read far off."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\n'
        'model = "long-answer:tokens_per_s=2000,chunk_chars=3"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    db = tmp_path / "history.sqlite3"
    runs: list[list[Event]] = []
    seeds = []
    async with Providers(sim=sim) as providers:
        for _ in range(2):
            events: list[Event] = []
            async with open_run_history(db, loaded, "lfg run", print) as history:
                assert history is not None
                seeds.append(dict(history.calibration))
                run = Run(loaded.tickets, providers, Approvals(), [events.append])
                run.record(history)
                run.start()
                assert await run.wait() == {"t": Outcome.COMPLETED}
            runs.append(events)

    assert seeds[0] == {}, "an empty history knows nothing"
    model = ("sim", "long-answer:tokens_per_s=2000,chunk_chars=3")
    assert seeds[1].keys() == {model, ANY_MODEL}
    first, second = ([e for e in events if isinstance(e, RequestSent)] for events in runs)
    assert first[0].tokens_per_char is None, "the first run: five characters a token"
    assert second[0].tokens_per_char == seeds[1][model]
    unseeded, before = (metrics_of(events[: uncounted(events)]) for events in runs)
    counted, final = (metrics_of(events) for events in runs)
    assert unseeded.tokens_per_s and before.tokens_per_s and counted.tokens_per_s and final.tokens_per_s
    assert abs(before.tokens_per_s / final.tokens_per_s - 1) <= 0.10, (
        before.tokens_per_s,
        final.tokens_per_s,
    )
    # each against its own run's count: the two runs' paces are the machine's, not the same
    assert abs(unseeded.tokens_per_s / counted.tokens_per_s - 1) > 0.10, "without the history it reads off"


async def test_a_model_the_history_never_counted_starts_from_every_models_counts(
    sim: SimServer, tmp_path: Path
) -> None:
    """A run on a model new to the history (here the same answer at another pace, a model of its
    own) is estimated with what the other models' counts say, within ten percent, not at four
    characters a token."""
    db = tmp_path / "history.sqlite3"
    runs: list[list[Event]] = []
    async with Providers(sim=sim) as providers:
        for model in ("long-answer:tokens_per_s=2000", "long-answer:tokens_per_s=1500"):
            path = tmp_path / "tickets.toml"
            path.write_text(f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "{model}"\n')
            loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
            events: list[Event] = []
            async with open_run_history(db, loaded, "lfg run", print) as history:
                assert history is not None
                run = Run(loaded.tickets, providers, Approvals(), [events.append])
                run.record(history)
                run.start()
                assert await run.wait() == {"t": Outcome.COMPLETED}
            runs.append(events)
    [first] = [e for e in runs[0] if isinstance(e, RequestSent)]
    [second] = [e for e in runs[1] if isinstance(e, RequestSent)]
    assert first.tokens_per_char is None and second.tokens_per_char is not None
    before, final = metrics_of(runs[1][: uncounted(runs[1])]), metrics_of(runs[1])
    assert before.tokens_per_s and final.tokens_per_s
    assert abs(before.tokens_per_s / final.tokens_per_s - 1) <= 0.10, (
        before.tokens_per_s,
        final.tokens_per_s,
    )


def test_the_history_calibration_weighs_a_models_latest_counted_requests(
    tmp_path: Path,
) -> None:
    """One odd request does not move it; output too short to say anything is left out, and so is a
    count that holds input lfg never saw (an agent's account of a call stood for it). A count's
    thinking is taken out of it, as its characters are (issue 52: hidden reasoning)."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        "CREATE TABLE attempts (id TEXT PRIMARY KEY, provider TEXT, model TEXT, started_at REAL);"
        "CREATE INDEX attempts_model ON attempts(provider, model);"
        "CREATE TABLE requests (attempt_id TEXT, n INTEGER, output_tokens INTEGER, counted_chars INTEGER,"
        " reasoning_tokens INTEGER);"
    )
    rows = [("a1", 330, 4000), ("a2", 320, 4000), ("a3", 3000, 4000), ("a4", 5, 40), ("a5", 90, None)]
    for n, (attempt, reported, chars) in enumerate(rows):
        conn.execute("INSERT INTO attempts VALUES (?, 'p', 'm', ?)", (attempt, n))
        conn.execute("INSERT INTO requests VALUES (?, ?, ?, ?, NULL)", (attempt, n, reported, chars))
    conn.execute("INSERT INTO attempts VALUES ('b1', 'p', 'other', 9)")
    found = recorded_calibration(conn, [("p", "m"), ("p", "m"), ("p", "other"), ("q", "m")])
    assert found[("p", "m")] == 330 / 4000, "median of 320/4000, 330/4000 and 3000/4000"
    assert found.keys() == {("p", "m"), ANY_MODEL}, "a model never counted has none of its own"
    conn.execute("INSERT INTO attempts VALUES ('b2', 'q', 'n', 10)")
    conn.execute("INSERT INTO requests VALUES ('b2', 0, 210, 1000, 0)")
    found = recorded_calibration(conn, [("q", "n")])
    # the long enough ones of any model: 320/4000 and 330/4000 hold over half of the characters
    assert found[ANY_MODEL] == 330 / 4000, "210/1000 weighs a quarter of what each other count does"
    conn.execute("INSERT INTO attempts VALUES ('c1', 'q', 'thinker', 11)")
    conn.execute("INSERT INTO requests VALUES ('c1', 0, 3050, 200, 3000)")  # 3,000 unseen tokens
    assert recorded_calibration(conn, [("q", "thinker")])[("q", "thinker")] == 50 / 200


def test_a_history_of_the_schema_before_calibrates_as_it_did(tmp_path: Path) -> None:
    """Migration 20 gives the requests recorded before it the characters their estimate counted."""
    db = tmp_path / "h.sqlite3"
    record(db, tmp_path, sample_attempt()).finish()
    with Store.open(db) as store:
        model = store.conn.execute("SELECT provider, model FROM attempts").fetchone()
        store.conn.execute(
            "UPDATE requests SET estimated_tokens = 500, output_tokens = 450, tokens_per_char = 0.2"
        )
        store.conn.execute("UPDATE requests SET counted_chars = NULL")
        as_schema_19(store.conn)
    with Store.open(db) as store:
        assert {chars for (chars,) in store.conn.execute("SELECT counted_chars FROM requests")} == {2500}
        assert recorded_calibration(store.conn, [tuple(model)])[tuple(model)] == 450 / 2500


def test_the_estimate_counts_a_request_whole_so_small_chunks_do_not_each_round_up() -> None:
    metrics = Metrics()
    metrics.apply(RequestSent(ticket="t", attempt=1, seq=0, t=0.0, call=0))
    for n in range(100):  # two characters: 0.4 of a token each at five characters a token
        metrics.apply(TextDelta(ticket="t", attempt=1, seq=n + 1, t=0.01 * n, text=" a"))
    assert metrics.output_tokens == tokens_in(200, None) == 40


def test_a_calibration_weighs_each_count_by_its_characters_and_keeps_models_apart() -> None:
    calibration = OutputCalibration()
    calibration.learn("sim", "m", 100, 500)
    calibration.learn("sim", "m", 50, 100)
    calibration.learn("sim", "other", 10, 10)
    calibration.learn("sim", "empty", 0, 0)
    assert calibration.tokens_per_char("sim", "m") == 100 / 500, "500 of its 600 characters say so"
    assert calibration.tokens_per_char("sim", "other") == 1.0
    assert calibration.tokens_per_char("sim", "empty") == 100 / 500, "every model this run counted"
    assert calibration.tokens_per_char("lab", "m") == 100 / 500


def test_one_count_far_off_moves_neither_its_model_nor_the_models_never_counted() -> None:
    """Issue 53: a count that held text lfg never saw (a notice an agent counted, its side calls) is
    one of a model's counts; summed in, one such count of a long answer read every later request of
    that model, and every model the run had not counted, 20-50 % off."""
    calibration = OutputCalibration()
    for _ in range(3):
        calibration.learn("claude-code", "opus", 100, 600)
    calibration.learn("claude-code", "opus", 1000, 1000)  # the count of an answer with a notice's text
    assert calibration.tokens_per_char("claude-code", "opus") == pytest.approx(1 / 6)
    assert calibration.tokens_per_char("gemini", "pro") == pytest.approx(1 / 6), "what every model says"


def test_a_run_rates_a_model_by_its_latest_counts() -> None:
    calibration = OutputCalibration()
    for _ in range(RECENT_COUNTS):
        calibration.learn("sim", "m", 1, 4)
    for _ in range(RECENT_COUNTS // 2 + 1):
        calibration.learn("sim", "m", 1, 6)
    assert calibration.tokens_per_char("sim", "m") == pytest.approx(1 / 6), "over half are the latest"


def test_a_model_nothing_counted_starts_from_what_every_model_counted() -> None:
    calibration = OutputCalibration()
    assert calibration.tokens_per_char("sim", "m") is None, "nothing counted: a quarter token"
    calibration.seed({("sim", "m"): 0.2, ANY_MODEL: 0.3})
    assert calibration.tokens_per_char("sim", "m") == 0.2, "the history's count of the model"
    assert calibration.tokens_per_char("sim", "new") == 0.3, "the history's counts of every model"
    calibration.learn("sim", "other", 40, 100)
    assert calibration.tokens_per_char("sim", "new") == 0.4, "this run's counts come first"
    assert calibration.tokens_per_char("sim", "m") == 0.2, "the model's own count before any other"
