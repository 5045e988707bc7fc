"""One `[[ticket]]` table added to a running run (tickets/load.py `load_added`, the add-ticket
request's check) is checked by the same loader as the run's tickets file, under its [defaults] and
against the run's tickets; what only the person sets is never loosened."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.tickets.load import NOT_ADDED, NotAdded, load_added, load_tickets
from lfgtui.tickets.ticket import Ticket, TicketFile
from lfgtui.tools import BUILTIN_TOOLS

FILE = """
[defaults]
provider = "sim"
sandbox = "bwrap"
auto_approve = ["read_file"]

[[ticket]]
id = "a"
prompt = "x"
model = "hello"

[[ticket]]
id = "fan"
prompt = "y"
models = ["sim/hello", "sim/echo"]
"""
CONFIG = Config(path=None, providers=dict(BUILTIN))


@pytest.fixture
def loaded(tmp_path: Path) -> TicketFile:
    path = tmp_path / "tickets.toml"
    path.write_text(FILE)
    return load_tickets(path, CONFIG, BUILTIN_TOOLS, env={})


def added(table: object, loaded: TicketFile, *more: Ticket) -> Ticket:
    taken = {ticket.id: ticket for ticket in (*loaded.tickets, *more)}
    return load_added(table, loaded, taken, CONFIG, BUILTIN_TOOLS, env={})


def test_it_takes_the_files_defaults_and_its_depends_on_may_name_the_runs_tickets(loaded: TicketFile) -> None:
    ticket = added({"prompt": "{{ outputs.a }}", "depends_on": ["a", "fan"]}, loaded)
    assert ticket.id == "added-1" and ticket.provider == "sim" and ticket.sandbox == "bwrap"
    assert ticket.auto_approve == frozenset({"read_file"}), "the person's approvals, as the file's"
    assert ticket.depends_on == ("a", "fan@hello", "fan@echo"), "a fanned-out id stands for each"
    assert ticket.workdir == loaded.path.parent.resolve()
    again = added({"prompt": "z"}, loaded, ticket)
    assert again.id == "added-2", "the first name the run does not have"


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ({"id": "fan", "prompt": "x"}, "ticket 'fan': duplicate id (the run has it already)"),
        ({"id": "fan@hello", "prompt": "x"}, "may use only letters"),
        ({"prompt": "x", "auto_approve": True}, "ticket 'added-1': auto_approve is the person's"),
        ({"prompt": "x", "workdir": "/"}, "ticket 'added-1': workdir is the person's"),
        ({"prompt": "x", "attempts": 2}, "attempts fans out into several tickets"),
        ({"prompt": "{{ outputs.a }}"}, "the prompt uses {{ outputs.a }} but 'a' is not in depends_on"),
        ({"prompt": "{{ outputs.fan }}", "depends_on": ["fan"]}, "names a ticket that runs several models"),
        ({"prompt": "x", "provider": "nobody"}, "unknown provider 'nobody'"),
        ("x", "the ticket is a table of a [[ticket]]'s fields"),
    ],
)
def test_what_is_wrong_is_said_naming_its_field(loaded: TicketFile, table: object, said: str) -> None:
    with pytest.raises(NotAdded, match=None) as refused:
        added(table, loaded)
    assert said in str(refused.value)


def test_a_box_field_set_to_the_runs_own_default_is_no_loosening(loaded: TicketFile) -> None:
    assert (
        added({"prompt": "x", "sandbox": "bwrap", "auto_approve": ["read_file"]}, loaded).sandbox == "bwrap"
    )
    assert {"sandbox", "auto_approve", "mode", "workdir", "setup", "env_passthrough"} <= NOT_ADDED.keys()
