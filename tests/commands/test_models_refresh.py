"""A run reads the model catalogue again when lfg's cached copy is over a day old: in the background,
served for real from 127.0.0.1 here, never holding up the run's start or a ticket, kept with its
date; a failure is one line in lfg's log; `off` (`[run] model_catalogue`, `LFG_MODEL_CATALOGUE`)
turns it off."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lfgtui.network.kept import DATE_FORMAT
from lfgtui.providers.model_catalogue import CATALOGUE_URL, cache_file, refresh_if_stale, refreshed_url
from tests.support.catalogue import CatalogueServer
from tests.support.fleet import eventually
from tests.support.lfg import Lfg, command
from tests.support.patience import PATIENCE

NEW = {"anthropic": {"models": {"claude-opus-9-1": {"limit": {"context": 3_000_000, "output": 300_000}}}}}
OLD = {"anthropic": {"models": {"claude-opus-0-1": {"limit": {"context": 1000, "output": 100}}}}}
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _cache(path: Path, url: str, fetched: datetime) -> str:
    """The cached catalogue of `url` as lfg keeps it, dated `fetched`: its date as written."""
    written = fetched.strftime(DATE_FORMAT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "fetched": written, "document": OLD}))
    return written


def _kept_date(path: Path) -> str:
    return str(json.loads(path.read_text())["fetched"])


def test_a_run_refreshes_a_day_old_catalogue_and_its_ticket_starts_while_the_catalogue_is_held(
    tmp_path: Path,
) -> None:
    lfg = Lfg(tmp_path)
    lfg.scenario("slow", 'tokens_per_s = 2\n[[call]]\ntext = "' + "word " * 400 + '"\n')
    tickets = lfg.tickets('[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "slow"\n')
    cache = tmp_path / "cache" / "lfgtui" / "models-catalogue.json"
    with CatalogueServer(json.dumps(NEW).encode()) as served:
        old = _cache(cache, served.url, datetime.now(UTC) - timedelta(days=2))
        served.hold()
        env = lfg.env | {"XDG_CACHE_HOME": str(tmp_path / "cache"), "LFG_MODEL_CATALOGUE": served.url}
        run = subprocess.Popen(
            lfg.args(tickets, "--json"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert run.stdout is not None
            started = next(line for line in run.stdout if json.loads(line)["type"] == "attempt_started")
            assert json.loads(started)["ticket"] == "t"
            assert served.asked.wait(60 * PATIENCE), "the run asked for the catalogue"
            assert _kept_date(cache) == old, "the ticket started while the catalogue had not answered"
            served.release()
            eventually(lambda: _kept_date(cache) != old)  # the cache rewritten, while the ticket streams
            assert run.poll() is None, "the ticket was still streaming"
        finally:
            run.send_signal(signal.SIGINT)
            _, stderr = run.communicate(timeout=60 * PATIENCE)
    assert _kept_date(cache) != old
    assert "catalogue" not in stderr
    listed = command(lfg, "models", "anthropic", "--json", "--config", str(lfg.config), env=env)
    assert f"models from a cached copy of {_kept_date(cache)}" in listed.stderr
    assert "claude-opus-9-1" in {row["model"] for row in json.loads(listed.stdout)}


def test_a_fresh_cache_is_not_read_again_and_a_failure_is_one_line_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with CatalogueServer(json.dumps(NEW).encode()) as served:
        _cache(cache_file(), served.url, NOW - timedelta(hours=23))
        assert refresh_if_stale(served.url, NOW) is None and not served.asked.is_set()
        _cache(cache_file(), served.url, NOW - timedelta(hours=25))
        read = refresh_if_stale(served.url, NOW)
    assert read is not None and read.source == "fetched" and ("anthropic", "claude-opus-9-1") in read.value
    gone = served.url  # the server is closed: refused at once
    _cache(cache_file(), gone, NOW - timedelta(days=3))
    with caplog.at_level(logging.WARNING):
        offline = refresh_if_stale(gone, NOW)
    assert offline is not None and offline.source == "cache"
    (said,) = caplog.records
    assert said.getMessage().startswith("the model catalogue was not refreshed: ")


def test_the_setting_off_turns_a_runs_refresh_off_and_the_variable_beats_the_config() -> None:
    assert refreshed_url(None, {}) == CATALOGUE_URL
    assert refreshed_url("off", {}) is None
    assert refreshed_url("https://example.org/api.json", {}) == "https://example.org/api.json"
    assert (
        refreshed_url("off", {"LFG_MODEL_CATALOGUE": "http://127.0.0.1:1/a.json"})
        == "http://127.0.0.1:1/a.json"
    )
    assert refreshed_url("https://example.org/api.json", {"LFG_MODEL_CATALOGUE": "off"}) is None


def test_a_config_model_catalogue_that_is_neither_a_url_nor_off_is_refused(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.config.write_text('[run]\nmodel_catalogue = "models.dev"\n')
    done = command(lfg, "models", "--config", str(lfg.config))
    assert done.returncode == 2 and "model_catalogue" in done.stderr and 'or "off"' in done.stderr
