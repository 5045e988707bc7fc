"""An agent's question as a form in a headless run (`lfg run --json`): nobody can answer it, so lfg
declines it at once and says why; the NDJSON carries the question (its message and form) and the
answer, and the agent goes on knowing it was declined."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.lfg import Lfg, of, text
from tests.support.patience import PATIENCE


def test_a_headless_run_says_the_question_and_declines_it(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets(
        """
        [[ticket]]
        id = "rel"
        prompt = "Ship it."
        provider = "sim-acp"
        model = "elicit:ttft_ms=0"
        """
    )
    code, events, stderr = lfg.run(tickets)
    assert code == 0, stderr
    [asked] = of(events, "rel", "elicitation")
    assert asked["question"] == "Before I start: how should I name the release?" and asked["waits"] is False
    assert asked["form"]["required"] == ["name", "builds"] and "builds" in asked["form"]["properties"]
    [answer] = of(events, "rel", "elicitation_answer")
    assert (answer["id"], answer["action"], answer["content"], answer["by"]) == (
        asked["id"],
        "decline",
        None,
        "lfg",
    )
    assert "nobody can answer an agent's question in this run" in answer["message"]
    assert "You answered the form: declined" in text(events, "rel")
    states = [e["state"] for e in of(events, "rel", "attention")]
    assert "asked" not in states, "nobody waits on a question declined at once: no alert, no wait"


def test_a_headless_line_shows_the_agents_question_with_its_bidi_controls_visible(tmp_path: Path) -> None:
    """An agent's question that reorders itself (U+202E, a right-to-left override) and rewinds the
    line (a carriage return) is printed with both visible, not as the terminal would render them."""
    lfg = Lfg(tmp_path)
    question = "Run \u202erm -rf ~ #\u202c the tests?\rAll good"
    model = lfg.scenario(
        "reorders",
        f"""
        [elicit]
        message = {json.dumps(question)}
        [elicit.schema.properties.ok]
        type = "boolean"
        [[call]]
        text = "Went on."
        """,
    )
    tickets = lfg.tickets(f'[[ticket]]\nid = "rel"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "{model}"\n')
    done = subprocess.run(
        lfg.args(tickets, "--headless"), env=lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "the agent asks you" in line]
    assert "\u202e" not in line and "\u202c" not in line and "\r" not in line
    assert line.endswith("rel  · the agent asks you: Run <U+202E>rm -rf ~ #<U+202C> the tests?␍All good")
