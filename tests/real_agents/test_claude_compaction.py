"""Claude Code's `/compact`, the real agent (claude-agent-acp 0.101.0) against the sim, as a person
sends it: a follow-up (`i`) in the same agent session after a first turn. Claude Code answers with
ACP's `compaction_update` (in progress; completed with its summary; completed again, the same id) and
a `usage_update` whose context is far smaller: the pane shows one entry for the compaction where it
happened, saying the context gauge's drop is the compaction, the summary never as answer text, and
the history keeps the entry at its place in the attempt (`lfg history export`).

What the agent sends is as `../shared/acp-reference/compact-caps.jsonl` recorded it on 2026-11-26
(the same agent and sim); the offline test of the same path is
`tests/run/agents/test_stable_updates.py`.
"""

from __future__ import annotations

import pytest

from lfgtui.config.load import Config
from lfgtui.events import Status
from lfgtui.history.writer import open_run_history
from lfgtui.providers.registry import Providers
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.screens.modals import FollowUpScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.real_agents.conftest import AgentWorld
from tests.support.app import SIZE, keys, until
from tests.support.compose import first_run, lfg_app
from tests.support.recording import load_recorded

COMPACTING = "the agent is compacting its context"
COMPACTED = "the agent compacted its context: the context gauge's drop is the compaction"
HELLO = "Hello! I am the **lfg simulator**"
"""The sim's `hello` answer: the first turn's, and so what Claude Code's summary of it says."""


@pytest.mark.timeout(400)
async def test_claude_codes_compact_is_one_timeline_entry_in_the_pane_and_the_history(
    in_world: AgentWorld,
) -> None:
    world = in_world
    world.map_models("claude-*=hello")
    loaded = load_tickets(world.ticket("claude-code", "Say hello."), Config(path=None), BUILTIN_TOOLS)
    async with open_run_history(world.db, loaded, "lfg run", pytest.fail) as history:
        assert history is not None
        app = lfg_app(loaded.tickets, Providers(), run_id=history.run_id, history=world.db)
        first_run(app).record(history)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.controller.panes["t"]
            await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=240)
            before = pane.metrics.context
            assert before is not None and before.used > 10_000, "Claude Code's system prompt and tools"
            pane.shown.focus()
            await pilot.press("i")
            assert isinstance(app.screen, FollowUpScreen)
            await pilot.press("slash", *keys("compact"), "enter")
            await until(pilot, lambda: pane.attempt == 2 and pane.state is PaneState.COMPLETED, 120)
            after = pane.metrics.context
            assert after is not None and after.used < before.used / 2, (before, after)
            shown = pane.body.source
            entries = [line for line in shown.splitlines() if COMPACTED in line]
            assert len(entries) == 1, shown  # its second `completed` patches the one entry
            assert shown.index("> /compact") < shown.index(COMPACTED), "where it happened: after the ask"
            assert "characters of summary kept" in entries[0]
            assert shown.count(HELLO) == 1, "the summary (the first answer again) is no answer text"
            await until(pilot, lambda: "ctx 2." in pane.gauges.text.plain, timeout=5)
    [ticket] = load_recorded(world.db, history.run_id).tickets
    first, second = ticket.attempts
    assert first.agent_session is not None and second.agent_session == first.agent_session, "same session"
    said = [e.message for e in second.events if type(e) is Status]
    assert COMPACTING in said and [m for m in said if m.startswith(COMPACTED)] == [entries[0].strip("*")]
    assert HELLO not in "".join(getattr(e, "text", "") for e in second.events), "no answer in the /compact"
    exported = await world.lfg("history", "export", history.run_id, "--db", str(world.db))
    assert exported.returncode == 0, exported.stderr
    markdown = exported.stdout
    assert markdown.count(COMPACTED) == 1 and markdown.index("/compact") < markdown.index(COMPACTED)
