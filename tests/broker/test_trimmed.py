"""What a coordinated run does when the broker trimmed its event stream before the coordinator read it
(`[broker] max_len`), and when a worker stops in the moment between an attempt's end and its
acknowledgement: real `lfg worker` and `lfg run --broker` processes on a real redis-server."""

from __future__ import annotations

import json
import re
import signal
import sys

import redis

from lfgtui.broker.work import AttemptEnd
from lfgtui.events import ErrorInfo, ErrorKind, Outcome
from tests.support import warm_lfg
from tests.support.fleet import (
    STEADY,
    Fleet,
    coordinate,
    ends,
    eventually,
    finish,
    queued,
    same_tickets,
    stopped,
)
from tests.support.lfg import of
from tests.support.patience import PATIENCE

TRIMMED = STEADY + "max_len = 10\n"
NAMES = [f"t{n:02}" for n in range(8)]
"""All on the broker before w1 is there, which then runs them all at once: t00, the shortest (about a
second of answer, the others six), ends first, and the others stream on through the same publisher of
the run on w1 while the broker trims t00's events away. (A worker's publisher of a run closes once
its attempts there all ended, and the next one numbers its entries from 1 again.)"""


def end_recorded(admin: redis.Redis, ticket: str) -> bool:
    """Whether a worker recorded in the run's `ended` hash how an attempt of `ticket` ended: its
    last events are on the broker by then."""
    return any(
        f.startswith(f"{ticket}@".encode()) for key in admin.keys("lfg:run:*:ended") for f in admin.hkeys(key)
    )


def trimmed_away(admin: redis.Redis, events: str, ticket: str) -> bool:
    """Whether the broker trimmed from `events` every event of `ticket` (whose end is recorded: nothing
    more of it comes), and the first entry left is past its publisher's second: a coordinator that
    read at most that publisher's first (see the test) and reads on from there finds its numbers
    jump, as they do when entries were trimmed."""
    left = admin.xrange(events)
    tickets = {e.get("ticket") for _, fields in left for e in json.loads(fields[b"data"]).get("events", ())}
    return ticket not in tickets and int(left[0][1][b"n"].decode().partition(".")[2]) > 2


