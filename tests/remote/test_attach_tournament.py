"""A tournament watched with `lfg attach`: each contestant's check and the verdict reach the watcher as
the runner decided them, the attached view opens the same verdict pane, and its `S` starts the
synthesis on the server, which the view then follows in a pane of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from lfgtui.config.load import Config
from lfgtui.contest import Verdict
from lfgtui.cost.metrics import Metrics, MetricsBook
from lfgtui.events import AttemptEnded, Event, RunFact, Status
from lfgtui.outcome import Outcome
from lfgtui.providers.registry import Providers
from lfgtui.remote.attach import Attachment
from lfgtui.remote.codec import CodecError, decode_verdict, encode_verdict
from lfgtui.remote.hub import EventHub
from lfgtui.remote.server import Address, EngineControls, RunServer
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tournament.referee import Referee
from lfgtui.ui.screens.verdict import VerdictScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, until
from tests.support.compose import first_run
from tests.support.git import isolate_git
from tests.support.patience import PATIENCE
from tests.support.remote import attached_app
from tests.support.serving import TOKEN, attach_json
from tests.support.tournament import CONTESTANTS, Told, calc_repo, tournament_tickets


@dataclass
class Tournament:
    """A tournament on the sim, refereed and served as `lfg run --serve` serves it."""

    run: Run
    referee: Referee
    told: Told
    hub: EventHub
    url: str
    events: list[Event]
    """Every event the run made."""

    async def finish(self) -> None:
        """Wait for the contestants, their checks and the verdict, then end the stream."""
        await self.run.wait()
        await self.referee.settled()
        self.hub.end()


@contextlib.asynccontextmanager
async def served_tournament(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, control: bool = False
) -> AsyncIterator[Tournament]:
    isolate_git(tmp_path, monkeypatch)
    repo = calc_repo(tmp_path / "repo")
    loaded = load_tickets(tournament_tickets(tmp_path, repo), Config(path=None), BUILTIN_TOOLS, env={})
    async with Providers(sim=sim) as providers:
        events: list[Event] = []
        run = Run(
            loaded.tickets, providers, Approvals(yes=True), [events.append], worktrees=tmp_path / "trees"
        )
        told = Told()
        referee = Referee(run)
        run.sinks += [referee, told]
        hub = EventHub(run.clock)
        run.sinks.append(hub)
        controls = EngineControls(run) if control else None
        server = RunServer(hub, run.run_id, loaded.tickets, TOKEN, controls)
        run.added.append(server.add)
        url = await server.start(Address.parse("127.0.0.1:0"))
        try:
            yield Tournament(run, referee, told, hub, url, events)
        finally:
            run.cancel_all()
            referee.cancel()
            await referee.settled()
            await run.wait()
            hub.end()
            await server.aclose(grace_s=1)


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def unmeasured(verdict: Verdict) -> Verdict:
    """The verdict without its contestants' metrics (a watcher works them out from the events)."""
    return dataclasses.replace(
        verdict, contestants=tuple(dataclasses.replace(c, metrics=Metrics()) for c in verdict.contestants)
    )


