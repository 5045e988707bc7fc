"""What a coding agent reads and writes through lfg (`fs/read_text_file`, `fs/write_text_file`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from acp import RequestError

from lfgtui.events import EventFactory
from lfgtui.run.agents.client import AgentClient
from lfgtui.run.agents.updates import AgentView
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tools.base import ToolContext
from lfgtui.tools.toolbox import Toolbox


async def yes(_: object) -> None:
    return None


def client_in(project: Path) -> AgentClient:
    toolbox = Toolbox(BUILTIN_TOOLS, ToolContext(workdir=project, env={}), yes)
    return AgentClient(EventFactory("t", 1), toolbox, AgentView())


async def test_a_file_that_does_not_exist_yet_reads_empty_so_an_agent_can_create_it(project: Path) -> None:
    """Gemini CLI reads a file before it writes it and fails the write on any error to that read."""
    client = client_in(project)
    missing = await client.read_text_file("s", str(project / "notes" / "new.md"))
    assert missing.content == ""
    readme = await client.read_text_file("s", str(project / "README.md"))
    assert readme.content == "# Widget\nRenders widgets.\n"
    with pytest.raises(RequestError, match="outside the ticket's workdir"):
        await client.read_text_file("s", str(project.parent / "elsewhere.md"))
    with pytest.raises(RequestError, match="is a directory"):
        await client.read_text_file("s", str(project))
