"""The providers that work with no config file, and how a config gets its key from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from lfgtui.providers.base import ProviderConfig

KINDS = ("openai", "openai-responses", "anthropic", "sse", "sim")
SIM_URL = "sim:"
"""A base URL starting with this points at the in-process sim server, whatever its port turns out to be."""

BUILTIN: dict[str, ProviderConfig] = {
    "openai": ProviderConfig(
        name="openai", kind="openai", api_key_env="OPENAI_API_KEY", default_model="gpt-4.1-mini"
    ),
    "anthropic": ProviderConfig(
        name="anthropic", kind="anthropic", api_key_env="ANTHROPIC_API_KEY", default_model="claude-sonnet-4-5"
    ),
    "xai": ProviderConfig(
        name="xai",
        kind="openai",
        base_url="https://api.x.ai/v1",
        api_key_env="XAI_API_KEY",
        default_model="grok-4",
    ),
    "ollama": ProviderConfig(
        name="ollama", kind="openai", base_url="http://localhost:11434/v1", default_model="llama3.2"
    ),
    "sim": ProviderConfig(name="sim", kind="sim", base_url=SIM_URL + "/v1", default_model="agent-demo"),
    "sim-responses": ProviderConfig(
        name="sim-responses", kind="openai-responses", base_url=SIM_URL + "/v1", default_model="agent-demo"
    ),
    "sim-anthropic": ProviderConfig(
        name="sim-anthropic", kind="anthropic", base_url=SIM_URL, default_model="agent-demo"
    ),
    "sim-agent": ProviderConfig(
        name="sim-agent", kind="sse", base_url=SIM_URL + "/agent", default_model="agent-demo"
    ),
}

BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}


class MissingApiKey(Exception):
    """A provider needs a key and its variable is unset; the message names the variable."""

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(
            f"provider {config.name!r} needs an API key: set the environment variable {config.api_key_env}"
        )
        self.config = config


def resolve(config: ProviderConfig, env: Mapping[str, str] | None = None) -> ProviderConfig:
    """Fill in the key (and, for the built-in names, a base URL override) from the environment."""
    env = os.environ if env is None else env
    if config.base_url is None and config.name in BASE_URL_ENV and env.get(BASE_URL_ENV[config.name]):
        config = replace(config, base_url=env[BASE_URL_ENV[config.name]])
    if config.api_key_env:
        key = env.get(config.api_key_env)
        if not key:
            raise MissingApiKey(config)
        config = replace(config, api_key=key)
    return config
