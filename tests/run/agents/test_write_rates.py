"""Issue 67: a coding agent's one output count holds its text and its tool calls' input, whose
characters are worth other numbers of tokens (prose, code, a patch, JSON). The sim agent plays a
turn that writes a long file and a long patch, the model streaming their arguments at its pace
before the agent shows each call (`--paced-tool-input`), and reports its count each real agent's
way: Claude Code announces a tool use bare at its block's start and sends its input once the model
wrote it, its count in the prompt's answer (claude-agent-acp 0.101.0, dist/acp-agent.js:
`streamEventToAcpNotifications` on `content_block_start`, `session.accumulatedUsage.outputTokens`);
Codex shows its account of a call once it is whole (codex-acp 2.6.0, dist/index.js
`toPromptUsage`: `outputTokens`, `thoughtTokens`); Gemini CLI shows the call whole, its count in
`_meta.quota.token_count`. tok/s reads the pace lfg received the turn's text at, whatever the tools
wrote, live, in the NDJSON and once resumed from the history."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from lfgtui.sim.scenario import ScenarioLibrary, split_tokens
from tests.support.lfg import Lfg, ending, of, rebuilt_metrics

SIM_AGENT = [sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}", "--paced-tool-input"]
AGENTS = {
    "claude-like": ("long-write:late_tool_input=1", []),
    "codex-like": ("long-write", ["--agent-name", "codex-acp"]),
    "gemini-like": ("long-write", ["--quota-meta"]),
}


CALLS = ("tool_call", "tool_call_update")
MODEL = "p1_call_"
"""The ids of the model's calls, not lfg's own rows for what the agent asks of it (`lfg-write-1`)."""


def received_pace(events: list[dict[str, Any]]) -> float:
    """The known truth: the sim's tokens of each model call (its text's pieces, and its tool call's
    arguments, a token each 6 characters as the sim streams and counts them) after the first, over
    the time from its first text chunk to the call's whole input reaching lfg (its last chunk for a call
    with no tool), from the NDJSON's own times: the pace lfg received the turn's output at, whatever
    pace a loaded machine let the sim keep."""
    scenario = ScenarioLibrary(extra_dirs=()).resolve("long-write")
    tokens, span, run = 0, 0.0, None
    inputs: dict[str, Any] = {}
    for event in of(events, "t"):
        if event["type"] == "text" and event["text"]:
            if run is not None and "given" in run:
                span += run["given"] - run["first"]
                run = None
            run = run or {"first": event["t"], "tokens": 0, "last": 0.0}
            run["tokens"] += len(split_tokens(event["text"]))
            run["last"] = event["t"]
        elif (
            event["type"] in CALLS
            and run is not None
            and event["arguments"]
            and event["id"].startswith(MODEL)
            and event["arguments"] != inputs.get(event["id"])
        ):  # the call's input, or more of it (a Claude-like first argument, then the whole)
            inputs[event["id"]] = event["arguments"]
            if "given" not in run:
                arguments = scenario.call(int(event["id"].split("_")[2])).tool_calls[0].arguments
                tokens += run["tokens"] + math.ceil(len(arguments) / 6) - 1
            run["given"] = event["t"]
    if run is not None and "given" in run:
        span += run["given"] - run["first"]
    elif run is not None:  # the last call: text alone
        tokens += run["tokens"] - 1
        span += run["last"] - run["first"]
    return tokens / span


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    """`lfg` in its own folders, a sim agent reporting its count as each real agent does."""
    isolated = Lfg(tmp_path)
    isolated.config.write_text(
        "".join(
            f'[providers.{name}]\nkind = "acp"\ncommand = {json.dumps(SIM_AGENT + flags)}\n\n'
            for name, (_, flags) in AGENTS.items()
        )
    )
    return isolated


@pytest.mark.parametrize("agent", list(AGENTS))
def test_a_long_write_leaves_the_rate_at_the_pace_the_text_came(lfg: Lfg, tmp_path: Path, agent: str) -> None:
    scenario, _ = AGENTS[agent]
    tickets = lfg.tickets(
        f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "{agent}"\nmodel = "{scenario}"\n'
    )
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(tickets, "--db", str(db), "--yes")
    assert code == 0, stderr
    end = ending(events, "t")
    assert end["output_tokens"] > 900, "the agent's count holds the file and the patch"
    truth = received_pace(events)
    assert end["tokens_per_s"] == pytest.approx(truth, rel=0.05), (
        f"the pace lfg received the turn at: {truth}"
    )
    assert not end["tokens_per_s_estimated"], "measured over the time the input streamed, not split off"
    resumed = rebuilt_metrics(db, "t")
    assert resumed.tokens_per_s == pytest.approx(end["tokens_per_s"], abs=0.006), "as a resumed pane has it"
