"""The colours states and marks are painted in, taken from the app's theme so that a theme recolours
them: panes, the summary bar, the diff and the history screen all read one `Palette`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.app import App


@dataclass(frozen=True, slots=True)
class Palette:
    running: str
    """Streaming, and the live sparkline."""
    waiting: str
    """Queued behind a limit, a retry's countdown, a provider's pause, a cancelled ticket."""
    attention: str
    """Waiting for the person's approval."""
    good: str
    """Completed; lines a diff adds."""
    bad: str
    """Failed; lines a diff removes; a search that failed."""

    @classmethod
    def of(cls, variables: Mapping[str, str]) -> Palette:
        """From the theme's CSS variables (`App.get_css_variables()`), which every theme fills in."""
        return cls(
            running=variables["primary"],
            waiting=variables["warning"],
            attention=variables["secondary"],
            good=variables["success"],
            bad=variables["error"],
        )


DEFAULT = Palette(running="cyan", waiting="yellow", attention="magenta", good="green", bad="red")
"""The terminal's own colours, for what is drawn before a theme is applied."""


def colours(app: App[object]) -> Palette:
    """The palette of `app`'s theme (`LfgApp.palette`); the default in an app that has none."""
    palette = getattr(app, "palette", DEFAULT)
    return palette if isinstance(palette, Palette) else DEFAULT
