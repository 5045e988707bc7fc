"""lfg's commands in Textual's command palette (ctrl+p): every key of the screen on show by its name,
lfg's own themes, and on a run screen each ticket, to go to.

The keys are read from the screen's active bindings, as the footer and the help read them, so the
palette offers what works there (its mode's, as the person bound them) and runs it as the key does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.app import App, SystemCommand
from textual.screen import Screen

from lfgtui.inert import inert
from lfgtui.ui.drawing.themes import load_themes
from lfgtui.ui.screens.run import RunScreen

SHOWN_TICKETS = 30
"""A run with more tickets offers them only to a search, not in the palette's first list."""
TEXTUAL_OWN = frozenset({"Theme", "Keys", "Quit"})
"""Textual's commands that lfg's replace: its themes (not lfg's), its key panel (lfg's help), quit."""


def lfg_commands(app: App[object], screen: Screen[object]) -> Iterator[SystemCommand]:
    """What the palette offers over `screen`: its keys' actions, lfg's themes, its tickets."""
    yield from key_commands(app, screen)
    for name in sorted(load_themes()):
        yield SystemCommand(f"Theme: {name}", f"lfg's {name} theme", partial(setattr, app, "theme", name))
    if isinstance(screen, RunScreen):
        few = len(screen.panes) <= SHOWN_TICKETS
        for pane in screen.panes:
            ticket = pane.ticket
            title = "" if ticket.title == ticket.id else f" {inert(ticket.title)}"
            help = f"{pane.state.value}: {inert(pane.provider)}/{inert(pane.model_shown)}"
            yield SystemCommand(
                f"Go to {inert(ticket.id)}{title}", help, partial(screen.show_pane, pane), few
            )


def key_commands(app: App[object], screen: Screen[object]) -> Iterator[SystemCommand]:
    """One command per binding that works on `screen`, named as the footer names it, with its keys."""
    seen: set[str] = set()
    # lfg's text of each action over Textual's (its `ctrl+q` quits too)
    own = {a.binding.action: a.binding.tooltip for a in screen.active_bindings.values() if a.binding.id}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not active.enabled or binding.system or not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        help = f"{app.get_key_display(binding)}: {own.get(binding.action, binding.tooltip)}"
        yield SystemCommand(binding.description, help, _runs(app, binding.action, active.node))


def _runs(app: App[object], action: str, node: object) -> Callable[[], object]:
    """Run `action` as its key would, on the node that binds it."""
    return partial(app.run_action, action, node)
