"""A ticket run again in-process (the TUI's `r` and a follow-up): each attempt is a trace of its own,
linked to the attempt before it, exported through lfg's pipeline to a real OTLP/HTTP receiver."""

from __future__ import annotations

import itertools
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.config.telemetry import TelemetrySettings
from lfgtui.events import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.telemetry.destination import resolve
from lfgtui.telemetry.export import Pipeline
from lfgtui.telemetry.spans import Telemetry
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.streams import write_scenario

ERROR = 2


async def test_a_retried_and_a_continued_ticket_link_each_attempts_trace_to_the_one_before(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    write_scenario(
        scenario_dir,
        "refused-once",
        'ttft_ms = 1\n[[call]]\ntext = "ok"\n[[fault]]\nkind = "http"\nstatus = 401\ntimes = 1\n',
    )
    path = tmp_path / "tickets.toml"
    path.write_text('[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "refused-once"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    pipeline = Pipeline(resolve(TelemetrySettings(endpoint=receiver.url), {}), lambda what: None)
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [])
        run.sinks.append(Telemetry(run, pipeline.tracer, capture_content=False))
        run.start()
        assert await run.wait() == {"t": Outcome.FAILED}
        assert run.retry("t")
        assert await run.wait() == {"t": Outcome.COMPLETED}
        assert run.continue_with("t", "And then?")
        assert await run.wait() == {"t": Outcome.COMPLETED}
    assert await pipeline.shutdown() and pipeline.spans_dropped == 0

    roots = sorted(
        (span for span in receiver.spans() if span.name == "invoke_agent t"),
        key=lambda span: span.attributes["lfg.attempt"],
    )
    assert [root.attributes["lfg.outcome"] for root in roots] == ["failed", "completed", "completed"]
    assert roots[0].status == ERROR and roots[0].attributes["error.type"] == "auth"
    assert len({root.trace_id for root in roots}) == 3 and roots[0].links == ()
    for before, after in itertools.pairwise(roots):
        assert after.links == (
            (before.trace_id, before.span_id, {"lfg.attempt": before.attributes["lfg.attempt"]}),
        )
    assert all(root.attributes["lfg.run.id"] == run.run_id for root in roots)
    assert pipeline.spans_ended == len(receiver.spans()) == 6  # three attempts of one request each
