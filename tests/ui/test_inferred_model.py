"""A model lfg's table does not list, placed by its family: the pane's header says its figures are
inferred; one the kept model catalogue lists says they are the catalogue's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.providers.model_catalogue import cache_file
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until


async def test_a_model_lfg_knows_only_by_its_family_says_its_figures_are_inferred(
    sim: SimServer, tmp_path: Path
) -> None:
    toml = (
        '[[ticket]]\nid = "unseen"\nprompt = "x"\nmodel = "claude-opus-5-7"\n\n'
        '[[ticket]]\nid = "known"\nprompt = "x"\nmodel = "hello"\n'
    )
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        unseen, known = pane(app, "unseen"), pane(app, "known")
        await until(pilot, lambda: known.state is PaneState.COMPLETED and unseen.state is PaneState.FAILED)
        await until(pilot, lambda: "~inferred" in str(unseen.header.text))
        headers = str(unseen.header.text), str(known.header.text)
    assert "sim/claude-opus-5-7 ~inferred" in headers[0]
    assert "inferred" not in headers[1]


async def test_a_model_the_kept_catalogue_lists_says_its_figures_are_the_catalogues(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `lfg models --refresh`, a model lfg's table lacks runs on the catalogue's figures, and its
    pane says so (issue #75)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    listed = {
        "anthropic": {"models": {"claude-opus-9-1": {"limit": {"context": 2_000_000, "output": 256_000}}}}
    }
    kept = {"url": "https://models.example/api.json", "fetched": "2026-11-27 08:00 UTC", "document": listed}
    cache_file().parent.mkdir(parents=True)
    cache_file().write_text(json.dumps(kept))
    toml = '[[ticket]]\nid = "new"\nprompt = "x"\nmodel = "claude-opus-9-1"\n'
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        new = pane(app, "new")
        await until(pilot, lambda: new.state is PaneState.FAILED and "catalogue" in str(new.header.text))
        header = str(new.header.text)
    assert "sim/claude-opus-9-1 catalogue" in header and "inferred" not in header
