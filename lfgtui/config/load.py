"""The user's config.toml: providers beyond the built-in ones, run limits, UI and history settings.

The file is optional. Only a file the user named (`--config` or `LFG_CONFIG`) must exist; the
default one in the platform's config folder may be absent, which means all defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from lfgtui.config.broker import BrokerSettings, url_problem
from lfgtui.config.telemetry import PROTOCOLS, TelemetrySettings
from lfgtui.config.validation import (
    BOOLEAN,
    ENV_NAME,
    ENV_NAMES,
    NON_NEGATIVE_INT,
    NON_NEGATIVE_NUMBER,
    PATH,
    POSITIVE_INT,
    POSITIVE_NUMBER,
    SECRET_HINT,
    STRING,
    STRING_LIST,
    STRING_TABLE,
    TABLE,
    Checker,
    Kind,
    Problem,
    ValidationError,
    load_toml,
    unknown,
)
from lfgtui.providers.base import (
    MAX_PRICE_PER_MTOK,
    AgentSettings,
    OnQuota,
    PriceOverride,
    ProviderConfig,
    Reasoning,
)
from lfgtui.providers.catalog import AGENT_IDLE_TIMEOUT_S, AGENT_START_TIMEOUT_S, BUILTIN
from lfgtui.providers.kinds import KINDS, SIM_URL, kind_of
from lfgtui.providers.reasoning import THINKING_MODES, problems

if TYPE_CHECKING:  # loaded only for a config with MCP servers (see _mcp_servers)
    from lfgtui.config.mcp import McpServer

CONFIG_ENV = "LFG_CONFIG"

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _is_url(value: Any) -> bool:
    """An http(s) URL with a host that the HTTP client can parse, or the in-process sim's `sim:`."""
    if not isinstance(value, str) or value.startswith(SIM_URL):
        return isinstance(value, str)
    import httpx2  # here, not at the top: it costs every command that never checks a URL ~90 ms

    try:
        url = httpx2.URL(value)
    except (httpx2.InvalidURL, TypeError, ValueError):
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def _is_header_table(value: Any) -> bool:
    """Header names that are HTTP tokens, values of printable ASCII: nothing that splits a request."""
    return isinstance(value, dict) and all(
        HEADER_NAME.fullmatch(name) and isinstance(text, str) and text.isascii() and text.isprintable()
        for name, text in value.items()
    )


