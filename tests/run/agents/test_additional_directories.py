"""Issue 53, item 3: a coding-agent ticket's `additional_directories` (ACP `additionalDirectories`,
stable since 2026-06-01): checked when the file loads, sent on the requests that open the session
to an agent that takes them, refused for one that does not. What lfg serves in them (files,
terminals) is tested in test_files.py."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.broker.work import WorkError, WorkItem, relative_to
from lfgtui.config.load import Config
from lfgtui.config.validation import ValidationError
from lfgtui.events import ErrorKind, Outcome, SessionOpened
from lfgtui.run.agents.own_sessions import OwnSession, as_lines, as_records
from lfgtui.tickets.load import load_tickets
from tests.support import agents as acp_events
from tests.support.agents import FAST, attempt, sim_agent

TOOLS = ("read_file", "write_file", "run_command")


def problems(tmp_path: Path, toml: str) -> list[str]:
    path = tmp_path / "tickets.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_tickets(path, Config(path=None), TOOLS, env={})
    return str(caught.value).splitlines()


def test_the_folders_are_resolved_against_the_tickets_file_and_named_once(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "shared").mkdir()
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[defaults]\nprovider = "sim-acp"\nworkdir = "project"\n'
        '[[ticket]]\nid = "a"\nprompt = "p"\nadditional_directories = ["shared", "./shared/"]\n'
    )
    (ticket,) = load_tickets(path, Config(path=None), TOOLS, env={}).tickets
    assert ticket.additional_directories == ((tmp_path / "shared").resolve(),)


def test_a_folder_that_is_missing_or_a_file_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("")
    found = problems(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim-acp"\n'
        'additional_directories = ["gone", "notes.md"]\n',
    )
    where = f"{tmp_path / 'tickets.toml'}:5: ticket 'a': additional_directories:"
    assert found == [
        f"{where} {str(tmp_path / 'gone')!r} does not exist",
        f"{where} {str(tmp_path / 'notes.md')!r} is not a folder",
    ]


def test_a_folder_in_or_around_the_workdir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "project" / "docs").mkdir(parents=True)
    found = problems(
        tmp_path,
        '[defaults]\nprovider = "sim-acp"\nworkdir = "project"\n'
        '[[ticket]]\nid = "a"\nprompt = "p"\nadditional_directories = ["project/docs"]\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nadditional_directories = ["."]\n',
    )
    assert len(found) == 2 and "lies in the ticket's workdir" in found[0] and "tickets.toml:7:" in found[0]
    assert "holds the ticket's workdir" in found[1] and "tickets.toml:11:" in found[1], found


def test_a_model_apis_ticket_cannot_have_them(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "project").mkdir()
    (found,) = problems(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim"\nworkdir = "project"\n'
        'additional_directories = ["shared"]\n',
    )
    assert (
        "additional_directories are given to a coding agent's session" in found and "tickets.toml:6:" in found
    )


@pytest.fixture
def shared(project: Path) -> Path:
    folder = (project.parent / "shared").resolve()
    folder.mkdir()
    return folder


async def test_they_reach_an_agent_that_takes_them(project: Path, shared: Path) -> None:
    launch = replace(sim_agent(), additional_directories=(shared,))
    events = await attempt(project, f"hello:{FAST}", launch=launch)
    assert acp_events.ending(events).outcome is Outcome.COMPLETED
    assert f"(the sim agent may work in {shared} too)" in acp_events.text(events)


async def test_an_agent_that_does_not_take_them_fails_the_ticket_saying_so(
    project: Path, shared: Path
) -> None:
    launch = replace(sim_agent("--no-additional-directories"), additional_directories=(shared,))
    events = await attempt(project, f"hello:{FAST}", launch=launch)
    ended = acp_events.ending(events)
    assert ended.outcome is Outcome.FAILED and ended.error is not None
    assert ended.error.kind is ErrorKind.BAD_REQUEST
    assert "does not take additional directories (no sessionCapabilities.additionalDirectories)" in (
        ended.error.message
    )
    assert not acp_events.of(events, SessionOpened), "no session without them"


async def test_a_folder_gone_since_the_file_loaded_fails_the_ticket(project: Path, shared: Path) -> None:
    launch = replace(sim_agent(), additional_directories=(shared,))
    await asyncio.to_thread(shared.rmdir)
    events = await attempt(project, f"hello:{FAST}", launch=launch)
    ended = acp_events.ending(events)
    assert ended.outcome is Outcome.FAILED and ended.error is not None
    assert f"additional_directories: {str(shared)!r} is no longer a folder" in ended.error.message


def test_a_fleet_worker_places_them_under_its_root_and_refuses_one_outside(tmp_path: Path) -> None:
    """On a broker they travel relative to the tickets file, as the workdir does; a worker finds each
    under its `--root` or refuses the entry (anyone who may write the broker could name `/`)."""
    here, root = tmp_path / "here", tmp_path / "worker"
    for folder in (here / "web", here / "schemas", root / "web", root / "schemas"):
        folder.mkdir(parents=True)
    path = here / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "a"\nprompt = "p"\nprovider = "sim-acp"\nworkdir = "web"\n'
        'additional_directories = ["schemas"]\n'
    )
    (ticket,) = load_tickets(path, Config(path=None), TOOLS, env={}).tickets
    item = WorkItem("0123456789ab", relative_to(ticket, here), 1, {})
    assert item.ticket.additional_directories == (Path("schemas"),)
    placed = item.placed(root)
    assert (placed.workdir, placed.additional_directories) == (
        (root / "web").resolve(),
        ((root / "schemas").resolve(),),
    )
    for hostile in (Path("/etc"), Path("../here/schemas")):
        spoilt = replace(item, ticket=replace(item.ticket, additional_directories=(hostile,)))
        with pytest.raises(
            WorkError, match=f"additional directory '{hostile}' is outside this worker's --root"
        ):
            spoilt.placed(root)


def test_lfg_agents_sessions_shows_the_folders_an_agent_reports_for_a_session() -> None:
    """ACP `SessionInfo.additionalDirectories`: a ticket continuing the session names them again."""
    beside = OwnSession("sess-1", "/home/me/web", "Fix the client", None, ("/home/me/schemas",))
    alone = OwnSession("sess-2", "/home/me/web", "Alone", None)
    lines = as_lines("claude-code", [beside, alone], Path("/home/me/web"), everywhere=False)
    assert lines[1:4] == [
        "  sess-1  -  Fix the client",
        "    additional_directories: /home/me/schemas",
        "  sess-2  -  Alone",
    ]
    assert as_records([beside])[0]["additional_directories"] == ("/home/me/schemas",)
