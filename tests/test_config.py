"""config.toml: where it is found, how it merges with the built-in providers, and what it rejects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lfgtui.config.load import Config, config_path, load_config
from lfgtui.config.mcp import McpServer
from lfgtui.config.validation import ValidationError
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def user_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the default config folder into tmp_path so no test can see the real user's config."""
    folder = tmp_path / "user-config"
    monkeypatch.setattr("platformdirs.user_config_dir", lambda appname: str(folder / appname))
    return folder / "lfgtui"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    """The problem lines `load_config` reports for `path`."""
    with pytest.raises(ValidationError) as caught:
        load_config(path, env={})
    return str(caught.value).splitlines()


def test_default_path_is_in_the_user_config_folder(user_config_dir: Path) -> None:
    assert config_path(None, {}) == user_config_dir / "config.toml"


def test_explicit_path_beats_lfg_config_which_beats_the_default(tmp_path: Path) -> None:
    explicit, from_env = tmp_path / "explicit.toml", tmp_path / "env.toml"
    assert config_path(explicit, {"LFG_CONFIG": str(from_env)}) == explicit
    assert config_path(None, {"LFG_CONFIG": str(from_env)}) == from_env


def test_lfg_config_file_is_loaded(tmp_path: Path) -> None:
    path = write(tmp_path, "[run]\nmax_concurrency = 3\n", "elsewhere.toml")
    config = load_config(env={"LFG_CONFIG": str(path)})
    assert config.path == path
    assert config.run.max_concurrency == 3


def test_explicit_file_wins_over_lfg_config(tmp_path: Path) -> None:
    explicit = write(tmp_path, "[run]\nmax_concurrency = 2\n", "explicit.toml")
    from_env = write(tmp_path, "[run]\nmax_concurrency = 5\n", "env.toml")
    assert load_config(explicit, env={"LFG_CONFIG": str(from_env)}).run.max_concurrency == 2


def test_missing_default_file_means_defaults() -> None:
    config = load_config(env={})
    assert config == Config(path=None)
    assert config.providers == BUILTIN
    assert config.run.max_concurrency == 8
    assert config.ui.theme == "dark"
    assert config.ui.keymap == {}
    assert config.history.path is None


def test_default_file_is_read_when_present(user_config_dir: Path) -> None:
    user_config_dir.mkdir(parents=True)
    write(user_config_dir, '[ui]\ntheme = "light"\n')
    assert load_config(env={}).ui.theme == "light"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    (message,) = problems(tmp_path / "nope.toml")
    assert message == f"{tmp_path / 'nope.toml'}: config file not found (given by --config)"


def test_missing_lfg_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"nope\.toml: config file not found \(given by LFG_CONFIG\)"):
        load_config(env={"LFG_CONFIG": str(tmp_path / "nope.toml")})


def test_settings_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[run]
max_concurrency = 2
[ui]
theme = "light"
keymap = { "pane.cancel" = "ctrl+x" }
[history]
path = "data/history.sqlite3"
""",
    )
    config = load_config(path, env={})
    assert config.run.max_concurrency == 2
    assert config.ui.theme == "light"
    assert config.ui.keymap == {"pane.cancel": "ctrl+x"}
    assert config.history.path == tmp_path.resolve() / "data" / "history.sqlite3"


def test_builtin_provider_override_changes_only_the_given_fields(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\nbase_url = "http://proxy.local/v1"\nmax_retries = 5\n')
    openai = load_config(path, env={}).providers["openai"]
    assert openai.base_url == "http://proxy.local/v1"
    assert openai.max_retries == 5
    assert openai.api_key_env == BUILTIN["openai"].api_key_env
    assert openai.default_model == BUILTIN["openai"].default_model
    assert openai.kind == "openai-responses"


def test_new_provider_is_added_beside_the_builtin_ones(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[providers.openrouter]
kind = "openai"
base_url = "https://openrouter.ai/api/v1"
api_key_env = "OPENROUTER_API_KEY"
default_model = "some/model"
headers = { "X-Title" = "lfg" }
connect_timeout_s = 3
idle_timeout_s = 90.5
""",
    )
    providers = load_config(path, env={}).providers
    assert set(BUILTIN) < set(providers)
    router = providers["openrouter"]
    assert (router.name, router.kind, router.api_key_env) == ("openrouter", "openai", "OPENROUTER_API_KEY")
    assert router.headers == {"X-Title": "lfg"}
    assert (router.connect_timeout_s, router.idle_timeout_s) == (3, 90.5)


