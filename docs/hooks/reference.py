"""The documentation's reference, generated from the live code at build time so it cannot drift.

A MkDocs hook (mkdocs.yml `hooks:`). A page asks for a generated part with a comment:

- `<!-- lfg-help COMMAND -->`: the command's usage and options, from lfg's own argparse parser;
- `<!-- lfg-fields SCHEMA -->`: the fields a loader accepts (`tickets`, `ticket`, `config`,
  `providers`, `prices`, `mcp_servers`, `run`, `ui`, `history`, `broker`, `telemetry`), each with what
  it accepts (the `Kind` the loader checks it with), its default where a dataclass holds one, and
  what it is for (`FIELD_HELP` below);
- `<!-- lfg-keys -->`: every key binding of the TUI, by screen, from the screens' `BINDINGS`;
- `<!-- lfg-tools -->`: lfg's built-in tools, as the model is told of them (`BUILTIN_TOOLS`);
- `<!-- lfg-events-checked -->`: the page's table of NDJSON types is checked against every type the
  code writes (`lfgtui/commands/headless.py`).

The build fails (it raises) when a command has no section, a section names no command, or a field or
binding has no words here, or words here name a field or binding that is gone. CONTRIBUTING.md,
CHANGELOG.md, bench/README.md and bench/RESULTS.md are added to the site as pages of their own.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HELP_MARK = re.compile(r"<!-- lfg-help ([a-z ]+?) -->")
FIELDS_MARK = re.compile(r"<!-- lfg-fields ([a-z_]+) -->")
KEYS_MARK = "<!-- lfg-keys -->"
COPIED = {
    "contributing.md": "CONTRIBUTING.md",
    "changelog.md": "CHANGELOG.md",
    "benchmarks.md": "bench/README.md",
    "results.md": "bench/RESULTS.md",
}
"""Site pages made from files outside docs/, which stay where a repository's reader looks for them."""
LINKS = {
    "../docs/": "",
    "docs/": "",
    "bench/README.md": "benchmarks.md",
    "bench/RESULTS.md": "results.md",
    "RESULTS.md": "results.md",
    "README.md": "benchmarks.md",
    "CHANGELOG.md": "changelog.md",
}
"""How those files' relative links read from the site's root."""


USAGE_WIDTH = 96
"""Where a command's usage wraps: as `--help` wraps it in a terminal of this width."""


class DocsDrift(Exception):
    """The docs and the code disagree: the build stops and says where."""


# Commands ---------------------------------------------------------------------------------------


def commands() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its words (`history stats`), `lfg sim acp`'s own included."""
    from lfgtui.commands.main import whole_parser
    from lfgtui.sim.acp_agent import build_parser

    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[" ".join((*words, name))] = sub
                    walk(sub, (*words, name))

    walk(whole_parser(), ())
    found["sim acp"] = build_parser()
    return found


