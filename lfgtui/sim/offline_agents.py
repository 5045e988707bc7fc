"""The offline world the real coding agents run in: their programs, the sim's model map, the environment
and the home-folder settings that point them at `lfg sim serve` with a made-up key.

Shared by the real-agent tests (tests/real_agents/conftest.py) and `bench/agents.py`; it imports no
test framework, so a benchmark's memory figures hold nothing of pytest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def agents_bin(clone: Path) -> Path:
    """Where `npm ci --prefix tests/real_agents` puts the pinned agents' programs in lfg's clone."""
    return clone / "tests" / "real_agents" / "node_modules" / ".bin"


MODEL_MAP = (
    "claude-haiku-*=hello",
    "claude-*=claude-code-demo",
    "gemini-*-lite*=hello",
    "gemini-*=gemini-cli-demo",
    "gpt-*-luna=hello",
    "gpt-*=codex-demo",
)
"""examples/agents-offline.toml's map: each agent's own model names to a scenario scripted with its own
tools; side calls (Claude Code's haiku, Gemini CLI's flash-lite, Codex's luna) and any other name get
`hello`."""

STRIPPED_PREFIXES = ("ANTHROPIC_", "OPENAI_", "CODEX_", "GEMINI_", "GOOGLE_", "CLAUDE_", "LFG_", "XDG_")


def offline_env(
    base: os._Environ[str] | dict[str, str], root: Path, sim_url: str, programs: Path
) -> dict[str, str]:
    """The environment `lfg` runs in: the person's own credentials, agent settings and lfg settings
    gone; home, config, state and temporary folders inside `root`; the agents' `programs` on the PATH;
    every agent pointed at the sim with a key the sim does not check."""
    env = {k: v for k, v in base.items() if not k.startswith(STRIPPED_PREFIXES) and not k.endswith("_KEY")}
    home = root / "home"
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(root / "tmp"),
        "PATH": f"{programs}{os.pathsep}{base.get('PATH', os.defpath)}",
        "ANTHROPIC_BASE_URL": sim_url,
        "ANTHROPIC_API_KEY": "sim",
        "OPENAI_BASE_URL": f"{sim_url}/v1",
        "OPENAI_API_KEY": "sim",
        "GOOGLE_GEMINI_BASE_URL": sim_url,
        "GEMINI_API_KEY": "sim",
        "CODEX_HOME": str(home / ".codex"),
    }
    return env


def settle_agents_home(home: Path, sim_url: str) -> None:
    """The agents' own settings in the test's home: none of them phones home or updates itself,
    Gemini CLI runs commands without its interactive shell, the only way it reports their output over
    ACP, and Codex talks to the sim (it reads its base URL only from its config.toml). Nothing else is
    set: each logs in with its key variable as a new user's would."""
    gemini = {
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "tools": {"shell": {"enableInteractiveShell": False}},
    }
    claude = {
        "env": {
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
        }
    }
    for folder, settings in ((home / ".gemini", gemini), (home / ".claude", claude)):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    codex = home / ".codex"
    codex.mkdir()
    (codex / "config.toml").write_text(f"openai_base_url = {json.dumps(sim_url + '/v1')}\n")
