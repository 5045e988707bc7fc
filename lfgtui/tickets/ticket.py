"""A ticket: one agent to run, as the rest of lfg sees it once its file is loaded (load.py), and its
prompt with the answers it depends on filled in. Light to import: it needs neither the config's loading
nor the providers' adapters, so what only names a ticket does not load the checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfgtui.config.mcp import McpServer
from lfgtui.config.validation import Problem
from lfgtui.providers.base import Reasoning

DEFAULT_MAX_CALLS = 20
"""How many model calls an attempt may make (each answered by tool results) before it stops."""
DEFAULT_MAX_OUTPUT_CHARS = 32_000_000
"""About 8 million tokens, three times the 10 MB answer lfg is tested to keep whole: far past any real
answer, well before an endless stream fills memory or the history file."""
DEFAULT_CHECK_TIMEOUT_S = 600.0
"""How long a contestant's `check` may run before it is killed (and counts as failed)."""
DEFAULT_MAX_WAIT_S = 120.0
"""How long a ticket with a fallback waits for a rate-limited or overloaded provider (the wait its
429 or 529 names) before it moves to the next link instead: two minutes."""
DEFAULT_JUDGE_MAX_CHARS = 200_000
"""The most characters of a judge's prompt (about 50,000 tokens, within any current model's context
with room for its answer): past it, the contestants' diffs and check outputs are cut, fairly."""
DEFAULT_LEAD_MAX_LIVE = 3
"""A lead's tickets unfinished at once, unless its `lead_max_live` says otherwise."""
DEFAULT_LEAD_MAX_ADDED = 10
"""The tickets a lead may add in all, unless its `lead_max_added` says otherwise."""
DEFAULT_LEAD_MAX_PER_MINUTE = 20
"""How many tickets a lead may add and messages it may send in any minute, unless its
`lead_max_per_minute` says otherwise: a fan-out of `lead_max_added` and a word to each are not held
up, a lead adding or messaging in a loop is."""
JUDGE_SUFFIX = "@judge"
"""A tournament's judge is the ticket `ID@judge` (ID: the tournament, as written in the file)."""
ISOLATIONS = ("none", "worktree")
SANDBOXES = ("none", "bwrap", "docker", "podman")
SANDBOX_HOMES = ("no-secrets", "hidden", "readable")
"""Where a ticket's tools work: its workdir itself, or a git worktree of its own on a new branch."""

PLACEHOLDER = re.compile(r"\{\{\s*outputs\.([A-Za-z0-9_.-]+(?:@[A-Za-z0-9_.-]+)?)\s*\}\}")


