"""Text and gauges as the agent means them, through the real `lfg run --json` and the history: the
sim agent plays what real agents do (bare messages around a tool call, an empty first chunk and its
own notice, a slow tool, an error relayed in one burst)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from lfgtui.events import TextDelta
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.sim.scenario import split_tokens
from tests.support.lfg import Lfg, ending, of, placed_at, rebuilt_metrics, sim_pace, text

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"]
QUIRKS = {
    "bare": ["--bare-messages"],
    "noisy": ["--empty-first-chunk", "--notice", "Heads up: this model is deprecated."],
    "gemini-like": ["--bare-messages", "--quota-meta"],
    "gemini-two-models": ["--quota-meta", "--answered-by", "gemini-2.5-flash,gemini-2.5-pro"],
    "gemini-unknown-model": ["--quota-meta", "--answered-by", "gemini-from-a-gateway"],
    "codex-like": ["--notice", "Warning: Model metadata for `gw-1` not found. Defaulting to fallback.\n\n"],
    "plain": ["--bare-messages"],
    "claude-like": ["--bare-messages", "--informational", "**Warning:** auto mode is billed as before."],
    "slow-tools": ["--bare-messages", "--tool-ms", "2000"],
    "relay": ["--burst", "API Error: 500 " + "the upstream service failed to answer in time; " * 8],
}
WORDS = " ".join(f"word{i}" for i in range(30))
FIVES = ("quick", "brown", "foxes", "jumps", "above", "lazy.", "dogs,", "every", "night", "under")
"""Words whose sim tokens (a word with its space) are 6 characters, as its tool calls' argument
pieces are: the agent's tokens per character are the same in its text as in its tool input."""


