"""The keys a run has on the broker, and what an entry of its event stream holds.

```
PREFIX:runs                 sorted set: every run's id, scored by its start (wall clock, seconds)
PREFIX:run:RUN              hash: the run index's entry (who, host, started, updated, ended, states)
                            and the run's description (`run`: its tickets and prices, as /v1/run)
PREFIX:run:RUN:events       stream: one entry per batch of events (`EventEntry`), then `end`
PREFIX:run:RUN:control      stream: commands to the workers running its tickets (cancel, answers)
PREFIX:run:RUN:reply:TOKEN  list: a worker's answer to the command that named TOKEN (a sub-agent's
                            cancel): empty when done, else why not; lapsing soon after
PREFIX:run:RUN:answers      stream: the coordinator's answer to each lead's ask, by its reply
                            token: only the coordinator writes it, the workers read it
PREFIX:run:RUN:asked        hash: each lead's ask the coordinator took (`WORKER/ENTRY`: `taken`
                            and whose, then `done` in the step that answers it), so that an ask is decided
                            once by whichever coordinator reads it (broker/lead_asks.py)
PREFIX:run:RUN:holders      hash: each worker the broker gave a lead's work entry to (`WORKER/ENTRY`:
                            the lead, the entry, and `until` once another held it: the last entry
                            on its asks stream then),
                            as coordinators saw it: only they write it, so unlike `ran` it is
                            proof that a worker ran the lead (broker/lead_asks.py)
PREFIX:run:RUN:ran          hash: the worker that took each attempt (`ran_field`), so a coding
                            agent's follow-up goes back to the one that has the agent's session
PREFIX:run:RUN:ended        hash: how each attempt a worker ran to its end ended (`AttemptEnd`,
                            by `ended_field`), written before its work entry is acknowledged, and
                            again by that worker when the broker forgot it (broker/recent_ends.py)
PREFIX:run:RUN:held:FIELD   string: the worker still running the attempt `FIELD` (`ended_field`)
                            after the broker lost its work entry, lapsing a lease after its last
                            renewal: until then the coordinator does not enqueue it again
PREFIX:run:RUN:coordinator  string: who coordinates the run (machine, pid), lapsing a lease after
                            its last renewal (`broker/coordinator_lease.py`)
PREFIX:run:RUN:generation   string: how many times the run's coordinator lease was taken, the fence
                            every coordinator write checks (`broker/fence.py`)
PREFIX:run:RUN:checked      string: the broker's server (`INFO server` run_id) the run's coordinator
                            last wrote back what it knows to (`broker/restored.py`): workers
                            start nothing while it is another server's
PREFIX:run:RUN:work         hash: each ticket's latest work entry, its stream and data, written
                            with the entry (`broker/work_index.py`): what `lfg resume --broker`
                            reads once the entry was deleted from its stream
PREFIX:work:PROVIDER        stream: attempts to run, one per entry (`broker/work.py`), read by the
                            consumer group `workers` of those workers that have PROVIDER; an
                            entry is deleted once its end is recorded and it is acknowledged, and
                            entries older than `max_age_s` are trimmed
PREFIX:workers              sorted set: the workers' names, scored by when their presence lapses
PREFIX:worker:NAME          hash: a worker's presence (its host, the providers it serves and those
                            it does not, with why), expiring unless the worker renews it
PREFIX:worker:NAME:work     stream: attempts for worker NAME alone (a coding agent's follow-up),
                            read by NAME in the consumer group `workers` as it reads the others;
                            an entry NAME left there when it went is taken back by the run's
                            coordinator (`broker/gone.py`)
PREFIX:worker:NAME:asks:RUN stream: what a lead ticket's agent asks of run RUN from worker NAME,
                            which runs it (`AskEntry`, broker/lead_asks.py): only NAME's ACL user
                            writes it, so the stream says which worker asks
```

Every key starts with `PREFIX:`, so one ACL key pattern (`~lfg:*`) gives a team its runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

ENTRY_EVENTS = "events"
"""An entry of `data` = `{"now": …, "events": [...]}`: the SSE message's JSON (remote/hub.py)."""
ENTRY_GAP = "gap"
"""An entry saying what the publisher dropped while the broker was away or slow: `{"now", "lost":
[{"ticket", "attempt", "first_seq", "last_seq", "events"}]}`."""
GROUP = "workers"
"""The consumer group every work stream is read by: each entry goes to one worker."""
ENTRY_END = "end"
"""The run is over: `{"now": …}`; nothing follows."""
ENTRY_TICKET = "ticket"
"""A ticket the run took on as it ran (an add-ticket, a fork, a synthesis), before its first event:
`{"now": …, "ticket": {…}}`, the ticket as the run's description has it (remote/description.py
`ticket_json`). Watchers follow its events from then on (watch.py)."""
ENTRY_NOTICE = "notice"
"""A `Status` the run's coordinator said of an attempt its worker publishes (the broker went back in
time, a second work entry refused): `{"now": …, "event": {…}}`, the event as an `events` entry has
it. Watchers show it in the ticket's pane apart from the attempt's own events, whose numbers it
leaves alone (watch.py)."""


