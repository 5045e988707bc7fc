"""Markdown blocks rendered into strips for the pane body, cheaply enough to do on every frame.

rich builds a Markdown parser for every `Markdown` (0.5 ms) and looks up the lexer and the theme for
every code block it draws; here each is built once and shared. `render_strips` turns a block, a piece
of one or the live tail into exact-width strips (a code block whose lines fit, without rich's
per-line layers: `_code_rows`); `OpenCode` draws a code block that is still streaming
without highlighting all of it again on every frame, and `OpenParagraph` a streaming paragraph without
wrapping and drawing its finished rows again, and `OpenTable` a streaming table without drawing its
finished rows again.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound
from rich._wrap import divide_line
from rich.console import Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, Markdown, MarkdownElement, Paragraph, TableElement
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.syntax import PygmentsSyntaxTheme, Syntax
from rich.table import Column, Table
from rich.text import Text
from textual.strip import Strip

from lfgtui.ui.markdown.blocks import FENCE, Block, Join, bullet

DARK_CODE_THEME = "monokai"
LIGHT_CODE_THEME = "default"

_PARSER = MarkdownIt().enable("strikethrough").enable("table")
"""The parser `rich.markdown.Markdown` builds for every instance (0.5 ms each), built once."""

RenderKey = tuple[int, Style, str]
"""What a rendering depends on: width, base style and code theme."""


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer | str:
    """A lexer looked up once per language, with the options `Syntax` itself would use."""
    try:
        return get_lexer_by_name(name, stripnl=False, ensurenl=True, tabsize=4)
    except ClassNotFound:
        return name


@lru_cache(maxsize=8)
def _syntax_theme(name: str) -> PygmentsSyntaxTheme:
    """One theme object per name, so its style cache survives between renders."""
    return PygmentsSyntaxTheme(name)


class _CodeBlock(CodeBlock):
    """rich's code block, without looking the lexer and theme up again on every render."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield _syntax(str(self.text), self.lexer_name, self.theme)


CODE_PADDING = 1
"""Cells rich's code block leaves around its code."""


def _syntax(code: str, lexer_name: str, theme: str) -> Syntax:
    """What rich's code block draws for `code`."""
    return Syntax(
        code.rstrip(), _lexer(lexer_name), theme=_syntax_theme(theme), word_wrap=True, padding=CODE_PADDING
    )


