"""How a model call stopped, through `lfg run --json` and the history it records: a refused or cut-off
answer is no completion (in the NDJSON, the exit code, the dependents, `lfg history stats`), and
a paused turn goes on to complete. Real `lfg` processes against the in-process sim providers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support import warm_lfg
from tests.support.lfg import Lfg, ending, of, text
from tests.support.patience import PATIENCE

TICKETS = """
[[ticket]]
id = "refused"
prompt = "Tell me how."
provider = "sim"
model = "refusal"

[[ticket]]
id = "declined"
prompt = "Tell me how."
provider = "sim-anthropic"
model = "refusal"

[[ticket]]
id = "filtered"
prompt = "Go on with the story."
provider = "sim-responses"
model = "content-filter"

[[ticket]]
id = "cut"
prompt = "Three steps, please."
provider = "sim-responses"
model = "max-tokens"
max_tokens = 64

[[ticket]]
id = "full"
prompt = "Go through every file."
provider = "sim-anthropic"
model = "context-window"

[[ticket]]
id = "paused"
prompt = "Look it up."
provider = "sim-anthropic"
model = "pause-turn"

[[ticket]]
id = "after"
prompt = "Summarise: {{ outputs.refused }}"
model = "hello"
depends_on = ["refused"]
"""


def test_refusals_filters_and_cut_answers_are_no_completion_and_the_history_counts_them(
    tmp_path: Path,
) -> None:
    lfg = Lfg(tmp_path)
    code, events, stderr = lfg.run(lfg.tickets(TICKETS))
    assert code == 1, stderr
    kinds = {
        ticket: (ending(events, ticket)["outcome"], (ending(events, ticket)["error"] or {}).get("kind"))
        for ticket in ("refused", "declined", "filtered", "cut", "full", "paused", "after")
    }
    assert kinds == {
        "refused": ("failed", "refused"),
        "declined": ("failed", "refused"),
        "filtered": ("failed", "content_filter"),
        "cut": ("failed", "max_tokens"),
        "full": ("failed", "context_window"),
        "paused": ("completed", None),
        "after": ("skipped", None),
    }
    assert text(events, "refused") == text(events, "declined") == "I can't help with that request."
    assert "Raise max_tokens, up to the model's output limit" in ending(events, "cut")["error"]["message"]
    assert "max_tokens (64 tokens)" in ending(events, "cut")["error"]["message"]
    assert text(events, "cut").endswith("third,"), "what arrived is kept"
    assert text(events, "paused") == "Let me look that up. Found it: the answer is 42."

    stats = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "stats", "--json", "--config", str(lfg.config)],
        env=lfg.env,
        timeout=60 * PATIENCE,
    )
    assert stats.returncode == 0, stats.stderr
    by_model = {(s["provider"], s["model"]): s for s in json.loads(stats.stdout)}
    assert by_model[("sim", "refusal")]["ended_early"] == {"refused": 1}
    assert by_model[("sim-responses", "content-filter")]["ended_early"] == {"content_filter": 1}
    assert by_model[("sim-responses", "max-tokens")]["ended_early"] == {"max_tokens": 1}
    assert by_model[("sim-anthropic", "context-window")]["ended_early"] == {"context_window": 1}
    paused = by_model[("sim-anthropic", "pause-turn")]
    assert (paused["completed"], paused["ended_early"]) == (1, {})
    table = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "stats", "--config", str(lfg.config)],
        env=lfg.env,
        timeout=60 * PATIENCE,
    ).stdout
    assert "ended early" in table.splitlines()[0]
    assert any("refusal" in line and "1 refused" in line for line in table.splitlines())
    assert of(events, "after", "status"), "the dependent says why it was skipped"
