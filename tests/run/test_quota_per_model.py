"""What a provider says holds only the model it said it of, and never for long (issue #54): through
the sim over real HTTP, a model whose window is spent for an hour leaves its provider's other models
free, for a fallback and for other tickets alike; an absurd reset (10^15 s, the year 9999, the same
through a gateway) holds a request at most `max_hold_s`, says so, and the run ends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lfgtui.config.load import Config, load_config
from lfgtui.events import AttemptEnded, AttemptStarted, ErrorKind, Event, EventFactory, Outcome, Queued
from lfgtui.providers.base import MAX_HOLD_S, ProviderConfig
from lfgtui.providers.quota import quota_seen
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.ratelimit import ProviderLimiter, WaitReason, capped
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import TicketFile
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.run import FakeTime
from tests.support.streams import write_scenario

HOUR_SPENT = (
    "ttft_ms = 1\nratelimit_requests = 1\nratelimit_window_ms = 3600000\nratelimit_spent = 1\n"
    '[[call]]\ntext = "never sent"\n'
)
"""A model whose hour-long window other clients already took: a 429 naming a reset an hour away."""
HELLO = 'ttft_ms = 1\n[[call]]\ntext = "hello"\n'


def tickets(tmp_path: Path, body: str, config: Config) -> TicketFile:
    path = tmp_path / "tickets.toml"
    path.write_text(body)
    return load_tickets(path, config, BUILTIN_TOOLS, env={})


@pytest.mark.parametrize("provider", ["sim", "sim-anthropic"])
async def test_a_429_on_one_model_holds_neither_the_fallback_nor_other_tickets_on_another_model(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, provider: str
) -> None:
    write_scenario(scenario_dir, "spent", HOUR_SPENT)
    write_scenario(scenario_dir, "hello", HELLO)
    body = (
        f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "{provider}"\nmodel = "spent"\n'
        f'fallback = ["{provider}/hello"]\n\n'
    ) + "".join(
        f'[[ticket]]\nid = "{other}"\nprompt = "go"\nprovider = "{provider}"\nmodel = "hello"\n'
        'depends_on = ["t"]\n\n'
        for other in ("u", "v")
    )
    loaded = tickets(tmp_path, body, Config(path=None))
    models: dict[tuple[str, int], str] = {}
    held_elsewhere: list[Queued] = []
    stuck = asyncio.Event()

    def sink(event: Event) -> None:
        if isinstance(event, AttemptStarted):
            models[event.ticket, event.attempt] = event.model
        if isinstance(event, Queued) and models[event.ticket, event.attempt] != "spent":
            held_elsewhere.append(event)
            stuck.set()  # the old way: sat out the other model's pause

    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [sink])
        run.start()
        ended = asyncio.create_task(run.wait())
        held = asyncio.create_task(stuck.wait())
        await asyncio.wait({ended, held}, return_when=asyncio.FIRST_COMPLETED)
        held.cancel()
        if not ended.done():
            run.cancel_all()
        outcomes = await ended

    assert held_elsewhere == [], "nothing another model was told held a request of hello"
    assert outcomes == dict.fromkeys(("t", "u", "v"), Outcome.COMPLETED)
    assert [(r.model, r.status) for r in sim.log] == [
        ("spent", 429),
        ("hello", 200),
        ("hello", 200),
        ("hello", 200),
    ]
    assert run.limiters[provider].held_s("spent") is not None, "spent itself is still held"
    assert run.limiters[provider].held_s("hello") is None


def test_a_stated_wait_is_cut_at_max_hold_s_and_nonsense_at_it() -> None:
    assert capped(30, 600) == (30, None)
    assert capped(1e15, 600) == (600, 1e15)
    assert capped(float("inf"), 600) == (600, float("inf"))
    nan_wait, nan_said = capped(float("nan"), 600)
    assert nan_wait == 600 and nan_said is not None


HEADERS = {
    "openai": {
        "x-ratelimit-limit-requests": "1",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "16666666666666m40s",
    },
    "anthropic": {
        "anthropic-ratelimit-requests-limit": "1",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "9999-12-31T23:59:59Z",
    },
    "openai through a gateway": {
        "llm_provider-x-ratelimit-limit-requests": "1",
        "llm_provider-x-ratelimit-remaining-requests": "0",
        "llm_provider-x-ratelimit-reset-requests": "1e15",
    },
}


@pytest.mark.parametrize("dialect", list(HEADERS))
async def test_an_absurd_reset_in_any_header_form_holds_the_model_at_most_max_hold_s(dialect: str) -> None:
    time = FakeTime()
    config = ProviderConfig(name="sim", kind="sim")
    limiter = ProviderLimiter(config, time, time.sleep)
    quota = quota_seen(EventFactory("t", 1, clock=lambda: time.now), "sim", HEADERS[dialect])
    assert quota is not None and quota.requests_reset_s is not None and quota.requests_reset_s > 1e10
    limiter.saw(quota, model="spent")
    held, other = limiter.enter(0, "spent"), limiter.enter(0, "hello")
    assert other.granted, "another model of the provider goes"
    wait = held.wait
    assert wait is not None and wait.reason is WaitReason.QUOTA_REQUESTS
    assert wait.until == time.now + MAX_HOLD_S
    message = held.explain(wait)
    assert message.startswith("queued: sim/spent has no requests left, its quota resets in 600 s (it said ")
    assert message.endswith("; lfg waits at most max_hold_s = 600 s)")
    await time.advance(MAX_HOLD_S)
    assert held.granted, "the hold ended at max_hold_s"


@pytest.mark.parametrize(("provider", "gateway"), [("sim", 0), ("sim-anthropic", 1)])
async def test_a_run_whose_provider_states_a_wait_of_ten_to_the_fifteen_seconds_ends(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, provider: str, gateway: int
) -> None:
    """The sim's window is 10^15 s: its 429 asks for that in a Retry-After and its headers name that
    reset (as a duration, or the year 9999), directly or as a LiteLLM proxy relays them. With a short
    `max_hold_s` the retry waits that long, saying why, meets the 429 again and the ticket fails."""
    write_scenario(
        scenario_dir,
        "absurd",
        f"ttft_ms = 1\ngateway = {gateway}\nratelimit_requests = 1\nratelimit_window_ms = 1e18\n"
        'ratelimit_spent = 1\n[[call]]\ntext = "never sent"\n',
    )
    (tmp_path / "config.toml").write_text(f"[providers.{provider}]\nmax_hold_s = 0.2\nmax_retries = 1\n")
    config = load_config(tmp_path / "config.toml", env={})
    body = f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "{provider}"\nmodel = "absurd"\n'
    loaded = tickets(tmp_path, body, config)
    events: list[Event] = []
    async with Providers(config.providers, sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == {"t": Outcome.FAILED}

    assert [r.status for r in sim.log] == [429, 429], "asked again once the capped wait ended"
    (queued,) = [e for e in events if isinstance(e, Queued)]
    assert queued.reason == "rate_limited" and queued.until is not None
    assert queued.until - queued.t <= 0.2
    assert queued.message.startswith(f"paused: {provider}/absurd rate limited, resumes in 1 s (it said ")
    assert queued.message.endswith("; lfg waits at most max_hold_s = 0.2 s)")
    (ended,) = [e for e in events if isinstance(e, AttemptEnded)]
    assert ended.error is not None and ended.error.kind is ErrorKind.RATE_LIMITED
