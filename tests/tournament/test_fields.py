"""A tournament's ticket fields: `attempts`, `agents` and `check` fan a ticket out into contestants."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfgtui.config.load import Config, load_config
from lfgtui.config.validation import ValidationError
from lfgtui.tickets.fanout import MAX_ATTEMPTS
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import TicketFile
from tests.support.lfg import Lfg, command

TOOLS = ("write_file", "run_command")


def load(tmp_path: Path, text: str, config: Config | None = None) -> TicketFile:
    path = tmp_path / "tickets.toml"
    path.write_text(text)
    return load_tickets(path, config or Config(path=None), TOOLS, env={})


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        load(tmp_path, text)
    return [line.split(": ", 1)[1] for line in str(caught.value).splitlines()]


def test_attempts_repeat_a_ticket_and_each_model_of_a_fan_out(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        '[defaults]\nisolation = "worktree"\n'
        '[[ticket]]\nid = "fix"\nprompt = "p"\nprovider = "sim"\nmodel = "hello"\nattempts = 3\n'
        'check = "make test"\ncheck_timeout_s = 30\n'
        '[[ticket]]\nid = "two"\nprompt = "p"\nmodels = ["sim/hello", "sim/slow"]\nattempts = 2\n'
        '[[ticket]]\nid = "one"\nprompt = "p"\nprovider = "sim"\nattempts = 1\n',
    )
    tickets = {ticket.id: ticket for ticket in loaded.tickets}
    assert list(tickets) == [
        "fix@1",
        "fix@2",
        "fix@3",
        "two@hello-1",
        "two@hello-2",
        "two@slow-1",
        "two@slow-2",
        "one",
    ]
    assert {tickets[f"fix@{n}"].group for n in (1, 2, 3)} == {"fix"}
    assert tickets["fix@2"].check == "make test" and tickets["fix@2"].check_timeout_s == 30
    assert (tickets["fix@3"].provider, tickets["fix@3"].model) == ("sim", "hello")
    assert tickets["two@slow-2"].group == "two" and tickets["one"].group is None
    assert tickets["one"].check is None


def test_agents_fan_out_over_coding_agents_with_their_own_models(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[providers.other]\nkind = "acp"\ncommand = ["true"]\ndefault_model = "big"\n')
    loaded = load(
        tmp_path,
        '[[ticket]]\nid = "fix"\nprompt = "p"\nagents = ["sim-acp", "other"]\n'
        'isolation = "worktree"\ncheck = "true"\n',
        load_config(config),
    )
    assert [(t.id, t.provider, t.group) for t in loaded.tickets] == [
        ("fix@sim-acp", "sim-acp", "fix"),
        ("fix@other", "other", "fix"),
    ]
    assert loaded.tickets[1].model == "big"


def test_tournament_mistakes_are_named(tmp_path: Path) -> None:
    said = problems(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "p"\nagents = ["sim", "nope"]\n'
        '[[ticket]]\nid = "b"\nprompt = "p"\nagents = ["sim-acp"]\nmodels = ["sim/hello"]\n'
        '[[ticket]]\nid = "c"\nprompt = "p"\nprovider = "sim"\ncheck = "true"\n'
        '[[ticket]]\nid = "d"\nprompt = "p"\nprovider = "sim"\nattempts = 0\n',
    )
    assert said[0] == "ticket 'a': agents: provider 'sim' is not a coding agent (kind 'sim')"
    assert said[1].startswith("ticket 'a': agents: unknown provider 'nope'")
    assert said[2] == "ticket 'b': models and agents cannot both be set: one list names the panes"
    assert said[3] == "ticket 'c': check runs in each contestant's worktree: set isolation = \"worktree\""
    assert (
        said[4]
        == "ticket 'c': check ranks the contestants of a ticket that fans out: set attempts, models or agents"
    )
    assert said[5].startswith("ticket 'd': attempts must be an integer from 1 to 100, got the integer 0")
    assert len(said) == 6


def test_attempts_past_the_maximum_and_a_blank_check_are_refused_naming_file_line_and_field(
    tmp_path: Path,
) -> None:
    """`attempts = 1000000` made a million tickets, silently; `check = ""` passed every contestant."""
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets(
        '[defaults]\nisolation = "worktree"\n'
        '[[ticket]]\nid = "many"\nprompt = "p"\nprovider = "sim"\nattempts = 1000000\ncheck = "make test"\n'
        '[[ticket]]\nid = "blank"\nprompt = "p"\nprovider = "sim"\nattempts = 2\ncheck = " "\n'
    )
    done = command(lfg, "run", str(tickets), "--headless", "--config", str(lfg.config))
    assert done.returncode == 2, done.stderr
    assert (
        f"{tickets}:7: ticket 'many': attempts must be an integer from 1 to {MAX_ATTEMPTS}, "
        "got the integer 1000000"
    ) in done.stderr
    assert (
        f"{tickets}:14: ticket 'blank': check must be a shell command (not blank: an empty one would pass "
        "every contestant), got the string ' '"
    ) in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    most = load(tmp_path, f'[[ticket]]\nid = "t"\nprompt = "p"\nprovider = "sim"\nattempts = {MAX_ATTEMPTS}')
    assert most.tickets[-1].id == f"t@{MAX_ATTEMPTS}", "the maximum itself is taken"
