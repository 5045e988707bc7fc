"""A ticket as the history's row, and back: how the recorder keeps a ticket, how a recorded run is
read back, and how a watcher or a worker is told one (as a row's JSON, row_json.py).

Apart from the recorder and the reader, so that a process that only passes tickets on (a worker,
`lfg attach`) imports neither (issue #77).
"""

from __future__ import annotations

from pathlib import Path

from lfgtui.config.mcp import servers_from_json, servers_json
from lfgtui.history.rows import TicketRecord, TicketRow
from lfgtui.providers.base import Reasoning
from lfgtui.tickets.ticket import (
    DEFAULT_CHECK_TIMEOUT_S,
    DEFAULT_JUDGE_MAX_CHARS,
    DEFAULT_LEAD_MAX_ADDED,
    DEFAULT_LEAD_MAX_LIVE,
    DEFAULT_LEAD_MAX_PER_MINUTE,
    DEFAULT_MAX_CALLS,
    DEFAULT_MAX_OUTPUT_CHARS,
    DEFAULT_MAX_WAIT_S,
    Ticket,
)


def ticket_row(ticket: Ticket) -> TicketRow:
    """The ticket as the history (and a watcher, see remote/) describes it: every field, so that
    `lfg resume` runs it as it ran (tests/run/test_resume_tickets.py fails for a field left out)."""
    return TicketRow(
        ticket=ticket.id,
        title=ticket.title,
        prompt=ticket.prompt,
        system=ticket.system,
        provider=ticket.provider,
        model=ticket.model,
        tools=ticket.tools,
        depends_on=ticket.depends_on,
        max_calls=ticket.max_calls,
        max_tokens=ticket.max_tokens,
        temperature=ticket.temperature,
        workdir=str(ticket.workdir),
        auto_approve=tuple(sorted(ticket.auto_approve)),
        auto_approve_all=ticket.auto_approve_all,
        env_passthrough=ticket.env_passthrough,
        allow_git_writes=ticket.allow_git_writes,
        max_output_chars=ticket.max_output_chars,
        isolation=ticket.isolation,
        max_cost_usd=ticket.max_cost_usd,
        fanned_from=ticket.group,
        line=ticket.line,
        mode=ticket.mode,
        every_field=True,
        mcp_servers=servers_json(ticket.mcp_servers),
        check_command=ticket.check,
        check_timeout_s=ticket.check_timeout_s,
        fallback=tuple(f"{provider}/{model}" for provider, model in ticket.fallback),
        max_wait_s=ticket.max_wait_s,
        judges=ticket.judges,
        forked_from=None if ticket.fork_of is None else ticket.fork_of[0],
        forked_attempt=None if ticket.fork_of is None else ticket.fork_of[1],
        forked_turn=ticket.fork_turn,
        on_quota=ticket.on_quota,
        judge_max_chars=ticket.judge_max_chars,
        effort=ticket.reasoning.effort,
        thinking=ticket.reasoning.thinking,
        show_thinking=ticket.reasoning.show_thinking,
        resume_session=ticket.resume_session,
        additional_directories=tuple(str(folder) for folder in ticket.additional_directories),
        setup=ticket.setup,
        sandbox=ticket.sandbox,
        sandbox_network=ticket.sandbox_network,
        sandbox_home=ticket.sandbox_home,
        sandbox_readable=tuple(str(folder) for folder in ticket.sandbox_readable),
        lead=ticket.lead,
        lead_max_live=ticket.lead_max_live,
        lead_max_added=ticket.lead_max_added,
        lead_max_per_minute=ticket.lead_max_per_minute,
        lead_budget_usd=ticket.lead_budget_usd,
        sandbox_memory_mb=ticket.sandbox_memory_mb,
        sandbox_processes=ticket.sandbox_processes,
        sandbox_cpus=ticket.sandbox_cpus,
        sandbox_tmp_mb=ticket.sandbox_tmp_mb,
    )


def ticket_from_row(record: TicketRecord) -> Ticket:
    """The ticket as it ran, every field as recorded; a row an older lfg recorded holds the defaults
    of what it did not keep (`NOT_KEPT_BEFORE`: no approval given, no budget)."""
    row = record.row
    return Ticket(
        id=row.ticket,
        prompt=row.prompt,
        title=row.title,
        system=row.system,
        provider=row.provider,
        model=row.model,
        tools=row.tools,
        max_calls=row.max_calls or DEFAULT_MAX_CALLS,
        max_tokens=row.max_tokens,
        temperature=row.temperature,
        workdir=Path(row.workdir or "."),
        depends_on=row.depends_on,
        auto_approve=frozenset(row.auto_approve),
        auto_approve_all=row.auto_approve_all,
        line=row.line or 0,
        env_passthrough=row.env_passthrough,
        allow_git_writes=row.allow_git_writes,
        max_output_chars=row.max_output_chars or DEFAULT_MAX_OUTPUT_CHARS,
        isolation=row.isolation,
        max_cost_usd=row.max_cost_usd,
        group=row.fanned_from,
        mode=row.mode,
        mcp_servers=servers_from_json(row.mcp_servers),
        check=row.check_command,
        check_timeout_s=row.check_timeout_s or DEFAULT_CHECK_TIMEOUT_S,
        fallback=tuple((link.partition("/")[0], link.partition("/")[2]) for link in row.fallback),
        max_wait_s=DEFAULT_MAX_WAIT_S if row.max_wait_s is None else row.max_wait_s,
        judges=row.judges,
        fork_of=None if row.forked_from is None else (row.forked_from, row.forked_attempt or 0),
        fork_turn=row.forked_turn,
        on_quota=row.on_quota or "wait",
        resume_session=row.resume_session,
        additional_directories=tuple(Path(folder) for folder in row.additional_directories),
        setup=row.setup,
        sandbox=row.sandbox,
        sandbox_network=row.sandbox_network,
        sandbox_home=row.sandbox_home,
        sandbox_readable=tuple(Path(folder) for folder in row.sandbox_readable),
        judge_max_chars=row.judge_max_chars or DEFAULT_JUDGE_MAX_CHARS,
        reasoning=Reasoning(row.effort, row.thinking, row.show_thinking),
        lead=row.lead,
        lead_max_live=DEFAULT_LEAD_MAX_LIVE if row.lead_max_live is None else row.lead_max_live,
        lead_max_added=DEFAULT_LEAD_MAX_ADDED if row.lead_max_added is None else row.lead_max_added,
        lead_max_per_minute=row.lead_max_per_minute or DEFAULT_LEAD_MAX_PER_MINUTE,
        lead_budget_usd=row.lead_budget_usd,
        sandbox_memory_mb=row.sandbox_memory_mb,
        sandbox_processes=row.sandbox_processes,
        sandbox_cpus=row.sandbox_cpus,
        sandbox_tmp_mb=row.sandbox_tmp_mb,
    )
