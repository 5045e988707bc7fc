"""Provider quotas from their rate-limit headers, end to end and offline: the sim sends OpenAI's and
Anthropic's headers (a scenario's `ratelimit_*` fields) and answers 429 past the quota, the official
SDKs hand lfg the headers, and the shared limiter waits for the reset the provider named instead of
sending into a 429. The headers' reading itself (lfgtui/providers/quota.py) is checked on both
dialects and on what a server should not send."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from lfgtui.config.load import Config
from lfgtui.events import Event, EventFactory, Outcome, Queued, QuotaSeen, Retrying
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.quota import quota_seen
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.streams import write_scenario

QUOTA = 'ttft_ms = 1\nratelimit_requests = 2\nratelimit_window_ms = 1500\n[[call]]\ntext = "ok"\n'


def three_tickets(tmp_path: Path, provider: str) -> Path:
    path = tmp_path / "tickets.toml"
    path.write_text(
        "".join(
            f'[[ticket]]\nid = "t{n}"\nprompt = "go"\nprovider = "{provider}"\nmodel = "quota"\n\n'
            for n in range(3)
        )
    )
    return path


@pytest.mark.parametrize("provider", ["sim", "sim-anthropic"])
async def test_the_limiter_waits_for_the_reset_the_provider_named_instead_of_meeting_a_429(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, provider: str
) -> None:
    write_scenario(scenario_dir, "quota", QUOTA)
    loaded = load_tickets(three_tickets(tmp_path, provider), Config(path=None), BUILTIN_TOOLS, env={})
    one_at_a_time = {provider: replace(BUILTIN[provider], max_concurrency=1)}
    events: list[Event] = []
    async with Providers(one_at_a_time, sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == dict.fromkeys(("t0", "t1", "t2"), Outcome.COMPLETED)

    assert [record.status for record in sim.log] == [200, 200, 200], (
        "no request met the 429 the sim had ready"
    )
    seen = [event for event in events if isinstance(event, QuotaSeen)]
    assert [(q.provider, q.requests_limit, q.requests_remaining) for q in seen] == [
        (provider, 2, 1),
        (provider, 2, 0),
        (provider, 2, 1),  # a new window, after the reset
    ]
    (waited,) = [event for event in events if isinstance(event, Queued) and event.reason == "quota_requests"]
    assert waited.message.startswith(f"queued: {provider}/quota has no requests left, its quota resets in ")
    assert waited.until is not None and waited.until > seen[0].t, "until the reset the provider named"


@pytest.mark.parametrize("provider", ["sim", "sim-anthropic"])
async def test_a_429_without_retry_after_names_the_reset_in_its_headers_and_the_retry_waits_for_it(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, provider: str
) -> None:
    """Another client took the window's one request; lfg's first request meets the 429, which says
    when the quota resets only in its rate-limit headers. The limiter learns it from the 429 itself:
    the retry waits for the reset instead of backing off into another 429."""
    write_scenario(
        scenario_dir,
        "quota",
        "ttft_ms = 1\nratelimit_requests = 1\nratelimit_window_ms = 3000\nratelimit_retry_after = 0\n"
        '[[call]]\ntext = "ok"\n',
    )
    one = tmp_path / "one.toml"
    one.write_text(f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "{provider}"\nmodel = "quota"\n')
    loaded = load_tickets(one, Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers(BUILTIN, sim=sim) as other_client:
        taken = Run(loaded.tickets, other_client, Approvals(), [])
        taken.start()
        assert await taken.wait() == {"t": Outcome.COMPLETED}
    events: list[Event] = []
    async with Providers(BUILTIN, sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == {"t": Outcome.COMPLETED}

    assert [record.status for record in sim.log] == [200, 429, 200], "one 429, then the reset"
    refused = next(event for event in events if isinstance(event, QuotaSeen))
    assert (refused.requests_limit, refused.requests_remaining) == (1, 0)
    assert (
        refused.requests_reset_s is not None and 0 < refused.requests_reset_s <= 4
    )  # whole seconds: Anthropic
    (retrying,) = [event for event in events if isinstance(event, Retrying)]
    assert retrying.error.status == 429 and retrying.error.retry_after is None and refused.t < retrying.t
    (waited,) = [event for event in events if isinstance(event, Queued)]
    assert waited.reason == "quota_requests" and waited.until is not None
    assert waited.until >= refused.t + refused.requests_reset_s, "until the reset the 429 named"


def headers(pairs: dict[str, str]) -> httpx2.Headers:
    return httpx2.Headers(pairs)


def test_openai_headers_are_read_with_their_durations() -> None:
    ev = EventFactory("t", 1, clock=lambda: 100.0)
    seen = quota_seen(
        ev,
        "openai",
        headers(
            {
                "X-RateLimit-Limit-Requests": "500",
                "x-ratelimit-remaining-requests": "499",
                "x-ratelimit-reset-requests": "6m0s",
                "x-ratelimit-limit-tokens": "30000",
                "x-ratelimit-remaining-tokens": "29000",
                "x-ratelimit-reset-tokens": "20ms",
            }
        ),
    )
    assert seen == QuotaSeen(
        ticket="t",
        attempt=1,
        seq=0,
        t=100.0,
        provider="openai",
        requests_limit=500,
        requests_remaining=499,
        requests_reset_s=360.0,
        tokens_limit=30000,
        tokens_remaining=29000,
        tokens_reset_s=pytest.approx(0.02),
    )


def test_anthropic_headers_take_the_tightest_of_its_token_allowances() -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat(timespec="seconds").replace("+00:00", "Z")
    later = (datetime.now(UTC) + timedelta(seconds=50)).isoformat(timespec="seconds")
    seen = quota_seen(
        EventFactory("t", 1),
        "anthropic",
        headers(
            {
                "anthropic-ratelimit-requests-limit": "1000",
                "anthropic-ratelimit-requests-remaining": "999",
                "anthropic-ratelimit-requests-reset": soon,
                "anthropic-ratelimit-input-tokens-limit": "80000",
                "anthropic-ratelimit-input-tokens-remaining": "70000",
                "anthropic-ratelimit-input-tokens-reset": soon,
                "anthropic-ratelimit-output-tokens-limit": "16000",
                "anthropic-ratelimit-output-tokens-remaining": "1000",
                "anthropic-ratelimit-output-tokens-reset": later,
            }
        ),
    )
    assert seen is not None
    assert (seen.requests_limit, seen.requests_remaining) == (1000, 999)
    assert 28 < (seen.requests_reset_s or 0) <= 30
    assert (seen.tokens_limit, seen.tokens_remaining) == (16000, 1000), "output tokens are the scarcer"
    assert 48 < (seen.tokens_reset_s or 0) <= 50


@pytest.mark.parametrize(
    "pairs",
    [
        {},
        {"x-ratelimit-remaining-requests": "-1", "x-ratelimit-reset-requests": "soon"},
        {"x-ratelimit-limit-tokens": "1e9", "x-ratelimit-reset-tokens": "6m0sx"},
        {"anthropic-ratelimit-requests-limit": "", "anthropic-ratelimit-requests-reset": "tomorrow"},
    ],
)
def test_headers_that_say_nothing_usable_give_no_quota(pairs: dict[str, str]) -> None:
    assert quota_seen(EventFactory("t", 1), "p", headers(pairs)) is None


def test_a_reset_already_past_is_now() -> None:
    past = datetime.fromtimestamp(time.time() - 5, UTC).isoformat()
    seen = quota_seen(
        EventFactory("t", 1),
        "anthropic",
        headers({"anthropic-ratelimit-requests-limit": "5", "anthropic-ratelimit-requests-reset": past}),
    )
    assert seen is not None and seen.requests_reset_s == 0.0 and seen.requests_remaining is None
