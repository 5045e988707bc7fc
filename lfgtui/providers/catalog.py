"""The providers that work with no config file, and how a config gets its key from the environment."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lfgtui.network.environment import PROXY_AND_CERTIFICATES
from lfgtui.providers.base import AgentSettings, ProviderConfig
from lfgtui.providers.kinds import KINDS, SIM_URL, kind_of

AGENT_START_TIMEOUT_S = 60.0
"""An agent may first install itself (npx) or log in: it gets longer to start than an HTTP connection."""
AGENT_IDLE_TIMEOUT_S = 600.0
"""How long an agent may send nothing mid-turn (no person asked) before its attempt fails: its own
tools run without a word (Claude Code's Bash allows a command up to 10 minutes)."""
AGENT_ENV = (
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    *PROXY_AND_CERTIFICATES,
)
"""Passed to every agent besides the safe allowlist: where agents keep their logins and settings,
and the proxy and CA settings without which an agent behind a proxy reaches nothing."""


TESTED_VERSIONS = {
    "@agentclientprotocol/claude-agent-acp": "0.101.0",
    "@agentclientprotocol/codex-acp": "2.6.0",
    "@google/gemini-cli": "0.61.0",
}
"""The npm packages of the built-in agents at the versions lfg's tests drive (tests/real_agents'
package-lock.json, which a test holds this to): what `lfg agents` says to install. An agent's next
release may change what it sends (claude-agent-acp 0.101 started in a mode that edits unasked)."""


def npm_install(package: str) -> str:
    """The command that installs `package` at the version lfg is tested with."""
    return f"npm install -g {package}@{TESTED_VERSIONS[package]}"


def _agent(
    name: str, command: tuple[str, ...], env: tuple[str, ...], install: str | None, **agent: Any
) -> ProviderConfig:
    """A built-in coding agent (ACP over stdio); `default` leaves the model to the agent. `agent`:
    its other `AgentSettings`."""
    return ProviderConfig(
        name=name,
        kind="acp",
        agent=AgentSettings(command, env, install, **agent),
        default_model="default",
        connect_timeout_s=AGENT_START_TIMEOUT_S,
        idle_timeout_s=AGENT_IDLE_TIMEOUT_S,
    )


SIM_DEFAULT_MODEL = "offline"
"""What a ticket on a sim model API that names no model gets (a newcomer's first, with no key set,
among them): an answer that says it is the offline simulator and invents nothing about the person's
project. The sim agents (`sim-agent`, `sim-acp`), which a person names to try a coding agent's
tool calls and approvals, keep `agent-demo`."""
SIM_ASK_MODEL = "hello"
"""What `lfg ask` asks the sim for: a plain answer (`ask` gives no tools, and quotes no prompt back)."""

BUILTIN: dict[str, ProviderConfig] = {
    "openai": ProviderConfig(
        name="openai", kind="openai-responses", api_key_env="OPENAI_API_KEY", default_model="gpt-6.2-sol"
    ),
    "anthropic": ProviderConfig(
        name="anthropic", kind="anthropic", api_key_env="ANTHROPIC_API_KEY", default_model="claude-sonnet-5-5"
    ),
    "xai": ProviderConfig(
        name="xai",
        kind="openai-responses",
        base_url="https://api.x.ai/v1",
        api_key_env="XAI_API_KEY",
        default_model="grok-4.7",
    ),
    "ollama": ProviderConfig(
        name="ollama", kind="openai", base_url="http://localhost:11434/v1", default_model="llama3.2"
    ),
    "sim": ProviderConfig(
        name="sim",
        kind="sim",
        base_url=KINDS["sim"].default_base_url,
        default_model=SIM_DEFAULT_MODEL,
        ask_model=SIM_ASK_MODEL,
    ),
    "sim-responses": ProviderConfig(
        name="sim-responses",
        kind="openai-responses",
        base_url=SIM_URL + "/v1",
        default_model=SIM_DEFAULT_MODEL,
        ask_model=SIM_ASK_MODEL,
    ),
    "sim-anthropic": ProviderConfig(
        name="sim-anthropic",
        kind="anthropic",
        base_url=SIM_URL,
        default_model=SIM_DEFAULT_MODEL,
        ask_model=SIM_ASK_MODEL,
    ),
    "sim-agent": ProviderConfig(
        name="sim-agent", kind="sse", base_url=SIM_URL + "/agent", default_model="agent-demo"
    ),
    "sim-acp": replace(
        _agent("sim-acp", (sys.executable, "-m", "lfgtui.sim.acp_agent", "--scenario", "{model}"), (), None),
        default_model="agent-demo",
    ),
    "claude-code": _agent(
        "claude-code",
        ("claude-agent-acp",),
        (
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "ANTHROPIC_CUSTOM_HEADERS",
            "ANTHROPIC_MODEL",
            "ANTHROPIC_SMALL_FAST_MODEL",
            "ANTHROPIC_DEFAULT_OPUS_MODEL",
            "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL",
            "CLAUDE_CONFIG_DIR",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
            "CLAUDE_CODE_USE_FOUNDRY",
            "MAX_THINKING_TOKENS",
            "MCP_TIMEOUT",
        ),
        npm_install("@agentclientprotocol/claude-agent-acp"),
        login="claude-agent-acp --cli auth login --claudeai (or --console), or set ANTHROPIC_API_KEY",
        model_env="ANTHROPIC_MODEL",
        mcp_start_env="MCP_TIMEOUT",
        mode="default",  # "Manual": asks before it edits or runs anything (0.101 starts in "auto")
    ),
    "codex": _agent(
        "codex",
        ("codex-acp",),
        (
            "OPENAI_API_KEY",
            "CODEX_API_KEY",
            "CODEX_HOME",
            "CODEX_CONFIG",
            "CODEX_CA_CERTIFICATE",
            "CODEX_PATH",
            "MODEL_PROVIDER",
            "INITIAL_AGENT_MODE",
            "NO_BROWSER",
            "OPENAI_BASE_URL",
        ),
        npm_install("@agentclientprotocol/codex-acp"),
        auth_vars={"api-key": ("CODEX_API_KEY", "OPENAI_API_KEY")},  # codex-acp 2.x's method, either key
        login="codex-acp cli login (Codex's own login), or set OPENAI_API_KEY",
        mode="read-only",  # asks before it edits or leaves the sandbox (its "agent" has a model review)
        unsandboxed_modes=("agent-full-access",),  # its other modes run commands in its bubblewrap
    ),
    "gemini": _agent(
        "gemini",
        ("gemini", "--acp"),
        (
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_CLOUD_LOCATION",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_GEMINI_BASE_URL",
            "GEMINI_MODEL",
        ),
        npm_install("@google/gemini-cli"),
        auth_vars={"gemini-api-key": ("GEMINI_API_KEY",), "vertex-ai": ("GOOGLE_API_KEY",)},
        login="gemini (choose Login with Google), or set GEMINI_API_KEY",
        model_env="GEMINI_MODEL",
        mode="default",  # asks before it edits or runs anything
    ),
    "goose": _agent(
        "goose",
        ("goose", "acp"),
        ("GOOSE_PROVIDER", "GOOSE_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"),
        "the goose CLI (https://github.com/block/goose/releases)",
        login="goose configure",
        model_env="GOOSE_MODEL",
    ),
}


class ProviderUnavailable(Exception):
    """A provider that cannot be used on this machine; the message says why and what to do."""


class MissingApiKey(ProviderUnavailable):
    """A provider needs a key and its variable is unset; the message names the variable."""

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(
            f"provider {config.name!r} needs an API key: set the environment variable {config.api_key_env}"
        )
        self.config = config


class MissingAgent(ProviderUnavailable):
    """A coding agent whose program is not installed; the message says what to install."""

    def __init__(self, config: ProviderConfig) -> None:
        how = f"; install it: {config.agent.install}" if config.agent.install else ""
        super().__init__(
            f"provider {config.name!r} runs the coding agent {config.agent.command[0]!r}, "
            f"which is not installed (not found on PATH){how}"
        )
        self.config = config


def unasked(config: ProviderConfig) -> bool:
    """Whether `config` is a built-in provider as it comes that needs nothing of a machine (no key,
    no agent to install): the sims and `ollama`, which every `lfg worker` serves though nobody set
    them up there."""
    return BUILTIN.get(config.name) == config and not config.api_key_env and config.agent.install is None


def resolve(config: ProviderConfig, env: Mapping[str, str] | None = None) -> ProviderConfig:
    """Fill in the key (and, for the built-in names, a base URL override) from the environment; a
    coding agent's program must be found on the PATH."""
    env = os.environ if env is None else env
    if (
        kind_of(config).coding_agent
        and shutil.which(config.agent.command[0], path=env.get("PATH", os.defpath)) is None
    ):
        raise MissingAgent(config)
    builtin = BUILTIN.get(config.name)  # the built-in `openai` and `anthropic`, or a config in their place
    variable = None if builtin is None else kind_of(builtin).base_url_env
    if config.base_url is None and variable and env.get(variable):
        config = replace(config, base_url=env[variable])
    if config.api_key_env:
        key = env.get(config.api_key_env)
        if not key:
            raise MissingApiKey(config)
        config = replace(config, api_key=key)
    return config
