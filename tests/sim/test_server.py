"""The sim server at the HTTP level: framing, endpoints, disconnects, its own timestamps."""

from __future__ import annotations

import asyncio
import select
import socket
import time

import httpx2
import pytest

from lfgtui.events import EventFactory, TextDelta
from lfgtui.providers.base import ProviderConfig
from lfgtui.providers.openai_chat import OpenAIChatProvider
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.streams import ask

CHAT = {"model": "keepalive", "messages": [{"role": "user", "content": "hi"}], "stream": True}


async def test_streams_are_chunked_event_streams_with_heartbeats(sim: SimServer) -> None:
    async with (
        httpx2.AsyncClient() as client,
        client.stream("POST", sim.url + "/v1/chat/completions", json=CHAT) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["transfer-encoding"] == "chunked"
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert body.count(b": keep-alive\n\n") >= 3
    assert body.endswith(b"data: [DONE]\n\n")


async def test_models_endpoint_lists_the_scenarios(sim: SimServer) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.get(sim.url + "/v1/models")
    ids = [m["id"] for m in response.json()["data"]]
    assert "agent-demo" in ids and "fault-429" in ids


async def test_bad_requests_get_a_400_in_the_providers_shape(sim: SimServer) -> None:
    async with httpx2.AsyncClient() as client:
        not_json = await client.post(sim.url + "/v1/chat/completions", content=b"{nope")
        not_a_flag = await client.post(sim.url + "/v1/chat/completions", json=CHAT | {"stream": "yes"})
        nowhere = await client.post(sim.url + "/v2/elsewhere", json=CHAT)
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["error"]["message"]
    assert not_a_flag.status_code == 400
    assert "stream" in not_a_flag.json()["error"]["message"]
    assert nowhere.status_code == 404


async def test_connections_are_reused_between_requests(sim: SimServer) -> None:
    async with httpx2.AsyncClient() as client:
        for _ in range(3):
            async with client.stream(
                "POST", sim.url + "/v1/chat/completions", json=CHAT | {"model": "hello"}
            ) as response:
                await response.aread()
    assert [r.status for r in sim.log] == [200, 200, 200]


async def test_cancelling_a_stream_closes_its_connection(sim: SimServer) -> None:
    provider = OpenAIChatProvider(ProviderConfig(name="sim", kind="openai", base_url=sim.url + "/v1"))
    first_token = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(ask("long-answer:repeat=50"), EventFactory("t", 1)):
            if isinstance(event, TextDelta):
                first_token.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_token.wait(), 5 * PATIENCE)
    task.cancel()
    record = sim.log[0]
    try:
        await asyncio.wait_for(record.disconnected.wait(), 1.0 * PATIENCE)
    except TimeoutError:
        pytest.fail("the sim server did not see the disconnect")
    finally:
        await provider.aclose()
    assert record.ended_at is None


async def test_a_scenario_quotes_the_prompt_it_was_sent(sim: SimServer) -> None:
    """`summarise` answers with its prompt's last line: a ticket visibly builds on the one it depends on."""
    body = {"model": "summarise", "messages": [{"role": "user", "content": "Sum up:\n\nIt found 3 files.\n"}]}
    async with httpx2.AsyncClient() as client:
        response = await client.post(sim.url + "/v1/chat/completions", json=body)
    assert "*It found 3 files.*" in response.json()["choices"][0]["message"]["content"]


async def test_a_thousand_tickets_first_connects_all_reach_the_sim_before_it_accepts_one(
    sim: SimServer,
) -> None:
    """Issue 56: a run's tickets connect at once; the sim, like a provider's servers, holds them all
    until it accepts them. asyncio's default backlog (100) dropped the rest: each a connect timeout
    and a retry in lfg. The loop is not run meanwhile, so the sim accepts none of them."""
    wanted = 300
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(wanted)]
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.connect_ex((sim.host, sim.port))
        connected: set[int] = set()
        deadline = (
            time.monotonic() + 30 * PATIENCE
        )  # a bound for a broken sim, not a measure: held ones connect at once
        while len(connected) < wanted and time.monotonic() < deadline:
            _, writable, _ = select.select([], [s for s in sockets if s.fileno() not in connected], [], 1)
            connected |= {
                s.fileno() for s in writable if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            }
        assert len(connected) == wanted, f"{len(connected)} of {wanted} connected before the sim accepted one"
    finally:
        for sock in sockets:
            sock.close()