def prose(words: int) -> str:
    """`words` of `FIVES`, a dozen a line."""
    chosen = [FIVES[i % len(FIVES)] for i in range(words)]
    return "\n".join(" ".join(chosen[i : i + 12]) for i in range(0, words, 12))


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` in its own folders, with a sim agent per quirk of real agents as its providers."""
    isolated = Lfg(tmp_path)
    isolated.env["XDG_STATE_HOME"] = str(isolated.home / "state")
    isolated.config.write_text(
        "".join(
            f'[providers.{name}]\nkind = "acp"\ncommand = {json.dumps(SIM_AGENT + flags)}\n\n'
            for name, flags in QUIRKS.items()
        )
    )
    return isolated


def ticket(ticket_id: str, provider: str, model: str) -> str:
    return f'[[ticket]]\nid = "{ticket_id}"\nprompt = "go"\nprovider = "{provider}"\nmodel = "{model}"\n\n'


def text_tokens(events: list[dict[str, Any]]) -> int:
    """The sim's tokens of ticket t's text (its pieces, `split_tokens`): the rest of its count is its
    calls' input."""
    return sum(len(split_tokens(e["text"])) for e in of(events, "t", "text"))


def recorded(db: Path, ticket_id: str) -> tuple[Any, str]:
    """The ticket's last attempt as the history keeps it: its row, and its text rebuilt from the rows."""
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        record = store.load(Selection(run.id))
    [kept] = [t for t in record.tickets if t.row.ticket == ticket_id]
    [shown] = [t for t in recorded_run(record).tickets if t.ticket.id == ticket_id]
    answer = "".join(e.text for e in shown.attempts[-1].events if isinstance(e, TextDelta))
    return kept.attempts[-1].row, answer


TWO_STEPS = """
ttft_ms = 0
tokens_per_s = 0
[[call]]
text = "I'll read the README first."
[[call.tool_call]]
name = "read_file"
arguments = { path = "README.md" }
[[call]]
text = "## What it is\\n\\nA widget service."
"""
TWO_STEPS_TEXT = "I'll read the README first.\n\n## What it is\n\nA widget service."
"""Its two messages as the agent means them: a Markdown block each."""


def test_messages_on_both_sides_of_a_tool_call_are_separate_blocks(lfg: Lfg, tmp_path: Path) -> None:
    lfg.scenario("two-steps", TWO_STEPS)
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(ticket("t", "bare", "two-steps")), "--db", str(db))
    assert code == 0, stderr
    assert text(events, "t") == TWO_STEPS_TEXT
    assert recorded(db, "t")[1] == TWO_STEPS_TEXT


def test_a_notice_claude_code_marks_informational_between_its_messages_is_a_notice_not_text(
    lfg: Lfg, tmp_path: Path
) -> None:
    """Claude Code sends its auto mode's billing warning as a message chunk marked
    `_meta.claudeCode.kind: "informational"`, after a tool call, between the model's messages: it
    was shown, recorded and counted as the answer's text (its characters in the rate)."""
    lfg.scenario("two-steps", TWO_STEPS)
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(ticket("t", "claude-like", "two-steps")), "--db", str(db))
    assert code == 0, stderr
    assert text(events, "t") == TWO_STEPS_TEXT, "the notice is neither text nor a split between the messages"
    said = [e["message"] for e in events if e["type"] == "status" and e["ticket"] == "t"]
    assert "the agent's notice: **Warning:** auto mode is billed as before." in said, said
    assert recorded(db, "t")[1] == TWO_STEPS_TEXT


def test_ttft_waits_for_the_models_output_past_an_empty_chunk_and_the_agents_notice(
    lfg: Lfg, tmp_path: Path
) -> None:
    lfg.scenario(
        "thinker",
        """
        ttft_ms = 400
        tokens_per_s = 100
        [[call]]
        reasoning = "The user wants the answer."
        text = "The answer is 42."
        """,
    )
    lfg.scenario("answerer", 'ttft_ms = 400\ntokens_per_s = 100\n[[call]]\ntext = "The answer is 42."\n')
    db = tmp_path / "history.sqlite3"
    tickets = ticket("t", "noisy", "thinker") + ticket("codex", "codex-like", "answerer")
    code, events, stderr = lfg.run(lfg.tickets(tickets), "--db", str(db))
    assert code == 0, stderr
    notices = {"t": "Heads up: this model is deprecated.", "codex": "Warning: Model metadata for `gw-1` not"}
    for ticket_id, notice in notices.items():
        assert text(events, ticket_id) == "The answer is 42.", "the agent's notice is no answer text"
        said = [e["message"] for e in events if e["type"] == "status" and e["ticket"] == ticket_id]
        assert any(m.startswith(f"the agent's notice: {notice}") for m in said), said
        # the model's first token is due 400 ms after the prompt arrives, which is after lfg sent it
        assert ending(events, ticket_id)["ttft_ms"] >= 400
        row, answer = recorded(db, ticket_id)
        assert row.ttft_ms >= 400 and row.ttft_text_ms >= 400
        assert answer == text(events, ticket_id)
    # the text's first token is the text's own: later than the reasoning's wherever lfg read them
    # apart (a loaded machine's lfg may read the reasoning's last words and the text's first at once)
    row = recorded(db, "t")[0]
    reasoning_at, text_at = (of(events, "t", kind)[0]["t"] for kind in ("reasoning", "text"))
    if text_at - reasoning_at >= 0.005:
        assert row.ttft_text_ms > row.ttft_reasoning_ms


def test_the_rate_leaves_out_the_time_the_agents_tools_run(lfg: Lfg, tmp_path: Path) -> None:
    lfg.scenario(
        "steps",
        f"""
        ttft_ms = 0
        tokens_per_s = 60
        [[call]]
        text = "{WORDS}"
        [[call.tool_call]]
        name = "read_file"
        arguments = {{ path = "README.md" }}
        [[call]]
        text = "{WORDS}"
        """,
    )
    tickets = ticket("plain", "plain", "steps") + ticket("slow", "slow-tools", "steps")
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(tickets), "--db", str(db))
    assert code == 0, stderr
    # The slow ticket's tool ran 2 s longer than the plain one's, more than either streamed: each reads
    # the pace its own text came at (a loaded machine paces the two apart: a CI run read 41 and 62).
    for ticket_id in ("plain", "slow"):
        end = ending(events, ticket_id)
        own = sum(len(split_tokens(e["text"])) for e in of(events, ticket_id, "text"))
        pace = sim_pace(events, ticket_id, end["output_tokens"] - own)
        assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), (ticket_id, end["tokens_per_s"], pace)
    slow = ending(events, "slow")["tokens_per_s"]
    assert recorded(db, "slow")[0].tokens_per_s == pytest.approx(slow, rel=0.01)


def test_a_resumed_attempt_reads_the_live_rate_and_ttft_to_the_shown_precision(
    lfg: Lfg, tmp_path: Path
) -> None:
    """Short runs of text between tool calls (tens of ms each, as an agent's one-line steps are): the
    history keeps each chunk's time in whole ms, and the live rate counts the same (196.7 live vs
    195.4 resumed before). TTFT agrees to the history's whole ms (rounding both can split at .5)."""
    step = '[[call]]\ntext = "Now I check the next file in the list."\n'
    tool = '[[call.tool_call]]\nname = "read_file"\narguments = { path = "README.md" }\n'
    lfg.scenario("steps", "ttft_ms = 30\ntokens_per_s = 200\n" + (step + tool) * 6 + step)
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(ticket("t", "plain", "steps")), "--db", str(db))
    assert code == 0, stderr
    end, resumed = ending(events, "t"), rebuilt_metrics(db, "t")
    assert resumed.tokens_per_s == pytest.approx(end["tokens_per_s"], abs=0.006)
    assert resumed.ttft_s is not None
    assert resumed.ttft_s * 1000 == pytest.approx(end["ttft_ms"], abs=1.0), "the history keeps whole ms"


def test_an_error_relayed_in_one_burst_has_no_rate(lfg: Lfg, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(ticket("t", "relay", "hello")), "--db", str(db))
    assert code == 0, stderr
    assert text(events, "t").startswith("API Error: 500 the upstream service")
    end = ending(events, "t")
    assert end["tokens_per_s"] is None and end["output_tokens"] > 0
    assert recorded(db, "t")[0].tokens_per_s is None


def test_the_rate_leaves_out_the_tool_input_the_agent_counts_but_never_streamed(
    lfg: Lfg, tmp_path: Path
) -> None:
    """Issue 33: an agent's usage counts a file it writes, which it sends whole at once after its
    text; the rate is that of its text as lfg received it, not of the file's tokens over the text's
    time. (On a loaded machine the file can reach lfg 25 ms or more after the text: lfg then takes it
    as written meanwhile, and so does the expected pace, `sim_pace`.)"""
    write = json.dumps({"path": "notes/long.md", "content": prose(700)})
    lfg.scenario(
        "writes",
        f"""
        ttft_ms = 300
        tokens_per_s = 120
        [[call]]
        text = "{prose(40).replace(chr(10), " ")}"
        [[call.tool_call]]
        name = "write_file"
        arguments_raw = '{write}'
        [[call]]
        text = "{prose(40).replace(chr(10), " ")}"
        """,
    )
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(ticket("t", "plain", "writes")), "--db", str(db), "--yes")
    assert code == 0, stderr
    end = ending(events, "t")
    assert end["output_tokens"] > 700, "the agent's count includes the file"
    resumed = rebuilt_metrics(db, "t")
    pace = sim_pace(events, "t", end["output_tokens"] - text_tokens(events))
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), "the text's pace"
    placed = placed_at(events, "t") is not None  # the file came 25 ms after the text: written meanwhile
    assert end["tokens_per_s_estimated"] is not placed, "split from the file's tokens by characters"
    assert resumed.tokens_per_s == pytest.approx(end["tokens_per_s"], abs=0.006), "as a resumed pane has it"
    row = recorded(db, "t")[0]
    assert row.tokens_per_s == pytest.approx(end["tokens_per_s"], rel=0.01)
    assert row.tokens_per_s_estimated is not placed


def test_a_count_without_the_thoughts_is_shown_as_reported_and_rates_the_rest(
    lfg: Lfg, tmp_path: Path
) -> None:
    """Issue 33: Gemini CLI reports its turn's tokens in its answer's `_meta.quota.token_count`, its
    thoughts left out: lfg shows that count, and rates the text and tool input it holds by their
    characters, the thoughts' characters and time left out."""
    write = json.dumps({"path": "notes/long.md", "content": prose(200)})
    lfg.scenario(
        "thinks-and-writes",
        f"""
        ttft_ms = 100
        tokens_per_s = 150
        [[call]]
        reasoning = "{prose(30).replace(chr(10), " ")}"
        text = "{prose(40).replace(chr(10), " ")}"
        [[call.tool_call]]
        name = "write_file"
        arguments_raw = '{write}'
        [[call]]
        text = "{prose(40).replace(chr(10), " ")}"
        """,
    )
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(
        lfg.tickets(ticket("t", "gemini-like", "thinks-and-writes")), "--db", str(db), "--yes"
    )
    assert code == 0, stderr
    [usage] = [e for e in events if e["type"] == "usage" and e["ticket"] == "t"]
    thoughts = sum(1 for e in events if e["type"] == "reasoning" and e["ticket"] == "t" and e["text"])
    assert thoughts > 1, "the thoughts streamed"
    end = ending(events, "t")
    assert end["output_tokens"] == usage["output_tokens"] > 200, "the agent's count, the file's tokens in it"
    assert usage["output_tokens"] + thoughts == usage["output_tokens"] + 30, (
        "the sim counts a thought a token"
    )
    pace = sim_pace(events, "t", end["output_tokens"] - text_tokens(events))
    assert end["tokens_per_s"] == pytest.approx(pace, rel=0.05), "the text's pace"
    assert rebuilt_metrics(db, "t").tokens_per_s == pytest.approx(end["tokens_per_s"], abs=0.006)


def list_price(model: str, input_tokens: int, output_tokens: int) -> float:
    """What genai-prices says the Gemini API charges for these counts of `model`."""
    usage = genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return float(genai_prices.calc_price(usage, model, provider_id="google").total_price)


def test_gemini_is_priced_by_the_models_it_says_answered(lfg: Lfg, tmp_path: Path) -> None:
    """Gemini CLI names each model a turn called and its share of the counts: each share is priced as
    its model, live, in the NDJSON and once resumed; a model with no known price leaves the cost unknown."""
    db = tmp_path / "history.sqlite3"
    tickets = ticket("two", "gemini-two-models", "hello") + ticket("odd", "gemini-unknown-model", "hello")
    code, events, stderr = lfg.run(lfg.tickets(tickets), "--db", str(db))
    assert code == 0, stderr
    [usage] = [e for e in events if e["type"] == "usage" and e["ticket"] == "two"]
    flash, pro = usage["models"]
    assert (flash["model"], pro["model"]) == ("gemini-2.5-flash", "gemini-2.5-pro")
    assert flash["input_tokens"] + pro["input_tokens"] == usage["input_tokens"] > 0
    assert flash["output_tokens"] + pro["output_tokens"] == usage["output_tokens"] > 0
    expected = sum(list_price(m["model"], m["input_tokens"], m["output_tokens"]) for m in (flash, pro))
    assert expected > 0
    end = ending(events, "two")
    assert end["cost_usd"] == pytest.approx(expected, rel=1e-6)
    assert not end["cost_by_agent"], "lfg's pricing of the agent's counts, not a cost the agent reported"
    assert rebuilt_metrics(db, "two").cost_usd == pytest.approx(expected, rel=1e-6), "resumed as live"
    assert ending(events, "odd")["cost_usd"] is None, "no price known for that model: unknown, not $0"
