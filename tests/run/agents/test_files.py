"""What a coding agent reads and writes through lfg (`fs/read_text_file`, `fs/write_text_file`)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from acp import RequestError

from lfgtui.events import EventFactory, ToolCallReady
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


def client_with(project: Path, *roots: Path, asked: list[ToolCallReady] | None = None) -> AgentClient:
    """A client whose approvals say yes, each kept in `asked`."""

    async def approve(call: ToolCallReady) -> None:
        if asked is not None:
            asked.append(call)

    toolbox = Toolbox(BUILTIN_TOOLS, ToolContext(workdir=project, env={}), approve)
    return AgentClient(EventFactory("t", 1), toolbox, AgentView(), roots=roots)


@pytest.fixture
def beside(project: Path) -> Path:
    """An additional directory beside the workdir, with a file and a link that leads out of it."""
    folder = (project.parent / "shared").resolve()
    folder.mkdir()
    (folder / "schema.sql").write_text("CREATE TABLE t (x);\n")
    secret = project.parent / "secret.txt"
    secret.write_text("not the agent's\n")
    (folder / "out").symlink_to(secret)
    (folder / "up").symlink_to(project.parent, target_is_directory=True)
    return folder


async def streamed(client: AgentClient, shown: list[object]) -> None:
    """Stream the client's inbox as an attempt does (a write waits until it is shown)."""
    while True:
        shown += client.events(await client.inbox.get())


async def test_an_additional_directory_is_read_and_written_as_the_workdir_is(
    project: Path, beside: Path
) -> None:
    asked: list[ToolCallReady] = []
    client = client_with(project, beside, asked=asked)
    read = await client.read_text_file("s", str(beside / "schema.sql"))
    assert read.content == "CREATE TABLE t (x);\n"
    shown: list[object] = []
    streaming = asyncio.create_task(streamed(client, shown))
    await client.write_text_file("s", str(beside / "notes" / "new.md"), "written beside\n")
    streaming.cancel()
    (call,) = asked
    assert call.arguments["path"] == str(beside / "notes" / "new.md"), "the person sees where it goes"
    assert (beside / "notes" / "new.md").read_text() == "written beside\n"
    readme = await client.read_text_file("s", str(project / "README.md"))
    assert readme.content.startswith("# Widget"), "the workdir is still the agent's"


@pytest.mark.parametrize(
    "where",
    [
        "out",  # a link in the directory to a file outside it
        "up/secret.txt",  # through a linked folder that leads out
        "../secret.txt",  # `..` out of it
        "../shared-not/x.txt",  # a sibling whose name begins with the directory's
    ],
)
async def test_an_additional_directory_leads_nowhere_else(project: Path, beside: Path, where: str) -> None:
    (project.parent / "shared-not").mkdir()
    client = client_with(project, beside)
    with pytest.raises(RequestError, match="outside the ticket's workdir"):
        await client.read_text_file("s", f"{beside}/{where}")
    shown: list[object] = []
    streaming = asyncio.create_task(streamed(client, shown))
    with pytest.raises(RequestError, match="outside the ticket's workdir"):
        await client.write_text_file("s", f"{beside}/{where}", "escaped\n")
    streaming.cancel()
    assert (project.parent / "secret.txt").read_text() == "not the agent's\n"
    assert not (project.parent / "shared-not" / "x.txt").exists()


async def test_without_additional_directories_a_folder_beside_the_workdir_is_refused(
    project: Path, beside: Path
) -> None:
    client = client_in(project)
    with pytest.raises(RequestError, match="outside the ticket's workdir"):
        await client.read_text_file("s", str(beside / "schema.sql"))


async def test_a_terminal_runs_in_an_additional_directory_and_nowhere_else(
    project: Path, beside: Path
) -> None:
    asked: list[ToolCallReady] = []
    client = client_with(project, beside, asked=asked)
    shown: list[object] = []
    streaming = asyncio.create_task(streamed(client, shown))
    made = await client.create_terminal("s", "pwd", cwd=str(beside))
    exited = await client.wait_for_terminal_exit("s", made.terminal_id)
    assert exited.exit_code == 0
    output = await client.terminal_output("s", made.terminal_id)
    assert output.output.strip() == str(beside)
    with pytest.raises(RequestError, match="outside the ticket's workdir"):
        await client.create_terminal("s", "pwd", cwd=str(beside / "up"))
    with pytest.raises(RequestError, match="outside the ticket's workdir"):
        await client.create_terminal("s", "pwd", cwd=str(project.parent))
    streaming.cancel()
    await client.terminals.close()
    (call,) = asked
    assert call.arguments["cwd"] == str(beside), "the person sees where it runs"


async def test_a_link_inside_the_workdir_is_named_to_the_agent_not_followed(project: Path) -> None:
    """Served as the person, outside the agent's box: a link is never followed, even one that stays
    inside (the agent can re-point it between lfg's check and its open); the agent is told its target."""
    (project / "docs").mkdir()
    (project / "site").symlink_to("docs")
    client = client_in(project)
    said = "path 'site/page.md' goes through the symbolic link 'site' (to 'docs')"
    with pytest.raises(RequestError, match=re.escape(said)):
        await client.read_text_file("s", str(project / "site" / "page.md"))
    shown: list[object] = []
    streaming = asyncio.create_task(streamed(client, shown))
    with pytest.raises(RequestError, match=re.escape(said)):
        await client.write_text_file("s", str(project / "site" / "page.md"), "through a link\n")
    streaming.cancel()
    assert list((project / "docs").iterdir()) == []
