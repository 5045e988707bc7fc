"""A lead's ask as the broker carries it (broker/lead_asks.py), read as strictly as every entry any
writer of the broker may have written: what is not an ask a lead's door makes is refused in words,
and an answer that is not one the coordinator writes is no answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio

from lfgtui.broker.layout import Layout, dumps, worker_name
from lfgtui.broker.lead_asks import AskEntry, answer_of, forward, new_reply, told_of
from lfgtui.broker.work import WorkError
from lfgtui.run.requests import Added, AddTicket, Pending, Refusal, Steer, encode
from tests.support.lfg import Lfg, command
from tests.support.redis_server import RedisServer

ASK = AskEntry(AddTicket({"prompt": "go"}, "k1"), "boss", "1700000000000-0", new_reply())


def data(**changed: object) -> dict[bytes, bytes]:
    body = {"request": {"request": "cancel", "ticket": "t"}, "lead": "boss", "work": "1-0"}
    return {b"data": dumps(body | {"reply": ASK.reply} | changed)}


def test_an_ask_is_read_back_as_it_was_written() -> None:
    fields = {key.encode(): value for key, value in ASK.fields().items()}
    assert AskEntry.read(fields) == ASK
    steer = AskEntry(Steer("t", "faster"), "boss", "1-0", new_reply())
    assert AskEntry.read({k.encode(): v for k, v in steer.fields().items()}) == steer


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({}, "its data is missing"),
        ({b"data": b"[1, 2]"}, "it does not name a lead"),
        ({b"data": b"\xff not json"}, "it does not name a lead"),
        ({b"data": b"x" * 300_000}, "its data is missing or over 248,192 bytes"),
        (data(lead=""), "it does not name a lead"),
        (data(lead="b" * 2001), "it does not name a lead"),
        (data(work=7), "it does not name a lead"),
        (data(reply="../../x"), "its reply token is not one lfg makes"),
        (data(reply=None), "its reply token is not one lfg makes"),
        (data(request={"request": "land", "ticket": "t"}), "not a request (request: expected one of"),
        (data(request={"request": "cancel"}), "not a request"),
    ],
    ids=[
        "no data",
        "a list",
        "not json",
        "too large",
        "no lead",
        "a long lead",
        "a work entry that is no name",
        "a token with a path",
        "no token",
        "an unknown request",
        "a cancel of nothing",
    ],
)
def test_what_is_not_an_ask_is_refused_in_words(fields: dict[bytes, bytes], said: str) -> None:
    with pytest.raises(WorkError, match="^" + said.replace("(", r"\(")):
        AskEntry.read(fields)


def test_an_answer_reads_back_and_anything_else_is_no_answer() -> None:
    for told in (None, Refusal("no"), Pending("later"), Added("added-1", "lead boss"), Added("a", None)):
        assert told_of(answer_of(told)) == told
    assert told_of(dumps({"added": "a", "by": "b", "more": 1})) == Refusal(
        "the run's coordinator answered something that is not an answer: "
        + repr(dumps({"added": "a", "by": "b", "more": 1}))
    )
    assert isinstance(told_of(b"\x1b[2J"), Refusal), "not JSON: refused, never taken for done"
    assert isinstance(told_of(dumps({"refused": 3})), Refusal)


def test_what_a_lost_ask_asked_is_quoted_inert_and_whole_enough_to_read() -> None:
    """A lost ask is said with its text (broker/lead_asks.py): a hostile lead's text (ANSI, bidi, a lone
    surrogate, which JSON carries) is quoted with every character past ASCII escaped, and cut."""
    hostile = AskEntry(Steer("t", "\x1b[2J\u202eevil\ud800"), "boss", "1-0", new_reply())
    quoted = hostile.what()
    assert quoted.isascii() and quoted.isprintable(), quoted
    assert "\\u001b[2J\\u202eevil\\ud800" in quoted, quoted
    assert json.loads(quoted) == encode(hostile.request), "the text, lossless"
    long = AskEntry(Steer("t", "x" * 5_000), "boss", "1-0", new_reply()).what()
    assert len(long) == 301 and long.endswith("…")


async def test_an_ask_no_coordinator_answers_waits_on_the_workers_own_stream_and_says_so(
    redis_server: RedisServer,
) -> None:
    """No coordinator reads (paused, restarting): the worker's wait ends telling the lead its ask waits
    on the broker, to be decided once by the next coordinator (`Pending`, in words), never that it may
    or may not have been done; the ask stays on this worker's own stream for that coordinator."""
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        told = await forward(client, Layout(), "w1", "0123456789ab", ASK, 3600, within_s=0.2)
        [(_, fields)] = await client.xrange(Layout().asks("w1", "0123456789ab"))
    finally:
        await client.aclose()
    assert isinstance(told, Pending), told
    assert told.said.startswith(
        "the run's coordinator has not answered in 0.2 s (paused, restarting, or cut off"
    )
    assert (
        "the add-ticket waits on the broker, and the coordinator that runs the run next decides it once"
        in (told.said)
    )
    assert AskEntry.read(fields) == ASK


