"""The registry snapshot bundled with lfg is the registry's whole list at one commit, made by
`tools/registry_snapshot.py` from a checkout (here a real git repository in a tmp folder laid out as
agentclientprotocol/registry is), so `lfg agents --registry` offline lists every agent it had."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lfgtui.agents_registry.fetch import snapshot
from tests.support.acp_registry import Machine, npx_agent

ROOT = Path(__file__).parents[2]
UNREACHABLE = "http://127.0.0.1:9/registry.json"


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_the_tool_takes_every_listed_agent_at_a_commit_with_its_sha_and_day(tmp_path: Path) -> None:
    checkout = tmp_path / "registry"
    entries = {
        "zed-agent": npx_agent("zed-agent", "1.0.0", "zed-agent@1.0.0"),
        "alpha": npx_agent("alpha", "2.0.0", "alpha@2.0.0"),
        "_not_yet_unsupported/later": npx_agent("later", "0.1.0", "later@0.1.0"),
        ".github/workflows": None,
    }
    for folder, entry in entries.items():
        (checkout / folder).mkdir(parents=True)
        if entry is not None:
            (checkout / folder / "agent.json").write_text(json.dumps(entry))
    (checkout / ".github" / "workflows" / "build_registry.py").write_text("")
    (checkout / "no-entry").mkdir()
    (checkout / "no-entry" / "extension.json").write_text("{}")
    _git(tmp_path, "init", "-q", str(checkout))
    _git(checkout, "add", ".")
    when = {"GIT_COMMITTER_DATE": "2026-03-04T05:06:07Z", "GIT_AUTHOR_DATE": "2026-03-04T05:06:07Z"}
    subprocess.run(
        ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **when},
    )
    out = tmp_path / "snapshot.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "registry_snapshot.py"), str(checkout), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    written = json.loads(out.read_text())
    assert [agent["id"] for agent in written["agents"]] == ["alpha", "zed-agent"]
    assert written["taken"] == {
        "repository": "https://github.com/agentclientprotocol/registry",
        "commit": _git(checkout, "rev-parse", "HEAD"),
        "date": "2026-03-04",
    }


def test_the_bundled_snapshot_is_the_registrys_whole_list_listed_offline_with_its_date(
    machine: Machine,
) -> None:
    index, day = snapshot()
    document = json.loads((ROOT / "lfgtui" / "agents_registry" / "snapshot.json").read_text())
    assert len(document["taken"]["commit"]) == 40 and day == document["taken"]["date"]
    assert index.problems == () and len(index.agents) == len(document["agents"]) >= 10
    listed = machine.lfg(UNREACHABLE, "--registry")
    assert listed.returncode == 0, listed.stderr
    assert f"ACP registry: the snapshot bundled with lfg of {day} (the registry at " in listed.stdout
    assert f", {len(index.agents)} agents" in listed.stdout
    for agent in index.agents:
        assert f"\n{agent.id}  " in listed.stdout
    assert {"github-copilot", "opencode", "claude-code-acp"} <= {agent.id for agent in index.agents}
