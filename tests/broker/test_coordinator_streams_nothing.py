"""A coordinator (`lfg run --broker`) streams nothing itself: its workers do. So it makes no
provider ready: it imports no SDK and starts no sim (issue #77: a second of CPU per coordinator).
Real `lfg worker` and `lfg run --broker` processes on a real redis-server."""

from __future__ import annotations

import json

from tests.support.fleet import STEADY, Fleet, ends, same_tickets
from tests.support.lfg import imported_by


def test_a_coordinator_makes_no_provider_ready_while_its_worker_streams_the_ticket(fleet: Fleet) -> None:
    fleet.start("w1")
    args = fleet.lfg.args(fleet.lfg.tickets(same_tickets(["t"], "hello")), "--json", "--broker", fleet.url)
    args[args.index("--config") + 1] = str(fleet.config(STEADY))
    done, imported = imported_by(*args[3:], env=fleet.lfg.env)  # after `python -m lfgtui`
    assert done.returncode == 0, done.stderr
    assert ends([json.loads(line) for line in done.stdout.splitlines()]) == {("t", 1): "completed"}
    assert not {"lfgtui.providers.openai_chat", "lfgtui.sim.server"} & imported, imported
