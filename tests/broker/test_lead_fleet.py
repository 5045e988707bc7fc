"""A lead ticket (`lead = true`) on a run coordinated on a broker's workers (`lfg run --broker`), as
real processes on a real redis-server: its agent would run on a worker, which cannot serve the run to
it yet, so the run is refused before anything is on the broker, in one line naming the ticket, never
run as a lead without its tools."""

from __future__ import annotations

import pytest
import redis

from tests.support.fleet import Fleet, coordinate, eventually, finish

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
