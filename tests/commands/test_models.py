"""`lfg models`, `lfg run` and `lfg ask` through the real CLI: the table per provider with prices
and `$?` explained, and a retired model refused before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.catalogue import CatalogueServer
from tests.support.lfg import Lfg, command


def test_models_lists_each_provider_with_price_limits_thinking_and_lifecycle(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    done = command(lfg, "models", "--config", str(lfg.config), "--on", "2026-11-26")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    sonnet = next(line for line in lines if " claude-sonnet-4-5 " in line)
    assert "$3 / $15" in sonnet and "200K" in sonnet and "64K" in sonnet
    assert "retires 2026-11-30 -> claude-sonnet-5-5" in sonnet
    grok = next(line for line in lines if "* grok-4.7" in line)
    assert "500K" in grok and "always" in grok
    assert "retired 2026-05-15 -> grok-4.3" in next(line for line in lines if " grok-4 " in line)
    assert "agents" not in {line.strip() for line in lines}, "coding agents pick their own models"
    assert "[providers.NAME] prices" in lines[-1] and "ollama" in lines[-1]
    assert "cache_read_per_mtok" in lines[-1], "a rate for cache reads, else they are priced as input"


def test_models_json_for_named_providers_and_a_users_own(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.config.write_text(
        '[providers.mine]\nkind = "openai"\nbase_url = "https://api.x.ai/v1"\ndefault_model = "grok-4"\n'
        "prices = { input_per_mtok = 1.5, output_per_mtok = 3.0 }\n"
    )
    done = command(lfg, "models", "mine", "--json", "--config", str(lfg.config), "--on", "2026-11-26")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {row["provider"] for row in rows} == {"mine"}
    first = rows[0]
    assert first["model"] == "grok-4" and first["default"] is True
    assert (first["input_per_mtok"], first["output_per_mtok"], first["price_source"]) == (1.5, 3.0, "config")
    assert (first["status"], first["shutdown"], first["replacement"]) == ("retired", "2026-05-15", "grok-4.3")


def test_models_refuses_an_unknown_provider(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    done = command(lfg, "models", "claude-code", "--config", str(lfg.config))
    assert done.returncode == 2 and "unknown model API provider 'claude-code'" in done.stderr


def test_run_refuses_a_retired_model_before_anything_runs(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.env["XAI_API_KEY"] = "xai-not-used"
    tickets = lfg.tickets(
        """
        [[ticket]]
        id = "old"
        prompt = "hello"
        provider = "xai"
        model = "grok-4-0709"
        """
    )
    code, events, stderr = lfg.run(tickets)
    assert code == 2 and events == []
    assert f"{tickets}:6: ticket 'old': model: model 'grok-4-0709' was retired on 2026-05-15" in stderr
    assert "use 'grok-4.3' instead" in stderr


def test_ask_refuses_a_retired_model_naming_the_option(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    done = command(
        lfg,
        "ask",
        "hi",
        "--provider",
        "anthropic",
        "--model",
        "claude-sonnet-4-20250514",
        "--config",
        str(lfg.config),
        env={"ANTHROPIC_API_KEY": "sk-not-used"},
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "lfg: --model: model 'claude-sonnet-4-20250514' was retired on 2026-06-15" in done.stderr
    assert "use 'claude-sonnet-4-6' instead" in done.stderr


def test_an_unseen_claude_5_model_gets_its_familys_limits_and_says_they_are_inferred(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.config.write_text('[providers.anthropic]\ndefault_model = "claude-opus-5-7"\n')
    done = command(lfg, "models", "anthropic", "--json", "--config", str(lfg.config), "--on", "2026-11-27")
    assert done.returncode == 0, done.stderr
    unseen = json.loads(done.stdout)[0]
    assert unseen["model"] == "claude-opus-5-7" and unseen["inferred"] is True
    assert (unseen["context_window"], unseen["max_output_tokens"], unseen["thinking"]) == (
        1_000_000,
        128_000,
        "adaptive",
    )
    listed = command(lfg, "models", "anthropic", "--config", str(lfg.config), "--on", "2026-11-27")
    lines = listed.stdout.splitlines()
    row = next(line for line in lines if "* claude-opus-5-7" in line)
    assert "~1M" in row and "~128K" in row and "~adaptive" in row
    assert "~: inferred from the model's family (claude-opus-5-7)" in listed.stdout
    known = next(line for line in lines if " claude-sonnet-5-5 " in line)
    assert "~" not in known


def test_models_json_lists_todays_models_with_windows_limits_and_prices(tmp_path: Path) -> None:
    """As the vendors' pages say (read 2026-11-27): not inferred, each with its price."""
    lfg = Lfg(tmp_path)
    done = command(lfg, "models", "anthropic", "openai", "xai", "--json", "--config", str(lfg.config))
    assert done.returncode == 0, done.stderr
    rows = {row["model"]: row for row in json.loads(done.stdout)}
    expected = {
        "claude-fable-5-2": (1_000_000, 128_000, "always", 8.0, 40.0),
        "claude-haiku-5-5": (1_000_000, 128_000, "adaptive", 0.1, 0.5),
        "gpt-6-astra": (1_050_000, 128_000, "always", 10.0, 50.0),
        "gpt-6.1-terra": (1_050_000, 128_000, "adaptive", 1.0, 5.0),
        "gpt-6.2-sol": (1_050_000, 128_000, "always", 2.0, 10.0),
        "gpt-5.6-sol": (1_050_000, 128_000, "adaptive", 4.0, 20.0),
        "gpt-5.6-terra": (1_050_000, 128_000, "adaptive", 2.0, 12.0),
        "gpt-5.6-luna": (1_050_000, 128_000, "adaptive", 0.2, 1.2),
        "grok-4.20-reasoning": (1_000_000, None, "always", 1.25, 2.5),
    }
    for model, figures in expected.items():
        row = rows[model]
        got = (row["context_window"], row["max_output_tokens"], row["thinking"])
        assert (*got, row["input_per_mtok"], row["output_per_mtok"]) == figures, model
        assert row["inferred"] is False and row["status"] == "ok", model