URL = Kind("an http:// or https:// URL", _is_url)
ENV_NAME_KIND = Kind(
    "an environment variable name", lambda value: isinstance(value, str) and bool(ENV_NAME.fullmatch(value))
)
HEADERS = Kind("a table of headers (token names, printable ASCII values)", _is_header_table)
SECTIONS: dict[str, Kind] = {
    "providers": TABLE,
    "mcp_servers": TABLE,
    "run": TABLE,
    "ui": TABLE,
    "history": TABLE,
    "broker": TABLE,
    "telemetry": TABLE,
}
ON_QUOTA = Kind('"wait", "fallback" or "pause"', lambda value: value in tuple(OnQuota))
"""A ticket's or a provider's `on_quota`."""
REASONING_FIELDS: dict[str, Kind] = {
    "effort": Kind('an effort its API names, such as "low" or "high"', STRING.check),
    "thinking": Kind('"adaptive" or "off"', lambda value: value in THINKING_MODES),
    "show_thinking": BOOLEAN,
}
"""A ticket's, [defaults]' or a provider's reasoning settings (`providers.base.Reasoning`); which
efforts a model takes is checked against its wire and model (providers/reasoning.py)."""
MAX_RETRIES = 100
"""The most retries of a failed request: past it a typo (`10^9`) would retry for ever."""
RETRIES = Kind(
    f"an integer from 0 to {MAX_RETRIES}",
    lambda value: NON_NEGATIVE_INT.check(value) and value <= MAX_RETRIES,
)
PRICE = Kind(
    f"a number from 0 to {MAX_PRICE_PER_MTOK:,} (USD per million tokens)",
    lambda value: NON_NEGATIVE_NUMBER.check(value) and value <= MAX_PRICE_PER_MTOK,
)
PROVIDER_FIELDS: dict[str, Kind] = {
    "kind": STRING,
    "base_url": URL,
    "api_key_env": STRING,
    "default_model": STRING,
    "ask_model": STRING,
    "headers": HEADERS,
    "connect_timeout_s": POSITIVE_NUMBER,
    "idle_timeout_s": POSITIVE_NUMBER,
    "max_retries": RETRIES,
    "command": Kind(
        "a non-empty list of strings (the program, then its arguments)",
        lambda value: STRING_LIST.check(value) and bool(value) and bool(value[0]),
    ),
    "env": ENV_NAMES,
    "auth_method": STRING,
    "login": STRING,
    "model_env": ENV_NAME_KIND,
    "mcp_start_env": ENV_NAME_KIND,
    "mode": STRING,
    "yes_mode": STRING,
    "nice": Kind("an integer from 0 to 19", lambda value: NON_NEGATIVE_INT.check(value) and value <= 19),
    "max_concurrency": POSITIVE_INT,
    "requests_per_minute": POSITIVE_INT,
    "tokens_per_minute": POSITIVE_INT,
    "max_hold_s": POSITIVE_NUMBER,
    "prices": TABLE,
    "fallback": Kind(
        'a list of "provider/model" names',
        lambda value: STRING_LIST.check(value) and all("/" in entry.strip("/") for entry in value),
    ),
    "on_quota": ON_QUOTA,
    **REASONING_FIELDS,
}
PRICE_FIELDS: dict[str, Kind] = {
    "input_per_mtok": PRICE,
    "output_per_mtok": PRICE,
    "cache_read_per_mtok": PRICE,
    "cache_write_per_mtok": PRICE,
}
NOTIFY_EVENTS = ("approval", "asked", "failed", "done")
"""What may ring the terminal: a pane starts waiting for approval or ends on a question to the person,
a ticket fails, the run ends."""
RUN_FIELDS: dict[str, Kind] = {
    "max_concurrency": POSITIVE_INT,
    "max_cost_usd": POSITIVE_NUMBER,
    "provider_processes": POSITIVE_INT,
    "disk_reserve_mb": NON_NEGATIVE_INT,
    "model_catalogue": Kind(
        'an http:// or https:// URL, or "off"', lambda value: value == "off" or _is_url(value)
    ),
}
UI_FIELDS: dict[str, Kind] = {
    "theme": STRING,
    "keymap": STRING_TABLE,
    "notify": Kind(
        f"a list of events to be told of ({', '.join(NOTIFY_EVENTS)})",
        lambda value: STRING_LIST.check(value) and set(value) <= set(NOTIFY_EVENTS),
    ),
}
HISTORY_FIELDS: dict[str, Kind] = {"path": PATH}
BROKER_FIELDS: dict[str, Kind] = {
    "url": STRING,  # and then `url_problem`, which never quotes a password in the URL
    "username": STRING,
    "password_env": Kind(
        "an environment variable name",
        lambda value: isinstance(value, str) and bool(ENV_NAME.fullmatch(value)),
    ),
    "password_file": PATH,
    "sentinel_username": STRING,
    "sentinel_password_env": Kind(
        "an environment variable name",
        lambda value: isinstance(value, str) and bool(ENV_NAME.fullmatch(value)),
    ),
    "sentinel_password_file": PATH,
    "ca_file": PATH,
    "cert_file": PATH,
    "key_file": PATH,
    "prefix": Kind(
        "a key prefix of letters, digits, '-', '_' and '.'",
        lambda value: isinstance(value, str) and bool(re.fullmatch(r"[A-Za-z0-9_.-]+", value)),
    ),
    "max_len": POSITIVE_INT,
    "max_bytes": POSITIVE_INT,
    "max_age_s": POSITIVE_NUMBER,
    "queue_bytes": POSITIVE_INT,
    "lease_s": POSITIVE_NUMBER,
}
TELEMETRY_FIELDS: dict[str, Kind] = {
    "enabled": BOOLEAN,
    "endpoint": Kind(
        "an http:// or https:// URL", lambda value: _is_url(value) and not value.startswith(SIM_URL)
    ),
    "protocol": Kind(f"one of {', '.join(PROTOCOLS)}", lambda value: value in PROTOCOLS),
    "headers": Kind(
        "a table of header names to the environment variables holding their values",
        lambda value: (
            isinstance(value, dict)
            and all(
                HEADER_NAME.fullmatch(name) and ENV_NAME_KIND.check(variable)
                for name, variable in value.items()
            )
        ),
    ),
    "capture_content": BOOLEAN,
    "service_name": STRING,
}
BROKER_PATHS = ("password_file", "sentinel_password_file", "ca_file", "cert_file", "key_file")
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
MCP_FIELDS: dict[str, Kind] = {
    "command": Kind("a program's name or path", lambda value: isinstance(value, str) and bool(value.strip())),
    "args": STRING_LIST,
    "env": ENV_NAMES,
    "url": Kind("an http:// or https:// URL", lambda value: _is_url(value) and not value.startswith(SIM_URL)),
    "headers": HEADERS,
}
MCP_STDIO_ONLY = ("command", "args", "env")
MCP_URL_ONLY = ("url", "headers")


