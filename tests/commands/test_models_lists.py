"""`lfg models --refresh` reads each provider's own model list (`GET /v1/models`, through its official
SDK) from the sim, served for real on 127.0.0.1 in the shape of the provider's API, and says which of
its models lfg knows, which it infers, which it knows nothing of, and which lfg lists that the
provider does not offer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from lfgtui.sim.server import SimServer
from tests.support.lfg import Lfg, command

UNREACHABLE = "http://127.0.0.1:9/api.json"


async def test_refresh_compares_the_providers_own_list_with_lfgs(
    tmp_path: Path, sim: SimServer, scenario_dir: Path
) -> None:
    for model in ("claude-sonnet-5-5", "claude-opus-9-9"):
        (scenario_dir / f"{model}.toml").write_text('[[call]]\ntext = "hi"\n')
    lfg = Lfg(tmp_path)
    env = {
        "ANTHROPIC_BASE_URL": sim.url,
        "ANTHROPIC_API_KEY": "sk-ant-made-up",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # the list it keeps warns only this test's tickets
    }
    args = ("models", "anthropic", "--refresh", "--catalogue", UNREACHABLE, "--config", str(lfg.config))
    as_json, text = await asyncio.gather(
        asyncio.to_thread(command, lfg, *args, "--json", env=env),
        asyncio.to_thread(command, lfg, *args, env=env),
    )
    assert as_json.returncode == 0, as_json.stderr
    rows = {row["model"]: row for row in json.loads(as_json.stdout)}
    assert rows["claude-sonnet-5-5"]["offered"] is True and rows["claude-sonnet-5-5"]["inferred"] is False
    assert rows["claude-haiku-5-5"]["offered"] is False, "in lfg's table, not in the provider's list"
    new = rows["claude-opus-9-9"]  # not in the table: the list's own window and limit beat the family's
    assert (new["offered"], new["context_window"], new["max_output_tokens"], new["inferred"]) == (
        True,
        200_000,
        64_000,
        False,
    )
    said = text.stdout
    assert "anthropic's own model list (GET /v1/models): " in said
    line = next(line for line in said.splitlines() if "own model list" in line)
    assert "lfg knows " in line and "listed here but not offered: " in line and "claude-haiku-5-5" in line
    assert "anthropic's own model list (GET /v1/models): " in as_json.stderr


def test_a_list_that_cannot_be_read_is_one_line_and_the_table_stands(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    args = ("models", "anthropic", "--refresh", "--catalogue", UNREACHABLE, "--config", str(lfg.config))
    done = command(lfg, *args)
    assert done.returncode == 0, done.stderr
    assert (
        "anthropic's own model list (GET /v1/models) could not be read: provider 'anthropic' needs an API "
        "key: set the environment variable ANTHROPIC_API_KEY" in done.stdout
    )
    assert " claude-sonnet-5-5 " in done.stdout
    refused = command(lfg, *args, env={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert "anthropic's own model list (GET /v1/models) could not be read: Connection error" in refused.stdout
