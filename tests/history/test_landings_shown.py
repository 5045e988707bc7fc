"""What `lfg land` landed is shown: `lfg history show` lists it, an export carries it (and an import
keeps it), and a recorded run's pane says it in its header."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lfgtui.commands.main import main
from lfgtui.history.export import from_json, import_record, to_json, to_markdown
from lfgtui.history.recorded import recorded_run
from lfgtui.history.store import Selection, Store
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.ui.run.controller import RunController
from lfgtui.ui.services import Services
from tests.support.git import git, isolate_git, repository
from tests.support.worktree_runs import run_in


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


async def test_a_landing_is_listed_exported_imported_and_in_the_panes_header(
    sim: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path / "repo")
    db = tmp_path / "history.sqlite3"
    _, _, run_id = await run_in(sim, tmp_path, repo, db)
    assert await asyncio.to_thread(main, ["land", run_id, "one", "--db", str(db)]) == 0
    landed = git(repo, "rev-parse", "main")[:12]
    label = f"landed {landed} onto main (squash)"

    with Store.open(db) as store:
        record = store.load(Selection(run_id))
    one, two = record.tickets
    assert [row.label() for row in one.landings] == [label] and two.landings == ()
    shown = to_markdown(record)
    assert "**Landed** (one):\n\n- " in shown and shown.count(label) == 1

    capsys.readouterr()
    assert await asyncio.to_thread(main, ["history", "show", run_id, "--db", str(db)]) == 0
    assert label in capsys.readouterr().out

    document = json.loads(json.dumps(to_json(record)))
    assert document["run"]["tickets"][0]["landings"][0]["landed_commit"].startswith(landed)
    older = json.loads(json.dumps(document))
    for ticket in older["run"]["tickets"]:
        del ticket["landings"]  # an export written before landings were exported
    assert all(t.landings == () for t in from_json(older).tickets)
    elsewhere = tmp_path / "elsewhere.sqlite3"
    with Store.open(elsewhere) as store:
        import_record(store, from_json(document))
        again = store.load(Selection(run_id))
    assert again.tickets[0].landings == one.landings

    recorded = recorded_run(record)
    assert [t.landed for t in recorded.tickets] == [label, None]
    async with Providers(sim=sim) as providers:
        controller = RunController.read_only(Services(providers), recorded)
    assert controller.panes["one"].landed == label and controller.panes["two"].landed is None
