"""`GET /metrics` on a served run (`lfg run --serve`), scraped over real HTTP with the run's token and
parsed with prometheus-client's own parser: the same figures the metrics book has, after a sim run
with a completed, a failed and a rate-limited ticket, and each provider's quota as its headers said."""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import aiohttp
import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lfgtui.commands.remote import serving
from lfgtui.config.load import Config
from lfgtui.cost.prices import run_prices
from lfgtui.events import Outcome
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support import warm_lfg
from tests.support.fleet import eventually
from tests.support.instruments import TABLE
from tests.support.lfg import Lfg, recorded_run
from tests.support.patience import PATIENCE
from tests.support.streams import write_scenario

TOKEN = "a-token-of-sixteen-or-more"
TICKETS = """
[[ticket]]
id = "done"
prompt = "go"
model = "counted"

[[ticket]]
id = "also"
prompt = "go"
model = "counted"
depends_on = ["done"]

[[ticket]]
id = "refused"
prompt = "go"
model = "fault-401"

[[ticket]]
id = "paused"
prompt = "go"
model = "paused-once"
"""
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of the scrape, by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def test_metrics_are_served_with_the_runs_token_and_say_what_the_metrics_book_says(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(
        scenario_dir,
        "counted",
        "ttft_ms = 20\ntokens_per_s = 100\nratelimit_requests = 50\nratelimit_tokens = 90000\n"
        '[[call]]\ntext = "one two three four five six seven eight nine ten"\n',
    )
    write_scenario(
        scenario_dir,
        "paused-once",
        'ttft_ms = 1\n[[call]]\ntext = "ok"\n'
        '[[fault]]\nkind = "http"\nstatus = 429\nretry_after = 0.05\ntimes = 1\n',
    )
    path = tmp_path / "tickets.toml"
    path.write_text(TICKETS)
    (tmp_path / "token").write_text(TOKEN)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    priced = {"sim": replace(BUILTIN["sim"], prices=PriceOverride(input_per_mtok=1, output_per_mtok=4))}
    args = argparse.Namespace(serve="127.0.0.1:0", token_file=tmp_path / "token", control=False)
    async with Providers(priced, sim=sim) as providers:
        run = Run(
            loaded.tickets, providers, Approvals(), [], prices=run_prices(providers.configs, loaded.tickets)
        )
        async with serving(args, run, loaded.tickets) as watch:
            assert watch is not None
            url = watch.split()[2] + "/metrics"
            run.start()
            assert await run.wait() == {
                "done": Outcome.COMPLETED,
                "also": Outcome.COMPLETED,
                "refused": Outcome.FAILED,
                "paused": Outcome.COMPLETED,
            }
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as refused:
                    assert refused.status == 401
                async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as scraped:
                    assert scraped.status == 200
                    assert scraped.headers["Content-Type"].startswith("text/plain; version=")
                    text = await scraped.text()
    found = samples(text)
    families = text_string_to_metric_families(text)
    assert {f.name: f.documentation for f in families if not f.name.endswith("_created")} == {
        instrument.prometheus: instrument.description for instrument in TABLE
    }  # every one of the table's, as it says (a counter's or histogram's `_created` is the client's own)

    book = run.book.attempts
    counted = [book[("done", 1)], book[("also", 1)]]
    by = {"provider": "sim", "model": "counted", "outcome": "completed"}
    assert value(found, "lfg_attempts_total", **by) == 2
    assert value(found, "lfg_attempts_total", provider="sim", model="fault-401", outcome="failed") == 1
    assert value(found, "lfg_tokens_total", **by, token_type="output") == sum(
        m.output_tokens for m in counted
    )
    assert value(found, "lfg_cost_usd_total", **by) == pytest.approx(sum(m.cost_usd or 0 for m in counted))
    assert value(found, "lfg_ttft_seconds_count", **by) == 2
    assert value(found, "lfg_ttft_seconds_sum", **by) == pytest.approx(sum(m.ttft_s or 0 for m in counted))
    rates = [m.tokens_per_s for m in counted if m.tokens_per_s is not None]  # none for text come at once
    rated = frozenset(by.items())
    assert found.get(("lfg_tokens_per_second_count", rated), 0) == len(rates)
    assert found.get(("lfg_tokens_per_second_sum", rated), 0) == pytest.approx(sum(rates))
    requests = {"provider": "sim", "model": "paused-once"}
    assert (
        value(found, "gen_ai_client_operation_duration_seconds_count", **requests) == 2
    )  # the 429, its retry
    assert value(found, "lfg_rate_limit_pauses_total", **requests) == 1
    for state in ("running", "queued", "waiting"):
        assert value(found, f"lfg_tickets_{state}") == 0

    assert value(found, "lfg_quota_limit", provider="sim", quota="requests") == 50
    assert value(found, "lfg_quota_remaining", provider="sim", quota="requests") == 48
    assert value(found, "lfg_quota_limit", provider="sim", quota="tokens") == 90000
    assert 0 < value(found, "lfg_quota_remaining", provider="sim", quota="tokens") < 90000
    assert 0 < value(found, "lfg_quota_reset_seconds", provider="sim", quota="requests") <= 60


def test_lfg_serve_scrapes_a_recorded_runs_quotas_and_contexts_read_from_the_history(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    model = "hello:ttft_ms=1,ratelimit_requests=7"
    agent = '[[ticket]]\nid = "agent"\nprompt = "go"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'
    tickets = f'[[ticket]]\nid = "q"\nprompt = "go"\nmodel = "{model}"\n' + agent
    code, events, stderr = lfg.run(lfg.tickets(tickets))
    assert code == 0, (stderr, [e for e in events if e["type"] in ("attempt_ended", "status", "error")])
    (tmp_path / "token").write_text(TOKEN)
    serve = [sys.executable, "-m", "lfgtui", "serve", recorded_run(stderr), "--config", str(lfg.config)]
    server = warm_lfg.popen(
        [*serve, "--token-file", str(tmp_path / "token")], env=lfg.env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        served = re.search(r"serving this run at (\S+) ", server.stderr.readline())
        assert served is not None
        url = served.group(1) + "/metrics"
        assert httpx2.get(url).status_code == 401

        def scraped() -> Samples:
            return samples(httpx2.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).text)

        # the run is followed from its history file a moment after the server starts
        eventually(lambda: any(name == "lfg_attempts_total" for name, _ in scraped()), 10)
        found = scraped()
        assert value(found, "lfg_attempts_total", provider="sim", model=model, outcome="completed") == 1
        assert value(found, "lfg_quota_remaining", provider="sim", quota="requests") == 6
        assert value(found, "lfg_quota_limit", provider="sim", quota="requests") == 7
        (context,) = [e for e in events if e["type"] == "context"]
        assert value(found, "lfg_context_used_tokens", provider="sim-acp") == context["used"]
        assert value(found, "lfg_context_size_tokens", provider="sim-acp") == 200_000
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10 * PATIENCE)