@dataclass(frozen=True)
class Layout:
    """The key names under one prefix."""

    prefix: str = "lfg"

    @property
    def runs(self) -> str:
        return f"{self.prefix}:runs"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def events(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:events"

    def control(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:control"

    def reply(self, run_id: str, token: str) -> str:
        """Where a worker answers the command that named `token` (`Command.reply`)."""
        return f"{self.prefix}:run:{run_id}:reply:{token}"

    def asks(self, worker: str, run_id: str) -> str:
        """Where worker `worker` puts what a lead ticket of the run it runs asks (broker/lead_asks.py):
        a key of its own, which the ACLs let only its user write (docs/fleet.md)."""
        return f"{self.prefix}:worker:{worker}:asks:{run_id}"

    def answers(self, run_id: str) -> str:
        """Where the run's coordinator answers those asks, each by the ask's reply token."""
        return f"{self.prefix}:run:{run_id}:answers"

    def asked(self, run_id: str) -> str:
        """Which of those asks a coordinator of the run took, and which it answered."""
        return f"{self.prefix}:run:{run_id}:asked"

    def holders(self, run_id: str) -> str:
        """Which workers the broker gave each lead's work entry to, as coordinators saw it."""
        return f"{self.prefix}:run:{run_id}:holders"

    def ran(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:ran"

    def ended(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:ended"

    def held(self, run_id: str, field: str) -> str:
        """Whether a worker still runs an attempt (by its `ended` field) whose entry the broker lost."""
        return f"{self.prefix}:run:{run_id}:held:{field}"

    def coordinator(self, run_id: str) -> str:
        """The run's coordinator lease (broker/coordinator_lease.py)."""
        return f"{self.prefix}:run:{run_id}:coordinator"

    def generation(self, run_id: str) -> str:
        """The generation of the run's coordinator lease: the fence (broker/fence.py)."""
        return f"{self.prefix}:run:{run_id}:generation"

    def checked(self, run_id: str) -> str:
        """The server the run's coordinator last checked the broker's state against (broker/restored.py)."""
        return f"{self.prefix}:run:{run_id}:checked"

    def work_index(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}:work"

    def work(self, provider: str) -> str:
        return f"{self.prefix}:work:{provider}"

    def worker(self, name: str) -> str:
        return f"{self.prefix}:worker:{name}"

    def assigned(self, name: str) -> str:
        """The work stream of worker `name` alone."""
        return f"{self.prefix}:worker:{name}:work"

    def owner(self, stream: str) -> str | None:
        """The worker whose own stream `stream` is (`assigned`), or None: a provider's work stream."""
        head, tail = f"{self.prefix}:worker:", ":work"
        name = stream.removeprefix(head).removesuffix(tail)
        return name if len(name) + len(head) + len(tail) == len(stream) and worker_name(name) else None

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"


_WORKER_NAME = re.compile(r"[^:*?\[\]\\]{1,200}")


def worker_name(name: str) -> bool:
    """Whether `name` may be a worker's: its keys (`Layout.worker`, `Layout.asks`) are what its ACL
    user alone may write, so it holds no `:` (worker `w1`'s pattern `lfg:worker:w1:asks:*` would take
    in worker `w1:asks:x`'s keys), nothing a key pattern reads as a wildcard, and nothing a terminal
    acts on (every line naming it is printable as it is)."""
    return _WORKER_NAME.fullmatch(name) is not None and name.isprintable()


def ran_field(ticket_id: str, attempt: int) -> str:
    """An attempt's field in a run's `ran` hash."""
    return f"{ticket_id}#{attempt}"


def dumps(payload: dict[str, Any]) -> bytes:
    """An entry's `data`: compact JSON, no NaN."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


def loads(value: object) -> dict[str, Any]:
    """An entry's `data` read back: a JSON object, or {} for anything else (a writer of the broker
    is trusted by nobody)."""
    try:
        data = json.loads(value) if isinstance(value, bytes | str) else None
    except (ValueError, RecursionError):
        data = None
    return data if isinstance(data, dict) else {}


def field_text(value: object) -> str:
    """A field read back as text (bytes decoded, bad UTF-8 replaced), or "" for none."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""