class _Markdown(Markdown):
    """rich's Markdown with the faster code block."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "fence": _CodeBlock,
        "code_block": _CodeBlock,
    }


@lru_cache(maxsize=8)
def _template(code_theme: str) -> _Markdown:
    """An empty document per code theme, copied for each render instead of built (which builds a parser).

    Links are shown as their text followed by the URL, never as terminal hyperlinks (OSC 8): a model
    could otherwise show one address and point to another."""
    return _Markdown("", code_theme=code_theme, hyperlinks=False)


def _markdown(text: str, code_theme: str, parsed: list[Token] | None = None) -> Markdown | Syntax:
    """A rich `Markdown` for `text`, parsed with the shared parser (unless the caller has `parsed`
    it); a lone code block as the `Syntax` that `Markdown` would draw (the same lines, without its
    per-element machinery)."""
    parsed = _PARSER.parse(text) if parsed is None else parsed
    if len(parsed) == 1 and parsed[0].type in ("fence", "code_block"):
        token = parsed[0]
        return _syntax(token.content, (token.info or "").partition(" ")[0] or "text", code_theme)
    markdown = copy.copy(_template(code_theme))
    markdown.markup = text
    markdown.parsed = parsed
    return markdown


def render_strips(
    console: Console,
    text: str,
    join: Join,
    continued: bool,
    key: RenderKey,
    plain: bool = False,
    parsed: list[Token] | None = None,
) -> list[Strip]:
    """Render Markdown (or, when `plain`, the text as it is) into strips of exactly `width` cells,
    without rich's blank edge rows.

    A piece joined as `Join.CODE` loses its top padding row and a `continued` one its bottom row, so
    the pieces of one code block stack into the whole. Segments of one style are merged here, once,
    because the compositor walks them on every repaint. Plain text keeps its line breaks and wraps at
    spaces, folding a word longer than the width.
    """
    width, style, theme = key
    shown = Text(text, overflow="fold") if plain else _markdown(text, theme, parsed)
    rows = _code_rows(console, shown, width, style) if isinstance(shown, Syntax) else None
    if rows is None:
        rows = console.render_lines(
            shown, console.options.update(width=width, height=None), style=style, pad=False
        )
    start, end = 0, len(rows)
    while start < end and not Segment.get_line_length(rows[start]):
        start += 1
    while end > start and not Segment.get_line_length(rows[end - 1]):
        end -= 1
    if join is Join.CODE:
        start += 1
    if continued:
        end -= 1
    return _strips(rows[start:end], width, style)


def _code_rows(console: Console, syntax: Syntax, width: int, style: Style) -> list[list[Segment]] | None:
    """The rows `console.render_lines` makes of `syntax` (a code block, as `_syntax` makes it) at
    `width` over `style`, when every line of its code fits in the block; else None.

    rich takes each line through five layers (the block's padding, its segments, the line's own
    wrapping and justifying, the text's), three quarters of the cost of a few lines of code: a
    streaming code block draws its newly completed lines on nearly every frame. A line that fits is
    one row whatever they do: padding, the highlighted line made as wide as the code by spaces in its
    own style (rich's justifying), padding, in the styles each layer puts under what is inside it."""
    base = syntax._get_base_style()
    code_width = width - 2 * CODE_PADDING
    if base.transparent_background or code_width < 1:
        return None
    ends_on_nl, code = syntax._process_code(syntax.code)
    lines = syntax.highlight(code).split("\n", allow_blank=ends_on_nl)
    if any(line.cell_len > code_width for line in lines):
        return None
    padding = Segment(" " * CODE_PADDING, style + base)
    blank = [Segment(" " * width, style + base)]
    rows = [blank]
    for line in lines:
        line.truncate(code_width, pad=True)
        shown = Segment.apply_style(line.render(console), base)
        rows.append([padding, *Segment.apply_style(shown, style), padding])
    rows.append(blank)
    return rows


def _strips(rows: list[list[Segment]], width: int, style: Style) -> list[Strip]:
    """Rows of segments as strips of exactly `width` cells, each style's segments merged."""
    strips: list[Strip] = []
    for row in rows:
        length = Segment.get_line_length(row)
        if length < width:
            row.append(Segment(" " * (width - length), style))
        elif length > width:
            row = Segment.adjust_line_length(row, width, style)
        strips.append(Strip(list(Segment.simplify(row)), width))
    return strips


def render_block(
    console: Console, block: Block, key: RenderKey, parsed: list[Token] | None = None
) -> list[Strip]:
    """A block of the splitter (or its live tail) rendered into strips: see `render_strips`;
    `parsed`, the block's text parsed already."""
    return render_strips(console, block.text, block.join, block.continued, key, block.plain, parsed)


class OpenCode:
    """The open part of a streaming code block: its complete lines, then the line still arriving.

    Re-highlighting the open lines on every frame made code the costliest thing to stream. Lines
    that completed since the last render are highlighted together, once, as one chunk (a busy frame
    with several new lines pays the lexer's fixed cost once); earlier chunks are reused; the arriving
    line, which changes every frame, is drawn plain (no lexer). The finished piece is rendered whole.
    One instance serves one `RenderKey`: start a new one when the key changes.
    """

    def __init__(self) -> None:
        self._chunks: list[tuple[str, str, list[Strip]]] = []
        """The open block's complete lines, as (fence line, lines, rows) chunks rendered once each."""
        self._padding: dict[str, list[Strip]] = {}
        """A code block's padding row, by fence line."""

    def render(self, console: Console, header: str, code: str, join: Join, key: RenderKey) -> list[Strip]:
        """Strips for the open piece `code` below its fence line `header`, reusing earlier chunks."""
        *complete, arriving = code.split("\n")
        lines = [*complete, arriving]
        while len(lines) > 1 and not lines[-1].strip():
            lines.pop()
        done = lines[: len(complete)]
        chunks: list[tuple[str, str, list[Strip]]] = []
        covered = 0
        for fence, text, rows in self._chunks:
            size = text.count("\n") + 1
            if fence != header or "\n".join(done[covered : covered + size]) != text:
                break
            chunks.append((fence, text, rows))
            covered += size
        padding = self._padding.get(header)
        if padding is None:
            padding = self._padding[header] = render_strips(console, f"{header}\n", Join.GAP, True, key)[:1]
        if covered < len(done):
            text = "\n".join(done[covered:])
            content = text.rstrip()
            rows = render_strips(console, f"{header}\n{content}", Join.CODE, True, key) if content else []
            chunks.append((header, text, rows + padding * (text.count("\n", len(content)) + (not content))))
        self._chunks = chunks
        strips = [] if join is Join.CODE else list(padding)
        for _fence, _text, rows in chunks:
            strips.extend(rows)
        if len(lines) > len(complete):
            marker = FENCE.match(header)
            assert marker is not None
            strips.extend(render_strips(console, f"{marker.group(1)}\n{lines[-1]}", Join.CODE, True, key))
        strips.extend(padding)
        return strips


class _ParagraphText(Paragraph):
    """A paragraph that hands its styled text to its document instead of drawing it."""

    markdown: _ParagraphMarkdown

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> _ParagraphText:
        assert isinstance(markdown, _ParagraphMarkdown)
        element = cls(justify=markdown.justify or "left")
        element.markdown = markdown
        return element

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.text.justify = self.justify
        self.markdown.paragraph_text = self.text
        yield from ()


class _ParagraphMarkdown(_Markdown):
    """A document whose paragraph is taken as rich `Text`, to be wrapped by `OpenParagraph`."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **_Markdown.elements,
        "paragraph_open": _ParagraphText,
    }
    paragraph_text: Text | None = None


@lru_cache(maxsize=8)
def _paragraph_template(code_theme: str) -> _ParagraphMarkdown:
    return _ParagraphMarkdown("", code_theme=code_theme, hyperlinks=False)


@dataclass
class _Wrapped:
    """A paragraph as last drawn: its text, where each of its rows starts in it, and the rows."""

    key: RenderKey
    text: Text
    starts: list[int]
    strips: list[Strip]


class OpenParagraph:
    """The live tail while it is one paragraph: rows that cannot change are kept, the rest re-wrapped.

    A streaming paragraph was rendered in full on every frame, so a long one cost more each token.
    The text is still parsed whole (a closing delimiter can restyle what came before), but the rows
    of the new text that start where an earlier row started, with the same characters and styles up
    to the end of the row after them, are the earlier rows: wrapping is greedy, and a row only depends
    on its own words and on the first word of the next row. Only the rows from there on are wrapped
    and drawn again. A list's item whose content is one paragraph is that paragraph drawn so, narrower
    by its marker (`_list_items`): a bullet item, or an ordered list's last item, the items before it
    kept from the last render. Anything else (and a paragraph with tabs) is rendered whole.
    The block a paragraph finishes as is drawn the same way. One instance serves one live tail: start
    a new one when the key changes.
    """

    def __init__(self) -> None:
        self._last: _Wrapped | None = None
        self._source = ""
        """The Markdown source of the last rendering (`_last`)."""
        self.reused = 0
        """Rows taken from the earlier rendering by the last `render`."""
        self.parsed = False
        """Whether the last `render` parsed its text (else it extended the earlier one's)."""
        self._kept_items: dict[tuple[str, RenderKey], list[Strip]] = {}
        """The rows of a streaming list's items before its last, by their source and key."""

    @property
    def drawn(self) -> bool:
        """Whether the last rendering was a paragraph's, whose rows the next one may share."""
        return self._last is not None

    def render(self, console: Console, block: Block, key: RenderKey) -> list[Strip]:
        """Strips for the live tail `block`, equal to `render_block`'s."""
        self.reused = 0
        if block.plain:
            self._last = None
            self.parsed = True
            return render_block(console, block, key)
        items = _list_items(console, block.text)
        if items is not None:
            strips = self._items(console, items, key)
            if strips is not None:
                return strips
            self._last = None
            return render_block(console, block, key)
        rows, parsed = self._paragraph(console, block.text, key)
        if rows is None:
            self._last = None
            return render_block(console, block, key, parsed)
        return rows

    def _items(self, console: Console, items: _ListItems, key: RenderKey) -> list[Strip] | None:
        """A list's items drawn as rich draws them: each item's paragraph `items.width` narrower, after
        its marker; the last as a streaming paragraph, the others kept from the last render. None
        when an item is not one paragraph, or the pane too narrow for it."""
        width, style, theme = key
        if width - items.width < NARROWEST_ITEM:
            return None
        inner = (width - items.width, style, theme)
        marked = style + items.style
        padding = Segment(" " * items.width, marked)
        kept: dict[tuple[str, RenderKey], list[Strip]] = {}
        strips: list[Strip] = []
        last = len(items.bodies) - 1
        for number, (body, marker) in enumerate(zip(items.bodies, items.markers, strict=True)):
            if number == last:
                rows, _parsed = self._paragraph(console, body, inner)
            else:
                rows = (
                    self._kept_items.get((body, inner)) or OpenParagraph()._paragraph(console, body, inner)[0]
                )
                if rows is not None:
                    kept[body, inner] = rows
            if rows is None:
                return None
            lead = Segment(marker, marked)
            strips += [
                Strip(list(Segment.simplify([padding if row_number else lead, *row])), width)
                for row_number, row in enumerate(rows)
            ]
        self._kept_items = kept
        return strips

    def _paragraph(
        self, console: Console, source: str, key: RenderKey
    ) -> tuple[list[Strip] | None, list[Token] | None]:
        """The rows of `source` as a lone paragraph, and its tokens when it was parsed; no rows when
        it is anything else (or a paragraph with tabs)."""
        width, style, theme = key
        options = console.options.update(width=width, height=None)
        text = self._extended(source, key)
        self.parsed = text is None
        parsed = None
        if text is None:
            parsed = _PARSER.parse(source)
            if [token.type for token in parsed] != ["paragraph_open", "inline", "paragraph_close"]:
                return None, parsed
            markdown = copy.copy(_paragraph_template(theme))
            markdown.markup = source
            markdown.parsed = parsed
            for _segment in markdown.__rich_console__(console, options):
                pass
            text = markdown.paragraph_text
            assert text is not None
            if "\t" in text.plain:
                return None, parsed
        self._source = source
        kept = self._kept_rows(text, key)
        start = self._last.starts[kept] if self._last and kept else 0
        rest = text[start:] if start else text
        overflow = text.overflow or options.overflow or "fold"
        starts = [start + offset for offset in _row_starts(rest.plain, width, overflow)]
        rows = console.render_lines(rest, options, style=style, pad=False)
        if len(rows) != len(starts) or not all(Segment.get_line_length(row) for row in rows):
            return None, None
        if self._last and kept:
            starts = self._last.starts[:kept] + starts
            strips = self._last.strips[:kept] + _strips(rows, width, style)
        else:
            strips = _strips(rows, width, style)
        self._last = _Wrapped(key, text, starts, strips)
        self.reused = kept
        return strips, parsed

    def _extended(self, source: str, key: RenderKey) -> Text | None:
        """The paragraph's text without parsing it again, when `source` is the last rendering's
        source followed by words that cannot change how any of it parses: letters, digits, spaces
        and `.,?` (no delimiter, bracket, escape, entity, tab or line break; quotes, colons, brackets
        and `/!-` too where no `[` or `<` came before), after a last character of the same kind that
        is not a space, and ending in one that is not (a paragraph's trailing spaces are dropped);
        and not after a last line of digits alone, or digits and a `.`, which the next characters
        would make an ordered list's marker. Then no earlier delimiter finds a partner, no block
        starts, and the new words take the paragraph's own style: rich's text, with them appended.
        Else None."""
        last, old = self._last, self._source
        if last is None or last.key != key or not old or not source.startswith(old):
            return None
        added = source[len(old) :]
        if not added or not (_plain_word(old[-1]) and _plain_word(added[-1])):
            return None
        if "[" in old or "<" in old:  # a link, a title or a tag might still close
            if not all(map(_plain, added)):
                return None
        elif not all(char in _UNLINKED or _plain(char) for char in added):
            return None
        if old.rsplit("\n", 1)[-1].strip().removesuffix(".").isdigit():  # `1` or `1.`: a marker to be
            return None
        text = last.text.copy()
        text.append(added)
        return text

    def _kept_rows(self, text: Text, key: RenderKey) -> int:
        """How many leading rows of the last rendering the rendering of `text` shares.

        Row `n` and those before it start where they started if the text (characters and styles) is
        the same up to the end of row `n`, which ends with a space (its words are whole) as the row
        before it does, and begins with a word (not a space of a run that filled a row alone, nor a
        word after the spaces a line starts with, which rich's wrapping takes as one word with them
        and may have cut there: a code span of spaces starts a paragraph so): then rows before `n`
        are the same rows.
        """
        last = self._last
        if last is None or last.key != key:
            return 0
        old, new = last.text.plain, text.plain
        kept = len(last.starts) - 2  # the last two rows are always drawn again
        while kept > 0:
            row, end = last.starts[kept], last.starts[kept + 1]
            if (
                end <= len(new)
                and old[row - 1].isspace()
                and not old[row].isspace()  # a word starts it: a run of spaces may fill a row alone
                and old[old.rfind("\n", 0, row) + 1 : row].strip()  # not the first word of its line
                and old[end - 1].isspace()
                and old[:end] == new[:end]
                and _spans(last.text, end) == _spans(text, end)
            ):
                return kept
            kept -= 1
        return 0


NARROWEST_ITEM = 5
"""The narrowest an item's content is drawn at as a streaming paragraph: the narrowest width the
paragraph's kept rows are checked at against a full rendering (tests/ui/test_markdown_render.py;
rows of a cell or two, as no pane has, can wrap otherwise). A narrower one is drawn whole."""
BULLET = " • "
"""What rich draws before a bullet item's first row (its other rows get as many spaces)."""
_ORDERED_ITEM = re.compile(r"(\d{1,9})([.)]) (?=\S)")


@dataclass(frozen=True)
class _ListItems:
    """A list at column 0 as rich draws it: each item's content as the source of a top-level
    paragraph, what goes before its first row, how many cells that takes and in what style."""

    bodies: list[str]
    markers: list[str]
    width: int
    style: Style


def _list_items(console: Console, text: str) -> _ListItems | None:
    """A bullet item (the splitter cuts each into a block of its own) or a tight ordered list, as
    its items; None for anything else.

    rich draws an item as its marker, then its content drawn that much narrower in the item's
    style. An item's content is its lines with the item's indent taken off (the marker and one space
    on the first line, as many spaces on each later one), parsed as a document of its own, so they
    parse as a top-level paragraph does; whatever would start another block in the item (a nested
    list, a fence, a heading underline) starts one there too, and the list is drawn whole. Not for
    a line indented less (a lazy continuation, which a marker there would end, or another block
    after the list), a blank line (a loose list), tabs, or an item style that adds to the
    paragraph's styles. An ordered list's numbers are as wide as rich makes them, from its start and
    its count."""
    head = text[:1]
    if not (head in ("-", "*", "+") or head.isdigit()):  # any other block, at no cost per token
        return None
    if "\t" in text or console.get_style("markdown.item", default="none"):
        return None
    if text[:2] in ("- ", "* ", "+ ") and text[2:3].strip() and bullet(text) is not None:
        first, *rest = text[2:].split("\n")
        if not all(line.startswith("  ") for line in rest):
            return None
        body = "\n".join([first, *(line[2:] for line in rest)])
        width = len(BULLET)
        return _ListItems([body], [BULLET], width, console.get_style("markdown.item.bullet", default="none"))
    bodies: list[list[str]] = []
    start, delimiter, indent = 0, "", 0
    for line in text.split("\n"):
        marker = _ORDERED_ITEM.match(line)
        if marker is not None and (not bodies or marker.group(2) == delimiter):
            if not bodies:
                start, delimiter = int(marker.group(1)), marker.group(2)
            indent = marker.end()
            bodies.append([line[indent:]])
        elif bodies and line.startswith(" " * indent):
            bodies[-1].append(line[indent:])
        else:
            return None
    width = len(str(start + len(bodies))) + 2  # rich's `ListItem.render_number`: one past the last
    markers = [f"{start + number}".rjust(width - 1) + " " for number in range(len(bodies))]
    style = console.get_style("markdown.item.number", default="none")
    return _ListItems(["\n".join(lines) for lines in bodies], markers, width, style)


def _plain(char: str) -> bool:
    """A character that cannot open, close or escape any inline Markdown, nor start a block."""
    return char.isalnum() or char in " .,?"


def _plain_word(char: str) -> bool:
    return char != " " and _plain(char)


_UNLINKED = frozenset("'\":()/!-")
"""Characters that only a link, a link's title, an image, an autolink or a tag gives a meaning in a
paragraph (never at a line's start, after a plain character): plain too in one with no `[` or `<`."""


def _spans(text: Text, end: int) -> list[tuple[int, int, str | Style]]:
    """The styles of `text` on its first `end` characters."""
    return [(span.start, min(span.end, end), span.style) for span in text.spans if span.start < end]


def _row_starts(plain: str, width: int, overflow: str) -> list[int]:
    """Where each row of a text without tabs starts when wrapped at `width`, as `Text.wrap` cuts it."""
    starts: list[int] = []
    offset = 0
    for line in plain.split("\n"):
        starts.append(offset)
        starts.extend(offset + cut for cut in divide_line(line, width, fold=overflow == "fold"))
        offset += len(line) + 1
    return starts


class _TableOf(TableElement):
    """A table that hands rich's `Table` (and the options it would be drawn with) to its document."""

    markdown: _TableMarkdown

    @classmethod
    def create(cls, markdown: Markdown, token: Token) -> _TableOf:
        assert isinstance(markdown, _TableMarkdown)
        element = cls()
        element.markdown = markdown
        return element

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for table in super().__rich_console__(console, options):
            assert isinstance(table, Table)
            self.markdown.tables.append((table, options))
        yield from ()


class _TableMarkdown(_Markdown):
    """A document whose tables are taken as rich `Table`s, to be drawn a few rows at a time."""

    elements: ClassVar[dict[str, type[MarkdownElement]]] = {**_Markdown.elements, "table_open": _TableOf}
    tables: list[tuple[Table, ConsoleOptions]]


@lru_cache(maxsize=8)
def _table_template(code_theme: str) -> _TableMarkdown:
    return _TableMarkdown("", code_theme=code_theme, hyperlinks=False)


def _table_of(table: Table, rows: list[list[Text]], header: bool) -> Table:
    """`table` (its settings and columns) holding only `rows`, with or without its header."""
    piece = copy.copy(table)
    piece.columns = [column.copy() for column in table.columns]
    piece.rows = []
    piece.show_header = header
    for cells in rows:
        piece.add_row(*cells)
    return piece


@dataclass
class _Rows:
    """Some rows of a rich table drawn at fixed column widths: the lines the whole table draws for
    them (led by its top edge and ended by its bottom edge), without measuring any other row."""

    table: Table
    widths: list[int]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """What `Table.__rich_console__` draws (it has no title or caption), at `widths`."""
        table = self.table
        width = sum(self.widths) + table._extra_width
        options = options.update(width=width, highlight=table.highlight, height=None)
        yield from table._render(console, options, self.widths)


def _table_rows(
    console: Console, text: str, key: RenderKey, rows: int
) -> tuple[Table, ConsoleOptions] | None:
    """rich's table for `text` (a header, a delimiter row and `rows` body lines) and the options it is
    drawn with; None unless `text` is exactly one table with one row per body line."""
    parsed = _PARSER.parse(text)
    if (
        not parsed
        or parsed[0].type != "table_open"
        or parsed[-1].type != "table_close"
        or sum(token.type == "tr_open" for token in parsed) != rows + 1
    ):
        return None
    width, _style, theme = key
    markdown = copy.copy(_table_template(theme))
    markdown.markup = text
    markdown.parsed = parsed
    markdown.tables = []
    for _segment in markdown.__rich_console__(console, console.options.update(width=width, height=None)):
        pass
    if len(markdown.tables) != 1:
        return None
    return markdown.tables[0]


def _is_delimiter_row(line: str) -> bool:
    """Whether `line` may be a table's delimiter row (`|---|:-:|`); the parser has the last word."""
    return "-" in line and not line.strip(" \t|:-")


def _cells(table: Table) -> list[list[Text]]:
    """The body rows of a table that holds only text cells (a Markdown table's)."""
    columns = [[cell for cell in column.cells if isinstance(cell, Text)] for column in table.columns]
    return [list(row) for row in zip(*columns, strict=True)]


SMALL_TABLE = 3
"""A table of fewer body lines is drawn whole: drawing its rows apart would cost more."""


@dataclass
class _DrawnTable:
    """A streaming table as last drawn: its header and complete body lines with their cells and
    measurements (per column, the header included), the column widths they were drawn at, and the
    strips of the header (with the top edge), of each complete line's rows and of the bottom edge."""

    key: RenderKey
    head: str
    lines: list[str]
    table: Table
    options: ConsoleOptions
    inner: ConsoleOptions
    """The options its columns are measured with: `options` less the table's edges and padding."""
    cells: list[list[Text]]
    measures: list[Measurement]
    widths: list[int] = field(default_factory=list)
    top: list[Strip] = field(default_factory=list)
    body: list[Strip] = field(default_factory=list)
    drawn: int = 0
    """Complete lines whose rows `body` holds."""
    bottom: list[Strip] = field(default_factory=list)


class OpenTable:
    """The live tail while it is a table: rows that did not change are not drawn again.

    rich lays a table out from every cell, so a streaming table was parsed, measured and drawn whole on
    each frame. Here the header and the complete body lines are kept with their cells and column
    measurements; each render parses and measures only the lines that completed since the last and the
    arriving line (below the header), takes the column widths rich would take from the measurements of
    all of them, and, when the widths are those the complete rows were drawn at, draws only the new
    rows: at fixed widths a row of rich's Markdown table (box `SIMPLE`, no row lines) does not depend
    on the rows around it. When the widths change (a longer cell), the whole table is drawn again.

    The strips equal `render_block`'s for the same text at every step, arriving line included: a user
    sees exactly what a full render shows. Anything that is not one table with one row per line (a
    header still arriving, a line the table does not take) is left to the caller (None). One instance
    serves one live tail: it starts afresh when the key, the header or a complete line differs.
    """

    def __init__(self) -> None:
        self._last: _DrawnTable | None = None
        self.reused = 0
        """Rows taken from the earlier rendering by the last `render`."""

    @property
    def drawn(self) -> bool:
        """Whether the last rendering was a table's, whose rows the next one may share."""
        return self._last is not None

    def render(self, console: Console, block: Block, key: RenderKey) -> list[Strip] | None:
        """Strips for the table `block`, equal to `render_block`'s, or None if it is not a table (or
        a table of fewer than `SMALL_TABLE` body lines, which costs less drawn whole)."""
        self.reused = 0
        head, _newline, rest = block.text.partition("\n")
        delimiter, newline, body = rest.partition("\n")
        if block.plain or not newline or "|" not in head or body.count("\n") < SMALL_TABLE - 1:
            self._last = None
            return None
        lines = body.split("\n")
        head = f"{head}\n{delimiter}"
        *complete, arriving = lines
        drawn = self._last
        if (
            drawn is None
            or drawn.key != key
            or drawn.head != head
            or drawn.lines != complete[: len(drawn.lines)]
        ):
            drawn = None
        known = len(drawn.lines) if drawn else 0
        found = None
        if _is_delimiter_row(delimiter):
            found = _table_rows(
                console, "\n".join([head, *complete[known:], arriving]), key, len(lines) - known
            )
        if found is None:
            self._last = None
            return None
        table, options = found
        *new, last = _cells(table)
        if drawn is None:
            inner = options.update_width(options.max_width - table._extra_width)
            drawn = _DrawnTable(
                key, head, complete, table, options, inner, new, _measures(console, inner, table, new, True)
            )
        elif new:
            drawn.measures = _combined(
                drawn.measures, _measures(console, drawn.inner, drawn.table, new, False)
            )
            drawn.lines = complete
            drawn.cells.extend(new)
        self._last = drawn
        inner = drawn.inner
        measures = _combined(drawn.measures, _measures(console, inner, drawn.table, [last], False))
        widths = _MeasuredTable.of(drawn.table, measures)._calculate_column_widths(console, inner)
        if widths != drawn.widths:
            drawn.widths = widths
            framed = self._draw(console, drawn, [], True, edges=True)
            drawn.top, drawn.bottom = framed[:-1], framed[-1:]
            drawn.body, drawn.drawn = [], 0
        self.reused = len(drawn.body)
        if drawn.drawn < len(drawn.cells):
            drawn.body.extend(self._draw(console, drawn, drawn.cells[drawn.drawn :], False))
            drawn.drawn = len(drawn.cells)
        return [*drawn.top, *drawn.body, *self._draw(console, drawn, [last], False), *drawn.bottom]

    def _draw(
        self, console: Console, drawn: _DrawnTable, rows: list[list[Text]], header: bool, edges: bool = False
    ) -> list[Strip]:
        """Strips of `rows` (and the header) of `drawn`'s table at its widths, without its top and
        bottom edges unless `edges`."""
        width, style, _theme = drawn.key
        shown = _Rows(_table_of(drawn.table, rows, header), drawn.widths)
        lines = console.render_lines(shown, drawn.options, style=style, pad=False)
        return _strips(lines if edges else lines[1:-1], width, style)


class _MeasuredTable(Table):
    """A table whose columns measure as given: rich's column widths without measuring a cell again.

    A column measured at the table's width measures at a narrower one (rich shrinks the columns of a
    table too wide, then measures them again at their new widths) as that measurement capped."""

    measures: list[Measurement]

    @classmethod
    def of(cls, table: Table, measures: list[Measurement]) -> _MeasuredTable:
        measured = cls.__new__(cls)
        vars(measured).update(vars(table))
        measured.measures = measures
        return measured

    def _measure_column(self, console: Console, options: ConsoleOptions, column: Column) -> Measurement:
        if options.max_width < 1:
            return Measurement(0, 0)
        return self.measures[column._index].with_maximum(options.max_width)


def _measures(
    console: Console, options: ConsoleOptions, table: Table, rows: list[list[Text]], header: bool
) -> list[Measurement]:
    """Each column's measurement over `rows` (and the header) alone, as `Table` measures a column
    over all its cells."""
    piece = _table_of(table, rows, header)
    return [piece._measure_column(console, options, column) for column in piece.columns]


def _combined(measures: list[Measurement], more: list[Measurement]) -> list[Measurement]:
    """The measurements of columns holding the cells of both: each the widest of the two."""
    return [
        Measurement(max(one.minimum, other.minimum), max(one.maximum, other.maximum))
        for one, other in zip(measures, more, strict=True)
    ]
