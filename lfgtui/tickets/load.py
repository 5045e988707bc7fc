"""tickets.toml: the agents one `lfg run` starts, checked as a whole before any of them runs.

Each `[[ticket]]` inherits the fields of `[defaults]` it does not set and becomes a `Ticket`
(ticket.py); one with `models` becomes a ticket per model (fanout.py). A ticket's prompt can quote
the final answer of a ticket it depends on with `{{ outputs.ID }}`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from lfgtui.config.load import ON_QUOTA, REASONING_FIELDS, SECTIONS
from lfgtui.config.mcp import McpServer, unavailable
from lfgtui.config.validation import (
    BOOLEAN,
    ENV_NAMES,
    ID_PATTERN,
    NON_NEGATIVE_NUMBER,
    PATH,
    POSITIVE_INT,
    POSITIVE_NUMBER,
    STRING,
    STRING_LIST,
    TABLE,
    TABLE_LIST,
    Checker,
    Kind,
    Problem,
    TomlDoc,
    ValidationError,
    load_toml,
    unknown,
)
from lfgtui.providers.base import ProviderConfig, Reasoning
from lfgtui.providers.catalog import ProviderUnavailable, resolve
from lfgtui.providers.kinds import kind_of
from lfgtui.providers.model_list import kept_lists
from lfgtui.providers.models import Status, lifecycle, serves
from lfgtui.providers.reasoning import problems
from lfgtui.tickets.fanout import (
    AGENTS,
    ATTEMPTS,
    FALLBACK,
    MODELS,
    Variant,
    chosen_list,
    clash,
    fanned_out,
    model_pairs,
    repeated,
)
from lfgtui.tickets.ticket import (
    DEFAULT_CHECK_TIMEOUT_S,
    DEFAULT_JUDGE_MAX_CHARS,
    DEFAULT_LEAD_MAX_ADDED,
    DEFAULT_LEAD_MAX_LIVE,
    DEFAULT_LEAD_MAX_PER_MINUTE,
    DEFAULT_MAX_CALLS,
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_MAX_WAIT_S,
    ISOLATIONS,
    JUDGE_SUFFIX,
    PLACEHOLDER,
    SANDBOX_HOMES,
    SANDBOXES,
    Ticket,
    TicketFile,
    agent_cut_off,
)

OFFLINE_PROVIDER = "sim"
KEYED_FALLBACKS = ("openai", "anthropic")

TICKET_FIELDS: dict[str, Kind] = {
    "id": STRING,
    "title": STRING,
    "prompt": STRING,
    "system": STRING,
    "provider": STRING,
    "model": STRING,
    "mode": STRING,
    "tools": STRING_LIST,
    "max_calls": POSITIVE_INT,
    "max_output_chars": POSITIVE_INT,
    "max_tokens": POSITIVE_INT,
    "temperature": NON_NEGATIVE_NUMBER,
    "workdir": PATH,
    "depends_on": STRING_LIST,
    "auto_approve": Kind(
        "true or a list of tool names", lambda value: isinstance(value, bool) or STRING_LIST.check(value)
    ),
    "env_passthrough": ENV_NAMES,
    "allow_git_writes": BOOLEAN,
    "isolation": Kind('"none" or "worktree"', lambda value: value in ISOLATIONS),
    "sandbox": Kind('"none", "bwrap", "docker" or "podman"', lambda value: value in SANDBOXES),
    "sandbox_network": BOOLEAN,
    "sandbox_home": Kind('"no-secrets", "hidden" or "readable"', lambda value: value in SANDBOX_HOMES),
    "sandbox_readable": Kind(
        "a list of folders (paths with no NUL character)",
        lambda value: STRING_LIST.check(value) and all(PATH.check(item) for item in value),
    ),
    "sandbox_memory_mb": POSITIVE_INT,
    "sandbox_processes": POSITIVE_INT,
    "sandbox_cpus": POSITIVE_NUMBER,
    "sandbox_tmp_mb": POSITIVE_INT,
    "setup": Kind(
        "a shell command (not blank)", lambda value: isinstance(value, str) and bool(value.strip())
    ),
    "max_cost_usd": POSITIVE_NUMBER,
    "models": MODELS,
    "agents": AGENTS,
    "attempts": ATTEMPTS,
    "check": Kind(
        "a shell command (not blank: an empty one would pass every contestant)",
        lambda value: isinstance(value, str) and bool(value.strip()),
    ),
    "check_timeout_s": POSITIVE_NUMBER,
    "mcp_servers": STRING_LIST,
    "additional_directories": Kind(
        "a list of folders (paths with no NUL character)",
        lambda value: STRING_LIST.check(value) and all(PATH.check(item) for item in value),
    ),
    "resume_session": Kind(
        "a coding agent's session id (`lfg agents sessions` lists them)",
        lambda value: isinstance(value, str) and bool(value.strip()) and value.isprintable(),
    ),
    "fallback": FALLBACK,
    "max_wait_s": POSITIVE_NUMBER,
    "judge": Kind(
        'a "provider/model" or a coding agent\'s provider name',
        lambda value: isinstance(value, str) and bool(value.strip()),
    ),
    "judge_may_be_contestant": BOOLEAN,
    "judge_max_chars": POSITIVE_INT,
    "on_quota": ON_QUOTA,
    "lead": BOOLEAN,
    "lead_max_live": POSITIVE_INT,
    "lead_max_added": POSITIVE_INT,
    "lead_max_per_minute": POSITIVE_INT,
    "lead_budget_usd": POSITIVE_NUMBER,
    **REASONING_FIELDS,
}
RENAMED_FIELDS = {"max_turns": "max_calls"}
"""Old names a tickets file may still use: each is read as the field's name now."""
TICKET_ONLY = frozenset(
    {"id", "prompt", "depends_on", "title", "judge", "judge_may_be_contestant", "resume_session"}
)
DEFAULT_FIELDS = {key: kind for key, kind in TICKET_FIELDS.items() if key not in TICKET_ONLY}
TOP_LEVEL: dict[str, Kind] = {"defaults": TABLE, "ticket": TABLE_LIST}
CONFIG_ONLY = {
    name: f"[{name}] belongs in lfg's config file (config.toml: lfg paths shows where, --config picks "
    "another), not in a tickets file, which holds [defaults] and [[ticket]] tables"
    for name in SECTIONS
}
"""What a tickets file says of a config file's section written in it (a guide's example pasted in)."""
AGENT_ONLY = {
    "mode": "mode is a coding agent's session mode",
    "mcp_servers": "mcp_servers are given to a coding agent's session",
    "resume_session": "resume_session continues a coding agent's own session",
    "additional_directories": "additional_directories are given to a coding agent's session",
    "lead": "a lead is a coding agent given lfg's MCP server in its session",
}
"""Ticket fields that only a coding agent (a provider of kind acp) takes, and what each is."""
LEAD_CAPS = ("lead_max_live", "lead_max_added", "lead_max_per_minute", "lead_budget_usd")
"""What the person sets a lead to, which only a lead takes."""
_THE_PERSONS = "is the person's to set in the tickets file: an added ticket takes the run's [defaults]"
_ONE_TICKET = "fans out into several tickets; an added ticket is one ticket (fan out in a tickets file)"
NOT_ADDED = {
    **{
        key: _THE_PERSONS
        for key in (
            "auto_approve",
            "mode",
            "sandbox",
            "sandbox_network",
            "sandbox_home",
            "sandbox_readable",
            "sandbox_memory_mb",
            "sandbox_processes",
            "sandbox_cpus",
            "sandbox_tmp_mb",
            "workdir",
            "additional_directories",
            "isolation",
            "setup",
            "env_passthrough",
            "allow_git_writes",
            "mcp_servers",
            "resume_session",
        )
    },
    **{key: _ONE_TICKET for key in ("models", "agents", "attempts")},
    "check": "makes a tournament, a tickets file's: an added ticket is one ticket",
    "judge": "judges a tournament, a tickets file's: an added ticket is one ticket",
    "judge_may_be_contestant": "is a tournament's, a tickets file's: an added ticket is one ticket",
    **{
        key: "is a lead's, a tickets file's: an added ticket is never a lead (one level deep)"
        for key in ("lead", *LEAD_CAPS)
    },
}
"""Fields a ticket added while its run runs (`load_added`) may not set to anything but what the
run's [defaults] say, and why: its box and approvals (a coding agent's session mode among them)
are the person's, never looser than the run's, and it is one ticket."""
ADDED_ID = "added"
"""An added ticket that names no id is `added-1`, `added-2`... (the first the run does not have)."""


