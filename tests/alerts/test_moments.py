"""The moments `RunAlerts` tells of, read off a real run in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lfgtui.alerts.attention import Attention
from lfgtui.alerts.moments import RunAlerts
from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, Event
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


async def test_a_ticket_is_told_of_once_each_time_it_starts_to_need_the_person(
    sim: SimServer, tmp_path: Path
) -> None:
    """Two approvals one after the other are two moments; a turn that ends on a question is one;
    a ticket that just completes needs nobody."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim"\n\n'
        f'[[ticket]]\nid = "write"\nprompt = "go"\nmodel = "writer"\nworkdir = "{tmp_path}"\n'
        'tools = ["write_file", "run_command"]\n\n'
        '[[ticket]]\nid = "ask"\nprompt = "go"\nmodel = "asks"\n\n'
        '[[ticket]]\nid = "hi"\nprompt = "go"\nmodel = "hello"\n'
    )
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    told: list[Attention] = []
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [])

        def answer(event: Event) -> None:
            if isinstance(event, ApprovalAsked):
                answer = (event.ticket, event.call_id, True, "you")
                asyncio.get_running_loop().call_soon(run.approvals.answer, *answer)

        run.sinks += [RunAlerts(run, ["approval", "asked"], [told.append]), answer]
        run.start()
        await run.wait()
    moments = sorted((a.kind, a.ticket, a.body) for a in told)
    assert moments == [
        ("approval", "write", "run_command: cat notes/summary.md"),
        ("approval", "write", "write_file: notes/summary.md"),
        ("asked", "ask", "Which one do you want me to do?"),
    ]