CATALOGUE = {
    "anthropic": {
        "id": "anthropic",
        "models": {
            "claude-opus-5-8": {
                "id": "claude-opus-5-8",
                "reasoning": True,
                "limit": {"context": 2_000_000, "output": 256_000},
                "cost": {"input": 5, "output": 25},
            },
            "claude-sonnet-5-5": {"limit": {"context": 1, "output": 1}},  # the table's own stands
            "bad\u001b[2J": "not a model",
            "claude-odd-1": {"limit": {"context": "1e99", "output": -4}, "cost": {"input": True}},
        },
    },
    "openai": ["not", "a", "provider"],
}


def test_refresh_adds_a_model_the_table_lacks_and_offline_says_the_cache_or_the_tables_date(
    tmp_path: Path,
) -> None:
    lfg = Lfg(tmp_path)
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    with CatalogueServer(json.dumps(CATALOGUE).encode()) as served:
        url = served.url
        args = ("models", "anthropic", "--json", "--config", str(lfg.config), "--catalogue", url)
        done = command(lfg, *args, "--refresh", env=cache)
    assert done.returncode == 0, done.stderr
    assert f"models from the catalogue at {url}, fetched " in done.stderr
    rows = {row["model"]: row for row in json.loads(done.stdout)}
    new = rows["claude-opus-5-8"]
    assert (new["context_window"], new["max_output_tokens"], new["inferred"]) == (2_000_000, 256_000, False)
    assert (new["input_per_mtok"], new["output_per_mtok"]) == (5, 25) and new["catalogue"].startswith(url)
    assert (
        rows["claude-sonnet-5-5"]["context_window"] == 1_000_000
        and rows["claude-sonnet-5-5"]["catalogue"] is None
    )
    odd = rows["claude-odd-1"]
    assert (odd["context_window"], odd["max_output_tokens"], odd["input_per_mtok"]) == (None, None, None)
    assert not any("bad" in model for model in rows)

    offline = command(lfg, *args, "--refresh", env=cache)  # the server is gone
    assert offline.returncode == 0, offline.stderr
    assert (
        "models from a cached copy of " in offline.stderr
        and f"the catalogue at {url} could not be read" in offline.stderr
    )
    assert "claude-opus-5-8" in {row["model"] for row in json.loads(offline.stdout)}

    fresh = command(lfg, *args, "--refresh", env={"XDG_CACHE_HOME": str(tmp_path / "empty")})
    assert fresh.returncode == 0, fresh.stderr
    assert "models from lfg's bundled table of 2026-11-27" in fresh.stderr
    assert "claude-opus-5-8" not in {row["model"] for row in json.loads(fresh.stdout)}
