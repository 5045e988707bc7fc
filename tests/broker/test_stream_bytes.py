"""A run's event stream on a real redis-server is bounded in bytes: each entry holds at most
`ENTRY_BYTES` of events (a batch larger than that is split), and the stream keeps at most
`max_bytes / ENTRY_BYTES` entries."""

from __future__ import annotations

import json
import subprocess

import redis

from lfgtui.broker.publisher import ENTRY_BYTES
from tests.support.fleet import Fleet
from tests.support.lfg import recorded_run
from tests.support.patience import PATIENCE


def published(fleet: Fleet, model: str, config: str) -> str:
    """`lfg run --publish` of one ticket of `model` to its end; the run's id."""
    tickets = fleet.lfg.tickets(f'[[ticket]]\nid = "t"\nprompt = "go"\nprovider = "sim"\nmodel = "{model}"\n')
    args = fleet.lfg.args(tickets, "--json", "--publish", fleet.url)
    args[args.index("--config") + 1] = str(fleet.config(config))
    done = subprocess.run(args, env=fleet.lfg.env, capture_output=True, text=True, timeout=60 * PATIENCE)
    assert done.returncode == 0, done.stderr
    return recorded_run(done.stderr)


def test_a_batch_larger_than_an_entry_holds_is_split(fleet: Fleet, admin: redis.Redis) -> None:
    run_id = published(fleet, "long-answer:tokens_per_s=100,chunk_chars=6000,repeat=40", "")
    entries = [
        fields for _, fields in admin.xrange(f"lfg:run:{run_id}:events") if fields[b"kind"] == b"events"
    ]
    sizes = [(len(fields[b"data"]), len(json.loads(fields[b"data"])["events"])) for fields in entries]
    assert any(events > 1 for _, events in sizes), sizes
    assert all(size <= ENTRY_BYTES or events == 1 for size, events in sizes), sizes
    assert max(size for size, _ in sizes) > ENTRY_BYTES / 4, "the batches were large enough to split"


def test_a_run_stream_keeps_no_more_entries_than_max_bytes_allows(fleet: Fleet, admin: redis.Redis) -> None:
    admin.config_set("stream-node-max-entries", 1)  # so that approximate trimming is exact
    run_id = published(
        fleet, "long-answer:tokens_per_s=40,chunk_chars=40", f"[broker]\nmax_bytes = {5 * ENTRY_BYTES}\n"
    )
    assert admin.xlen(f"lfg:run:{run_id}:events") <= 5
