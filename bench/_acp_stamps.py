#!/usr/bin/env python3
"""The sim ACP agent (`lfgtui.sim.acp_agent`), writing down when it sent each message chunk.

For `bench/render.py --acp`. lfg reads and parses an agent's JSON-RPC in its UI process, so a time
taken there waits for that process, and a busy UI would hide its own lag. The agent knows when a
chunk was handed to the pipe, ready for lfg to read, as the worker's stamp says when an API chunk
came off the network; CLOCK_MONOTONIC is the same clock in every process of the machine.

    python bench/_acp_stamps.py FOLDER --scenario long-answer:tokens_per_s=200#p3

plays `long-answer:tokens_per_s=200` and writes, under the tag after `#` (the bench's ticket id, so
nothing depends on how lfg starts agents or names its own classes):

    FOLDER/p3.stamps    one time a line for each agent_message_chunk, in the order sent: the k-th
                        is the k-th text chunk the ticket's pane receives
    FOLDER/p3.agent     this process's id and its session id, to tell the agent's CPU from lfg's
                        and its lines in lfg's pipe

Each stamp is written at once (one small write per chunk), since a run ends by stopping its agents.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from lfgtui.sim import acp_agent, acp_prompt
from lfgtui.sim.wire import Piece, PieceKind


def read_stamps(folder: Path, tag: str) -> list[float]:
    """The times the agent tagged `tag` sent its message chunks, in order ([] if it wrote none)."""
    try:
        return [float(line) for line in (folder / f"{tag}.stamps").read_text().split()]
    except OSError:
        return []


def read_agent(folder: Path, tag: str) -> tuple[int, str] | None:
    """The process id and session id of the agent tagged `tag`, once it has a session."""
    try:
        pid, session = (folder / f"{tag}.agent").read_text().split()
    except (OSError, ValueError):
        return None
    return int(pid), session


def main() -> None:
    folder, arguments = Path(sys.argv[1]), sys.argv[2:]
    at = arguments.index("--scenario") + 1
    arguments[at], _, tag = arguments[at].partition("#")
    fd = os.open(folder / f"{tag}.stamps", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    chunk, new_session = acp_prompt.AgentRun._chunk, acp_agent.SimAcpAgent.new_session

    async def stamped_chunk(self: acp_prompt.AgentRun, piece: Piece) -> None:
        await chunk(self, piece)  # returns once the SDK has written the update to stdout
        if piece.kind is PieceKind.TEXT:
            os.write(fd, f"{time.monotonic()!r}\n".encode())

    async def told_session(self: acp_agent.SimAcpAgent, *args: Any, **kwargs: Any) -> Any:
        response = await new_session(self, *args, **kwargs)
        (folder / f"{tag}.agent").write_text(f"{os.getpid()} {response.session_id}\n")
        return response

    acp_prompt.AgentRun._chunk = stamped_chunk  # type: ignore[method-assign]
    acp_agent.SimAcpAgent.new_session = told_session  # type: ignore[method-assign]
    acp_agent.main(arguments)


if __name__ == "__main__":
    main()
