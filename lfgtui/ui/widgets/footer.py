"""The footer of lfg's screens: Textual's, with help and quit pinned to its right edge.

Textual's footer lists the focused widget's keys, then the screen's, then the app's, and cuts off
what does not fit: at 80 columns the run screen's own keys pushed `? Help` and `q Quit` out of
sight. Pinned beside the command palette's key, those two stay whatever the width; the other keys
drop first. A screen whose keys act only on some of its panes says which apply (`applies(action)`):
the others are left out, so that those that do fit.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PINNED = frozenset({"help", "quit"})
"""The actions (the app's) a footer always shows."""


FIT_TRIES = 10
FIT_WAIT_S = 0.05
"""How often, and how long apart, a footer looks again for its keys laid out before it fits them."""


class KeysFooter(Footer):
    """A footer whose help, quit and command palette keys never scroll out of view."""

    DEFAULT_CSS = """
    KeysFooter .pinned {
        dock: right;
        width: auto;
        height: 1;
        background: $footer-background;
    }
    KeysFooter .pinned FooterKey.-command-palette {
        dock: none;
    }
    """

    _composed_for: Hashable = None
    """What the keys shown were composed from (`_keys_from`); None while there are none."""

    async def recompose(self) -> None:
        """Textual's footer recomposes every time the focus moves, a whole remount and restyle of its
        keys, though moving between panes mostly leaves the same keys: then it keeps them."""
        if self.is_attached and self._composed_for is not None and self._composed_for == self._keys_from():
            return
        await super().recompose()

    def _keys_from(self) -> Hashable:
        """All that the keys composed now would be made from: the screen's bindings and which of them
        apply, and the footer's own settings."""
        applies = getattr(self.screen, "applies", None)
        return (
            self.compact,
            self.show_command_palette,
            tuple(
                (binding, enabled, tooltip, applies is None or applies(binding.action.partition("(")[0]))
                for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            ),
        )

    def compose(self) -> ComposeResult:
        applies = getattr(self.screen, "applies", None)  # a screen's keys that act only on some panes
        keys = [
            key
            for key in super().compose()
            if applies is None or not isinstance(key, FooterKey) or applies(key.action.partition("(")[0])
        ]
        self._composed_for = self._keys_from() if keys else None  # none: the bindings were not ready
        for key in keys:
            if isinstance(key, FooterKey):
                settled(key, self.compact)
        pinned = [key for key in keys if isinstance(key, FooterKey) and pinned_key(key)]
        yield from (key for key in keys if not any(key is p for p in pinned))
        if pinned:
            with HorizontalGroup(classes="pinned"):
                yield from pinned
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self, tries: int = FIT_TRIES) -> None:
        """Hide the keys that would be cut off by the pinned ones: a key shows whole or not at all.
        A key's width is its rendered text's (a hidden key has no region to measure)."""
        pinned = self.query(".pinned")
        width = pinned.first().outer_size.width if pinned else 0
        if not self.size.width or (pinned and not width):
            if tries:  # not laid out yet
                self.set_timer(FIT_WAIT_S, lambda: self._fit(tries - 1))
            return
        room, right = self.size.width - width, 0
        for key in self.query_children(FooterKey):
            right += key.render().cell_len + key.styles.margin.width
            key.styles.visibility = "visible" if right <= room else "hidden"


def settled(key: FooterKey, compact: bool) -> None:
    """`key` made as its mount would leave it, so that mounting restyles it no more. Textual's
    FooterKey starts compact (its `compact` defaults to True, whose watcher adds `-compact` as the key
    mounts), and every key but the command palette's is bound to the footer's `compact` (False), which
    takes the class off again: two restyles of each key, each a whole stylesheet pass, every time the
    footer recomposes (as the focus moves), 13 % of the UI tests' CPU."""
    if not key.has_class("-command-palette"):  # the one key Textual does not bind to the footer's
        key.set_reactive(FooterKey.compact, compact)
    key.set_class(key.has_class("-command-palette") or compact, "-compact", update=False)


def pinned_key(key: FooterKey) -> bool:
    return key.action in PINNED or key.has_class("-command-palette")