def _help(action: argparse.Action, prog: str) -> str:
    """An action's help as argparse prints it (`%(default)s` filled in)."""
    params = {key: value for key, value in vars(action).items() if value is not argparse.SUPPRESS}
    params["prog"] = prog
    if params.get("choices") is not None:
        params["choices"] = ", ".join(map(str, params["choices"]))
    return (action.help or "") % params


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar or action.dest
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    if action.metavar is not None:
        metavar = action.metavar if isinstance(action.metavar, str) else " ".join(action.metavar)
    elif action.choices is not None:
        metavar = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        metavar = action.dest.upper()
    return ", ".join(f"{option} {metavar}" for option in action.option_strings)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def command_section(words: str, parser: argparse.ArgumentParser) -> str:
    """One command's usage (as `lfg WORDS --help` prints it) and a table of its arguments."""
    formatter = parser.formatter_class(prog=parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    lines = ["```text", formatter.format_help().strip(), "```", ""]
    if parser.description:
        lines += [_cell(parser.description), ""]
    rows = [
        (action, _help(action, parser.prog))
        for action in parser._actions
        if action.help is not argparse.SUPPRESS and not isinstance(action, argparse._SubParsersAction)
    ]
    if rows:
        lines += ["| argument | what it does |", "|---|---|"]
        lines += [f"| `{_invocation(action)}` | {_cell(help_text)} |" for action, help_text in rows]
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subcommands:
        lines += ["", "| command | what it does |", "|---|---|"]
        lines += [
            f"| [`lfg {words} {choice.dest}`](#lfg-{words.replace(' ', '-')}-{choice.dest}) | "
            f"{_cell(choice.help or '')} |"
            for choice in action._choices_actions
        ]
    return "\n".join(lines) + "\n"


def _commands_in(markdown: str, found: Mapping[str, argparse.ArgumentParser]) -> str:
    def section(match: re.Match[str]) -> str:
        words = match.group(1)
        if words not in found:
            raise DocsDrift(f"<!-- lfg-help {words} -->: lfg has no command {words!r}")
        return command_section(words, found[words])

    named = HELP_MARK.findall(markdown)
    missing = [words for words in found if words not in named]
    if missing:
        raise DocsDrift(f"commands with no <!-- lfg-help … --> section: {', '.join(missing)}")
    return HELP_MARK.sub(section, markdown)


# Fields -----------------------------------------------------------------------------------------


def schemas() -> dict[str, tuple[Mapping[str, Any], type | None]]:
    """Each table a loader checks: its fields' `Kind`s, and the dataclass holding their defaults."""
    from lfgtui.config import load as config
    from lfgtui.config.broker import BrokerSettings
    from lfgtui.config.telemetry import TelemetrySettings
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.tickets import load
    from lfgtui.tickets.ticket import Ticket

    return {
        "tickets": (load.TOP_LEVEL, None),
        "ticket": (load.TICKET_FIELDS, Ticket),
        "config": (config.SECTIONS, None),
        "providers": (config.PROVIDER_FIELDS, ProviderConfig),
        "prices": (config.PRICE_FIELDS, None),
        "mcp_servers": (config.MCP_FIELDS, None),
        "run": (config.RUN_FIELDS, config.RunSettings),
        "ui": (config.UI_FIELDS, config.UiSettings),
        "history": (config.HISTORY_FIELDS, config.HistorySettings),
        "broker": (config.BROKER_FIELDS, BrokerSettings),
        "telemetry": (config.TELEMETRY_FIELDS, TelemetrySettings),
    }


def _defaults() -> dict[str, Any]:
    """Defaults the loaders apply that no dataclass field holds."""
    from lfgtui.tickets.ticket import DEFAULT_MAX_CALLS

    return {"ticket.max_calls": DEFAULT_MAX_CALLS, "ticket.workdir": "the tickets file's folder"}


def _default(schema: str, name: str, holder: type | None) -> str:
    extra = _defaults()
    if f"{schema}.{name}" in extra:
        value = extra[f"{schema}.{name}"]
        return f"`{value}`" if isinstance(value, int) else str(value)
    if holder is None:
        return ""
    for held in dataclasses.fields(holder):
        if held.name == name and held.default is not dataclasses.MISSING and held.default not in (None, ()):
            value = held.default
            if isinstance(value, bool):
                return f"`{str(value).lower()}`"
            if isinstance(value, tuple):
                return "`" + repr(list(value)).replace("'", '"') + "`"
            if isinstance(value, str):
                return f'`"{value}"`'
            return f"`{value:,}`" if isinstance(value, int) and value >= 10_000 else f"`{value:g}`"
    return ""


def fields_table(schema: str) -> str:
    kinds, holder = schemas()[schema]
    lines = ["| field | accepts | default | what it is |", "|---|---|---|---|"]
    for name, kind in kinds.items():
        key = f"{schema}.{name}"
        if key not in FIELD_HELP:
            raise DocsDrift(f"{key} has no description in docs/hooks/reference.py FIELD_HELP")
        default = _default(schema, name, holder)
        lines.append(f"| `{name}` | {_cell(kind.description)} | {default} | {FIELD_HELP[key]} |")
    return "\n".join(lines) + "\n"


def _stale_field_help() -> list[str]:
    known = {f"{schema}.{name}" for schema, (kinds, _) in schemas().items() for name in kinds}
    return sorted(set(FIELD_HELP) - known)


def _fields_in(markdown: str) -> str:
    def table(match: re.Match[str]) -> str:
        if match.group(1) not in schemas():
            raise DocsDrift(f"<!-- lfg-fields {match.group(1)} -->: no such schema")
        return fields_table(match.group(1))

    return FIELDS_MARK.sub(table, markdown)


FIELD_HELP = {
    "tickets.defaults": "`[defaults]`: any ticket field but `id`, `title`, `prompt` and `depends_on`, for "
    "every ticket",
    "tickets.ticket": "`[[ticket]]`: one table per ticket",
    "ticket.id": "required, unique; a fanned-out ticket's panes are `ID@MODEL`",
    "ticket.title": "shown in the pane's header",
    "ticket.prompt": "required; `{{ outputs.ID }}` is a dependency's final answer",
    "ticket.system": "a system prompt",
    "ticket.provider": "a built-in provider or a `[providers.NAME]` of config.toml",
    "ticket.model": "the model's id at `provider` (default: the provider's `default_model`; a coding "
    "agent: its own choice); not `provider/model`, which `models` and `judge` take",
    "ticket.mode": "a coding agent's session mode (`acp` providers only)",
    "ticket.tools": "lfg's tools the model may call (see [Tools](../guides/tickets.md#tools))",
    "ticket.max_calls": "model calls an attempt may make before it stops (old name: `max_turns`)",
    "ticket.max_output_chars": "characters one attempt may stream before it is stopped (`output_limit`)",
    "ticket.max_tokens": "the most output tokens a model call may use",
    "ticket.temperature": "sampling temperature (not sent to Anthropic, whose API has none now)",
    "ticket.workdir": "where tools and a coding agent work, relative to the tickets file",
    "ticket.depends_on": "tickets to wait for; the ticket is skipped if one does not complete",
    "ticket.auto_approve": "tools that run without asking (`write_file`, `run_command`), or `true` for all",
    "ticket.env_passthrough": "variables `run_command` and a coding agent get besides the allowlist",
    "ticket.allow_git_writes": "let `write_file` write inside `.git` (hooks there run code)",
    "ticket.isolation": "a [git worktree](../guides/many-agents.md#a-git-worktree-per-ticket) of its own: "
    '`"worktree"`',
    "ticket.sandbox": '`"bwrap"`: `run_command` and a coding agent run where only the worktree is writable; '
    '`"docker"` or `"podman"`: the same, in a container '
    "(see [Running unattended](../guides/unattended.md))",
    "ticket.sandbox_network": "`false`: the sandbox's commands have no network, no loopback and no socket "
    "outside (refused for a coding agent, which needs its provider)",
    "ticket.sandbox_home": 'what the sandbox shows of your home: `"no-secrets"` hides its keys, tokens, '
    'lfg\'s own files and other projects, `"hidden"` all but its toolchains, `"readable"` nothing '
    "(see [Running unattended](../guides/unattended.md#your-home-inside-the-sandbox))",
    "ticket.sandbox_readable": "folders the sandbox still reads where `sandbox_home` hides them",
    "ticket.sandbox_memory_mb": "the most memory its box may use, its `/tmp` among it (default: half of "
    "this machine's, at most 8192); past it the kernel kills a process inside "
    "(see [Running unattended](../guides/unattended.md#how-much-a-box-may-use))",
    "ticket.sandbox_processes": "the most processes and threads its box may run at once (default 4096)",
    "ticket.sandbox_cpus": "the CPUs its box may use, a fraction allowed (default: every core but one)",
    "ticket.sandbox_tmp_mb": "the size of its box's private `/tmp`, kept in memory (default 1024)",
    "ticket.setup": "a shell command run once in a new worktree before the work, as `run_command` runs "
    "(see [Running unattended](../guides/unattended.md))",
    "ticket.max_cost_usd": "the attempt fails (`budget`) once it has cost this much",
    "ticket.models": "instead of `provider` and `model`: one pane per model, the same prompt",
    "ticket.agents": "instead of `provider` and `model`: one pane per coding agent (`acp` providers), each "
    "on its `default_model`",
    "ticket.attempts": "run the ticket (each model or agent of a fan-out) this many times: `ID@1`, `ID@2`…; "
    "a [tournament](../guides/tournaments.md)'s contestants",
    "ticket.check": "a shell command run in each contestant's worktree once it completes, which ranks them "
    '(needs `isolation = "worktree"` and a fan-out; see [Tournaments](../guides/tournaments.md))',
    "ticket.check_timeout_s": "seconds `check` may run before it is killed and fails (default 600)",
    "ticket.judge": '`"provider/model"` or a coding agent\'s provider name that ranks the contestants once '
    "they are done, under neutral labels (see [the judge](../guides/tournaments.md#the-judge))",
    "ticket.judge_may_be_contestant": "let the judge be a contestant's own provider and model (or agent), "
    "refused otherwise: a judge prefers its own work",
    "ticket.judge_max_chars": "the most characters of the judge's prompt (default 200,000): past it, the "
    "contestants' check outputs and diffs are cut, fairly, each cut said "
    "(see [the judge's prompt](../guides/tournaments.md#the-judges-prompt-and-its-cap))",
    "ticket.fallback": '`["provider/model", …]` the ticket moves to, in order, when an attempt fails in a '
    "way more waiting will not fix soon (see [Failover](../guides/failover.md)); default: its provider's "
    "`fallback`; `[]`: none",
    "ticket.max_wait_s": "with a fallback: the longest wait a 429 or 529 may ask for before the ticket moves "
    "on (default 120)",
    "ticket.on_quota": '`"wait"` (default), `"fallback"` or `"pause"`: what the ticket does when its '
    "provider holds its request for a spent quota: wait for the reset (counted down in its pane), move to "
    "its next fallback link, or pause until you press `p` (see [Quota windows](../guides/quotas.md)); "
    "default: its provider's `on_quota`",
    "ticket.effort": "how much the model reasons, as its API names it (Messages: `low` … `max`; "
    "Responses and Chat: `none` … `xhigh`), checked against the model when the file loads (see "
    "[Models and reasoning](../guides/models.md#reasoning-settings)); default: its provider's, else the "
    "model's own",
    "ticket.thinking": '`"adaptive"` (the model decides how much it thinks) or `"off"` (an effort of '
    "`\"none\"` on OpenAI's APIs); default: its provider's, else the model's own",
    "ticket.show_thinking": "whether the model is asked for its thinking to show in the pane (Claude's "
    "`display`, a Responses summary); default `true`",
    "ticket.lead": "a [lead](../guides/adding-tickets.md#lead-agent): a coding agent given lfg's MCP "
    "server in its session, which may add tickets to the run and drive those it added, nothing else",
    "ticket.lead_max_live": "for a lead: the most tickets it added that may be unfinished at once "
    "(default 3)",
    "ticket.lead_max_added": "for a lead: the most tickets it may add in all (default 10)",
    "ticket.lead_max_per_minute": "for a lead: the most tickets it may add and messages it may send "
    "in any 60 seconds, past which each is refused saying when it may again (default 20)",
    "ticket.lead_budget_usd": "for a lead: what it and every ticket it added may cost together, every "
    "attempt counted; reached, it may add no more and they all fail (`budget`) (default: none)",
    "ticket.mcp_servers": "[MCP servers](../guides/coding-agents.md#mcp-servers) of config.toml given to a "
    "coding agent's session",
    "ticket.resume_session": "a coding agent's own session the ticket continues, by the id "
    "[`lfg agents sessions`](../guides/coding-agents.md#continuing-a-session-you-started-elsewhere) "
    "lists; not in `[defaults]`",
    "ticket.additional_directories": "folders beside the workdir a coding agent's session may work in too "
    "(ACP `additionalDirectories`), relative to the tickets file; "
    "[what lfg allows in them](../guides/coding-agents.md#additional-directories)",
    "config.providers": "`[providers.NAME]`: a provider of your own, or another setting for a built-in one",
    "config.mcp_servers": "`[mcp_servers.NAME]`: servers a ticket's coding agent may be given",
    "config.run": "`[run]`: the whole run",
    "config.ui": "`[ui]`: the TUI",
    "config.history": "`[history]`: the history file",
    "config.broker": "`[broker]`: a Redis Streams broker",
    "config.telemetry": "`[telemetry]`: OpenTelemetry export",
    "providers.base_url": "where requests go",
    "providers.api_key_env": "the variable holding the key (a key is never written in a file)",
    "providers.default_model": "the model of tickets that name none",
    "providers.ask_model": "the model `lfg ask` uses when `--model` is not given (default: "
    "`default_model`; the built-in sim providers: `hello`)",
    "providers.headers": "extra HTTP headers on every request",
    "providers.connect_timeout_s": "seconds to connect (a coding agent: to start and open a session; "
    "default 60)",
    "providers.idle_timeout_s": "seconds a stream may stay silent before the attempt fails as `timeout` "
    "(agents: 600)",
    "providers.max_retries": "retries of a request that failed before its first token",
    "providers.command": "a coding agent's command line; `{model}` becomes the ticket's model",
    "providers.env": "variables a coding agent gets besides the allowlist",
    "providers.auth_method": "the ACP auth method to log a coding agent in with before each session",
    "providers.login": "the login command an auth failure tells you to run",
    "providers.model_env": "a coding agent's own variable for the ticket's model",
    "providers.mcp_start_env": "a coding agent's own variable for how long it gives an MCP server to start, "
    "in ms: set to 60000 where lfg gives its session MCP servers and your environment sets none (built-in "
    "`claude-code`: `MCP_TIMEOUT`)",
    "providers.mode": "the session mode lfg sets in a coding agent when a ticket names none (built-in: "
    "the mode that asks you; see [Coding agents](../guides/coding-agents.md#approval-mode))",
    "providers.yes_mode": "the mode lfg sets instead under `--yes` (default: none, the mode stays and lfg "
    "answers each request yes)",
    "providers.nice": "how much lower than lfg's a coding agent's CPU priority is",
    "providers.max_concurrency": "requests streaming at once, over every ticket of the provider",
    "providers.requests_per_minute": "requests a minute, over every ticket of the provider",
    "providers.tokens_per_minute": "tokens a minute (estimated first, settled from usage)",
    "providers.max_hold_s": "the longest (default 600 s) a 429's Retry-After or a rate-limit header's reset "
    "holds a model's requests, whatever it says "
    "(see [Quota windows](../guides/quotas.md#how-long-lfg-waits))",
    "providers.prices": "your own rates, USD per million tokens (see `prices` below)",
    "providers.fallback": '`["provider/model", …]`: where its tickets go when it fails in a way more waiting '
    "will not fix soon, unless a ticket names its own (see [Failover](../guides/failover.md))",
    "providers.on_quota": '`"wait"`, `"fallback"` or `"pause"`: what its tickets do when it holds their '
    "requests for a spent quota, unless a ticket says its own (see [Quota windows](../guides/quotas.md))",
    "providers.effort": "how much its models reason, under any a ticket says (see `effort` above)",
    "providers.thinking": '`"adaptive"` or `"off"`, under any a ticket says',
    "providers.show_thinking": "whether its models are asked for their thinking to show, under any a "
    "ticket says",
    "prices.input_per_mtok": "prompt tokens (required)",
    "prices.output_per_mtok": "output tokens (required)",
    "prices.cache_read_per_mtok": "prompt tokens read from the provider's cache",
    "prices.cache_write_per_mtok": "prompt tokens written to the provider's cache",
    "mcp_servers.command": "a program the agent starts (stdio); found on lfg's `PATH`",
    "mcp_servers.args": "its arguments",
    "mcp_servers.env": "variables whose values lfg passes from its own environment",
    "mcp_servers.url": "a server the agent reaches over HTTP (`transport`: `http` or `sse`, default `http`)",
    "mcp_servers.headers": "HTTP headers; a value may take `${NAME}` from lfg's environment (secret ones "
    "must)",
    "run.max_concurrency": "tickets streaming at once",
    "run.max_cost_usd": "every running ticket fails (`budget`) once the run has cost this much",
    "run.disk_reserve_mb": "where the disk boxed tickets write on has less free than this many MiB, "
    "the one whose folders there grew the most fails (`disk`); default 1024, 0: never (see "
    "[a disk kept from filling](../guides/unattended.md#a-disk-kept-from-filling))",
    "run.provider_processes": "the most processes reading one SDK's streams in the TUI, each on a "
    "core; default: the cores lfg may use, less one and less the machine's load, at most 8 (see "
    "[running many agents](../guides/many-agents.md#streams-over-several-cores))",
    "run.model_catalogue": "the public model catalogue (models.dev's `api.json` format) each run reads "
    "again, in the background, when lfg's cached copy is over a day old, and `lfg models` reads; "
    '`"off"`: a run never reads it. `LFG_MODEL_CATALOGUE` beats it. Default: models.dev (see '
    "[models](../guides/models.md#a-catalogue-kept-fresh))",
    "ui.theme": "`dark`, `light`, or a theme of yours (see [the live "
    "view](../guides/live-view.md#themes-and-keys))",
    "ui.keymap": 'binding id → keys, e.g. `{ "pane.cancel" = "x" }` (ids: [Keys](keys.md))',
    "ui.notify": "what rings the terminal and goes to `--notify-command`",
    "history.path": "the history file, relative to config.toml's folder",
    "broker.url": "`redis[s]://[USER[:PASSWORD]@]HOST[:PORT][/DB]`, or behind Sentinel "
    "`redis[s]+sentinel://HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB]` (Redis Cluster is refused); "
    "`$LFG_BROKER` and `--broker URL` win",
    "broker.username": "the ACL user",
    "broker.password_env": "the variable holding the password",
    "broker.password_file": "a file holding it, read when that variable is not set",
    "broker.sentinel_username": "behind Sentinel, the sentinels' own ACL user (not the primary's)",
    "broker.sentinel_password_env": "the variable holding the sentinels' own password (their "
    "`requirepass`; the URL's is the primary's). Default `LFG_SENTINEL_PASSWORD`",
    "broker.sentinel_password_file": "a file holding the sentinels' password, read when that variable "
    "is not set",
    "broker.ca_file": "the CA that signed a `rediss://` broker's certificate (default: the system's)",
    "broker.cert_file": "a client certificate, for a broker that asks for one",
    "broker.key_file": "its key",
    "broker.prefix": "what every key lfg writes starts with, for ACLs",
    "broker.max_len": "entries kept per run's event stream (~50 ms of events each)",
    "broker.max_bytes": "bytes a run's stream may hold (an entry holds at most 16 kB)",
    "broker.max_age_s": "entries older than this are trimmed; a run's keys then expire",
    "broker.queue_bytes": "held for a broker that is slow or away; past it events are dropped (a gap)",
    "broker.lease_s": "a ticket whose worker has not renewed its lease this long is taken over",
    "telemetry.enabled": "export every `lfg run`, as `--otel` does for one",
    "telemetry.endpoint": "the OTLP receiver's base URL (default `http://localhost:4318`)",
    "telemetry.protocol": "`http/protobuf` (default) or `grpc`",
    "telemetry.headers": "header → the variable holding its value, never the value",
    "telemetry.capture_content": "put prompts, answers and tool I/O on the spans",
    "telemetry.service_name": "the `service.name` exported (default `lfg`)",
}
"""What each field is for, in a few words: `SCHEMA.FIELD`, every field of `schemas()` and no other."""


def _kinds_help() -> str:
    """`providers.kind`'s words, from the table of kinds itself, so a new kind cannot be left out."""
    from lfgtui.providers.kinds import KINDS

    said = [
        f"`{kind.name}` ({'a coding agent over ' if kind.coding_agent else ''}{kind.wire})"
        for kind in KINDS.values()
    ]
    return "what it speaks: " + ", ".join(said[:-1]) + " or " + said[-1]


FIELD_HELP["providers.kind"] = _kinds_help()


# Keys -------------------------------------------------------------------------------------------

KEY_NAMES = {"pageup": "page up", "pagedown": "page down", "escape": "escape", "enter": "enter"}
"""Words where Textual's own display of a key is a symbol or a short cut; every other key as the
footer and `?` show it (`format_key`: `]`, `=`, `>`, `→`)."""


def _key(keys: str) -> str:
    from textual.keys import format_key

    return " / ".join(f"`{KEY_NAMES.get(key) or format_key(key)}`" for key in keys.split(","))


def screens() -> Iterator[tuple[str, list[Any]]]:
    """Each screen of the TUI and its bindings, in the order a person meets them."""
    from lfgtui.ui.app import LfgApp
    from lfgtui.ui.screens.diff import DiffScreen
    from lfgtui.ui.screens.elicitation import ElicitationScreen
    from lfgtui.ui.screens.fleet import FleetScreen
    from lfgtui.ui.screens.fork import ForkScreen
    from lfgtui.ui.screens.held import HeldScreen
    from lfgtui.ui.screens.history import HistoryScreen
    from lfgtui.ui.screens.land import LandScreen
    from lfgtui.ui.screens.modals import ApprovalScreen, LeadStopScreen
    from lfgtui.ui.screens.new_ticket import NewTicketScreen
    from lfgtui.ui.screens.review import DiffView, ReviewScreen
    from lfgtui.ui.screens.run import RunScreen
    from lfgtui.ui.screens.steer import SteerScreen
    from lfgtui.ui.screens.verdict import VerdictScreen

    yield "Everywhere", LfgApp.BINDINGS
    yield "A run", RunScreen.BINDINGS
    yield "Steering a running ticket, or queueing its next turn", SteerScreen.BINDINGS
    yield "Forking a ticket, after the turn you pick", ForkScreen.BINDINGS
    yield "A new ticket for the running run", NewTicketScreen.BINDINGS
    yield "Resuming a run that held your messages unsent", HeldScreen.BINDINGS
    yield "Stopping a lead whose tickets are at work", LeadStopScreen.BINDINGS
    yield "A long approval, opened whole", ApprovalScreen.BINDINGS
    yield "An agent's question, its form", ElicitationScreen.BINDINGS
    yield "The diff", DiffScreen.BINDINGS
    yield "The review screen", [*DiffView.BINDINGS, *ReviewScreen.BINDINGS]
    yield "Landing from the review screen", LandScreen.BINDINGS
    yield "A tournament's verdict", VerdictScreen.BINDINGS
    yield "The history screen", HistoryScreen.BINDINGS
    yield "The fleet view", FleetScreen.BINDINGS


def keys_tables() -> str:
    """Each screen's keys, each described by its binding's own text (`Binding.tooltip`), the one `?`
    and the footer show: a binding without one is drift."""
    parts = []
    for title, bindings in screens():
        parts += [f"### {title}", "", "| key | binding id | does |", "|---|---|---|"]
        for binding in bindings:
            does = binding.tooltip
            if not does:
                raise DocsDrift(f"the binding {binding.id or binding.action} has no text (its tooltip)")
            ident = f"`{binding.id}`" if binding.id else "(Textual's)"
            parts.append(f"| {_key(binding.key)} | {ident} | {_cell(does)} |")
        parts.append("")
    return "\n".join(parts)


# Tools ------------------------------------------------------------------------------------------

TOOLS_MARK = "<!-- lfg-tools -->"


def tools_table() -> str:
    """lfg's built-in tools as the model is told of them: each one's description and arguments."""
    from lfgtui.tools import BUILTIN_TOOLS

    lines = ["| tool | arguments | needs approval | what the model is told |", "|---|---|---|---|"]
    for name, tool in BUILTIN_TOOLS.items():
        params = tool.spec.parameters
        required = set(params.get("required", ()))
        arguments = "<br>".join(
            f"`{arg}`{'' if arg in required else ' (optional)'}: {_cell(spec.get('description', ''))}"
            for arg, spec in params.get("properties", {}).items()
        )
        approval = "yes" if tool.needs_approval else "no"
        lines.append(f"| `{name}` | {arguments} | {approval} | {_cell(tool.spec.description)} |")
    return "\n".join(lines) + "\n"


# NDJSON events ---------------------------------------------------------------------------------

EVENTS_MARK = "<!-- lfg-events-checked -->"
EVENT_TYPE = re.compile(r"^\| ((?:`[a-z_]+`(?:, )?)+) \|", re.MULTILINE)


def ndjson_types() -> set[str]:
    """Every `type` the NDJSON lines can have, read from the code that writes them (headless.py):
    the `"type": "…"` of each line it builds, and the first word of each `_write("…", …)`."""
    import ast

    tree = ast.parse((ROOT / "lfgtui" / "commands" / "headless.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "type" and isinstance(value, ast.Constant):
                    found.add(value.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "_write" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def _events_checked(markdown: str) -> str:
    documented = {name for cell in EVENT_TYPE.findall(markdown) for name in re.findall(r"`([a-z_]+)`", cell)}
    written = ndjson_types()
    if documented != written:
        raise DocsDrift(
            f"reference/events.md and lfgtui/commands/headless.py disagree: undocumented "
            f"{sorted(written - documented)}, documented but never written {sorted(documented - written)}"
        )
    return markdown.replace(EVENTS_MARK, "")


# The hook ---------------------------------------------------------------------------------------


def render(markdown: str) -> str:
    """A page's source with every generated part filled in."""
    if HELP_MARK.search(markdown):
        markdown = _commands_in(markdown, commands())
    if FIELDS_MARK.search(markdown):
        stale = _stale_field_help()
        if stale:
            raise DocsDrift(f"FIELD_HELP names fields no loader knows: {', '.join(stale)}")
        markdown = _fields_in(markdown)
    if EVENTS_MARK in markdown:
        markdown = _events_checked(markdown)
    if TOOLS_MARK in markdown:
        markdown = markdown.replace(TOOLS_MARK, tools_table())
    if KEYS_MARK in markdown:
        markdown = markdown.replace(KEYS_MARK, keys_tables())
    return markdown


def copied(name: str) -> str:
    text = (ROOT / COPIED[name]).read_text(encoding="utf-8")
    for written, there in LINKS.items():
        text = text.replace(f"]({written}", f"]({there}")
    return text


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for name in COPIED:
        files.append(File.generated(config, name, content=copied(name)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return render(markdown)
