"""One text per key, declared next to its binding (`Binding.tooltip`): the help (`?`), the command
palette, the footer (its keys' tooltips) and the docs' key reference all read that one text, so no
two of them can describe a key differently."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets._footer import FooterKey

from lfgtui.sim.server import SimServer
from lfgtui.ui.screens.command_palette import key_commands
from lfgtui.ui.screens.modals import HelpScreen
from tests.support.app import SIZE, make_app, tickets, until
from tests.support.keys import documented_bindings, reference_hook


def test_every_binding_carries_its_one_text() -> None:
    bindings = documented_bindings()
    assert len(bindings) > 60, "the walk finds every screen's bindings"
    assert [f"{title}: {b.id or b.action}" for title, b in bindings if not b.tooltip] == []
    texts: dict[str, set[str]] = {}
    for _, binding in bindings:
        texts.setdefault(binding.id or binding.action, set()).add(binding.tooltip)
    assert {ident: said for ident, said in texts.items() if len(said) > 1} == {}, "one id, one text"


def test_the_docs_key_reference_says_each_bindings_own_text() -> None:
    hook = reference_hook()
    tables = hook.keys_tables()
    for _, binding in documented_bindings():
        ident = f"`{binding.id}`" if binding.id else "(Textual's)"
        row = next(
            line for line in tables.splitlines() if f"| {ident} |" in line and hook._key(binding.key) in line
        )
        assert row.endswith(f"| {hook._cell(binding.tooltip)} |"), row


async def test_help_palette_and_footer_say_each_bindings_own_text(sim: SimServer, tmp_path: Path) -> None:
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        # The footer shows the bindings as they were when it was last drawn: read once it shows no key
        # the screen no longer binds (a CI run read it as the ticket ended, `steer` still there).
        await until(
            pilot,
            lambda: (
                bool(keys := screen.query(FooterKey))
                and {key.action for key in keys}
                <= {a.binding.action for a in screen.active_bindings.values()}
            ),
        )
        own = {
            b.id or b.action: b.tooltip
            for active in screen.active_bindings.values()
            for b in [active.binding]
        }
        footer = {key.action: str(key.tooltip) for key in screen.query(FooterKey)}
        actions = {
            active.binding.action: active.binding.tooltip for active in screen.active_bindings.values()
        }
        assert footer and all(actions[action] == said for action, said in footer.items())
        palette = {command.title: command.help for command in key_commands(app, screen)}
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = {ident or re.sub(r"\W", "", keys): what for keys, what, ident in app.screen.rows}
    assert rows["pane.cancel"] == own["pane.cancel"] and rows["app.quit"] == own["app.quit"]
    assert all(own[ident] == what for ident, what in rows.items() if ident in own)
    assert palette["Cancel"].endswith(f": {own['pane.cancel']}") and palette["Quit"].endswith(own["app.quit"])
    assert palette["palette"].endswith(f": {own['command_palette']}")
