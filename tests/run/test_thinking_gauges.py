"""Issue 52: a model's hidden reasoning, through the real `lfg run --json`, the sim and the history.
Its count (`output_tokens`) holds thousands of thinking tokens that never streamed: tok/s is the
visible text's pace all the same, live and once resumed, and the thinking is counted apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.sim.scenario import split_tokens
from tests.support.lfg import Lfg, ending, rebuilt_metrics, sim_pace

ANSWER = " ".join(f"step{i} done," for i in range(40))
HIDDEN = 3_000


def test_hidden_reasoning_reads_the_visible_rate_and_is_counted_apart(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.scenario("thinks-unseen", f'ttft_ms = 200\ntokens_per_s = 100\n[[call]]\ntext = "{ANSWER}"\n')
    visible = len(split_tokens(ANSWER))
    counts = f"usage_output_tokens={HIDDEN + visible},usage_reasoning_tokens={HIDDEN}"
    tickets = f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "thinks-unseen:{counts}"\n'
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(tickets), "--db", str(db))
    assert code == 0, stderr
    [usage] = [e for e in events if e["type"] == "usage"]
    assert (usage["output_tokens"], usage["reasoning_tokens"]) == (HIDDEN + visible, HIDDEN)
    end = ending(events, "t")
    assert end["tokens_per_s"] == pytest.approx(sim_pace(events, "t"), rel=0.05), "the visible text's pace"
    assert not end["tokens_per_s_estimated"], "the count says which of its tokens streamed"
    assert (end["output_tokens"], end["thinking_tokens"], end["thinking_estimated"]) == (
        HIDDEN + visible,
        HIDDEN,
        False,
    )
    assert end["thinking_ms"] == end["ttft_ms"], "it thought until its first visible token"
    resumed = rebuilt_metrics(db, "t")
    assert resumed.tokens_per_s == pytest.approx(end["tokens_per_s"], abs=0.006), "as a resumed pane has it"
    assert resumed.thinking_tokens == HIDDEN
