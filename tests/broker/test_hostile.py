"""Work entries written by someone who may write the broker but is not lfg: escapes and traversal in
the run id, a provider the stream does not carry, numbers out of bounds, a 200 kB note. A real
`lfg worker` refuses each in one inert line and leaves nothing behind (no traceback, no worktree,
no branch), then runs real work as before."""

from __future__ import annotations

import json

import redis

from lfgtui.broker.layout import Layout
from lfgtui.broker.work import WorkItem, relative_to
from lfgtui.config.load import load_config
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.fleet import STEADY, Fleet, agent_provider, coordinate, ends, eventually, finish
from tests.support.git import ESCAPE, git, repository

RUN = "0123456789ab"
TICKET = (
    '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'
    'workdir = "repo"\nisolation = "worktree"\n'
)


def hostile(fleet: Fleet, config_text: str) -> list[tuple[str, dict[str, object]]]:
    """(stream, entry data) of each hostile entry: a valid entry of ticket t, each spoilt one way."""
    config = load_config(fleet.config(config_text, "parse.toml"))
    ticket = load_tickets(fleet.lfg.tickets(TICKET), config, BUILTIN_TOOLS, env={}).tickets[0]
    valid = json.loads(WorkItem(RUN, relative_to(ticket, fleet.lfg.workdir), 1, {}).fields()["data"])

    def spoilt(stream: str = "lfg:work:sim", **changes: object) -> tuple[str, dict[str, object]]:
        data = json.loads(json.dumps(valid))
        for name, value in changes.items():
            if name == "provider":
                data["ticket"]["provider"] = value
            else:
                data[name] = value
        return stream, data

    return [
        spoilt(run=f"../../{ESCAPE}\x1b[2J"),
        spoilt(run="0123:456789ab"),
        spoilt(run=RUN + "\n" + "\x1b[31m"),
        spoilt(provider="agent"),  # a coding agent this worker has, on the sim provider's stream
        spoilt("lfg:work:agent", provider="sim"),
        spoilt(provider=f"nope{ESCAPE}"),
        spoilt(attempt=2**70),
        spoilt(why=ESCAPE + "x" * 200_000),
        spoilt(outputs={f"a{ESCAPE}": "answer"}),
    ]


def test_hostile_work_entries_are_refused_inert_and_leave_nothing_behind(
    fleet: Fleet, admin: redis.Redis
) -> None:
    repo = repository(fleet.lfg.workdir / "repo")
    config_text = STEADY + agent_provider(["/bin/true"])
    entries = hostile(fleet, config_text)
    for stream, data in entries:
        admin.xadd(stream, {"data": json.dumps(data)})
    config = fleet.config(config_text, "worker.toml")
    fleet.start("w1", config=config)
    eventually(lambda: fleet.said("w1").count("dropped entry") == len(entries))
    said = fleet.said("w1")
    assert "\x1b" not in said and "\x07" not in said, "nothing raw reaches the worker's terminal"
    assert "Traceback" not in said and "took t" not in said, said
    refusals = [line for line in said.splitlines() if "dropped entry" in line]
    assert all(len(line) < 400 for line in refusals), "each refusal is one short line"
    assert "is not a run id lfg makes" in said and "came on another provider's work stream" in said
    assert "is not one this worker serves" in said and "attempt is not a number from 1" in said
    eventually(lambda: all(admin.xpending(s, "workers")["pending"] == 0 for s, _ in entries))
    assert git(repo, "branch", "--list") == "* main", "no branch left behind"
    assert len(git(repo, "worktree", "list").splitlines()) == 1, "no worktree left behind"
    code, events, err = finish(coordinate(fleet, fleet.lfg.tickets(TICKET), config=config))
    assert code == 0 and ends(events) == {("t", 1): "completed"}, err


def test_entries_that_are_not_json_or_whose_run_is_not_live_are_refused_saying_why(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """Each refused in a line that says what is wrong with it (issue #55: a non-JSON entry was "not a
    run id lfg makes: None", and a valid entry of a run that does not exist, or has ended, was run
    and paid for)."""
    config = fleet.config(STEADY, "worker.toml")
    plain = '[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "hello"\n'
    ticket = load_tickets(fleet.lfg.tickets(plain), load_config(config), BUILTIN_TOOLS, env={}).tickets[0]
    ended = "0123456789ac"
    layout = Layout()
    admin.hset(layout.run(ended), mapping={"started": 1.0, "ended": 2.0})
    admin.hset(layout.work_index(ended), "t", "{}")  # as its coordinator enqueued t, before the run ended
    for fields in (
        {"data": b"\xff{not json"},
        {"data": b"[1, 2]"},
        {"work": b"{}"},
        WorkItem(RUN, relative_to(ticket, fleet.lfg.workdir), 1, {}).fields(),
        WorkItem(ended, relative_to(ticket, fleet.lfg.workdir), 1, {}).fields(),
    ):
        admin.xadd("lfg:work:sim", fields)
    fleet.start("w1", config=config)
    eventually(lambda: fleet.said("w1").count("dropped entry") == 5)
    refusals = [line.split(": ", 2)[2] for line in fleet.said("w1").splitlines() if "dropped entry" in line]
    assert refusals == [
        "the work entry's data is not JSON",
        "the work entry's data is not a JSON object but list",
        "the work entry has no data field",
        f"no coordinator of run {RUN} enqueued 't' (no such run on the broker, or its keys expired)",
        f"run {ended} has ended: nobody follows its events",
    ], refusals
    assert "took t" not in fleet.said("w1")
    eventually(lambda: admin.xpending("lfg:work:sim", "workers")["pending"] == 0)