def test_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[run]\nmax_concurrency = 4\n[ui]\ntheme = "dark\n')
    (message,) = problems(path)
    assert message.startswith(f"{path}:4: TOML syntax error at line 4, column 14")


@pytest.mark.parametrize("field", ["api_key", "key", "token"])
def test_key_fields_are_rejected(tmp_path: Path, field: str) -> None:
    path = write(tmp_path, f'[providers.openai]\nmodel_note = "x"\n{field} = "sk-123"\n')
    messages = problems(path)
    assert f"{path}:3: [providers.openai]: {field!r} is not allowed" in messages[1]
    assert "api_key_env" in messages[1]
    assert "sk-123" not in "\n".join(messages)


def test_authorization_header_is_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.my-agent]\nkind = "sse"\nbase_url = "http://x"\n'
        '[providers.my-agent.headers]\nAuthorization = "Bearer sk"\n',
    )
    (message,) = problems(path)
    assert message.startswith(f"{path}:4: [providers.my-agent]: header 'Authorization' is not allowed")
    assert "api_key_env" in message


def test_unknown_field_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.openai]\ndefault_modle = "gpt"\n')
    (message,) = problems(path)
    assert message.startswith(
        f"{path}:2: [providers.openai]: unknown field 'default_modle' (did you mean 'default_model'?)"
    )


def test_unknown_section_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[run]\nmax_concurrency = 2\n\n[provider.openai]\nmax_retries = 1\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:4: top level: unknown field 'provider' (did you mean 'providers'?)")


def test_wrong_type_names_field_and_expected_type(tmp_path: Path) -> None:
    path = write(tmp_path, '[run]\nmax_concurrency = "lots"\n')
    assert problems(path) == [
        f"{path}:2: [run]: max_concurrency must be an integer of at least 1, got the string 'lots'"
    ]


def test_max_concurrency_must_be_at_least_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[run]\nmax_concurrency = 0\n")
    (message,) = problems(path)
    assert "max_concurrency must be an integer of at least 1, got the integer 0" in message


def test_unknown_kind_lists_the_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.local]\nkind = "opnai"\n')
    (message,) = problems(path)
    assert message.startswith(f"{path}:2: [providers.local]: unknown kind 'opnai' (did you mean 'openai'?)")
    assert "openai-responses" in message and "sse" in message


def test_new_provider_needs_a_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.local]\nbase_url = "http://localhost:1234/v1"\n')
    (message,) = problems(path)
    assert message.startswith(f"{path}:1: [providers.local]: missing kind")


def test_sse_provider_needs_a_base_url(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.agent]\nkind = "sse"\n')
    assert problems(path) == [
        f"{path}:1: [providers.agent]: an sse provider needs base_url, the agent's stream URL"
    ]


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, '[ui]\ntheme = 1\n[run]\nmax_concurrency = -1\n[providers.x]\nkind = "nope"\n')
    lines = [int(message.split(":")[1]) for message in problems(path)]
    assert lines == [2, 4, 6]


def test_example_config_loads() -> None:
    config = load_config(REPO / "config.example.toml", env={})
    assert {"openrouter", "vllm", "my-agent"} <= set(config.providers)
    assert config.providers["my-agent"].kind == "sse"


