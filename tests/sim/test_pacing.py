"""The sim's pacing: however many streams share its clock, no token goes out before its time."""

from __future__ import annotations

import asyncio

import httpx2

from lfgtui.event_loop import run
from lfgtui.sim.server import RequestRecord, SimServer

RATE, TTFT_MS, STREAMS = 400, 3, 8
BODY = {
    "model": f"long-answer:tokens_per_s={RATE},ttft_ms={TTFT_MS},repeat=1",
    "messages": [{"role": "user", "content": "go"}],
    "stream": True,
}


async def _streams() -> list[RequestRecord]:
    async with SimServer() as sim, httpx2.AsyncClient() as client:

        async def one() -> None:
            async with client.stream("POST", sim.url + "/v1/chat/completions", json=BODY) as response:
                async for _ in response.aiter_bytes():
                    pass

        await asyncio.gather(*(one() for _ in range(STREAMS)))
        return sim.log


def test_no_token_goes_out_before_its_time_on_the_loop_lfg_runs() -> None:
    """On uvloop where it is installed, whose timers round to milliseconds (and fire early by that)."""
    log = run(_streams())
    assert len(log) == STREAMS
    for record in log:
        assert len(record.token_times) > 50 and record.paced_from is not None
        for index, sent_at in enumerate(record.token_times):
            due = record.paced_from + TTFT_MS / 1000 + index / RATE
            assert sent_at >= due - 1e-9, f"token {index} went {due - sent_at:.6f} s early"