DEFAULT_DISK_RESERVE_MB = 1024
"""`[run] disk_reserve_mb`'s default: what a disk boxed tickets write on keeps free (run/disk_guard.py)."""


@dataclass(frozen=True)
class RunSettings:
    max_concurrency: int = 8
    max_cost_usd: float | None = None
    """Every running ticket is cancelled (failed, `budget`) once the run has cost this much."""
    provider_processes: int | None = None
    """The most processes reading one SDK's streams in the TUI (None: from the cores and the load)."""
    disk_reserve_mb: int = DEFAULT_DISK_RESERVE_MB
    """A boxed ticket is stopped (failed, `disk`) where the disk it writes on has less free, the one
    holding the most there first (run/disk_guard.py); 0: never."""
    model_catalogue: str | None = None
    """The model catalogue a run refreshes in the background when its cached copy is a day old, and
    `lfg models` reads (None: models.dev's); "off": a run never reads it."""


@dataclass(frozen=True)
class UiSettings:
    theme: str = "dark"
    keymap: dict[str, str] = field(default_factory=dict)
    notify: tuple[str, ...] = NOTIFY_EVENTS


@dataclass(frozen=True)
class HistorySettings:
    """`path` None means the history module's own default location."""

    path: Path | None = None


@dataclass(frozen=True)
class Config:
    """Everything config.toml can set; `path` is the file it came from, None when there was none."""

    path: Path | None
    providers: dict[str, ProviderConfig] = field(default_factory=lambda: dict(BUILTIN))
    run: RunSettings = field(default_factory=RunSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    mcp_servers: dict[str, McpServer] = field(default_factory=dict)
    """The MCP servers tickets may give their coding agent, by name (`[mcp_servers.NAME]`)."""
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)


def _chosen_path(explicit: Path | None, env: Mapping[str, str]) -> tuple[Path, str | None]:
    """The config file to read and who named it: a file the user named must exist."""
    if explicit is not None:
        return explicit.expanduser(), "--config"
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser(), CONFIG_ENV
    return Path(platformdirs.user_config_dir("lfgtui")) / "config.toml", None


def config_path(explicit: Path | None, env: Mapping[str, str]) -> Path:
    """`--config PATH`, else `LFG_CONFIG`, else config.toml in the user config folder."""
    return _chosen_path(explicit, env)[0]


