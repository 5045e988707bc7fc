"""`lfg run --otel` (or `[telemetry] enabled`): the run's traces and metrics out over OTLP.

`lfg` imports this module for every command, so OpenTelemetry (the `lfgtui[otel]` extra) and the
telemetry's modules are imported only when a run exports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lfgtui.commands.common import Notices

if TYPE_CHECKING:
    from lfgtui.config.load import Config
    from lfgtui.run import Run
    from lfgtui.telemetry.destination import Exporting
    from lfgtui.telemetry.export import Pipeline


def add_otel_option(run: argparse.ArgumentParser) -> None:
    """`lfg run`'s `--otel`."""
    run.add_argument(
        "--otel",
        action="store_true",
        help="export the run's traces and metrics over OTLP ([telemetry] in config, the OTEL_* variables; "
        "the otel extra: pip install -e '.[otel]' in lfg's clone)",
    )


@dataclass
class TelemetryOut:
    """Where a run's telemetry goes, its SDK made before the run starts so that a missing extra or an
    unset header variable stops it. What goes wrong while it runs is said through `notices` (the
    TUI's while it is open), once; what never arrived, when the run ends."""

    exporting: Exporting
    pipeline: Pipeline
    notices: Notices
    told: bool = False

    @classmethod
    def open(cls, args: argparse.Namespace, config: Config, notices: Notices) -> TelemetryOut | None:
        """The telemetry `--otel` or the config asks for; None when not asked. Raises `TelemetryError`."""
        from lfgtui.config.telemetry import wanted
        from lfgtui.telemetry.destination import resolve

        if not wanted(args.otel, config.telemetry, os.environ):
            return None
        exporting = resolve(config.telemetry, os.environ)
        import asyncio  # here: the parser, which imports this module, needs no event loop

        from lfgtui.telemetry.export import Pipeline  # raises TelemetryError without the extra

        loop = asyncio.get_running_loop()

        def failed(what: str) -> None:  # in an exporter's thread, maybe after the loop has closed
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(out.failed, what)

        out = cls(exporting, Pipeline(exporting, failed), notices)
        return out

    @contextlib.asynccontextmanager
    async def exporting_run(self, run: Run) -> AsyncIterator[None]:
        """Export `run` while the block runs, then flush (for at most `FLUSH_S`) and say what was lost."""
        from lfgtui.telemetry.metered import metered
        from lfgtui.telemetry.meters import Meters
        from lfgtui.telemetry.spans import Telemetry

        pipeline = self.pipeline
        spans = Telemetry(run, pipeline.tracer, self.exporting.capture_content)
        run.sinks.append(spans)
        run.trace_context = spans.trace_context
        counted = metered(run)
        counted.instruments.append(
            Meters(pipeline.meter, counted.tally, run.book.quotas, run.book.agents, run.clock)
        )
        run.sinks.append(counted)
        try:
            yield
        finally:
            from lfgtui.formats import plural

            flushed = await pipeline.shutdown()
            lost = (
                [f"{pipeline.spans_dropped} of {plural(pipeline.spans_ended, 'span')}"]
                if pipeline.spans_dropped
                else []
            )
            if pipeline.metric_exports_failed:
                lost.append(f"{pipeline.metric_exports_failed} metric exports")
            if lost:
                cut = "" if flushed else " (the flush at the end was cut short)"
                self.notices.say(f"telemetry: {' and '.join(lost)} did not reach {self.exporting.where}{cut}")

    def failed(self, what: str) -> None:
        """An export failed: said once, since a receiver that is down fails every export."""
        if not self.told:
            self.told = True
            self.notices.say(
                f"telemetry: {self.exporting.where} did not take {what}; the run goes on, and what "
                "is lost is counted at its end"
            )
