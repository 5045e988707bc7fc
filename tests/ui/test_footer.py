"""The footer's keys (lfg's `KeysFooter`) cost no more than their own mount as the footer recomposes,
which it does whenever the focus moves."""

from __future__ import annotations

from pathlib import Path

from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.footer import KeysFooter
from tests.support.app import SIZE, make_app, pane, tickets, until


async def test_a_footer_key_is_not_restyled_as_it_mounts(sim: SimServer, tmp_path: Path) -> None:
    """Textual's FooterKey starts compact and the footer's binding makes it not: each key was
    restyled twice as it mounted (a whole stylesheet pass each), 13 % of the UI tests' CPU. How the
    keys look is the snapshots' (tests/ui/test_snapshots.py)."""
    app = make_app(sim, tickets(tmp_path, '[[ticket]]\nid = "hi"\nprompt = "x"\nmodel = "hello"\n'))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: bool(screen.query(FooterKey)))
        restyled: list[DOMNode] = []
        update_styles = app.update_styles

        def seen(node: DOMNode, animate: bool = True) -> None:
            if isinstance(node, FooterKey):
                restyled.append(node)
            update_styles(node, animate)

        app.update_styles = seen  # type: ignore[method-assign]
        footer = screen.query_one(KeysFooter)
        before = {id(key) for key in footer.query(FooterKey)}
        footer.call_later(Widget.recompose, footer)  # as a move of the focus to other keys does
        await until(pilot, lambda: not before & {id(key) for key in footer.query(FooterKey)})
        await pilot.pause()
        keys = list(footer.query(FooterKey))
        assert keys and not {id(key) for key in keys} & {id(node) for node in restyled}, restyled
        assert all(key.has_class("-compact") == key.compact for key in keys), "styled as their state"
        palette = [key for key in keys if key.has_class("-command-palette")]
        assert all(key.compact == footer.compact for key in keys if key not in palette)
        assert any(key.action == "quit" for key in keys)


async def test_moving_the_focus_to_a_pane_with_the_same_keys_keeps_the_footers_keys(
    sim: SimServer, tmp_path: Path
) -> None:
    """Textual's footer recomposes whenever the focus moves (a remount and restyle of every key); from
    one finished pane to another the keys are the same, and lfg's footer keeps them. Where the keys
    differ it still recomposes (the first test, and the snapshots)."""
    toml = "".join(f'[[ticket]]\nid = "t{i}"\nprompt = "x"\nmodel = "hello"\n\n' for i in range(2))
    app = make_app(sim, tickets(tmp_path, toml))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.controller.screen
        t0, t1 = pane(app, "t0"), pane(app, "t1")
        await until(pilot, lambda: t0.finished and t1.finished)
        footer = screen.query_one(KeysFooter)
        seen: list[list[int]] = []

        def settled() -> bool:
            """The finished panes' keys shown, and the same key widgets at two looks 20 ms apart: the
            recompose of their finishing, which mounts its keys in steps, is over."""
            shown = list(footer.query(FooterKey))
            seen.append([id(key) for key in shown])
            return {"retry", "follow_up"} <= {key.action for key in shown} and seen[-2:] == [seen[-1]] * 2

        await until(pilot, settled)
        composed: list[KeysFooter] = []
        compose = footer.compose
        footer.compose = lambda: composed.append(footer) or compose()  # type: ignore[method-assign]
        before = [id(key) for key in footer.query(FooterKey)]
        assert screen.focused_pane is t0
        await pilot.press("tab")
        assert screen.focused_pane is t1
        await pilot.pause()
        await pilot.pause()
        assert not composed and [id(key) for key in footer.query(FooterKey)] == before
