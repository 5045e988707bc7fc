"""The moments `RunAlerts` tells of, read off a real run in-process."""

from __future__ import annotations

from pathlib import Path

from lfgtui.alerts.attention import Attention
from lfgtui.alerts.moments import RunAlerts
from lfgtui.config.load import Config
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS


async def test_the_run_ends_only_once_no_retry_is_still_to_come(sim: SimServer, tmp_path: Path) -> None:
    """Retrying a failed ticket and the one that waits for it: when the first ends again, the second
    has sent no event yet (it waits for the first), and still the run has not ended."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        '[[ticket]]\nid = "first"\nprompt = "go"\nmodel = "fault-401"\n\n'
        '[[ticket]]\nid = "then"\nprompt = "go"\nmodel = "hello"\ndepends_on = ["first"]\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    told: list[Attention] = []
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [])
        run.sinks.append(RunAlerts(run, ["failed", "done"], [told.append]))
        run.start()
        await run.wait()
        assert run.retry_all() == ["first", "then"]
        await run.wait()
    ends = (("failed", 1), ("skipped", 1))
    assert [(a.kind, a.ticket, a.counts) for a in told] == [
        ("failed", "first", ()),
        ("done", None, ends),
        ("failed", "first", ()),
        ("done", None, ends),
    ]