class NotAdded(ValueError):
    """A ticket that cannot be added to the running run: its words name each field that is wrong."""


@dataclass
class _Draft:
    """A `[[ticket]]` table whose own fields have been checked, before defaults and cross-checks."""

    index: int
    id: str | None
    where: str
    fields: dict[str, Any]


class Configured(Protocol):
    """What tickets are checked against: config.toml's providers and MCP servers (`config.Config`;
    named by what it has, so the tickets never import the config, which imports the broker and
    telemetry settings that import tickets)."""

    @property
    def providers(self) -> Mapping[str, ProviderConfig]: ...

    @property
    def mcp_servers(self) -> Mapping[str, McpServer]: ...


def load_tickets(
    path: Path,
    config: Configured,
    known_tools: Collection[str],
    env: Mapping[str, str] | None = None,
    today: date | None = None,
    *,
    empty: bool = False,
) -> TicketFile:
    """Load and validate a tickets file; raises `ValidationError` listing every problem in it.
    `today`: the day a model's lifecycle is judged on (default: today); `empty`: a file with no
    ticket is one (a run kept open for tickets added as it runs, `lfg run --open`)."""
    environ = os.environ if env is None else env
    loader = _Loader(load_toml(path), config, known_tools, environ, today or date.today())
    loader.empty = empty
    return loader.load()


def load_added(
    table: object,
    file: TicketFile,
    taken: Mapping[str, Ticket],
    config: Configured,
    known_tools: Collection[str],
    env: Mapping[str, str] | None = None,
    today: date | None = None,
) -> Ticket:
    """One `[[ticket]]` table added to the running run of `file` (the add-ticket request), checked as
    `load_tickets` checks the file's: under its [defaults], against the run's tickets (`taken`: its
    `depends_on` may name them, its id may not be one). No id: the first free `added-N`. Raises
    `NotAdded` saying every problem, each naming its field."""
    if not isinstance(table, dict):
        raise NotAdded('the ticket is a table of a [[ticket]]\'s fields, such as {"prompt": "..."}')
    names = {*taken, *(ticket.group for ticket in taken.values() if ticket.group is not None)}
    if "id" not in table:
        number = next(n for n in itertools.count(1) if f"{ADDED_ID}-{n}" not in names)
        table = {"id": f"{ADDED_ID}-{number}", **table}
    named = table["id"]
    where = f"ticket {named!r}" if isinstance(named, str) and ID_PATTERN.fullmatch(named) else "the ticket"
    unset = object()
    problems = [
        f"{where}: {key} {why}"
        for key, why in NOT_ADDED.items()
        if key in table and table[key] != file.defaults.get(key, unset)
    ]
    doc = TomlDoc(path=file.path, data={"defaults": dict(file.defaults), "ticket": [table]}, sections=())
    loader = _Loader(doc, config, known_tools, os.environ if env is None else env, today or date.today())
    loader.taken = taken
    try:
        loaded = loader.load()
    except ValidationError as exc:
        problems += [problem.message for problem in exc.problems]
    if problems:
        raise NotAdded("; ".join(problems))
    (ticket,) = loaded.tickets
    return ticket


