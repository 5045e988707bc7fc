"""Failover and gateways, end to end and offline: the sim refuses as a provider whose quota window is
spent (a 429 with its rate-limit headers), or as a LiteLLM proxy relays its upstream's answers
(`llm_provider-*` headers, its wording of an upstream 401); the official SDKs parse each answer; lfg
moves the ticket to its fallback, waits what a gateway stated, or says whose key was refused."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx2
import pytest

from lfgtui.config.load import Config, load_config
from lfgtui.config.validation import ValidationError
from lfgtui.cost.prices import run_prices
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    ErrorKind,
    Event,
    EventFactory,
    Outcome,
    Queued,
    RequestSent,
    Retrying,
    Status,
    Usage,
)
from lfgtui.history.writer import open_run_history
from lfgtui.providers.base import stated_wait
from lfgtui.providers.quota import quota_seen
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import TicketFile
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.streams import write_scenario

SPENT = (
    "ttft_ms = 1\nratelimit_requests = 3\nratelimit_window_ms = 600000\nratelimit_spent = 1\n"
    '[[call]]\ntext = "never sent"\n'
)
"""An account whose ten-minute window other clients already took: every request meets a 429."""
BACKUP = 'ttft_ms = 1\n[[call]]\ntext = "answered by the fallback"\n'
CONFIG = """
[providers.sim]
prices = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
fallback = ["sim-anthropic/backup"]

[providers.sim-anthropic]
prices = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
"""


def tickets(tmp_path: Path, body: str, config: Config, env: dict[str, str] | None = None) -> TicketFile:
    path = tmp_path / "tickets.toml"
    path.write_text(body)
    return load_tickets(path, config, BUILTIN_TOOLS, env=env or {})


async def run_recorded(
    loaded: TicketFile, config: Config, sim: SimServer, db: Path
) -> tuple[list[Event], str]:
    events: list[Event] = []
    prices = run_prices(config.providers, loaded.tickets)
    async with (
        open_run_history(db, loaded, "lfg run", pytest.fail, prices) as history,
        Providers(config.providers, sim=sim) as providers,
    ):
        assert history is not None
        run = Run(loaded.tickets, providers, Approvals(), [events.append], prices=prices)
        run.record(history)
        run.start()
        await run.wait()
    return events, history.run_id


async def test_a_429_whose_reset_is_past_max_wait_s_moves_the_ticket_to_its_fallback_which_completes(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "spent", SPENT)
    write_scenario(scenario_dir, "backup", BACKUP)
    (tmp_path / "config.toml").write_text(CONFIG)
    config = load_config(tmp_path / "config.toml", env={})
    loaded = tickets(
        tmp_path,
        '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "spent"\nmax_wait_s = 30\n',
        config,
    )
    assert loaded.tickets[0].fallback == (("sim-anthropic", "backup"),), "the provider's default chain"
    db = tmp_path / "h.sqlite3"

    events, run_id = await run_recorded(loaded, config, sim, db)

    assert [(r.path, r.status) for r in sim.log] == [("/v1/chat/completions", 429), ("/v1/messages", 200)], (
        "the 429 asked for minutes: not retried, not waited for; the fallback answered at once"
    )
    assert [(e.attempt, e.provider, e.model) for e in events if isinstance(e, AttemptStarted)] == [
        (1, "sim", "spent"),
        (2, "sim-anthropic", "backup"),
    ]
    first, second = (e for e in events if isinstance(e, AttemptEnded))
    assert first.outcome is Outcome.FAILED and first.error is not None
    assert first.error.kind is ErrorKind.RATE_LIMITED and first.error.status == 429
    assert "longer than the ticket's max_wait_s of 30 s" in first.error.message
    assert second.outcome is Outcome.COMPLETED
    assert not [e for e in events if isinstance(e, Retrying)], "nothing waited for a reset ten minutes off"
    (moved,) = [e for e in events if isinstance(e, Status) and e.message.startswith("fell back")]
    assert moved.attempt == 2
    assert moved.message.startswith("fell back from sim/spent (HTTP 429 rate_limited: ")
    assert moved.message.endswith("to sim-anthropic/backup, fallback 1 of 1")

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT a.number, a.provider, a.model, a.outcome, a.error_kind, a.cost_usd FROM attempts a "
            "JOIN tickets t ON t.id = a.ticket_id WHERE t.run_id = ? ORDER BY a.number",
            (run_id,),
        ).fetchall()
        (fallback,) = conn.execute("SELECT fallback FROM tickets WHERE run_id = ?", (run_id,)).fetchone()
    assert [row[:5] for row in rows] == [
        (1, "sim", "spent", "failed", "rate_limited"),
        (2, "sim-anthropic", "backup", "completed", None),
    ]
    assert len([e for e in events if isinstance(e, RequestSent)]) == 2
    usage = [e for e in events if isinstance(e, Usage)][-1]  # cumulative: the last says all
    assert usage.input_tokens and usage.output_tokens
    assert rows[0][5] == 0.0, "the refused request: no usage, no output, nothing charged"
    answered = (usage.input_tokens * 3.0 + usage.output_tokens * 15.0) / 1e6
    assert rows[1][5] == pytest.approx(answered), "the answer, at sim-anthropic's rates"
    assert json.loads(fallback) == ["sim-anthropic/backup"]


async def test_without_a_fallback_the_same_429_is_waited_for_as_before(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """max_wait_s only says when to move on: a ticket with nowhere to go retries after the wait the
    provider named (up to the limiters' ten minutes), as it did before failover."""
    write_scenario(scenario_dir, "spent", SPENT)
    body = (
        '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "spent"\n'
        "fallback = []\nmax_wait_s = 1\n"
    )
    loaded = tickets(tmp_path, body, Config(path=None))
    assert loaded.tickets[0].fallback == (), "an empty fallback turns the provider's default off"
    events: list[Event] = []
    announced = asyncio.Event()

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, Retrying):
            announced.set()

    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [sink])
        run.start()
        await announced.wait()
        run.cancel_all()
        assert await run.wait() == {"t": Outcome.CANCELLED}
    (retrying,) = [e for e in events if isinstance(e, Retrying)]
    assert retrying.error.retry_after is not None and retrying.error.retry_after > 500
    assert [e.provider for e in events if isinstance(e, AttemptStarted)] == ["sim"]