@pytest.mark.parametrize("name", ["w1:asks:x", "w*", "w\x1b[2J", "w\u202e1", "w\udcff"], ids=repr)
def test_a_worker_whose_name_would_share_or_spoil_keys_is_refused_at_start(name: str, tmp_path: Path) -> None:
    """`lfg worker --name`: a name with `:` (worker `w1:asks:x`'s keys lie under `w1`'s ACL pattern
    `lfg:worker:w1:asks:*`), a key pattern's wildcard, or what a terminal acts on is refused in one
    inert line, exit 2, before the broker is asked (its port here takes nothing)."""
    done = command(Lfg(tmp_path), "worker", "--name", name, "--broker", "redis://127.0.0.1:9")
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("lfg: --name ") and "a worker's name is 1 to 200 printable characters" in line
    assert line.isprintable(), line
    assert worker_name("w1") and worker_name("host-12345") and not worker_name(name)


async def test_an_ask_is_taken_once_its_taker_may_take_it_again_and_a_later_coordinator_fences_both(
    redis_server: RedisServer,
) -> None:
    """The scripts that take and answer a lead's ask (broker/lead_asks.py), on a real redis-server: the
    coordinator that took it takes it again (its first reply lost), another reads it taken, an answer
    marks it done; once a later generation holds the run neither writes (`Superseded`)."""
    from lfgtui.broker.fence import Fence, Superseded
    from lfgtui.broker.lead_asks import ANSWER, TAKE

    layout, run_id = Layout(), "0123456789ab"
    client = redis.asyncio.Redis.from_url(redis_server.url)
    try:
        await client.set(layout.generation(run_id), 2)
        take, answer = client.register_script(TAKE), client.register_script(ANSWER)
        fence, asked = Fence(layout.generation(run_id), 2), [layout.asked(run_id)]
        assert await fence.call(take, asked, ["w1/1-0", 60, "taken a"]) == b"new"
        assert await fence.call(take, asked, ["w1/1-0", 60, "taken a"]) == b"new", "its own, again"
        assert await fence.call(take, asked, ["w1/1-0", 60, "taken b"]) == b"taken a"
        keys = [layout.asked(run_id), layout.answers(run_id)]
        await fence.call(answer, keys, ["w1/1-0", 60, 100, ASK.reply, answer_of(None)])
        assert await fence.call(take, asked, ["w1/1-0", 60, "taken b"]) == b"done"
        await client.incr(layout.generation(run_id))
        with pytest.raises(Superseded, match="generation 3 coordinates the run, not 2"):
            await fence.call(take, asked, ["w1/2-0", 60, "taken a"])
        with pytest.raises(Superseded):
            await fence.call(answer, keys, ["w1/2-0", 60, 100, ASK.reply, answer_of(None)])
        assert await client.hget(layout.asked(run_id), "w1/2-0") is None
        assert await client.xlen(layout.answers(run_id)) == 1, "the one answer before"
    finally:
        await client.aclose()