class _Loader:
    """The checks of one tickets file, sharing the file, the config and the problems found so far."""

    def __init__(
        self,
        doc: TomlDoc,
        config: Configured,
        known_tools: Collection[str],
        env: Mapping[str, str],
        today: date,
    ) -> None:
        self.path = doc.path
        self.today = today
        self.folder = doc.path.resolve().parent
        self.config = config
        self.known_tools = frozenset(known_tools)
        self.env = env
        self.check = Checker(doc)
        self.empty = False
        """Whether a file with no ticket is one (`load_tickets`)."""
        self.taken: Mapping[str, Ticket] = {}
        """The tickets of the run a ticket is added to (`load_added`): its `depends_on` may name them,
        and it may not take one's id."""

    def line(self, draft: _Draft | None, key: str | None = None) -> int | None:
        """Where a ticket's (or, for None, [defaults]') key is; inline tables fall back to the array."""
        if draft is None:
            return self.check.doc.line("defaults", key)
        return self.check.doc.line("ticket", key, draft.index) or self.check.doc.line("", "ticket")

    def load(self) -> TicketFile:
        top = self.check.fields(self.check.doc.data, TOP_LEVEL, "top level", elsewhere=CONFIG_ONLY)
        defaults = self._defaults(top.get("defaults", {}))
        drafts = [self._draft(index, table) for index, table in enumerate(top.get("ticket", []))]
        if not drafts and not self.empty:
            self.check.add(
                None,
                "no tickets: add a [[ticket]] table with an id and a prompt (or run it with --open to "
                "add tickets as it runs)",
            )
        named = {draft.id: draft for draft in reversed(drafts) if draft.id is not None}
        self._check_duplicates(drafts)
        fallback = self._fallback_provider()
        variants = {draft.index: self._variants(draft, defaults, fallback) for draft in drafts}
        needs = self._check_dependencies(drafts, named, variants)
        self._check_keys(drafts, defaults, variants)
        self._check_agents_only(drafts, defaults, variants)
        self._check_boxed_agents(drafts, defaults, variants)
        self._check_mcp_servers(drafts, defaults)
        self._check_additional_directories(drafts, defaults)
        self._check_tournaments(drafts, defaults, variants)
        self._check_worktree_fields(drafts, defaults)
        self._check_fallbacks(drafts, defaults, variants)
        self._check_reasoning(drafts, defaults, variants)
        judges = {draft.index: self._judge(draft, defaults, variants) for draft in drafts}
        warnings = self._check_lifecycles(drafts, defaults, variants, judges)
        self.check.raise_if_any()
        tickets: list[Ticket] = []
        for draft in drafts:
            tickets += [self._ticket(draft, defaults, v, needs[draft.index]) for v in variants[draft.index]]
            if (judge := judges[draft.index]) is not None:
                tickets.append(self._judge_ticket(draft, defaults, *judge))
        offline = fallback == OFFLINE_PROVIDER and any(
            not {"provider", "models", "agents"} & (draft.fields.keys() | defaults.keys()) for draft in drafts
        )
        return TicketFile(
            path=self.path,
            tickets=tuple(tickets),
            offline_default=offline,
            warnings=warnings,
            defaults=top.get("defaults", {}),
        )

    def _defaults(self, table: Mapping[str, Any]) -> dict[str, Any]:
        for key in TICKET_ONLY.intersection(table):
            self.check.add(
                self.line(None, key), f"[defaults]: {key} cannot have a default; set it on each ticket"
            )
        inheritable = {key: value for key, value in table.items() if key not in TICKET_ONLY}
        fields = self.check.fields(inheritable, DEFAULT_FIELDS, "[defaults]", "defaults", 0, RENAMED_FIELDS)
        return self._check_values(None, "[defaults]", fields)

    def _draft(self, index: int, table: Mapping[str, Any]) -> _Draft:
        ticket_id = table.get("id")
        valid_id = ticket_id if isinstance(ticket_id, str) and ID_PATTERN.fullmatch(ticket_id) else None
        where = f"ticket {valid_id!r}" if valid_id else f"ticket #{index + 1}"
        fields = self.check.fields(table, TICKET_FIELDS, where, "ticket", index, RENAMED_FIELDS)
        draft = _Draft(index=index, id=valid_id, where=where, fields=fields)
        if "id" not in table:
            self.check.add(self.line(draft), f"{where}: missing id")
        elif isinstance(ticket_id, str) and valid_id is None:
            self.check.add(
                self.line(draft, "id"),
                f"{where}: id {ticket_id!r} may use only letters, digits, '_', '-' and '.'",
            )
        if "prompt" not in table:
            self.check.add(self.line(draft), f"{where}: missing prompt")
        self._check_values(draft, where, draft.fields)
        return draft

    def _check_values(self, draft: _Draft | None, where: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Check names and paths; drop an unknown provider so later checks can look each one up."""
        if "provider" in fields and fields["provider"] not in self.config.providers:
            message = unknown("provider", fields.pop("provider"), self.config.providers)
            self.check.add(self.line(draft, "provider"), f"{where}: {message}")
        for key in ("tools", "auto_approve"):
            names = fields.get(key)
            for name in names if isinstance(names, list) else ():
                if name not in self.known_tools:
                    message = unknown("tool", name, self.known_tools)
                    self.check.add(self.line(draft, key), f"{where}: {key}: {message}")
        self._check_passthrough(draft, where, fields.get("env_passthrough", ()))
        for name in fields.get("mcp_servers", ()):
            if name not in self.config.mcp_servers:
                message = unknown("MCP server", name, self.config.mcp_servers)
                defined = "config.toml defines each as [mcp_servers.NAME]"
                self.check.add(self.line(draft, "mcp_servers"), f"{where}: mcp_servers: {message}; {defined}")
        if "workdir" in fields:
            workdir = (self.folder / Path(fields["workdir"]).expanduser()).resolve()
            if problem := _folder_problem(workdir):
                self.check.add(self.line(draft, "workdir"), f"{where}: workdir {str(workdir)!r} {problem}")
            fields["workdir"] = workdir
        for key in ("additional_directories", "sandbox_readable"):
            if key in fields:
                fields[key] = self._folders(draft, where, key, fields[key])
        return fields

    def _folders(self, draft: _Draft | None, where: str, key: str, names: Sequence[str]) -> tuple[Path, ...]:
        """The folders of field `key`, each resolved against the tickets file's folder: an existing
        folder, named once."""
        folders: list[Path] = []
        for name in names:
            folder = (self.folder / Path(name).expanduser()).resolve()
            if problem := _folder_problem(folder):
                self.check.add(self.line(draft, key), f"{where}: {key}: {str(folder)!r} {problem}")
            elif folder not in folders:
                folders.append(folder)
        return tuple(folders)

    def _check_additional_directories(self, drafts: Sequence[_Draft], defaults: Mapping[str, Any]) -> None:
        """An additional directory lies beside the ticket's workdir: one that is the workdir, lies in
        it or holds it would blur which folder the agent works in (with `isolation = "worktree"`, it
        would be the checkout the worktree keeps the agent out of)."""
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            workdir: Path = fields.get("workdir", self.folder)
            for folder in fields.get("additional_directories", ()):
                if folder.is_relative_to(workdir) or workdir.is_relative_to(folder):
                    inside = "lies in the" if folder.is_relative_to(workdir) else "holds the"
                    how = "is the" if folder == workdir else inside
                    key = "additional_directories"
                    self.check.add(
                        self.line(draft if key in draft.fields else None, key),
                        f"{draft.where}: additional_directories: {str(folder)!r} {how} ticket's workdir "
                        f"{str(workdir)!r}; name folders beside it (the workdir is the agent's already)",
                    )

    def _check_passthrough(self, draft: _Draft | None, where: str, names: Sequence[str]) -> None:
        """A provider's key variable may not be passed to commands, even when named on purpose."""
        keys = {
            provider.api_key_env.upper(): name
            for name, provider in self.config.providers.items()
            if provider.api_key_env
        }
        for variable in names:
            if variable.upper() in keys:
                self.check.add(
                    self.line(draft, "env_passthrough"),
                    f"{where}: env_passthrough: {variable!r} holds the API key of provider "
                    f"{keys[variable.upper()]!r}; lfg never passes a provider's key to a command",
                )

    def _check_agents_only(
        self, drafts: Sequence[_Draft], defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> None:
        """A `mode` is a coding agent's session mode, `mcp_servers` are given to its session and
        `resume_session` continues one of its sessions: any other provider has none of them; and a
        session is continued by one ticket, not by every ticket a `[[ticket]]` fans out into."""
        for key, what in AGENT_ONLY.items():
            for draft in drafts:
                if key not in draft.fields and key not in defaults:
                    continue
                for variant in variants[draft.index]:
                    config = self.config.providers[variant.provider]
                    if not kind_of(config).coding_agent:
                        self.check.add(
                            self.line(draft if key in draft.fields else None, key),
                            f"{draft.where}: {what}, and provider {variant.provider!r} is not a coding "
                            f"agent (kind {config.kind!r}, not acp)",
                        )
                        break
        for draft in drafts:
            many = len(variants[draft.index])
            if "resume_session" in draft.fields and many > 1:
                self.check.add(
                    self.line(draft, "resume_session"),
                    f"{draft.where}: resume_session continues one session, and the ticket fans out into "
                    f"{many} (models, agents or attempts) that would each continue it at once",
                )
            for key in LEAD_CAPS:
                if key in draft.fields and not draft.fields.get("lead", defaults.get("lead", False)):
                    self.check.add(
                        self.line(draft, key),
                        f"{draft.where}: {key} caps a lead's tickets, and this ticket is no lead "
                        "(lead = true)",
                    )

    def _check_boxed_agents(
        self, drafts: Sequence[_Draft], defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> None:
        """A coding agent runs inside its ticket's sandbox, and reaches its provider over the network:
        `sandbox_network = false` would cut it (the ticket would fail only after minutes of retries)."""
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            if fields.get("sandbox", "none") == "none" or fields.get("sandbox_network", True):
                continue
            agents = [
                v.provider
                for v in variants[draft.index]
                if kind_of(self.config.providers[v.provider]).coding_agent
            ]
            if agents:
                self.check.add(
                    self.line(draft if "sandbox_network" in draft.fields else None, "sandbox_network"),
                    f"{draft.where}: {agent_cut_off(agents[0])}",
                )

    def _links(self, fields: Mapping[str, Any], provider: str) -> list[tuple[str, str]]:
        """The links a ticket of `provider` falls back to: its own or [defaults]' `fallback`, else the
        provider's (`[providers.NAME] fallback`), each as (provider, model); unknown ones left out."""
        entries = fields["fallback"] if "fallback" in fields else self.config.providers[provider].fallback
        return model_pairs(entries, self.config.providers, "fallback")[0]

    def _check_fallbacks(
        self, drafts: Sequence[_Draft], defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> None:
        """Each link is a configured provider, named once, that runs as the ticket's own provider runs:
        a model API's fallback is a model API, a coding agent's a coding agent."""
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            line = self.line(draft if "fallback" in draft.fields else None, "fallback")
            if "fallback" in fields:
                for problem in model_pairs(fields["fallback"], self.config.providers, "fallback")[1]:
                    self.check.add(line, f"{draft.where}: {problem}")
            for variant in variants[draft.index]:
                agent = kind_of(self.config.providers[variant.provider]).coding_agent
                odd = [
                    f"{provider}/{model}"
                    for provider, model in self._links(fields, variant.provider)
                    if kind_of(self.config.providers[provider]).coding_agent is not agent
                ]
                if odd:
                    runs = "a coding agent" if agent else "a model API"
                    self.check.add(
                        line,
                        f"{draft.where}: fallback: {', '.join(odd)} does not run as {variant.provider!r} "
                        f"does ({runs}); a fallback runs the ticket the same way",
                    )
                    break

    def _check_reasoning(
        self, drafts: Sequence[_Draft], defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> None:
        """What a ticket asks of its model's reasoning (its own, [defaults]' or its provider's effort,
        thinking and show_thinking), and its temperature, is what the model's API takes: a request
        it refuses would fail each attempt mid-run (providers/reasoning.py)."""
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            own = _reasoning(fields)
            said: set[tuple[str, str]] = set()
            for variant in variants[draft.index]:
                config = self.config.providers[variant.provider]
                settings = own.over(config.reasoning)
                temperature = fields.get("temperature")
                for key, why in problems(
                    config.kind, variant.model, settings, bool(fields.get("tools")), temperature
                ):
                    if (key, why) in said:
                        continue
                    said.add((key, why))
                    level = draft if key in draft.fields else None if key in defaults else draft
                    where = (
                        "" if key in fields or key == "model" else f" (from [providers.{variant.provider}])"
                    )
                    self.check.add(self.line(level, key), f"{draft.where}: {key}{where}: {why}")

    def _check_lifecycles(
        self,
        drafts: Sequence[_Draft],
        defaults: Mapping[str, Any],
        variants: Mapping[int, list[Variant]],
        judges: Mapping[int, tuple[str, str] | None],
    ) -> tuple[Problem, ...]:
        """Each model a ticket may call (its own, its fallbacks', its judge's) at a provider that
        serves it from its vendor's API: a retired one is a problem, one retiring soon a warning.
        Returns the warnings, one per line and message."""
        warnings: dict[tuple[int | None, str], Problem] = {}
        offers = kept_lists(self.config.providers)
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            uses: list[tuple[str, str, str, int | None]] = []  # provider, model, field, line
            for variant in variants[draft.index]:
                uses.append((variant.provider, variant.model, *self._model_field(draft, defaults, variant)))
                level = draft if "fallback" in draft.fields else None if "fallback" in defaults else draft
                for provider, model in self._links(fields, variant.provider):
                    uses.append((provider, model, "fallback", self.line(level, "fallback")))
            if (judge := judges[draft.index]) is not None:
                uses.append((*judge, "judge", self.line(draft, "judge")))
            for provider, model, field, line in uses:
                if serves(self.config.providers[provider]) is None:
                    continue
                status, message = lifecycle(model, self.today)
                if status is Status.RETIRED:
                    problem = f"{draft.where}: {field}: {message}"
                    if Problem(self.path, line, problem) not in self.check.problems:
                        self.check.add(line, problem)
                elif status is Status.RETIRING:
                    text = f"warning: {draft.where}: {field}: {message}"
                    warnings.setdefault((line, text), Problem(self.path, line, text))
                if (listed := offers.get(provider)) is not None and not listed.offers(model):
                    text = (
                        f"warning: {draft.where}: {field}: {model!r} is not in {provider}'s own model list "
                        f"(read {listed.read} by `lfg models --refresh`)"
                    )
                    warnings.setdefault((line, text), Problem(self.path, line, text))
        return tuple(sorted(warnings.values(), key=lambda problem: problem.line or 0))

    def _model_field(
        self, draft: _Draft, defaults: Mapping[str, Any], variant: Variant
    ) -> tuple[str, int | None]:
        """Where a variant's model was named: the ticket's `model` or `models`, [defaults]', or its
        provider's `default_model` (in config.toml: the ticket's line then)."""
        for level, table in ((draft, draft.fields), (None, defaults)):
            for key in ("models", "model"):
                if key in table:
                    return key, self.line(level, key)
        return f"[providers.{variant.provider}] default_model", self.line(draft)

    def _check_mcp_servers(self, drafts: Sequence[_Draft], defaults: Mapping[str, Any]) -> None:
        """Each MCP server in use can be given on this machine: its program is found, the variables
        it takes are set. One message per server, naming every ticket using it."""
        users: dict[str, list[_Draft]] = {}
        for draft in drafts:
            for name in dict.fromkeys(draft.fields.get("mcp_servers", defaults.get("mcp_servers", ()))):
                users.setdefault(name, []).append(draft)
        for name, group in users.items():
            server = self.config.mcp_servers.get(name)
            problem = None if server is None else unavailable(server, self.env)
            if problem is None:
                continue
            first = group[0]
            ids = ", ".join(repr(draft.id) for draft in group if draft.id is not None)
            who = f"tickets {ids}" if len(group) > 1 else first.where
            line = self.line(first if "mcp_servers" in first.fields else None, "mcp_servers")
            self.check.add(line, f"{who}: MCP server {name!r} cannot be given to the agent: {problem}")

    def _check_tournaments(
        self, drafts: Sequence[_Draft], defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> None:
        """A `check` runs in each contestant's worktree and ranks the contestants of one ticket: it
        needs `isolation = "worktree"` and a ticket that fans out (`attempts`, `models` or `agents`)."""
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            if "check" not in fields:
                continue
            line = self.line(draft if "check" in draft.fields else None, "check")
            if fields.get("isolation", "none") != "worktree":
                where = f"{draft.where}: check runs in each contestant's worktree"
                self.check.add(line, f'{where}: set isolation = "worktree"')
            if not any(variant.group is not None for variant in variants[draft.index]):
                self.check.add(
                    line,
                    f"{draft.where}: check ranks the contestants of a ticket that fans out: "
                    "set attempts, models or agents",
                )

    def _check_worktree_fields(self, drafts: Sequence[_Draft], defaults: Mapping[str, Any]) -> None:
        """`setup` runs once in a new worktree: a ticket with no worktree would never run it."""
        for draft in drafts:
            fields = {**defaults, **draft.fields}
            if "setup" in fields and fields.get("isolation", "none") != "worktree":
                line = self.line(draft if "setup" in draft.fields else None, "setup")
                self.check.add(
                    line, f'{draft.where}: setup runs in a new worktree: set isolation = "worktree"'
                )

    def _judge(
        self, draft: _Draft, defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> tuple[str, str] | None:
        """The (provider, model) of the ticket's `judge`, checked: a tournament's (it has `check`), a
        configured provider whose key is set (a bare name: a coding agent, on its `default_model`),
        not a contestant's own provider and model unless `judge_may_be_contestant = true`."""
        named = draft.fields.get("judge")
        if named is None:
            return None
        line = self.line(draft, "judge")
        problems: list[str] = []
        pairs: list[tuple[str, str]] = []
        providers = self.config.providers
        if "/" in named:
            pairs, problems = model_pairs([named], providers, "judge")
        elif (config := providers.get(named.strip())) is None:
            problems = [f"judge: {unknown('provider', named.strip(), providers)}"]
        elif not kind_of(config).coding_agent:
            problems = [f'judge: provider {named!r} is not a coding agent: name a model as "{named}/MODEL"']
        else:
            pairs = [(named.strip(), config.default_model or "")]
        if "check" not in draft.fields and "check" not in defaults:
            problems.append(
                "judge ranks a tournament's contestants: set check (and attempts, models or agents)"
            )
        ids = {variant.id for variant in variants[draft.index]}
        if f"{draft.id}{JUDGE_SUFFIX}" in ids:
            problems.append(
                f"judge: the judge's ticket {draft.id}{JUDGE_SUFFIX} would take a contestant's id"
            )
        for problem in problems:
            self.check.add(line, f"{draft.where}: {problem}")
        if problems or not pairs:
            return None
        provider, model = pairs[0]
        try:
            resolve(providers[provider], self.env)
        except ProviderUnavailable as exc:
            self.check.add(line, f"{draft.where}: judge: {exc}")
            return None
        agent = kind_of(providers[provider]).coding_agent
        same = [
            variant.id
            for variant in variants[draft.index]
            if variant.provider == provider and (agent or variant.model == model)
        ]
        if same and not draft.fields.get("judge_may_be_contestant", False):
            self.check.add(
                line,
                f"{draft.where}: judge {named!r} is also the contestant {same[0]}'s "
                f"{'agent' if agent else 'provider and model'}, and a judge prefers its own work: judge with "
                "another, or set judge_may_be_contestant = true",
            )
            return None
        return provider, model

    def _judge_ticket(self, draft: _Draft, defaults: Mapping[str, Any], provider: str, model: str) -> Ticket:
        """The tournament's judge, held until its contestants are done: no tools, no worktree, no
        fallback; its prompt is written by the referee then (tournament/judge.py)."""
        assert draft.id is not None
        fields = {**defaults, **draft.fields}
        return Ticket(
            id=f"{draft.id}{JUDGE_SUFFIX}",
            prompt=f"(judges the contestants of {draft.id} once they are done)",
            title=f"{draft.id} judge",
            system=None,
            provider=provider,
            model=model,
            tools=(),
            max_calls=DEFAULT_MAX_CALLS,
            max_tokens=None,
            temperature=None,
            workdir=fields.get("workdir", self.folder),
            depends_on=(),
            auto_approve=frozenset(),
            auto_approve_all=False,
            line=self.line(draft, "judge") or 0,
            judges=draft.id,
        )

    def _check_duplicates(self, drafts: Sequence[_Draft]) -> None:
        first: dict[str, _Draft] = {}
        groups = {ticket.group for ticket in self.taken.values() if ticket.group is not None}
        for draft in drafts:
            if draft.id is None:
                continue
            if draft.id in self.taken or draft.id in groups:
                already = f"{draft.where}: duplicate id (the run has it already)"
                self.check.add(self.line(draft, "id"), already)
            elif draft.id in first:
                other = self.line(first[draft.id], "id")
                self.check.add(
                    self.line(draft, "id"), f"{draft.where}: duplicate id (first used on line {other})"
                )
            else:
                first[draft.id] = draft

    def _check_dependencies(
        self, drafts: Sequence[_Draft], named: Mapping[str, _Draft], variants: Mapping[int, list[Variant]]
    ) -> dict[int, tuple[str, ...]]:
        """Every dependency exists, none is circular, and a prompt quotes only its dependencies.

        A fanned-out ticket's id stands for all of its models (`ID@model`); a dependent may wait for
        all of them or name one. Returns each draft's dependencies as the tickets of the run.
        """
        stands_for: dict[str, list[str]] = {}
        owner: dict[str, _Draft] = {}
        graph: dict[str, list[str]] = {}
        for ticket in self.taken.values():  # the running run's, for a ticket added to it
            stands_for[ticket.id] = [ticket.id]
            if ticket.group is not None:
                stands_for.setdefault(ticket.group, []).append(ticket.id)
            graph[ticket.id] = [d for d in ticket.depends_on if d in self.taken]
        for draft in drafts:
            if draft.id is not None and named[draft.id] is draft:
                ids = [variant.id for variant in variants[draft.index]]
                stands_for[draft.id] = ids
                for ticket_id in ids:
                    stands_for.setdefault(ticket_id, [ticket_id])
                    owner[ticket_id] = draft
        needs: dict[int, tuple[str, ...]] = {}
        for draft in drafts:
            depends_on = list(dict.fromkeys(draft.fields.get("depends_on", [])))
            own = {draft.id, *(variant.id for variant in variants[draft.index])}
            needed: list[str] = []
            for dependency in depends_on:
                if dependency in stands_for:
                    needed.extend(stands_for[dependency])
                else:
                    message = unknown("ticket id", dependency, stands_for.keys() - own)
                    self.check.add(self.line(draft, "depends_on"), f"{draft.where}: depends_on: {message}")
            needs[draft.index] = tuple(dict.fromkeys(needed))
            for quoted in dict.fromkeys(PLACEHOLDER.findall(draft.fields.get("prompt", ""))):
                if stands_for.get(quoted, [quoted]) != [quoted]:
                    choices = ", ".join(f"outputs.{ticket_id}" for ticket_id in stands_for[quoted])
                    self.check.add(
                        self.line(draft, "prompt"),
                        f"{draft.where}: {{{{ outputs.{quoted} }}}} names a ticket that runs several models; "
                        f"quote one of them: {choices}",
                    )
                elif quoted not in needs[draft.index]:
                    self.check.add(
                        self.line(draft, "prompt"),
                        f"{draft.where}: the prompt uses {{{{ outputs.{quoted} }}}} but {quoted!r} is not in "
                        f"depends_on; add it there",
                    )
            if draft.id is not None and named[draft.id] is draft:
                for variant in variants[draft.index]:
                    graph[variant.id] = list(needs[draft.index])
        for cycle in _cycles(graph):
            start = owner[cycle[0]]
            self.check.add(
                self.line(start, "depends_on"), f"{start.where}: dependency cycle: {' -> '.join(cycle)}"
            )
        return needs

    def _variants(self, draft: _Draft, defaults: Mapping[str, Any], fallback: str) -> list[Variant]:
        """The tickets one `[[ticket]]` becomes: itself, or one per entry of its `models` or `agents`
        (fanout.py); each of them `attempts` times.

        A ticket's own provider or model wins over a list in [defaults]; on one level they clash.
        """
        own = draft.fields
        for level, table in ((draft, own), (None, defaults)):
            if found := clash(table):
                key, message = found
                self.check.add(self.line(level, key), f"{draft.where if level else '[defaults]'}: {message}")
        attempts = own.get("attempts", defaults.get("attempts", 1))
        chosen = chosen_list(own, defaults)
        if chosen is None:
            named = own.get("provider") or defaults.get("provider")
            provider = named or fallback
            model = self._model(draft, defaults, provider)
            self._check_prefixed(draft, defaults, model, named)
            single = [Variant(draft.id, provider, model, None)]
            return repeated(draft.id, single, attempts)
        key, entries = chosen
        line = self.line(draft if key in own else None, key)
        if key == "agents":
            pairs, problems = self._agent_pairs(entries)
        else:
            pairs, problems = model_pairs(entries, self.config.providers)
        for problem in problems:
            self.check.add(line, f"{draft.where}: {problem}")
        return repeated(draft.id, fanned_out(draft.id, pairs, by_provider=key == "agents"), attempts)

    def _agent_pairs(self, agents: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
        """Each distinct coding agent as (provider, its default model), and the problems: unknown
        providers, providers that are no coding agent, repeats."""
        pairs: list[tuple[str, str]] = []
        problems: list[str] = []
        providers = self.config.providers
        for name in dict.fromkeys(entry.strip() for entry in agents):
            config = providers.get(name)
            if config is None:
                problems.append(f"agents: {unknown('provider', name, providers)}")
            elif not kind_of(config).coding_agent:
                problems.append(f"agents: provider {name!r} is not a coding agent (kind {config.kind!r})")
            else:
                pairs.append((name, config.default_model or ""))
        if len(agents) != len(set(agents)):
            problems.append("agents: an agent is listed twice")
        return pairs, problems

    def _fallback_provider(self) -> str:
        """For tickets that name no provider: the first keyed provider whose key is set, else the sim."""
        for name in KEYED_FALLBACKS:
            if _has_key(self.config.providers[name], self.env):
                return name
        return OFFLINE_PROVIDER

    def _check_keys(
        self, drafts: Sequence[_Draft], defaults: Mapping[str, Any], variants: Mapping[int, list[Variant]]
    ) -> None:
        """Each provider in use has its key; one message per provider, naming every ticket using it."""
        users: dict[str, list[_Draft]] = {}
        for draft in drafts:
            for provider in dict.fromkeys(variant.provider for variant in variants[draft.index]):
                users.setdefault(provider, []).append(draft)
        for name, group in users.items():
            try:
                resolve(self.config.providers[name], self.env)
            except ProviderUnavailable as exc:
                ids = ", ".join(repr(draft.id) for draft in group if draft.id is not None)
                who = f"tickets {ids}" if len(group) > 1 else group[0].where
                first = group[0]
                own = next((key for key in ("models", "provider") if key in first.fields), None)
                inherited = next((key for key in ("models", "provider") if key in defaults), None)
                line = self.line(first, own) if own else self.line(None, inherited) if inherited else None
                self.check.add(line or self.line(first), f"{who}: {exc}")

    def _model(self, draft: _Draft, defaults: Mapping[str, Any], provider: str) -> str:
        model = (
            draft.fields.get("model")
            or defaults.get("model")
            or self.config.providers[provider].default_model
        )
        if not model:
            self.check.add(
                self.line(draft),
                f"{draft.where}: no model: set model on the ticket or in [defaults], "
                f"or default_model in [providers.{provider}]",
            )
        return model or ""

    def _check_prefixed(
        self, draft: _Draft, defaults: Mapping[str, Any], model: str, provider: str | None
    ) -> None:
        """`model = "sim/x"` names a provider where `model` takes a model id (`models` and `judge` take
        `provider/model`): run as it is, the provider lfg falls back to (or the one named) would be
        asked for a model called `sim/x`. Allowed where another provider is named: OpenRouter's ids
        are `vendor/model`."""
        prefix = model.partition("/")[0]
        if "/" not in model or prefix not in self.config.providers or provider not in (None, prefix):
            return
        level = draft if "model" in draft.fields else None
        self.check.add(
            self.line(level, "model"),
            f"{draft.where if level else '[defaults]'}: model = {model!r} names the provider {prefix!r}: "
            f"write provider = {prefix!r} and model = {model.partition('/')[2]!r} "
            f"(or models = [{model!r}])",
        )

    def _ticket(
        self, draft: _Draft, defaults: Mapping[str, Any], variant: Variant, depends_on: tuple[str, ...]
    ) -> Ticket:
        fields = {**defaults, **draft.fields}
        auto_approve = fields.get("auto_approve", False)
        temperature = fields.get("temperature")
        assert variant.id is not None  # a draft without a valid id is a problem raised before this
        return Ticket(
            id=variant.id,
            prompt=fields["prompt"],
            title=fields.get("title", variant.id),
            system=fields.get("system"),
            provider=variant.provider,
            model=variant.model,
            tools=tuple(fields.get("tools", ())),
            max_calls=fields.get("max_calls", DEFAULT_MAX_CALLS),
            max_tokens=fields.get("max_tokens"),
            temperature=float(temperature) if temperature is not None else None,
            workdir=fields.get("workdir", self.folder),
            depends_on=depends_on,
            auto_approve=frozenset(auto_approve) if isinstance(auto_approve, list) else frozenset(),
            auto_approve_all=auto_approve is True,
            line=self.line(draft) or 0,
            env_passthrough=tuple(dict.fromkeys(fields.get("env_passthrough", ()))),
            allow_git_writes=fields.get("allow_git_writes", False),
            max_output_chars=fields.get("max_output_chars", DEFAULT_MAX_OUTPUT_CHARS),
            isolation=fields.get("isolation", "none"),
            setup=fields.get("setup"),
            sandbox=fields.get("sandbox", "none"),
            sandbox_network=fields.get("sandbox_network", True),
            sandbox_home=fields.get("sandbox_home", "no-secrets"),
            sandbox_readable=fields.get("sandbox_readable", ()),
            sandbox_memory_mb=fields.get("sandbox_memory_mb"),
            sandbox_processes=fields.get("sandbox_processes"),
            sandbox_cpus=float(cpus) if (cpus := fields.get("sandbox_cpus")) is not None else None,
            sandbox_tmp_mb=fields.get("sandbox_tmp_mb"),
            max_cost_usd=fields.get("max_cost_usd"),
            group=variant.group,
            mode=fields.get("mode"),
            resume_session=fields.get("resume_session"),
            additional_directories=fields.get("additional_directories", ()),
            mcp_servers=tuple(
                self.config.mcp_servers[name] for name in dict.fromkeys(fields.get("mcp_servers", ()))
            ),
            check=fields.get("check"),
            check_timeout_s=float(fields.get("check_timeout_s", DEFAULT_CHECK_TIMEOUT_S)),
            judge_max_chars=fields.get("judge_max_chars", DEFAULT_JUDGE_MAX_CHARS),
            fallback=tuple(self._links(fields, variant.provider)),
            max_wait_s=float(fields.get("max_wait_s", DEFAULT_MAX_WAIT_S)),
            on_quota=fields.get("on_quota") or self.config.providers[variant.provider].on_quota or "wait",
            reasoning=_reasoning(fields),
            lead=fields.get("lead", False),
            lead_max_live=fields.get("lead_max_live", DEFAULT_LEAD_MAX_LIVE),
            lead_max_added=fields.get("lead_max_added", DEFAULT_LEAD_MAX_ADDED),
            lead_max_per_minute=fields.get("lead_max_per_minute", DEFAULT_LEAD_MAX_PER_MINUTE),
            lead_budget_usd=fields.get("lead_budget_usd"),
        )


def _folder_problem(folder: Path) -> str | None:
    """What keeps `folder` from being a folder to work in, or None."""
    try:
        return None if folder.is_dir() else "is not a folder" if folder.exists() else "does not exist"
    except OSError as exc:  # a name too long, a folder that cannot be searched
        return f"cannot be used: {exc.strerror or exc}"


def _reasoning(fields: Mapping[str, Any]) -> Reasoning:
    """A ticket's own reasoning settings (with [defaults]'), none taken from its provider yet."""
    return Reasoning(fields.get("effort"), fields.get("thinking"), fields.get("show_thinking"))


def _has_key(provider: ProviderConfig, env: Mapping[str, str]) -> bool:
    try:
        resolve(provider, env)
    except ProviderUnavailable:
        return False
    return True


def _cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each dependency cycle found by a depth-first walk, as a closed path like [a, b, a].

    `depth` maps each node on the current path to its place in it, so that a chain of ten thousand
    tickets is not searched from its start at every step.
    """
    done: set[str] = set()
    cycles: list[list[str]] = []
    for root in graph:
        if root in done:
            continue
        path: list[str] = [root]
        depth: dict[str, int] = {root: 0}
        walks: list[Iterator[str]] = [iter(graph[root])]
        while walks:
            node = next(walks[-1], None)
            if node is None:
                left = path.pop()
                del depth[left]
                done.add(left)
                walks.pop()
            elif node in depth:
                cycles.append([*path[depth[node] :], node])
            elif node not in done:
                depth[node] = len(path)
                path.append(node)
                walks.append(iter(graph[node]))
    return cycles
