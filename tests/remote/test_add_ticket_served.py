"""`add-ticket` on a served run (`POST /v1/requests {"request": "add-ticket", "ticket": {...}}` with
`--control`): the ticket's fields as a `[[ticket]]` table has them, checked as the run's tickets file
was, added to the running run and run in it, who added it said in its events; what is wrong refused in
words naming the field, and nothing a hostile watcher sends breaks the server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from lfgtui.events import AttemptEnded, Outcome, PromptSent, Status
from lfgtui.run.steering import MAX_MESSAGE_CHARS
from lfgtui.sim.server import SimServer
from tests.support.patience import PATIENCE
from tests.support.serving import Served, finish, served

ONE = '[defaults]\nprovider = "sim"\n\n[[ticket]]\nid = "first"\nprompt = "x"\nmodel = "hello"\n'
WATCHER = {"LFG-Watcher": "ada@lab"}


async def ended(run: Served, ticket: str, within_s: float = 20) -> AttemptEnded:
    """The end of `ticket`'s first attempt, once the run said it."""
    async with asyncio.timeout(within_s * PATIENCE):
        while not (ends := [e for e in run.events if isinstance(e, AttemptEnded) and e.ticket == ticket]):
            await asyncio.sleep(0.01)
    return ends[0]


async def test_an_added_ticket_runs_in_the_same_run_named_by_who_added_it(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, ONE, control=True) as run, run.client() as client:
        run.run.start()
        await ended(run, "first")
        table = {"id": "second", "prompt": "{{ outputs.first }} again", "model": "hello"}
        added = await client.post(
            "/v1/requests",
            json={"request": "add-ticket", "ticket": {**table, "depends_on": ["first"]}},
            headers=WATCHER,
        )
        named = await client.post(
            "/v1/requests", json={"request": "add-ticket", "ticket": {"prompt": "y", "model": "hello"}}
        )
        assert added.json() == {"ok": True, "ticket": "second", "added_by": "127.0.0.1 (ada@lab)"}
        assert named.status_code == 200
        assert named.json() == {"ok": True, "ticket": "added-1", "added_by": "127.0.0.1"}
        assert (await ended(run, "second")).outcome is Outcome.COMPLETED
        assert (await ended(run, "added-1")).outcome is Outcome.COMPLETED
        described = (await client.get("/v1/run")).json()
        await finish(run)
    assert {"first", "second", "added-1"} <= {t["ticket"] for t in described["tickets"]}
    prompt = next(e for e in run.events if isinstance(e, PromptSent) and e.ticket == "second")
    assert prompt.text.endswith(" again") and not prompt.text.startswith("{{"), "its dependency's answer"
    notes = [e.message for e in run.events if type(e) is Status and e.ticket == "second"]
    assert "added by 127.0.0.1 (ada@lab)" in notes
    assert run.run.states["second"].ticket.provider == "sim", "the run's [defaults] hold for it too"