def test_a_coordinator_that_fell_behind_a_trimmed_stream_still_learns_how_each_attempt_ended(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """The coordinator is stopped (SIGSTOP: it reads nothing more) once every ticket waits on the
    broker, before any worker is there to take one; then w1 runs t00 to its end and the broker trims
    every event of it before the coordinator reads on. Stopped once it had printed t00's first text
    instead, it raced w1 on a loaded machine: it could have read past t00's end before the signal
    landed, and with w1 running four tickets at a time, what was left after the trim could be a new
    publisher's entries from its first, in which it found nothing trimmed."""
    names = NAMES
    models = {n: f"long-answer:tokens_per_s=100,repeat={1 if n == 't00' else 6}" for n in names}
    tickets = fleet.lfg.tickets(
        "".join(
            f'[[ticket]]\nid = "{n}"\nprompt = "go"\nprovider = "sim"\nmodel = "{models[n]}"\n' for n in names
        )
        + '[[ticket]]\nid = "after"\nprompt = "Sum up: {{t00}}"\nprovider = "sim"\nmodel = "hello"\n'
        'depends_on = ["t00"]\n'
    )
    config = fleet.config(TRIMMED, "trimmed.toml")
    coordinator = coordinate(fleet, tickets, "--max-concurrency", str(len(names)), config=config)
    seen = queued(coordinator, len(names))  # no worker yet: none of them can have started
    coordinator.send_signal(signal.SIGSTOP)
    eventually(lambda: stopped(coordinator.pid))
    # Its read waiting on the broker is answered while it is stopped, with what w1 publishes first at
    # most: of t00, no more than its beginning.
    fleet.start("w1", "--max-concurrency", str(len(names)), config=config)  # t00 ends, the others stream on
    eventually(lambda: end_recorded(admin, "t00"))
    (events_key,) = admin.keys("lfg:run:*:events")
    eventually(lambda: trimmed_away(admin, events_key, "t00"))
    coordinator.send_signal(signal.SIGCONT)
    code, events, err = finish(coordinator)  # before the fix: never ended
    events = seen + events
    assert "were trimmed from the broker before they were read" in err, err
    ended = ends(events)
    assert {ended[(n, 1)] for n in names} == {"completed"}, "each ended as its worker recorded it"
    said = " ".join(e["message"] for e in of(events, "t00", "status"))
    assert re.search(
        r"\d+ events of this attempt's \d+ were trimmed from the broker before this coordinator read them "
        r"\(\[broker\] max_len\); its worker recorded that it ended completed after \d+ input and \d+ output "
        r"tokens, costing \$0: its answer here lacks what was trimmed, so the tickets that depend on it fail",
        said,
    ), said
    (after,) = of(events, "after", "attempt_ended")
    assert after["outcome"] == "failed" and after["error"]["message"].startswith(
        "the answer of t00 is not whole here (the broker trimmed some of its events"
    )
    assert code == 1, "a ticket failed"
    run_id = err.split("recorded as run ")[1].split()[0]
    exported = warm_lfg.run(
        [sys.executable, "-m", "lfgtui", "history", "export", run_id, "--format", "json", "--config", config],
        env=fleet.lfg.env,
        timeout=60 * PATIENCE,
    )
    assert exported.returncode == 0, exported.stderr
    recorded = {t["ticket"]: t for t in json.loads(exported.stdout)["run"]["tickets"]}
    assert [a["outcome"] for a in recorded["t00"]["attempts"]] == ["completed"]


def test_a_recorded_end_reads_back_and_anything_else_on_the_broker_reads_as_none() -> None:
    end = AttemptEnd("t", 2, Outcome.FAILED, ErrorInfo(ErrorKind.TIMEOUT, "no data"), 12, 30, 40, 0.5, True)
    assert AttemptEnd.read(end.value()) == end
    assert AttemptEnd.read(AttemptEnd("t", 1, Outcome.COMPLETED, None, 3).value()) == AttemptEnd(
        "t", 1, Outcome.COMPLETED, None, 3
    )
    data = json.loads(end.value())
    wrong = [{"outcome": "won"}, {"error": {"kind": "no"}}, {"attempt": "2"}, {"events": 1.5}]
    for broken in wrong:
        assert AttemptEnd.read(json.dumps(data | broken).encode()) is None, broken
    assert AttemptEnd.read(b"[1]") is None and AttemptEnd.read(None) is None


def test_a_coordinator_stopped_while_a_closed_publishers_entries_were_trimmed_says_how_many(
    fleet: Fleet, admin: redis.Redis
) -> None:
    """The coordinator is stopped once both tickets wait on the broker; then w1 runs them one after
    the other, so through two publishers of the run (the first closes with t00's end, the next
    numbers its entries from 1 again), and the broker trims every entry of the first while the
    second streams. The coordinator read at most the first publisher's first entry, and no
    publisher's numbers jump past what it read but the second's (before the fix it said only those):
    it says every entry it never read, from the stream's own count."""
    admin.config_set("stream-node-max-entries", 4)  # `MAXLEN ~ 10` then keeps 10 to 14 entries
    names = ["t00", "t01"]
    tickets = fleet.lfg.tickets(  # t01's many entries trim every one of t00's
        same_tickets(names[:1], "long-answer:tokens_per_s=100,repeat=1")
        + same_tickets(names[1:], "long-answer:tokens_per_s=100,repeat=4")
    )
    config = fleet.config(TRIMMED, "trimmed.toml")
    coordinator = coordinate(fleet, tickets, config=config)
    seen = queued(coordinator, len(names))
    coordinator.send_signal(signal.SIGSTOP)
    eventually(lambda: stopped(coordinator.pid))
    keys = admin.keys("lfg:run:*:events")
    before = admin.xlen(keys[0]) if keys else 0  # what it may have read before it stopped
    fleet.start("w1", "--max-concurrency", "1", config=config)
    eventually(lambda: end_recorded(admin, "t00") and end_recorded(admin, "t01"))
    (events_key,) = admin.keys("lfg:run:*:events")
    publishers = {fields[b"n"].partition(b".")[0] for _, fields in admin.xrange(events_key)}
    assert len(publishers) == 1, "only the second publisher's entries are left"
    info = admin.xinfo_stream(events_key)
    trimmed = info["entries-added"] - info["length"]
    coordinator.send_signal(signal.SIGCONT)
    code, events, err = finish(coordinator)
    said = sum(int(n) for n in re.findall(r"(\d+) of the run's entries were trimmed from the broker", err))
    assert trimmed - before - 1 <= said <= trimmed, (trimmed, before, err)  # all but what it read
    assert ends(seen + events) == {("t00", 1): "completed", ("t01", 1): "completed"}
    assert code == 0, err
