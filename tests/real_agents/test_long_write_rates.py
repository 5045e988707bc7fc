"""Issue 67 with the real agents: a turn that writes a long file through the agent's own tool, on a
fresh history. The agent's one output count holds its text and the call's input, whose characters
are worth other numbers of tokens (code, a patch); lfg's tok/s must still read the pace lfg received
the turn's output at, from what arrived when: each model call's tokens (the sim's own count, which
the agent sums) after its first, over the time from its first text chunk to its call's input
reaching lfg (its last text chunk for a call with no tool), as tests/run/agents/test_write_rates.py
defines it for the sim agent playing each real one's way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.real_agents.conftest import AgentWorld, agent_program, agent_turns, prose, received_pace
from tests.support.lfg import rebuilt_metrics

pytestmark = pytest.mark.timeout(400)


def code(chars: int) -> str:
    """About `chars` characters of Python, no two lines the same (Gemini CLI ends a turn that
    repeats itself as a loop), with no quote a TOML literal string or a JS string would end at."""
    lines: list[str] = []
    index = 0
    while sum(len(line) + 1 for line in lines) < chars:
        lines += [
            f"def step_{index:03d}(value: int, scale: int = {index % 7 + 2}) -> int:",
            f"    total = value * scale + {index * 13 % 97}",
            f"    return total // {index % 5 + 1} if total > {index * 3} else -total",
            "",
        ]
        index += 1
    return "\n".join(lines).rstrip("\n")


@dataclass(frozen=True)
class Writer:
    """One real agent and the call of its own tool that writes a long file."""

    provider: str
    models: str  # the glob of its main calls' model names
    side_calls: str  # ... and of its side calls'
    tool: str  # the name of its tool the model calls
    tool_call: str  # the `[[call.tool_call]]` table
    file: str
    content: str

    def __str__(self) -> str:
        return self.provider


PYTHON = code(3600)
PATCHED = prose(300)
"""Codex's patch adds these ~300 words, a line each 12."""
PATCH = "*** Begin Patch\\n*** Add File: notes.md\\n" + "".join(f"+{line}\\n" for line in PATCHED.split("\n"))
WRITERS = [
    Writer(
        "claude-code",
        "claude-*",
        "claude-haiku-*",
        "Write",
        '[[call.tool_call]]\nname = "Write"\narguments_raw = \''
        + json.dumps({"file_path": "long.py", "content": PYTHON})
        + "'",
        "long.py",
        PYTHON,
    ),
    Writer(
        "codex",
        "gpt-*",
        "gpt-*-luna",
        "exec",
        "[[call.tool_call]]\nname = \"exec\"\ninput = '''\n"
        f'const patch = "{PATCH}*** End Patch";\n'
        "text(JSON.stringify(await tools.apply_patch(patch)));\n'''",
        "notes.md",
        PATCHED,
    ),
    Writer(
        "gemini",
        "gemini-*",
        "gemini-*-lite*",
        "write_file",
        '[[call.tool_call]]\nname = "write_file"\narguments_raw = \''
        + json.dumps({"file_path": "long.py", "content": PYTHON})
        + "'",
        "long.py",
        PYTHON,
    ),
]


def scenario(writer: Writer) -> str:
    """A line of text, the long write, then a paragraph, at 120 tok/s."""
    return (
        f'ttft_ms = 300\ntokens_per_s = 120\n[[call]]\ntext = "{prose(40, line=40, start=6000)}"\n'
        f'{writer.tool_call}\n[[call]]\ntext = "{prose(60, line=60, start=7000)}"\n'
    )


@pytest.mark.parametrize("writer", WRITERS, ids=str)
async def test_a_long_write_leaves_the_rate_at_the_pace_lfg_received(
    world: AgentWorld, writer: Writer
) -> None:
    agent_program(writer.provider)
    name = world.scenario("longwrite", scenario(writer))
    world.map_models(f"{writer.side_calls}=hello", f"{writer.models}={name}")
    fields = {"mode": "read-only"} if writer.provider == "codex" else {}
    run = await world.run(world.ticket(writer.provider, "Write the long file.", **fields), "--yes")
    assert run.code == 0, f"{run.ending()['error']} {run.statuses()}"
    assert (world.project / writer.file).read_text().rstrip("\n") == writer.content
    counted = [r.usage.output_tokens for r in agent_turns(world, name, writer.tool)]
    end = run.ending()
    assert end["output_tokens"] == sum(counted), "the agent's count is the sim's, the write's input in it"
    truth = received_pace(run.events, counted)
    shown = end["tokens_per_s"]
    assert shown == pytest.approx(truth, rel=0.05), f"the pace lfg received: {truth} {end}"
    assert not end["tokens_per_s_estimated"], f"measured over the time the input took, none split off: {end}"
    resumed = rebuilt_metrics(world.db, "t").tokens_per_s
    assert resumed == pytest.approx(shown, abs=0.05), "a resumed pane shows the live rate"
