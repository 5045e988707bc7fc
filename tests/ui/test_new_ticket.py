"""`N` on the run grid: the new-ticket form (prompt, provider, model, tools) adds a ticket to the run
through the add-ticket request, here (`lfg run`, `--open` with no ticket yet) and on a run another lfg
serves (`lfg attach`, through the server); what the run refuses is said in the form, in its words, and
what it adds gets a pane of its own and runs to its end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input, Static

from lfgtui.config.load import Config
from lfgtui.providers.registry import Providers
from lfgtui.remote.attach import Attachment
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_added, load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.new_ticket import NewTicketScreen, table
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, tickets, until
from tests.support.compose import attach_app, first_run, lfg_app
from tests.support.serving import TOKEN, served


def problem(app: LfgApp) -> str:
    """What the form says is wrong, as shown."""
    said = app.screen.query_one("#new-ticket-problem", Static)
    return str(said.render()) if said.display else ""


def fill(app: LfgApp, **values: str) -> None:
    """Type the form's fields, then enter (in the prompt's field)."""
    assert isinstance(app.screen, NewTicketScreen)
    for name, value in values.items():
        app.screen.query_one(f"#new-ticket-{name}", Input).value = value
    app.screen.query_one("#new-ticket-prompt", Input).focus()


def test_the_forms_fields_are_a_tickets_table() -> None:
    assert table({"prompt": " hi ", "provider": " ", "model": "hello ", "tools": "read_file, list_dir"}) == {
        "prompt": " hi ",
        "model": "hello",
        "tools": ["read_file", "list_dir"],
    }


async def test_n_adds_a_ticket_to_an_open_run_with_none_yet(sim: SimServer, tmp_path: Path) -> None:
    path = tickets(tmp_path, "")
    config = Config(path=None)
    loaded = load_tickets(path, config, BUILTIN_TOOLS, env={}, empty=True)
    app = lfg_app(loaded.tickets, Providers(sim=sim))
    first_run(app).admits = lambda fields, taken: load_added(
        fields, loaded, taken, config, BUILTIN_TOOLS, env={}
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("N")
        assert isinstance(app.screen, NewTicketScreen)
        fill(app, prompt="Say hello.", model="hello", tools="read_filez")
        await pilot.press("enter")
        await until(pilot, lambda: "unknown tool 'read_filez'" in problem(app))
        assert isinstance(app.screen, NewTicketScreen), "kept open, with what was typed"
        assert app.screen.query_one("#new-ticket-prompt", Input).value == "Say hello."
        fill(app, tools="read_file")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, NewTicketScreen))
        await until(pilot, lambda: "added-1" in app.controller.panes)
        pane = app.controller.panes["added-1"]
        await until(pilot, lambda: pane.state is PaneState.COMPLETED)
    added = first_run(app).states["added-1"].ticket
    assert (added.provider, added.model, added.tools) == ("sim", "hello", ("read_file",))


async def test_a_run_that_takes_no_tickets_says_so(sim: SimServer, tmp_path: Path) -> None:
    path = tickets(tmp_path, '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\n')
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    app = lfg_app(loaded.tickets, Providers(sim=sim))  # no admits: a re-run from the history, say
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("N")
        await pilot.pause()
        assert not isinstance(app.screen, NewTicketScreen)
        assert any("takes no new tickets" in str(n.message) for n in app._notifications)


async def test_n_on_an_attached_run_adds_through_its_server(sim: SimServer, tmp_path: Path) -> None:
    toml = '[defaults]\nprovider = "sim"\n\n[[ticket]]\nid = "first"\nprompt = "x"\nmodel = "hello"\n'
    async with served(sim, tmp_path, toml, control=True) as run:
        run.run.start()
        attachment = Attachment(run.url, TOKEN)
        app = attach_app(await attachment.describe(), attachment, Providers())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("N")
            assert isinstance(app.screen, NewTicketScreen)
            fill(app, prompt="Again.", provider="nobody")
            await pilot.press("enter")
            await until(pilot, lambda: "unknown provider 'nobody'" in problem(app))
            fill(app, provider="", model="hello")
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, NewTicketScreen))
            await until(pilot, lambda: "added-1" in app.controller.panes)
            pane = app.controller.panes["added-1"]
            await until(pilot, lambda: pane.state is PaneState.COMPLETED, timeout=20)
        await attachment.aclose()
    assert run.run.states["added-1"].outcome is not None


async def test_e_on_an_attached_open_run_ends_it_through_its_server(sim: SimServer, tmp_path: Path) -> None:
    """`E` in `lfg attach` sends `end`: a run kept open is told to end (said in a notice); one that is
    not kept open says why not, in the run's words."""
    toml = '[defaults]\nprovider = "sim"\n\n[[ticket]]\nid = "first"\nprompt = "x"\nmodel = "hello"\n'
    async with served(sim, tmp_path, toml, control=True) as run:
        attachment = Attachment(run.url, TOKEN)
        app = attach_app(await attachment.describe(), attachment, Providers())
        async with app.run_test(size=SIZE) as pilot:

            def said(words: str) -> bool:
                return any(words in n.message for n in app._notifications)

            await pilot.press("E")
            await until(pilot, lambda: said("this run is not kept open for new tickets (lfg run --open)"))
            run.run.open_until = asyncio.Event()
            await pilot.press("E")
            await until(pilot, lambda: said("The run ends once its tickets at work have ended"))
        await attachment.aclose()
    assert run.run.open_until.is_set()
