"""Issue 73's first HIGH, end to end: a lone surrogate (JSON's `"\\ud800"`, which Python reads as one
character no UTF-8 text can hold) from outside erases nothing. One sim model's Chat stream holds one
(the sim's `surrogate` fault, a real escape on the wire) beside a plain sim ticket: every ticket's
transcript and gauges are in the history. A queued message holding one, sent over
`POST /v1/requests` to `lfg run --serve --control`, runs as the ticket's next turn and its attempt
ends, recorded. Each runs the real `lfg` against the sim server, into a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx2
import pytest

from lfgtui.events import TextDelta
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.sim.server import SimServer
from tests.support import warm_lfg
from tests.support.lfg import Lfg, of, text
from tests.support.patience import PATIENCE
from tests.support.serving import TOKEN
from tests.support.streams import GATED_WRITE, write_scenario

SPLIT = """
ttft_ms = 20
tokens_per_s = 400

[[call]]
text = "Half of a character, then a look around."
[[call.tool_call]]
name = "list_dir"
arguments = { path = "." }

[[call]]
text = "Done."

[[fault]]
kind = "surrogate"
after_tokens = 3
"""


def ticket(name: str, model: str) -> str:
    return (
        f'[[ticket]]\nid = "{name}"\nprompt = "Say something."\nprovider = "sim"\nmodel = "{model}"\n'
        'tools = ["list_dir"]\n'
    )


def recorded(db: Path) -> dict[tuple[str, int], tuple[Any, str]]:
    """Every attempt the history keeps, by (ticket, number): its row, and its text rebuilt from the rows."""
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        record = store.load(Selection(run.id))
    rows = {(t.row.ticket, a.row.number): a.row for t in record.tickets for a in t.attempts}
    return {
        (shown.ticket.id, attempt.number): (
            rows[shown.ticket.id, attempt.number],
            "".join(e.text for e in attempt.events if isinstance(e, TextDelta)),
        )
        for shown in recorded_run(record).tickets
        for attempt in shown.attempts
    }


def test_a_lone_surrogate_in_one_models_stream_leaves_every_tickets_transcript_and_gauges(
    tmp_path: Path,
) -> None:
    lfg = Lfg(tmp_path)
    lfg.scenario("split", SPLIT)
    db = tmp_path / "history.sqlite3"
    path = lfg.tickets(ticket("odd", "split") + ticket("plain", "hello:ttft_ms=20,tokens_per_s=100"))
    code, events, stderr = lfg.run(path, "--db", str(db))
    assert code == 0, stderr
    assert "history" not in stderr.replace("lfg history", ""), stderr
    shown = text(events, "odd")
    assert (
        shown.count("\ufffd") == 1
        and shown.replace("\ufffd", "") == "Half of a character, then a look around.Done."
    ), "the answer sent back to the model with its tool result, and its next call answered"
    kept = recorded(db)
    assert sorted(kept) == [("odd", 1), ("plain", 1)]
    for name in ("odd", "plain"):
        row, answer = kept[name, 1]
        assert answer == text(events, name), f"{name}'s transcript"
        (end,) = of(events, name, "attempt_ended")
        assert (row.outcome, row.output_tokens) == ("completed", end["output_tokens"])
        assert row.ttft_ms is not None and row.ttft_ms == pytest.approx(end["ttft_ms"], abs=1), (
            f"{name}'s TTFT"
        )
        assert row.tokens_per_s == pytest.approx(end["tokens_per_s"], rel=0.01), f"{name}'s tok/s, as shown"


@pytest.mark.parametrize(("kind", "path"), [("anthropic", ""), ("openai-responses", "/v1")])
async def test_a_lone_surrogate_in_the_other_wires_streams_is_kept_and_sent_back_whole(
    sim: SimServer, scenario_dir: Path, tmp_path: Path, kind: str, path: str
) -> None:
    """The Messages and Responses APIs' streams, each answer sent back to its model whole (as its
    wire's own turn, `ProviderTurn`) with the tool round's result."""
    write_scenario(scenario_dir, "split", SPLIT)
    lfg = Lfg(tmp_path)
    lfg.config.write_text(
        f'[providers.p]\nkind = "{kind}"\nbase_url = "{sim.url}{path}"\napi_key_env = "K"\n'
    )
    lfg.env["K"] = "sim"
    db = tmp_path / "history.sqlite3"
    tickets = ticket("odd", "split").replace('provider = "sim"', 'provider = "p"')
    code, events, stderr = await asyncio.to_thread(lfg.run, lfg.tickets(tickets), "--db", str(db))
    assert code == 0, stderr
    assert "history" not in stderr.replace("lfg history", ""), stderr
    assert [r.status for r in sim.log] == [200, 200], "the answer went back with its tool result"
    shown = text(events, "odd")
    assert (
        shown.count("\ufffd") == 1
        and shown.replace("\ufffd", "") == "Half of a character, then a look around.Done."
    )
    ((row, answer),) = recorded(db).values()
    assert (row.outcome, answer) == ("completed", text(events, "odd"))


QUEUED = '{"request": "queue", "ticket": "q", "text": "Then half \\ud800 of one."}'
"""Written as JSON text: a client's JSON encoder would refuse to encode the lone surrogate itself."""


@pytest.mark.timeout(120)
async def test_a_queued_message_with_a_lone_surrogate_runs_as_the_next_turn_and_ends(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.scenario("gated", GATED_WRITE)
    db = tmp_path / "history.sqlite3"
    path = lfg.tickets(
        '[[ticket]]\nid = "q"\nprompt = "Note something."\nprovider = "sim"\nmodel = "gated"\n'
        'tools = ["write_file"]\n'
    )
    (lfg.workdir / "token").write_text(TOKEN)
    args = lfg.args(
        path,
        "--json",
        "--db",
        str(db),
        "--serve",
        "127.0.0.1:0",
        "--control",
        "--token-file",
        str(lfg.workdir / "token"),
    )
    process = await warm_lfg.create_subprocess_exec(
        *args, cwd=lfg.workdir, env=lfg.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    events: list[dict[str, Any]] = []
    answer: tuple[int, Any] | None = None
    try:
        async with asyncio.timeout(90 * PATIENCE):
            served = re.search(r"serving this run at (\S+)", (await process.stderr.readline()).decode())
            assert served is not None
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            async with httpx2.AsyncClient(base_url=served.group(1), headers=headers) as client:
                async for line in process.stdout:
                    event = json.loads(line)
                    events.append(event)
                    if event["type"] == "approval" and answer is None:  # its first turn holds: queue now
                        sent = await client.post("/v1/requests", content=QUEUED.encode())
                        answer = (sent.status_code, sent.json())
                        approve = {"request": "approve", "ticket": "q", "call": event["id"], "allowed": True}
                        assert (await client.post("/v1/requests", json=approve)).status_code == 200
            stderr = (await process.stderr.read()).decode()
            assert await process.wait() == 0, stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert (answer[0], answer[1]["as"]) == (200, "next_turn")
    ends = [(e["attempt"], e["outcome"]) for e in of(events, "q", "attempt_ended")]
    assert ends == [(1, "completed"), (2, "completed")]
    assert "history" not in stderr.replace("lfg history", ""), stderr
    prompts = [(e["attempt"], e["text"]) for e in of(events, "q", "prompt")]
    assert prompts == [(1, "Note something."), (2, "Then half \ufffd of one.")]
    kept = recorded(db)
    assert [(number, row.outcome) for (_, number), (row, _) in sorted(kept.items())] == ends
    assert kept["q", 2][1] == "Noted: Then half \ufffd of one."
