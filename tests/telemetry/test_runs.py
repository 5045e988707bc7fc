"""A broker worker's metrics of many runs (`RunsMetered`): a coding agent provider's context is the
latest any run reported, kept after that run ends, as a provider's quota is."""

from __future__ import annotations

from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.telemetry.instruments import context_values
from lfgtui.telemetry.runs import RunsMetered
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.agents import no_agent_left

TICKET = '[[ticket]]\nid = "a"\nprompt = "{}"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'


async def test_an_agents_context_is_the_latest_any_run_reported_and_stays_after(tmp_path: Path) -> None:
    runs = RunsMetered()
    reported = []
    async with Providers() as providers:
        for prompt in ("x", "say hello to everyone in the room"):
            path = tmp_path / "tickets.toml"
            path.write_text(TICKET.format(prompt))
            loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
            run = Run(loaded.tickets, providers, Approvals(), [])
            runs.count(run)
            run.start()
            assert await run.wait() == {"a": Outcome.COMPLETED}
            context = run.book.agents["sim-acp"].context
            assert context is not None
            reported.append(context.used)
            assert dict(context_values(runs.agents, lambda c: c.used)) == {"sim-acp": context.used}, "live"
            runs.done(run)
    assert reported[0] < reported[1], "the second prompt is longer"
    assert dict(context_values(runs.agents, lambda c: c.used)) == {"sim-acp": reported[1]}, "kept, the latest"
    assert dict(context_values(runs.agents, lambda c: c.size)) == {"sim-acp": 200_000}
    assert await no_agent_left(tmp_path)
