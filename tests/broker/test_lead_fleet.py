"""A lead ticket (`lead = true`) on a run coordinated on a broker's workers (`lfg run --broker`), as
real processes on a real redis-server: its agent would run on a worker, which cannot serve the run to
it yet, so the run is refused before anything is on the broker, in one line naming the ticket, never
run as a lead without its tools; and `lfg resume --broker` refuses a run an older lfg coordinated with
a lead in the same words."""

from __future__ import annotations

import pytest
import redis

from lfgtui.config.load import Config
from lfgtui.history.writer import open_run_history
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from tests.support.fleet import Fleet, coordinate, eventually, finish
from tests.support.lfg import command

LEAD = """
[defaults]
provider = "sim"

[[ticket]]
id = "boss"
prompt = "Plan."
provider = "sim-acp"
model = "hello"
lead = true
"""


@pytest.mark.timeout(120)
def test_a_lead_on_a_coordinated_run_is_refused_before_anything_reaches_the_broker(
    fleet: Fleet, admin: redis.Redis
) -> None:
    fleet.start("w1")  # a worker that would take it: without the refusal, the lead runs (and fails) there
    eventually(lambda: fleet.ready("w1"))
    code, events, stderr = finish(coordinate(fleet, fleet.lfg.tickets(LEAD)))
    assert code == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "ticket 'boss': lead = true needs its run served to its agent on this machine" in lines[0]
    assert "run it without --broker" in lines[0]
    assert events == []
    assert not [key for key in admin.scan_iter("*work:*") if admin.xlen(key)], "nothing was enqueued"
    assert "boss" not in fleet.said("w1")


@pytest.mark.timeout(120)
async def test_a_coordinated_run_recorded_with_a_lead_is_not_picked_up_on_the_broker(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """A run an older lfg coordinated with a lead: `lfg resume --broker` refuses it in the same line,
    before it takes the run's coordinator lease or enqueues anything."""
    path = fleet.lfg.tickets(LEAD)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    db = fleet.lfg.home / "history.sqlite3"
    line = f"lfg run {path} --json --broker {fleet.url}"
    async with open_run_history(db, loaded, line, lambda message: None) as history:
        assert history is not None
        run_id = history.run_id
    done = command(fleet.lfg, "resume", run_id, "--broker", fleet.url, "--headless", "--db", str(db))
    assert done.returncode == 2, done.stderr
    assert "ticket 'boss': lead = true needs its run served to its agent on this machine" in done.stderr
    assert not list(admin.scan_iter("*")), "nothing on the broker"