async def test_a_gateways_llm_provider_retry_after_is_waited_as_stated(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    """A LiteLLM proxy passes the provider's Retry-After only as `llm_provider-retry-after`: lfg waits
    the 2 s it states (a pause of the provider, which every ticket of it waits out), not its backoff."""
    write_scenario(
        scenario_dir,
        "proxied",
        'ttft_ms = 1\ngateway = 1\n[[call]]\ntext = "ok"\n'
        '[[fault]]\nkind = "http"\nstatus = 429\nretry_after = 2\ntimes = 1\n'
        'message = "rate limited upstream"\n',
    )
    loaded = tickets(
        tmp_path,
        '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "proxied"\n',
        Config(path=None),
    )
    events: list[Event] = []
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == {"t": Outcome.COMPLETED}

    assert [record.status for record in sim.log] == [429, 200]
    (retrying,) = [e for e in events if isinstance(e, Retrying)]
    assert retrying.error.retry_after == 2.0 and retrying.delay_s == 2.0, "the gateway's stated wait"
    (paused,) = [e for e in events if isinstance(e, Queued)]
    assert paused.reason == "rate_limited", "the provider is paused for everyone, as a direct 429 pauses it"
    assert paused.until is not None and paused.until >= retrying.t + 2.0 - 0.01


async def test_a_gateways_relayed_upstream_401_says_the_gateways_key_was_refused_not_ours(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LiteLLM words its upstream's refusal of the gateway's own key `litellm.AuthenticationError: …`;
    lfg's key got through, so pointing at lfg's key variable would send the person the wrong way."""
    write_scenario(
        scenario_dir,
        "gated",
        'ttft_ms = 1\ngateway = 1\n[[call]]\ntext = "ok"\n[[fault]]\nkind = "http"\nstatus = 401\nmessage = '
        '"litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key provided: '
        'sk-upst***wxyz. You can find your API key at https://platform.openai.com/account/api-keys."\n',
    )
    monkeypatch.setenv("PROXY_KEY", "sk-lfg-own-key")
    (tmp_path / "config.toml").write_text(
        f'[providers.proxy]\nkind = "openai"\nbase_url = "{sim.url}/v1"\napi_key_env = "PROXY_KEY"\n'
    )
    config = load_config(tmp_path / "config.toml", env={})
    body = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "proxy"\nmodel = "gated"\n'
    loaded = tickets(tmp_path, body, config, env={"PROXY_KEY": "sk-lfg-own-key"})
    events: list[Event] = []
    async with Providers(config.providers, sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == {"t": Outcome.FAILED}

    (ended,) = [e for e in events if isinstance(e, AttemptEnded)]
    assert ended.error is not None and ended.error.kind is ErrorKind.AUTH
    message = ended.error.message
    assert (
        f"the gateway at {sim.url}/v1 accepted lfg's key; its upstream provider refused the gateway's own key"
        in message
    )
    assert "PROXY_KEY" not in message and "the key comes from" not in message


def test_a_fallback_names_configured_providers_that_run_the_ticket_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "a"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\nfallback = ["nowhere/x"]\n\n'
        '[[ticket]]\nid = "b"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'
        'fallback = ["sim-acp/agent-demo"]\n'
    )
    with pytest.raises(ValidationError) as raised:
        load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    text = str(raised.value)
    assert "ticket 'a': fallback: 'nowhere/x': unknown provider 'nowhere'" in text
    assert "ticket 'b': fallback: sim-acp/agent-demo does not run as 'sim' does (a model API)" in text


def test_a_gateways_spelling_of_the_rate_limit_headers_is_read_and_the_providers_own_wins() -> None:
    ev = EventFactory("t", 1, clock=lambda: 100.0)
    relayed = httpx2.Headers(
        {
            "llm_provider-x-ratelimit-limit-requests": "20",
            "llm_provider-x-ratelimit-remaining-requests": "0",
            "llm_provider-x-ratelimit-reset-requests": "1m30s",
            "x-ratelimit-remaining-tokens": "900",
            "llm_provider-x-ratelimit-remaining-tokens": "5",
        }
    )
    seen = quota_seen(ev, "proxy", relayed)
    assert seen is not None
    assert (seen.requests_limit, seen.requests_remaining, seen.requests_reset_s) == (20, 0, 90.0)
    assert seen.tokens_remaining == 900, "the provider's own header, where both are sent"
    anthropic = quota_seen(
        ev,
        "proxy",
        httpx2.Headers(
            {
                "llm_provider-anthropic-ratelimit-requests-limit": "5",
                "llm_provider-anthropic-ratelimit-requests-remaining": "4",
            }
        ),
    )
    assert anthropic is not None and (anthropic.requests_limit, anthropic.requests_remaining) == (5, 4)


def test_a_stated_wait_is_read_in_milliseconds_first_as_the_sdks_read_it() -> None:
    assert stated_wait(httpx2.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert stated_wait(httpx2.Headers({"llm_provider-retry-after-ms": "250"})) == 0.25
    assert stated_wait(httpx2.Headers({"llm_provider-retry-after": "2"})) == 2.0
    assert stated_wait(httpx2.Headers({"retry-after-ms": "soon", "retry-after": "3"})) == 3.0
    assert stated_wait(httpx2.Headers({})) is None and stated_wait(None) is None


def test_a_providers_fallback_names_known_providers(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[providers.sim]\nfallback = ["nowhere/x", "sim-anthropic/hello"]\n'
    )
    with pytest.raises(ValidationError) as raised:
        load_config(tmp_path / "config.toml", env={})
    assert "[providers.sim]: fallback: unknown provider 'nowhere'" in str(raised.value)
