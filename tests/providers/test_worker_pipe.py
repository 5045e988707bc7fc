"""The parent's side of the provider worker's pipe: frames decoded whole however the reads split
them, a broken frame ending the pipe, each read's items handed to a stream as one list."""

from __future__ import annotations

import asyncio
import pickle
import sys
from typing import Any

import pytest

from lfgtui.events import EventFactory, TextDelta, observed
from lfgtui.providers.worker import HEADER, ChildPipes, Ended, Frames, Inbox, ProviderWorker, frame
from tests.support.patience import PATIENCE

MESSAGES: list[Any] = [
    [(1, observed(EventFactory("t", 1)(TextDelta, text="hello ")))],
    [(1, observed(EventFactory("t", 1)(TextDelta, text="x" * 70_000))), (2, Ended())],
    [],
]


@pytest.mark.parametrize("step", [1, 3, 4, 5, 17, 1000, 100_000])
def test_frames_split_anywhere_decode_to_the_messages_in_order(step: int) -> None:
    data = b"".join(frame(m) for m in MESSAGES)
    frames = Frames()
    decoded: list[Any] = []
    for start in range(0, len(data), step):
        decoded += frames.feed(data[start : start + step])
    assert decoded == MESSAGES


def test_a_broken_frame_raises_what_unpickling_raises() -> None:
    body = b"not a pickle"
    with pytest.raises(pickle.UnpicklingError):
        list(Frames().feed(frame(MESSAGES[0]) + HEADER.pack(len(body)) + body))


async def pipes_of(script: str) -> tuple[list[list[Any]], BaseException | None]:
    """What a real child process writing `script`'s bytes on stdout delivers, and how its pipe ended."""
    loop = asyncio.get_running_loop()
    delivered: list[list[Any]] = []
    transport, pipes = await loop.subprocess_exec(
        lambda: ChildPipes(delivered.append, loop),
        sys.executable,
        "-c",
        script,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    process = asyncio.subprocess.Process(transport, pipes, loop)
    try:
        await asyncio.wait_for(asyncio.shield(pipes.ended), 30 * PATIENCE)
        error = None
    except Exception as exc:
        error = exc
    if process.returncode is None:
        process.kill()
    await process.wait()
    return delivered, error


async def test_a_child_writing_frames_in_pieces_delivers_each_message_once_in_order() -> None:
    data = b"".join(frame(m) for m in MESSAGES)
    script = (
        "import sys, time\n"
        f"data = {data!r}\n"
        "for i in range(0, len(data), 7):\n"
        "    sys.stdout.buffer.write(data[i:i + 7]); sys.stdout.flush()\n"
        "    if i % 700 == 0: time.sleep(0.001)\n"
    )
    delivered, error = await pipes_of(script)
    assert error is None
    assert [m for read in delivered for m in read] == MESSAGES


async def test_an_unreadable_message_ends_the_pipe_with_its_error_after_what_came_before() -> None:
    data = frame(MESSAGES[0]) + HEADER.pack(4) + b"junk" + frame(MESSAGES[1])
    delivered, error = await pipes_of(f"import sys\nsys.stdout.buffer.write({data!r})\n")
    assert isinstance(error, pickle.UnpicklingError)
    assert [m for read in delivered for m in read] == [MESSAGES[0]]


async def test_a_message_of_the_wrong_shape_ends_the_pipe_too() -> None:
    data = frame(MESSAGES[0]) + frame("not a batch")
    loop = asyncio.get_running_loop()
    delivered: list[Any] = []

    def deliver(messages: list[Any]) -> None:
        ProviderWorker()._deliver(messages)  # a worker with no inboxes: only the messages' shape counts
        delivered.extend(messages)

    pipes = ChildPipes(deliver, loop)
    pipes.pipe_data_received(1, data)
    with pytest.raises(ValueError):
        await pipes.ended
    assert delivered == []


async def test_one_read_hands_each_stream_one_list_of_its_items_in_order() -> None:
    worker = ProviderWorker()
    first, second = Inbox(), Inbox()
    worker._inboxes.update({1: first, 2: second})
    a, b, c, d = (observed(EventFactory("t", 1)(TextDelta, text=t)) for t in "abcd")
    worker._deliver([[(1, a), (2, b)], [(1, c), (2, Ended())]])
    assert await second.take() == [b, Ended()]
    assert set(worker._inboxes) == {1}, "a stream's inbox goes once its last item is handed on"
    worker._deliver([[(1, d)]])
    assert await first.take() == [a, c, d], "reads before the consumer runs are taken as one list"


async def test_a_consumer_waiting_on_its_inbox_wakes_when_items_come() -> None:
    inbox = Inbox()
    taking = asyncio.create_task(inbox.take())
    await asyncio.sleep(0)
    assert not taking.done()
    inbox.put([Ended()])
    assert await asyncio.wait_for(taking, 10 * PATIENCE) == [Ended()]
