"""64 tickets at once with `max_concurrency = 64`: every one completes and the history holds every one
with every token. How fast and how much memory is bench/load.py's job; nothing here is timed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lfgtui.providers.registry import Providers
from tests.support.hardening import Harness

TICKETS = 64


def test_sixty_four_tickets_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    harness = Harness(tmp_path, monkeypatch, capsys)
    harness.scenario(
        "short", 'ttft_ms = 50\ntokens_per_s = 200\n[[call]]\ntext = "one two three four five six ✓"\n'
    )
    harness.config.write_text(harness.config.read_text() + f"\n[run]\nmax_concurrency = {TICKETS}\n")
    tickets = harness.tickets(
        *({"id": f"t{i:02d}", "prompt": "go", "provider": "sim", "model": "short"} for i in range(TICKETS))
    )
    result = harness.run(tickets)
    assert result.code == 0, result.stderr
    assert {e["ticket"] for e in result.events} == {f"t{i:02d}" for i in range(TICKETS)}
    for i in range(TICKETS):
        assert result.ending(f"t{i:02d}")["outcome"] == "completed"
        assert result.text(f"t{i:02d}") == "one two three four five six ✓"
    result.check_history()


async def test_tickets_starting_together_share_one_adapter() -> None:
    """The first use of a provider by 64 tickets at once makes one adapter (and starts one sim)."""
    async with Providers() as providers:
        adapters = await asyncio.gather(*(providers.get("sim") for _ in range(TICKETS)))
        assert len({id(adapter) for adapter in adapters}) == 1
