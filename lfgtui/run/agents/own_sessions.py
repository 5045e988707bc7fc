"""`lfg agents sessions NAME`: the agent's own sessions (ACP `session/list`), which a ticket's
`resume_session` continues.

A person who started work in an agent elsewhere (its own CLI, an editor) finds it here by folder,
title and last activity, and names its id in a ticket. The agent is started as `lfg agents --check`
starts it (`report.started`), in the folder whose sessions are listed, and asked for every page;
what it says of a session is shown inert and written lossless as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lfgtui.providers.base import ProviderConfig


@dataclass(frozen=True)
class OwnSession:
    """One session as the agent lists it: `cwd` is the folder it works in, `additional_directories`
    the folders beside it the agent reports for it (ACP `SessionInfo.additionalDirectories`), which
    a ticket continuing it names again (`session/resume` takes the ticket's list as the whole)."""

    session_id: str
    cwd: str
    title: str | None
    updated_at: str | None
    additional_directories: tuple[str, ...] = ()


async def own_sessions(
    config: ProviderConfig, workdir: Path, everywhere: bool, limit_s: float | None
) -> list[OwnSession]:
    """The agent's sessions of `workdir` (of every folder when `everywhere`), started in `workdir`.
    Raises `ProviderError` (the agent lists none, or failed) or OSError (it could not start)."""
    from lfgtui.run.agents.report import started

    session = await started(config, workdir, limit_s, "sessions")
    try:
        listed = await session.sessions(None if everywhere else str(workdir))
    finally:
        await session.close()
    return [
        OwnSession(s.session_id, s.cwd, s.title, s.updated_at, tuple(s.additional_directories or ()))
        for s in listed
    ]


def as_records(sessions: list[OwnSession]) -> list[dict[str, Any]]:
    return [asdict(session) for session in sessions]


def as_lines(agent: str, sessions: list[OwnSession], workdir: Path, everywhere: bool) -> list[str]:
    """What `lfg agents sessions` prints: one line a session, the latest activity first as the agent
    gave them, and how a ticket continues one."""
    from lfgtui.inert import inert

    where = "in any folder" if everywhere else f"in {workdir}"
    if not sessions:
        return [inert(f"{agent} has no sessions {where}")]
    lines = [f"{agent}: {len(sessions)} session{'s' if len(sessions) != 1 else ''} {where}"]
    for session in sessions:
        title = " ".join((session.title or "").split()) or "(untitled)"  # one line a session
        folder = f"  {session.cwd}" if everywhere else ""
        lines.append(f"  {session.session_id}  {session.updated_at or '-'}  {title}{folder}")
        if session.additional_directories:  # what a ticket continuing it names again
            lines.append(f"    additional_directories: {', '.join(session.additional_directories)}")
    lines.append(f'a ticket continues one with: provider = "{agent}" and resume_session = "ID"')
    return [inert(line) for line in lines]