async def test_a_watcher_hears_each_check_and_the_verdict_and_attach_json_prints_them(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with served_tournament(sim, tmp_path, monkeypatch) as served:
        attachment = Attachment(served.url, TOKEN)
        book, heard, states = MetricsBook(), Told(), list[str]()
        attachment.metrics = book.attempts

        def deliver(event: Event) -> None:
            book(event)
            heard(event)

        try:
            await attachment.describe()
            served.run.start()
            ending = asyncio.create_task(served.finish())
            await asyncio.wait_for(attachment.follow(deliver, states.append), 50 * PATIENCE)
            await ending
        finally:
            await attachment.aclose()
        lines, _ = await attach_json(served.url)
        async with httpx2.AsyncClient(base_url=served.url, headers=BEARER) as client:
            refused = await client.post("/v1/tournaments/fix/synthesize")
    (verdict,) = served.told.verdicts
    assert verdict.winner == "fix@tournament-pass"
    for contestant in CONTESTANTS:  # the worktree's last diff before the end, in seq too
        said = [e for e in served.events if e.ticket == contestant and not isinstance(e, RunFact)]
        assert [e.seq for e in said] == list(range(len(said))) and isinstance(said[-1], AttemptEnded)
    assert heard.checks == served.told.checks and set(heard.checks) == set(CONTESTANTS)
    (decided,) = heard.verdicts
    assert unmeasured(decided) == unmeasured(verdict), "every field but the metrics, as sent"
    assert [c.row() for c in decided.contestants] == [c.row() for c in verdict.contestants]
    assert decided.land_command() == verdict.land_command()
    assert not [state for state in states if state.startswith("skipped")]
    checks = [line for line in lines if line["type"] == "check"]
    assert {line["ticket"]: line["passed"] for line in checks} == {
        c: c == CONTESTANTS[0] for c in CONTESTANTS
    }
    assert lines[-1]["type"] == "verdict" and lines[-1]["winner"] == "fix@tournament-pass", (
        "as lfg run --json"
    )
    assert [placing["ticket"] for placing in lines[-1]["ranking"]] == list(CONTESTANTS)
    assert refused.status_code == 403, "a run served read-only starts no synthesis"


def test_a_verdict_is_decoded_strictly() -> None:
    contestant = dict(
        ticket="t@a", attempt=1, model="sim/a", outcome="completed", wall_s=1.5, branch=None, worktree=None,
        repo=None, diff=None, check={"command": "make", "passed": True, "output": "ok", "tests": None},
    )  # fmt: skip
    verdict = {
        "tournament": "t",
        "contestants": [contestant],
        "ranking": [{"ticket": "t@a", "reasons": ["check passed"]}],
        "winner": "t@a",
        "judge": "t@judge",
        "judge_error": None,
        "labels": [["A", "t@a"]],
        "run_id": "3f2a9c0d1e7b",
    }
    decoded = decode_verdict(json.loads(json.dumps(verdict)), {})
    assert decoded.contestant("t@a").outcome is Outcome.COMPLETED and decoded.labels == (("A", "t@a"),)
    check = {**contestant["check"], "trusted": [], "restored": [], "left_out": [], "refused": ""}
    trusting = {**contestant, "snapshot": None, "check": check}
    assert encode_verdict(decoded) == {**verdict, "contestants": [trusting]}, "absent: none"
    wrong = [
        ({"winner": "t@b"}, "winner: names no contestant"),
        ({"ranking": []}, "ranking: the ranking is not each contestant once"),
        ({"labels": [["A", "t@b"]]}, "labels: names no contestant"),
        ({"labels": [["A"]]}, r"labels\[0\]: expected an array of 2"),
        ({"contestants": [contestant, contestant]}, "each contestant once"),
        ({"contestants": [{**contestant, "outcome": "won"}]}, r"contestants\[0\]\.outcome: expected one of"),
        ({"contestants": [{**contestant, "attempt": -1}]}, r"contestants\[0\]\.attempt: expected an integer"),
    ]
    for change, problem in wrong:
        with pytest.raises(CodecError, match=problem):
            decode_verdict({**verdict, **change}, {})


async def test_the_attached_view_opens_the_verdict_pane_the_runner_decided(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with served_tournament(sim, tmp_path, monkeypatch) as served:
        app, attachment = await attached_app(served.url, sim)
        try:
            async with app.run_test(size=(160, 45)) as pilot:
                served.run.start()
                await served.finish()
                await until(pilot, lambda: isinstance(app.screen, VerdictScreen))
                assert isinstance(app.screen, VerdictScreen)
                shown = app.screen.verdict
                (verdict,) = served.told.verdicts
                assert unmeasured(shown) == unmeasured(verdict)
                assert [c.row() for c in shown.contestants] == [c.row() for c in verdict.contestants]
                assert app.screen.keys is not None, "the run's keys: S is offered"
        finally:
            await attachment.aclose()


async def test_s_in_the_attached_view_starts_the_synthesis_on_the_server_and_shows_its_pane(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with served_tournament(sim, tmp_path, monkeypatch, control=True) as served:
        async with httpx2.AsyncClient(base_url=served.url, headers=BEARER) as client:
            early = await client.post("/v1/tournaments/fix/synthesize")
            unknown = await client.post("/v1/tournaments/nope/synthesize")
        app, attachment = await attached_app(served.url, sim)
        try:
            async with app.run_test(size=(160, 45)) as pilot:
                served.run.start()
                await until(pilot, lambda: isinstance(app.screen, VerdictScreen), timeout=50)
                await pilot.press("S")
                panes = app.controller.panes
                await until(pilot, lambda: "fix-synthesis" in panes and panes["fix-synthesis"].finished, 30)
                assert panes["fix-synthesis"].state is PaneState.COMPLETED
                assert all(panes[c].state is PaneState.COMPLETED for c in CONTESTANTS), (
                    "each end, after its diff"
                )
        finally:
            await attachment.aclose()
        state = served.run.states["fix-synthesis"]
    assert (early.status_code, unknown.status_code) == (409, 404)
    assert "no verdict yet" in early.json()["error"]
    (verdict,) = served.told.verdicts
    winner = verdict.contestant("fix@tournament-pass")
    assert winner.diff is not None and winner.diff.text.strip() in state.written.prompt
    assert (state.written.provider, state.written.model) == ("sim", "tournament-pass"), (
        "on the winner's model"
    )
    said = [e.message for e in served.events if isinstance(e, Status) and e.ticket == "fix-synthesis"]
    assert said[0].startswith("synthesis asked by ") and "@" in said[0], "who asked, in its events"


async def test_a_watchers_synthesis_shows_in_the_tui_that_runs_the_tournament(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("LFG_WORKTREES", str(tmp_path / "trees"))
    repo = calc_repo(tmp_path / "repo")
    app = make_app(sim, tournament_tickets(tmp_path, repo))
    run = first_run(app)
    hub = EventHub(run.clock)
    run.sinks.append(hub)
    server = RunServer(
        hub, run.run_id, tuple(s.ticket for s in run.states.values()), TOKEN, EngineControls(run)
    )
    run.added.append(server.add)
    url = await server.start(Address.parse("127.0.0.1:0"))  # as lfg run --serve: before the app runs
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, VerdictScreen), timeout=40)
            async with httpx2.AsyncClient(base_url=url, headers=BEARER) as client:
                asked = await client.post("/v1/tournaments/fix/synthesize")
            assert asked.json() == {"ok": True, "ticket": "fix-synthesis"}
            panes = app.controller.panes
            await until(pilot, lambda: "fix-synthesis" in panes and panes["fix-synthesis"].finished, 30)
            assert panes["fix-synthesis"].state is PaneState.COMPLETED, "its pane, made in the app"
    finally:
        hub.end()
        await server.aclose(grace_s=1)