def test_example_config_commented_values_are_valid(tmp_path: Path) -> None:
    """Uncommenting every example setting in config.example.toml still gives a valid config."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    uncommented = re.sub(r'(?m)^# (?=\[|[\w"-][\w."-]*\s*=)', "", text)
    assert uncommented != text
    config = load_config(write(tmp_path, uncommented), env={})
    assert config.ui.keymap
    assert config.history.path is not None
    assert config.broker.url is not None and config.broker.ca_file is not None
    assert config.telemetry.headers == {"x-honeycomb-team": "HONEYCOMB_API_KEY"} and config.telemetry.endpoint
    assert config.providers["anthropic"].default_model != BUILTIN["anthropic"].default_model


def test_limits_prices_budgets_and_notify_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[run]\nmax_cost_usd = 2.5\nprovider_processes = 3\n[ui]\nnotify = ["failed", "failed"]\n'
        "[providers.openai]\nmax_concurrency = 2\nrequests_per_minute = 60\ntokens_per_minute = 1000\n"
        "prices = { input_per_mtok = 1, output_per_mtok = 4.5, cache_read_per_mtok = 0.1 }\n",
    )
    config = load_config(path)
    openai = config.providers["openai"]
    assert (openai.max_concurrency, openai.requests_per_minute, openai.tokens_per_minute) == (2, 60, 1000)
    assert openai.prices == PriceOverride(1.0, 4.5, cache_read_per_mtok=0.1)
    assert (config.run.max_cost_usd, config.run.provider_processes) == (2.5, 3)
    assert config.ui.notify == ("failed",)


def test_bad_prices_and_notify_events_are_named_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[providers.openai]\nprices = { input_per_mtok = 1, output = 2 }\n"
        '[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:1"\n'
        "[providers.local.prices]\ninput_per_mtok = -1\noutput_per_mtok = 3\n"
        '[ui]\nnotify = ["approval", "bogus"]\n',
    )
    assert problems(path) == [
        f"{path}:2: [providers.openai] prices: unknown field 'output'; known fields: cache_read_per_mtok, "
        "cache_write_per_mtok, input_per_mtok, output_per_mtok",
        f"{path}:2: [providers.openai] prices: missing output_per_mtok (USD per million tokens)",
        f"{path}:7: [providers.local] prices: input_per_mtok must be a number from 0 to 1,000,000 (USD per "
        "million tokens), got the integer -1",
        f"{path}:10: [ui]: notify must be a list of events to be told of (approval, asked, failed, done), "
        "got an array of strings",
    ]


def test_a_price_and_a_retry_count_past_any_meant_are_refused_naming_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.local]\nkind = "openai"\nbase_url = "http://127.0.0.1:1"\nmax_retries = 1000000000\n'
        "prices = { input_per_mtok = 1e308, output_per_mtok = 1000000 }\n",
    )
    assert problems(path) == [
        f"{path}:4: [providers.local]: max_retries must be an integer from 0 to 100, "
        "got the integer 1000000000",
        f"{path}:5: [providers.local] prices: input_per_mtok must be a number from 0 to 1,000,000 (USD per "
        "million tokens), got the float 1e+308",
    ]


def test_an_agents_auth_method_login_and_model_variable_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.codex]\nauth_method = "api-key"\n\n'
        '[providers.mine]\nkind = "acp"\ncommand = ["mine"]\n'
        'login = "mine login"\nmodel_env = "MINE_MODEL"\n',
    )
    providers = load_config(path, env={}).providers
    assert providers["codex"].agent.auth_method == "api-key"
    assert providers["codex"].agent.auth_vars == BUILTIN["codex"].agent.auth_vars
    assert (providers["mine"].agent.login, providers["mine"].agent.model_env) == ("mine login", "MINE_MODEL")


def test_an_agents_nice_is_read_and_is_10_unless_set(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[providers.claude-code]\nnice = 0\n\n"
        '[providers.mine]\nkind = "acp"\ncommand = ["mine"]\nnice = 19\n\n'
        '[providers.other]\nkind = "acp"\ncommand = ["other"]\n',
    )
    providers = load_config(path, env={}).providers
    assert [providers[name].agent.nice for name in ("claude-code", "mine", "other", "codex")] == [
        0,
        19,
        10,
        10,
    ]


def test_an_agents_nice_is_an_integer_from_0_to_19_and_only_an_agents(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.a]\nkind = "acp"\ncommand = ["a"]\nnice = 20\n'
        '[providers.b]\nkind = "acp"\ncommand = ["b"]\nnice = -1\n'
        '[providers.c]\nkind = "acp"\ncommand = ["c"]\nnice = "10"\n'
        '[providers.d]\nkind = "acp"\ncommand = ["d"]\nnice = 1.5\n'
        "[providers.openai]\nnice = 5\n",
    )
    assert problems(path) == [
        f"{path}:4: [providers.a]: nice must be an integer from 0 to 19, got the integer 20",
        f"{path}:8: [providers.b]: nice must be an integer from 0 to 19, got the integer -1",
        f"{path}:12: [providers.c]: nice must be an integer from 0 to 19, got the string '10'",
        f"{path}:16: [providers.d]: nice must be an integer from 0 to 19, got the float 1.5",
        f"{path}:18: [providers.openai]: nice is a coding agent's CPU priority, and this provider is not a "
        "coding agent (kind 'openai-responses', not acp)",
    ]


def test_a_model_variable_must_be_a_variable_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[providers.mine]\nkind = "acp"\ncommand = ["mine"]\nmodel_env = "MY MODEL"\n')
    (message,) = problems(path)
    assert "model_env must be an environment variable name, got the string 'MY MODEL'" in message


def test_mcp_servers_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[mcp_servers.docs]\ncommand = "bin/docs-mcp"\nargs = ["--root", "."]\n'
        'env = ["DOCS_TOKEN", "DOCS_TOKEN"]\n'
        '[mcp_servers.search]\nurl = "https://mcp.example.com/mcp"\n'
        'headers = { Authorization = "Bearer ${SEARCH_TOKEN}", "X-Team" = "docs" }\n'
        '[mcp_servers.old]\nurl = "http://127.0.0.1:9000/sse"\ntransport = "sse"\n'
        '[mcp_servers.npx]\ncommand = "npx"\n',
    )
    servers = load_config(path, env={}).mcp_servers
    assert servers["docs"] == McpServer(
        "docs", "stdio", command=str(tmp_path / "bin/docs-mcp"), args=("--root", "."), env=("DOCS_TOKEN",)
    ), "a relative command path is relative to the config file, as the history's path is"
    assert servers["search"] == McpServer(
        "search",
        "http",
        url="https://mcp.example.com/mcp",
        headers=(("Authorization", "Bearer ${SEARCH_TOKEN}"), ("X-Team", "docs")),
    )
    assert servers["search"].variables() == ("SEARCH_TOKEN",)
    assert (servers["old"].transport, servers["npx"].command) == ("sse", "npx")


def test_bad_mcp_servers_are_named_with_their_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[mcp_servers.both]\ncommand = "x"\nurl = "https://x"\n'  # 1
        '[mcp_servers.neither]\nargs = ["a"]\n'  # 4
        '[mcp_servers.mixed]\nurl = "https://x"\nenv = ["A"]\ntransport = "stdio"\n'  # 6
        '[mcp_servers.leaky]\nurl = "https://x"\nheaders = { Authorization = "Bearer sk-live-123" }\n'  # 10
        '[mcp_servers.typo]\ncommand = "x"\nenv = ["not a name"]\nheaders = { A = "${1X}" }\n'  # 13
        '[mcp_servers."with space"]\ncommand = "x"\n'  # 17
        '[mcp_servers.local]\nurl = "sim:/v1"\n'  # 19
        "[mcp_servers]\nflat = 1\n",  # 21
    )
    messages = problems(path)
    assert messages == [
        f"{path}:1: [mcp_servers.both]: needs one of command and url, not both: command is a program the "
        "agent starts (stdio), url a server it reaches over HTTP",
        f"{path}:4: [mcp_servers.neither]: needs command or url: command is a program the agent starts "
        "(stdio), url a server it reaches over HTTP",
        f"{path}:8: [mcp_servers.mixed]: env is not for a server the agent reaches (url), which takes url, "
        "headers and transport",
        f"{path}:9: [mcp_servers.mixed]: transport 'stdio' does not fit a url: http or sse",
        f"{path}:12: [mcp_servers.leaky]: header 'Authorization' must take its secret from an environment "
        'variable: write its value as "Bearer ${NAME}", NAME the variable that holds it',
        f"{path}:15: [mcp_servers.typo]: env must be a list of environment variable names (letters, digits "
        "and '_', not starting with a digit), got an array of strings",
        f"{path}:16: [mcp_servers.typo]: headers is not for a program the agent starts (command), which "
        "takes command, args and env",
        f"{path}:16: [mcp_servers.typo]: header 'A': ${{1X}} must name an environment variable",
        f"{path}:17: [mcp_servers.with space]: a server's name may use only letters, digits, '_' and '-' "
        "(agents name its tools after it)",
        f"{path}:20: [mcp_servers.local]: url must be an http:// or https:// URL, got the string 'sim:/v1'",
        f"{path}:22: [mcp_servers.flat]: must be a table of MCP server settings",
    ]
    assert "sk-live-123" not in "\n".join(messages)