def load_config(explicit: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config file; raises `ValidationError` listing every problem."""
    path, named_by = _chosen_path(explicit, os.environ if env is None else env)
    if not path.exists():
        if named_by is None:
            return Config(path=None)
        raise ValidationError([Problem(path, None, f"config file not found (given by {named_by})")])
    check = Checker(load_toml(path))
    sections = check.fields(check.doc.data, SECTIONS, "top level")
    providers = _providers(check, sections.get("providers", {}))
    mcp_servers = _mcp_servers(check, sections.get("mcp_servers", {}), path.resolve().parent)
    run = check.fields(sections.get("run", {}), RUN_FIELDS, "[run]", "run")
    ui = check.fields(sections.get("ui", {}), UI_FIELDS, "[ui]", "ui")
    ui |= {"notify": tuple(dict.fromkeys(ui["notify"]))} if "notify" in ui else {}
    history = check.fields(sections.get("history", {}), HISTORY_FIELDS, "[history]", "history")
    broker = check.fields(sections.get("broker", {}), BROKER_FIELDS, "[broker]", "broker")
    if "url" in broker and (problem := url_problem(broker["url"])) is not None:
        check.add(check.doc.line("broker", "url", 0), f"[broker]: url {problem}")
    telemetry = check.fields(sections.get("telemetry", {}), TELEMETRY_FIELDS, "[telemetry]", "telemetry")
    check.raise_if_any()
    folder = path.resolve().parent
    broker |= {name: folder / Path(broker[name]).expanduser() for name in BROKER_PATHS if name in broker}
    history_path = Path(history["path"]).expanduser() if "path" in history else None
    return Config(
        path=path,
        providers=providers,
        run=RunSettings(**run),
        ui=UiSettings(**ui),
        history=HistorySettings(path=path.resolve().parent / history_path if history_path else None),
        mcp_servers=mcp_servers,
        broker=BrokerSettings(**broker),
        telemetry=TelemetrySettings(**telemetry),
    )


def _prices(check: Checker, table: Mapping[str, Any], where: str, header: str) -> PriceOverride | None:
    """`prices = {input_per_mtok = …, output_per_mtok = …}`: both rates are needed, the cache ones not."""
    line = check.doc.line(header, "prices")
    before = len(check.problems)
    valid = check.fields(table, PRICE_FIELDS, f"{where} prices", f"{header}.prices")
    check.problems[before:] = [replace(p, line=p.line or line) for p in check.problems[before:]]
    missing = [key for key in ("input_per_mtok", "output_per_mtok") if key not in table]
    if missing:
        check.add(line, f"{where} prices: missing {' and '.join(missing)} (USD per million tokens)")
    if missing or len(check.problems) > before:
        return None
    return PriceOverride(**{key: float(value) for key, value in valid.items()})


AGENT_FIELDS = frozenset(setting.name for setting in dataclass_fields(AgentSettings))
"""A provider table's keys that are its coding agent's own settings (`AgentSettings`)."""
AGENT_ONLY = {
    "nice": "a coding agent's CPU priority",
    "mode": "a coding agent's session mode",
    "yes_mode": "a coding agent's session mode under --yes",
}
"""Agent settings a provider of another kind must not have: what each is, for the error."""


def _providers(check: Checker, tables: Mapping[str, Any]) -> dict[str, ProviderConfig]:
    """The built-in providers with the file's `[providers.NAME]` tables merged over them."""
    providers = dict(BUILTIN)
    for name, table in tables.items():
        header = f'providers."{name}"'
        where = f"[providers.{name}]"
        if not isinstance(table, dict):
            check.add(check.doc.line("providers", name), f"{where}: must be a table of provider settings")
            continue
        fields = check.fields(table, PROVIDER_FIELDS, where, header)
        fields |= {key: tuple(fields[key]) for key in ("command", "env", "fallback") if key in fields}
        agent = {key: fields.pop(key) for key in AGENT_FIELDS if key in fields}
        if "on_quota" in fields:
            fields["on_quota"] = OnQuota(fields["on_quota"])
        said = {key: fields.pop(key) for key in REASONING_FIELDS if key in fields}
        if said:
            fields["reasoning"] = Reasoning(**said)
        if "prices" in fields:
            fields["prices"] = _prices(check, fields["prices"], where, header)
        kind = fields.get("kind")
        if kind is not None and kind not in KINDS:
            check.add(check.doc.line(header, "kind"), f"{where}: {unknown('kind', kind, KINDS)}")
            continue
        for secret in [key for key in fields.get("headers", {}) if key.lower() in SECRET_HEADERS]:
            line = check.doc.line(header, "headers")
            check.add(line, f"{where}: header {secret!r} is not allowed: {SECRET_HINT}")
        if name in BUILTIN:
            config = replace(BUILTIN[name], **fields).with_agent(**agent)
        elif kind is None:
            check.add(check.doc.line(header), f"{where}: missing kind (one of {', '.join(KINDS)})")
            continue
        else:
            config = ProviderConfig(name=name, **fields, agent=AgentSettings(**agent))
        if kind_of(config).coding_agent:
            if not config.agent.command:
                check.add(
                    check.doc.line(header),
                    f"{where}: an acp provider needs command, the agent's command line",
                )
                continue
            if "connect_timeout_s" not in fields and name not in BUILTIN:
                config = replace(config, connect_timeout_s=AGENT_START_TIMEOUT_S)
            if "idle_timeout_s" not in fields and name not in BUILTIN:
                config = replace(config, idle_timeout_s=AGENT_IDLE_TIMEOUT_S)
        for key, what in AGENT_ONLY.items():
            if key in agent and not kind_of(config).coding_agent:
                check.add(
                    check.doc.line(header, key),
                    f"{where}: {key} is {what}, and this provider is not a coding agent "
                    f"(kind {config.kind!r}, not acp)",
                )
        if kind_of(config).needs_base_url and not config.base_url:
            check.add(
                check.doc.line(header),
                f"{where}: an {config.kind} provider needs base_url, the agent's stream URL",
            )
        for key, why in problems(config.kind, "", config.reasoning, tools=False, temperature=None):
            check.add(check.doc.line(header, key), f"{where}: {why}")
        providers[name] = config
    for name, config in providers.items():  # a link names a provider of this file or a built-in one
        for entry in config.fallback:
            if entry.partition("/")[0].strip() not in providers:
                message = unknown("provider", entry.partition("/")[0].strip(), providers)
                check.add(
                    check.doc.line(f'providers."{name}"', "fallback"),
                    f"[providers.{name}]: fallback: {message}",
                )
    return providers


def _mcp_servers(check: Checker, tables: Mapping[str, Any], folder: Path) -> dict[str, McpServer]:
    """`[mcp_servers.NAME]`: a program the agent starts (`command`, `args`, `env`), or a URL it
    reaches (`url`, `headers`, `transport` http or sse)."""
    if not tables:
        return {}
    from lfgtui.config.mcp import TRANSPORTS  # here: every command reads the config, few use MCP servers

    allowed = {"transport": Kind(f"one of {', '.join(TRANSPORTS)}", lambda value: value in TRANSPORTS)}
    servers = {
        name: _mcp_server(check, name, table, folder, allowed | MCP_FIELDS) for name, table in tables.items()
    }
    return {name: server for name, server in servers.items() if server is not None}


def _mcp_server(
    check: Checker, name: str, table: Any, folder: Path, allowed: Mapping[str, Kind]
) -> McpServer | None:
    """One server, or None when it has a problem. A relative command path is relative to the
    config file's folder, as a relative history path is."""
    from lfgtui.config.mcp import NAME, McpServer

    header, where = f'mcp_servers."{name}"', f"[mcp_servers.{name}]"
    if not isinstance(table, dict):
        check.add(check.doc.line("mcp_servers", name), f"{where}: must be a table of MCP server settings")
        return None
    before = len(check.problems)
    if not NAME.fullmatch(name):
        message = "a server's name may use only letters, digits, '_' and '-' (agents name its tools after it)"
        check.add(check.doc.line(header), f"{where}: {message}")
    fields = check.fields(table, allowed, where, header)
    stdio = "command" in table
    if stdio == ("url" in table):
        what = "one of command and url, not both" if stdio else "command or url"
        check.add(
            check.doc.line(header),
            f"{where}: needs {what}: command is a program the agent starts (stdio), url a server it "
            "reaches over HTTP",
        )
        return None
    transport = fields.get("transport", "stdio" if stdio else "http")
    if (transport == "stdio") != stdio:
        fit = "a program the agent starts (command): leave it out" if stdio else "a url: http or sse"
        check.add(check.doc.line(header, "transport"), f"{where}: transport {transport!r} does not fit {fit}")
    for key in [key for key in (MCP_URL_ONLY if stdio else MCP_STDIO_ONLY) if key in table]:
        kind = "a program the agent starts (command)" if stdio else "a server the agent reaches (url)"
        takes = "command, args and env" if stdio else "url, headers and transport"
        check.add(check.doc.line(header, key), f"{where}: {key} is not for {kind}, which takes {takes}")
    headers: dict[str, str] = fields.get("headers", {})
    _check_mcp_headers(check, headers, where, check.doc.line(header, "headers"))
    if len(check.problems) > before:
        return None
    command = fields.get("command", "")
    if "/" in command:
        path = Path(command).expanduser()
        command = str(path if path.is_absolute() else folder / path)
    return McpServer(
        name=name,
        transport=transport,
        command=command,
        args=tuple(fields.get("args", ())),
        env=tuple(dict.fromkeys(fields.get("env", ()))),
        url=fields.get("url", ""),
        headers=tuple(headers.items()),
    )


def _check_mcp_headers(check: Checker, headers: Mapping[str, str], where: str, line: int | None) -> None:
    """Each `${NAME}` names a variable, and a secret header takes its value from one."""
    from lfgtui.config.mcp import VARIABLE

    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS and not VARIABLE.search(value):
            check.add(
                line,
                f"{where}: header {name!r} must take its secret from an environment variable: write "
                'its value as "Bearer ${NAME}", NAME the variable that holds it',
            )
        for written in VARIABLE.findall(value):
            if not ENV_NAME.fullmatch(written):
                check.add(line, f"{where}: header {name!r}: ${{{written}}} must name an environment variable")