@dataclass(frozen=True)
class Ticket:
    """One agent to run, with every default applied and every name checked."""

    id: str
    prompt: str
    title: str
    system: str | None
    provider: str
    model: str
    tools: tuple[str, ...]
    max_calls: int
    max_tokens: int | None
    temperature: float | None
    workdir: Path
    depends_on: tuple[str, ...]
    auto_approve: frozenset[str]
    auto_approve_all: bool
    line: int
    env_passthrough: tuple[str, ...] = ()
    allow_git_writes: bool = False
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    isolation: str = "none"
    setup: str | None = None
    """A shell command run once in a new worktree before the ticket's work (run/prepare.py)."""
    sandbox: str = "none"
    """Where its commands and coding agent run: `"bwrap"`, a sandbox (tools/sandbox.py), `"docker"` or
    `"podman"`, the same box kept by a container engine (tools/containers.py), or none."""
    sandbox_network: bool = True
    sandbox_home: str = "no-secrets"
    """What its sandbox shows of the person's home (tools/sandbox_home.py's `HOMES`)."""
    sandbox_readable: tuple[Path, ...] = ()
    """Folders its sandbox still reads where `sandbox_home` hides them."""
    sandbox_memory_mb: int | None = None
    """Its box's bounds (tools/box_limits.py): memory, processes, CPUs and `/tmp`; None, the default."""
    sandbox_processes: int | None = None
    sandbox_cpus: float | None = None
    sandbox_tmp_mb: int | None = None
    max_cost_usd: float | None = None
    group: str | None = None
    """For one model of a fanned-out ticket (`models = [...]`): the id written in the file."""
    mode: str | None = None
    """For a coding agent: the session mode it works in (e.g. `plan`), as the agent names it."""
    mcp_servers: tuple[McpServer, ...] = ()
    """For a coding agent: the MCP servers its session is given (`[mcp_servers.NAME]`), whole."""
    resume_session: str | None = None
    """For a coding agent: its own session (started elsewhere) that the ticket continues, by the id
    the agent gave it (`lfg agents sessions`): ACP `session/resume`, else `session/load`."""
    additional_directories: tuple[Path, ...] = ()
    """For a coding agent: folders beside the workdir its session may work in too (ACP
    `additionalDirectories`), each absolute and resolved; lfg's file and terminal requests are
    confined to the workdir and these."""
    check: str | None = None
    """For a contestant of a tournament: the command run in its worktree once it completes, which
    ranks it (tournament/)."""
    check_timeout_s: float = DEFAULT_CHECK_TIMEOUT_S
    judge_max_chars: int = DEFAULT_JUDGE_MAX_CHARS
    """For a contestant of a judged tournament: the most characters of the judge's prompt
    (tournament/judge.py `judge_prompt`)."""
    fallback: tuple[tuple[str, str], ...] = ()
    """(provider, model) of each link the ticket moves to, in order, when an attempt fails in a way
    more waiting will not fix soon (run/failover.py)."""
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    """With a fallback: the longest wait a 429 or 529 may ask for before the ticket moves on."""
    judges: str | None = None
    """For a tournament's judge (`ID@judge`): the tournament it ranks. It is held, not started with the
    run: the referee starts it with its prompt once every contestant is done (tournament/judge.py)."""
    fork_of: tuple[str, int] | None = None
    """For a fork (run/fork.py): the ticket and attempt whose conversation it started from. Never
    written in a tickets file: a run makes it when the person forks a ticket."""
    fork_turn: int | None = None
    """For a fork cut at an earlier turn (`lfg fork --at N`): the user turn of that conversation it
    goes on after; None: after the whole conversation."""
    on_quota: str = "wait"
    """What it does when its provider holds its requests for a quota: "wait", "fallback" or "pause"
    (`providers.base.OnQuota`, run/calls.py)."""
    reasoning: Reasoning = field(default_factory=Reasoning)
    """Its own (or [defaults]') `effort`, `thinking` and `show_thinking`, over its provider's."""
    lead: bool = False
    """A lead: a coding agent given lfg's MCP server (`lfg mcp`) in its session, with a token that
    may add tickets to the run and drive those it added, and nothing else (run/leads.py)."""
    lead_max_live: int = DEFAULT_LEAD_MAX_LIVE
    """For a lead: the most tickets it added that may be unfinished at once."""
    lead_max_added: int = DEFAULT_LEAD_MAX_ADDED
    """For a lead: the most tickets it may add in all."""
    lead_max_per_minute: int = DEFAULT_LEAD_MAX_PER_MINUTE
    """For a lead: the most tickets it may add and messages it may send in any 60 seconds."""
    lead_budget_usd: float | None = None
    """For a lead: what it and every ticket it added may cost together, every attempt counted;
    reached, it adds no more and they all stop (failed, `budget`). None: no budget of its own."""

    def auto_approves(self, tool: str) -> bool:
        """Whether the ticket lets `tool` run without asking anyone."""
        return self.auto_approve_all or tool in self.auto_approve


@dataclass(frozen=True)
class TicketFile:
    """A loaded tickets file. `offline_default` says tickets fell back to the sim for want of a key."""

    path: Path
    tickets: tuple[Ticket, ...]
    offline_default: bool
    warnings: tuple[Problem, ...] = ()
    """What does not stop the run but should be read before it: a model retiring soon."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Its `[defaults]` table as written: what a ticket added while the run runs inherits too
    (load.py `load_added`)."""


MAX_PROMPT_CHARS = 4_000_000
"""A prompt with its dependencies' answers filled in may be this long: about a million tokens, the
largest context a model offers. Quoting an answer many times could otherwise make a prompt of
hundreds of MB, built in memory and sent only to be refused."""


class PromptTooLong(ValueError):
    """Filling in the dependencies' answers would make the prompt longer than `MAX_PROMPT_CHARS`."""


def render_prompt(ticket: Ticket, outputs: Mapping[str, str]) -> str:
    """The ticket's prompt with each `{{ outputs.ID }}` replaced by that dependency's final answer.
    Raises PromptTooLong, naming the answer that would take it past the cap, before building it."""
    size = len(ticket.prompt)

    def fill(match: re.Match[str]) -> str:
        nonlocal size
        dependency = match.group(1)
        if dependency not in outputs:
            raise KeyError(f"ticket {ticket.id!r} needs the output of {dependency!r}, which has none yet")
        answer = outputs[dependency]
        size += len(answer) - len(match.group(0))
        if size > MAX_PROMPT_CHARS:
            raise PromptTooLong(
                f"the prompt with the output of {dependency!r} ({len(answer):,} characters) filled in "
                f"would be longer than {MAX_PROMPT_CHARS:,} characters, lfg's cap on a prompt; "
                f"nothing was sent"
            )
        return answer

    return PLACEHOLDER.sub(fill, ticket.prompt)


def agent_cut_off(provider: str) -> str:
    """Why a coding agent's ticket cannot run with `sandbox_network = false`: the agent runs inside
    its sandbox and reaches its provider over the network (it would fail only after minutes of
    retries). Said as the tickets file loads, and as a recorded ticket starts."""
    return (
        f"sandbox_network = false cuts coding agent {provider!r} off its own provider (it runs inside "
        "the sandbox); keep the network on for it"
    )
