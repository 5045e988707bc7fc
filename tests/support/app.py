"""The real app through Pilot: tickets written, the app made, waiting (bounded) for a condition, a
pane, keys typed, and a live Markdown view's lines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from lfgtui.config.load import Config
from lfgtui.cost.prices import run_prices
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.markdown.live import LiveMarkdown
from lfgtui.ui.widgets.pane import TicketPane
from tests.support.compose import lfg_app
from tests.support.patience import PATIENCE

SIZE = (120, 40)


def tickets(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "README.md").write_text("# Widget\nRenders widgets.\n")
    path = tmp_path / "tickets.toml"
    path.write_text('[defaults]\nprovider = "sim"\n\n' + toml)
    return path


def make_app(sim: SimServer, path: Path, **options: object) -> LfgApp:
    """`lfg run`'s app on the tickets at `path`, priced as `lfg run` prices them (the sim is free)."""
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    providers = Providers(sim=sim)
    options.setdefault("prices", run_prices(providers.configs, loaded.tickets))
    return lfg_app(loaded.tickets, providers, **options)


async def until(pilot: object, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition` holds (bounded, so a broken feature fails instead of hanging;
    the bound stretched in a wide run: tests/support/patience.py)."""
    async with asyncio.timeout(timeout * PATIENCE):
        while not condition():
            await asyncio.sleep(0.02)


def pane(app: LfgApp, ticket: str) -> TicketPane:
    return app.controller.panes[ticket]


def keys(text: str) -> list[str]:
    return ["space" if ch == " " else "question_mark" if ch == "?" else ch for ch in text]


def settle(stream: LiveMarkdown) -> None:
    """Flush until no budgeted re-rendering is left, like the frame clock does over a few frames."""
    stream.flush()
    while stream.dirty:
        assert stream.flush()


def texts(stream: LiveMarkdown) -> list[str]:
    return [strip.text.rstrip() for strip in stream.lines]


def whole(stream: LiveMarkdown, source: str) -> list[Strip]:
    """The document rendered in one go by rich, padded like the widget pads its lines.

    rich starts a document that opens with a list with an empty line; that edge is trimmed.
    """
    width = stream.scrollable_content_region.width
    style = stream.rich_style
    rows = drawn_by_rich(stream.app.console, source, width, style)
    return [Strip([*row, Segment(" " * (width - Segment.get_line_length(row)), style)]) for row in rows]


def drawn_by_rich(
    console: Console, source: str, width: int, style: Style, theme: str = "monokai"
) -> list[list[Segment]]:
    """The rows rich's own `Markdown` draws for `source` at `width` over `style`, without its blank
    first and last rows: what the pane body's renderings are checked against."""
    rows = console.render_lines(
        Markdown(source, code_theme=theme, hyperlinks=False),
        console.options.update_width(width),
        style=style,
        pad=False,
    )
    while rows and not Segment.get_line_length(rows[0]):
        rows.pop(0)
    while rows and not Segment.get_line_length(rows[-1]):
        rows.pop()
    return rows