async def test_a_bad_ticket_is_refused_in_words_naming_its_field(sim: SimServer, tmp_path: Path) -> None:
    boxed = ONE.replace('provider = "sim"\n', 'provider = "sim"\nsandbox = "bwrap"\n')
    async with served(sim, tmp_path, boxed, control=True) as run, run.client() as client:
        run.run.start()
        await ended(run, "first")

        async def add(ticket: object) -> tuple[int, str]:
            answer = await client.post("/v1/requests", json={"request": "add-ticket", "ticket": ticket})
            return answer.status_code, answer.json().get("error", "")

        unknown = await add({"prompt": "x", "promtp": "y"})
        typed = await add({"prompt": "x", "max_calls": "many"})
        duplicate = await add({"id": "first", "prompt": "x"})
        unboxed = await add({"prompt": "x", "sandbox": "none"})
        approving = await add({"prompt": "x", "auto_approve": True})
        fanned = await add({"prompt": "x", "models": ["sim/hello", "sim/echo"]})
        nowhere = await add({"prompt": "x", "depends_on": ["nobody"]})
        no_prompt = await add({"id": "p"})
        missing = await client.post("/v1/requests", json={"request": "add-ticket"})
        not_table = await add(["prompt", "x"])
        boxed_as_the_run = await add({"id": "same-box", "prompt": "x", "model": "hello", "sandbox": "bwrap"})
        await finish(run)
    assert (
        unknown[0] == 409
        and "unknown field 'promtp'" in unknown[1]
        and "(did you mean 'prompt'?)" in unknown[1]
    )
    assert typed == (
        409,
        "ticket 'added-1': max_calls must be an integer of at least 1, got the string 'many'",
    )
    assert duplicate == (409, "ticket 'first': duplicate id (the run has it already)")
    assert unboxed[0] == 409 and unboxed[1].startswith("ticket 'added-1': sandbox is the person's")
    assert approving[0] == 409 and "auto_approve is the person's" in approving[1]
    assert fanned[0] == 409 and "models fans out" in fanned[1]
    assert nowhere[0] == 409 and "depends_on: unknown ticket id 'nobody'" in nowhere[1]
    assert no_prompt == (409, "ticket 'p': missing prompt")
    assert missing.status_code == 400 and "ticket is missing" in missing.json()["error"]
    assert not_table == (400, "add-ticket: ticket must be a JSON object")
    assert boxed_as_the_run == (200, ""), "a box field set to the run's own [defaults] is no loosening"
    assert set(run.run.states) == {"first", "same-box"}, "nothing refused was added"
    assert run.run.states["same-box"].ticket.sandbox == "bwrap"


async def test_a_hostile_payload_is_refused_or_inert_and_the_server_goes_on(
    sim: SimServer, tmp_path: Path
) -> None:
    async with served(sim, tmp_path, ONE, control=True) as run, run.client() as client:
        run.run.start()
        await ended(run, "first")
        post = client.post
        deep = await post(
            "/v1/requests",
            content=b'{"request": "add-ticket", "ticket": {"prompt": '
            + b"[" * 50_000
            + b"]" * 50_000
            + b"}}",
        )
        nested = await post(
            "/v1/requests",
            json={"request": "add-ticket", "ticket": {"prompt": "x", "tools": [[[["read_file"]]]]}},
        )
        huge = await post(
            "/v1/requests",
            json={"request": "add-ticket", "ticket": {"prompt": "x" * (MAX_MESSAGE_CHARS * 13)}},
        )
        escape = "\x1b[2J\x1b]0;owned\x07"
        ansi_id = await post(
            "/v1/requests", json={"request": "add-ticket", "ticket": {"id": f"a{escape}", "prompt": "x"}}
        )
        surrogate = await post(
            "/v1/requests",
            content=json.dumps(
                {
                    "request": "add-ticket",
                    "ticket": {"id": "odd", "prompt": f"say \ud800 {escape}", "model": "hello"},
                }
            ).encode(),
        )
        odd_key = {"request": "add-ticket", "ticket": {"prompt": "x", f"k{escape}\ud800": 1}}
        odd_keys = await post("/v1/requests", content=json.dumps(odd_key).encode())
        assert (await ended(run, "odd")).outcome is Outcome.COMPLETED
        alive = await client.get("/v1/run")
        await finish(run)
    assert deep.status_code == 400 and "JSON object" in deep.json()["error"]
    assert nested.status_code == 400 and "nests deeper" in nested.json()["error"]
    assert huge.status_code == 413
    assert (
        ansi_id.status_code == 409
        and "id 'a\\x1b[2J\\x1b]0;owned\\x07' may use only" in ansi_id.json()["error"]
    )
    assert surrogate.json() == {"ok": True, "ticket": "odd", "added_by": "127.0.0.1"}
    assert run.run.states["odd"].ticket.prompt == f"say \ufffd {escape}", "mended, and kept whole"
    assert odd_keys.status_code == 409 and "unknown field 'k\\x1b[2J" in odd_keys.json()["error"]
    assert alive.status_code == 200


async def test_a_run_served_read_only_adds_nothing(sim: SimServer, tmp_path: Path) -> None:
    async with served(sim, tmp_path, ONE) as run, run.client() as client:
        refused = await client.post("/v1/requests", json={"request": "add-ticket", "ticket": {"prompt": "x"}})
        run.run.start()
        await finish(run)
    assert refused.status_code == 403 and set(run.run.states) == {"first"}
