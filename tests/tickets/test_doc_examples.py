"""The tickets files a newcomer copies first, from the README and the quickstart, run as written on
the sim in a folder of their own: explore says what lfg's tools really found there, and summary
quotes explore's answer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.events import Event, Outcome, TextDelta
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS

ROOT = Path(__file__).parents[2]
EXAMPLES = {"README.md": "## A tickets file", "docs/quickstart.md": "## Your first tickets file"}


def example(page: str) -> str:
    """The first TOML block under the page's heading."""
    text = (ROOT / page).read_text(encoding="utf-8")
    found = re.search(r"```toml\n(.*?)```", text[text.index(EXAMPLES[page]) :], re.DOTALL)
    assert found, f"{page} has no tickets file under {EXAMPLES[page]!r}"
    return found.group(1)


@pytest.mark.parametrize("page", sorted(EXAMPLES))
async def test_a_pages_first_tickets_file_does_what_it_says(
    sim: SimServer, tmp_path: Path, page: str
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "README.md").write_text("# Gadgets\nA shelf of small tools.\n")
    path = folder / "tickets.toml"
    path.write_text(example(page))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with Providers(sim=sim) as providers:
        run = Run(loaded.tickets, providers, Approvals(), [events.append])
        run.start()
        assert await run.wait() == {"explore": Outcome.COMPLETED, "summary": Outcome.COMPLETED}
    said = {
        ticket: "".join(e.text for e in events if isinstance(e, TextDelta) and e.ticket == ticket)
        for ticket in ("explore", "summary")
    }
    assert "# Gadgets" in said["explore"] and "A shelf of small tools." in said["explore"], (
        "the README it read"
    )
    assert "this folder holds: README.md, tickets.toml." in said["explore"], "the folder it listed"
    last_line = said["explore"].strip().splitlines()[-1]
    assert last_line in said["summary"], "summary quotes explore's answer"
