"""The private names of our dependencies that lfg relies on, checked by name: when an upgrade
moves one, this fails and says which, instead of a stream or a notification failing at run time.
pyproject.toml pins textual and openai below the next major version for the same reason.

docs/dependencies.md is their register (what each replaces, why, upstream); the `test_register_`
tests keep it and lfgtui/'s source in step (tests/support/private_names.py finds the uses) and
keep it to its budget (no net growth without a line saying why), and every other test here is a pin
the register names."""

from __future__ import annotations

import asyncio
import inspect
import socket
import sys
from collections import defaultdict

import pytest
from textual.app import App
from textual.driver import Driver

from tests.support.private_names import FIELDS, REGISTER, Use, budget, matches, modules, register, scan

ALLOWED = {
    ("lfgtui.events", "_missing_"): "Enum's documented hook for a value it has no member for",
    ("lfgtui.sim.acp_prompt", "_exit"): "os._exit is documented: the sim agent dying as a crash would",
    (
        "lfgtui.broker.fence",
        "_exit",
    ): "os._exit is documented: a coordinator standing down writes nothing more",
    ("lfgtui.tools.box_init", "_exit"): "os._exit is documented: a container's first process ends it at once,"
    " running no Python clean-up in a box the agent shares",
    ("lfgtui.sim.offline_agents", "_Environ"): "os.environ's type as typeshed names it, in an annotation"
    " never evaluated (`from __future__ import annotations`)",
}
"""Private names lfgtui/ uses that are not a dependency's internals, each with its reason."""


def pin_tests() -> set[str]:
    module = sys.modules[__name__]
    return {
        name for name in vars(module) if name.startswith("test_") and not name.startswith("test_register_")
    }


def unregistered(uses: frozenset[Use], text: str | None = None) -> list[str]:
    """The uses of a private name that no register row names (module, name and function alike)."""
    rows = [(name, module, where) for entry in register(text) for name, module, where in entry.rows]
    return sorted(
        f"{use.module}: {use.name} in {use.where}"
        for use in uses
        if (use.module, use.name) not in ALLOWED
        and not any(
            module == use.module and matches(name, use) and use.where in where for name, module, where in rows
        )
    )


def unused(uses: frozenset[Use], text: str | None = None) -> list[str]:
    """The register rows the code has no use for: a name no longer used in its module, or a function
    listed that no longer uses it (a public, undocumented name is looked for by name)."""
    found = []
    for entry in register(text):
        for name, module, where in entry.rows:
            short = name.rsplit(".", 1)[-1]
            if short.startswith("_") or any(part.startswith("_") for part in name.split(".")[:-1]):
                using = {use.where for use in uses if use.module == module and matches(name, use)}
            else:
                using = modules()[module].references(short) if module in modules() else set()
            if using != where:
                found.append(
                    f"{module}: {name} is used in {sorted(using)}, the register says {sorted(where)}"
                )
    return found


WHY_WORDS = 6
"""A line over the budget says why in at least this many words: a reason, not a shrug."""


def over_budget(text: str | None = None) -> list[str]:
    """What breaks the register's budget: more rows than it allows, a line over it whose row the
    register does not hold, or one that does not say why."""
    rows = {(name, module) for entry in register(text) for name, module, _ in entry.rows}
    allowed = budget(text)
    found = [
        f"{module}: {name} is over the budget: no such row"
        for name, module, _ in allowed.over
        if (name, module) not in rows
    ]
    found += [
        f"{module}: {name} is over the budget: why in under {WHY_WORDS} words"
        for name, module, why in allowed.over
        if len(why.split()) < WHY_WORDS
    ]
    if len(rows) > allowed.allows():
        found.append(
            f"{len(rows)} names in the register, its budget {allowed.allows()}: say why for each over it"
        )
    return found


@pytest.fixture(scope="session")
def private_uses() -> frozenset[Use]:
    """Every use of a dependency's private name in lfgtui/: importing and parsing all of it takes
    seconds, once a run (tests/support/markers.py counts the tests using it as slow)."""
    return scan()


def test_register_lists_every_private_name_lfgtui_uses(private_uses: frozenset[Use]) -> None:
    assert unregistered(private_uses) == [], "docs/dependencies.md: add a row (and a pin test) for each"


def test_register_lists_only_names_lfgtui_uses_where_it_says(private_uses: frozenset[Use]) -> None:
    assert unused(private_uses) == []
    allowed = {(use.module, use.name) for use in private_uses} & set(ALLOWED)
    assert allowed == set(ALLOWED), "an allowed name no longer used: take it out of ALLOWED"


def test_register_catches_a_missing_row_and_an_unused_one(private_uses: frozenset[Use]) -> None:
    text = REGISTER.read_text(encoding="utf-8")
    row = "| `rich._wrap.divide_line` | `lfgtui/ui/markdown/render.py`: `_row_starts` |\n"
    assert row in text
    missing = "lfgtui.ui.markdown.render: rich._wrap.divide_line in _row_starts"
    assert missing in unregistered(private_uses, text.replace(row, ""))
    assert missing not in unregistered(private_uses)
    extra = "| `rich.text.Text._spans` | `lfgtui/ui/markdown/render.py`: `_spans` |\n"
    said = "lfgtui.ui.markdown.render: rich.text.Text._spans is used in [], the register says ['_spans']"
    assert said in unused(private_uses, text.replace(row, row + extra))


def test_register_keeps_to_its_budget() -> None:
    assert over_budget() == [], "docs/dependencies.md: a name past the budget needs a line saying why"


def test_register_budget_refuses_a_name_past_it_with_no_line_saying_why() -> None:
    text = REGISTER.read_text(encoding="utf-8")
    allowed = budget(text).allows()
    first = text.index("\n## ")
    row = "| `rich._wrap.divide_line` | `lfgtui/ui/markdown/render.py`: `_row_starts` |\n"
    extra = "| `rich.text.Text._extra` | `lfgtui/ui/markdown/render.py`: `_spans` |\n"
    assert row in text and over_budget(text) == []
    grown = text.replace(row, row + extra)
    assert over_budget(grown) == [
        f"{allowed + 1} names in the register, its budget {allowed}: say why for each over it"
    ]

    def over(name: str, why: str) -> str:
        return f"- Over the budget: `rich.text.Text.{name}` (`lfgtui/ui/markdown/render.py`): {why}\n"

    why = "no public way to read the spans, and copying the text costs a frame"
    said = grown[:first] + "\n" + over("_extra", why) + grown[first:]
    assert over_budget(said) == []
    shrug = grown[:first] + "\n" + over("_extra", "needed") + grown[first:]
    assert over_budget(shrug) == [
        f"lfgtui.ui.markdown.render: rich.text.Text._extra is over the budget: why in under {WHY_WORDS} words"
    ]
    gone = text[:first] + "\n" + over("_gone", why) + text[first:]
    assert over_budget(gone) == [
        "lfgtui.ui.markdown.render: rich.text.Text._gone is over the budget: no such row"
    ]


def test_register_says_what_why_and_upstream_for_each_name_and_names_its_pin() -> None:
    pins: dict[str, list[str]] = defaultdict(list)
    for entry in register():
        assert entry.rows, f"docs/dependencies.md: {entry.title!r} lists no private name"
        missing = [field for field in FIELDS if not entry.fields.get(field, "").strip()]
        assert not missing, f"docs/dependencies.md: {entry.title!r} says nothing for {missing}"
        upstream = entry.fields["Upstream"]
        assert "none raised:" in upstream or "#" in upstream, f"{entry.title!r}: an issue, or why none"
        named = entry.fields["Pinned by"].strip("` ")
        assert named in pin_tests(), f"{entry.title!r}: no pin test {named!r} in this file"
        pins[named].append(entry.title)
    assert set(pins) == pin_tests(), "a pin test the register does not name"


def test_openai_still_has_the_parser_the_responses_adapter_warms() -> None:
    from openai._models import construct_type  # lfgtui/providers/openai_responses.py: warm_event_parser

    assert {"type_", "value"} <= set(inspect.signature(construct_type).parameters)


def test_httpx2_transports_still_keep_the_backend_their_pool_connects_with() -> None:
    # lfgtui/providers/clients.py: `transport` gives httpx2's transport lfg's network backend by
    # setting `AsyncHTTPTransport._pool._network_backend` (httpx2 takes no backend of its own).
    import httpcore2
    import httpx2

    pool = httpx2.AsyncHTTPTransport()._pool
    assert isinstance(pool, httpcore2.AsyncConnectionPool)
    assert isinstance(vars(pool).get("_network_backend"), httpcore2.AsyncNetworkBackend)


def test_textual_apps_still_keep_their_driver_where_alerts_write() -> None:
    # lfgtui/ui/screens/run.py: RunScreen.alert writes the bell and notifications through `self._driver`.
    app = App()
    assert hasattr(app, "_driver") and app._driver is None, "App._driver: where a running app's driver is"
    assert callable(Driver.write) and list(inspect.signature(Driver.write).parameters) == ["self", "data"]


def test_textuals_footer_still_makes_footer_keys_that_name_their_action() -> None:
    # lfgtui/ui/widgets/footer.py: KeysFooter pins the keys of help and quit by `FooterKey.action`, and the
    # palette's key by its `-command-palette` class, from `textual.widgets._footer`.
    from textual.widgets._footer import FooterKey

    key = FooterKey("q", "q", "Quit", "quit", classes="-command-palette")
    assert key.action == "quit" and key.has_class("-command-palette")


async def test_acps_client_connection_still_sends_plain_requests_through_its_connection() -> None:
    # lfgtui/run/agents/choices.py: set_model sends ACP's older session/set_model, which the SDK dropped,
    # as a plain request on the connection that `ClientSideConnection._conn` holds.
    import acp
    from acp.connection import Connection

    from lfgtui.run.agents.transport import AgentPipe

    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    conn = acp.connect_to_agent(object(), AgentPipe(writer, print))  # type: ignore[arg-type]
    try:
        assert isinstance(conn._conn, Connection), "ClientSideConnection._conn: the JSON-RPC connection"
        assert list(inspect.signature(Connection.send_request).parameters) == ["self", "method", "params"]
    finally:
        await conn.close()
        theirs.close()


def test_argparse_still_keeps_the_actions_lfg_completion_reads() -> None:
    # lfgtui/commands/completion.py: command_tree walks `_actions`, and a subparsers action's
    # `_choices_actions` (each command's help line), to write the shell completion scripts.
    import argparse

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    commands.add_parser("run", help="run it")
    assert isinstance(commands, argparse._SubParsersAction) and commands in parser._actions
    assert [(choice.dest, choice.help) for choice in commands._choices_actions] == [("run", "run it")]


def test_rich_still_wraps_text_where_divide_line_says() -> None:
    # lfgtui/ui/markdown/render.py: OpenParagraph finds where each row of a paragraph starts with the
    # function `Text.wrap` cuts lines with, `rich._wrap.divide_line(text, width, fold)`.
    from rich._wrap import divide_line

    assert list(inspect.signature(divide_line).parameters) == ["text", "width", "fold"]
    assert divide_line("aaa bbb", 4) == [4]
    assert "divide_line(" in inspect.getsource(__import__("rich.text").text.Text.wrap)


def test_rich_tables_still_measure_and_draw_where_open_table_reaches_in() -> None:
    # lfgtui/ui/markdown/render.py: OpenTable measures a streaming table's columns a few rows at a
    # time (`Table._measure_column`), takes the widths from them as `_calculate_column_widths` does,
    # and draws some rows at those widths with `Table._render(console, options, widths)`, as
    # `Table.__rich_console__` does after adding `_extra_width`.
    from rich.table import Column, Table

    table = Table()
    assert list(inspect.signature(table._render).parameters) == ["console", "options", "widths"]
    assert list(inspect.signature(table._measure_column).parameters) == ["console", "options", "column"]
    assert list(inspect.signature(table._calculate_column_widths).parameters) == ["console", "options"]
    assert isinstance(table._extra_width, int)
    source = inspect.getsource(Table.__rich_console__)
    assert "self._calculate_column_widths(" in source and "extra_width" in source
    assert "self._render(console, render_options, widths)" in source
    assert "self._measure_column(console, options, column)" in inspect.getsource(
        Table._calculate_column_widths
    )
    assert isinstance(Column().copy(), Column)
    # `_MeasuredTable` is a copy of a table made from its instance dict, whose columns know their place
    table.add_column("a")
    table.add_column("b")
    assert [column._index for column in table.columns] == [0, 1] and "columns" in vars(table)


def test_textuals_compositor_still_renders_updates_through_the_methods_lfgs_overrides() -> None:
    # lfgtui/ui/drawing/compositor.py: CoveredCompositor replaces a screen's `_compositor` and overrides
    # `render_partial_update` and `_render_chops`, reading `_dirty_regions`, `_regions_to_spans`,
    # `cuts` and `visible_widgets`, and builds a `ChopsUpdate(chops, spans, chop_ends)`.
    from textual._compositor import ChopsUpdate, Compositor
    from textual.screen import Screen

    compositor = Compositor()
    assert isinstance(compositor._dirty_regions, set) and callable(compositor._regions_to_spans)
    chops = inspect.signature(Compositor._render_chops)
    assert list(chops.parameters) == ["self", "crop", "is_rendered_line"]
    assert isinstance(Compositor.cuts, property) and isinstance(Compositor.visible_widgets, property)
    assert list(inspect.signature(ChopsUpdate).parameters) == ["chops", "spans", "chop_ends"]
    assert "self._compositor = Compositor()" in inspect.getsource(Screen.__init__)
    # its `Plan`s are kept per layout, known by the identity of `cuts` and `visible_widgets`:
    # Textual makes both anew whenever the widgets' regions change
    for method in (Compositor.reflow, Compositor.reflow_visible):
        source = inspect.getsource(method)
        assert "self._cuts = None" in source and "self._visible_widgets = None" in source
    assert "self._visible_widgets = None" in inspect.getsource(Compositor.full_map.fget)
    assert "self._visible_widgets = None" in inspect.getsource(Compositor.clear)
    assert "self._cuts is not None" in inspect.getsource(Compositor.cuts.fget)


def test_asyncios_subprocess_protocol_still_takes_a_subclass_reading_stdout_itself() -> None:
    # lfgtui/providers/worker.py: ChildPipes subclasses SubprocessStreamProtocol (stdin and stderr as
    # its streams, stdout decoded in `pipe_data_received`) and makes a `Process` of it.
    from asyncio.subprocess import Process, SubprocessStreamProtocol

    assert list(inspect.signature(SubprocessStreamProtocol).parameters) == ["limit", "loop"]
    assert list(inspect.signature(SubprocessStreamProtocol.pipe_data_received).parameters) == [
        "self",
        "fd",
        "data",
    ]
    assert list(inspect.signature(SubprocessStreamProtocol.pipe_connection_lost).parameters) == [
        "self",
        "fd",
        "exc",
    ]
    assert list(inspect.signature(Process).parameters) == ["transport", "protocol", "loop"]


def test_pydantic_still_reads_attribute_docstrings_through_the_fields_modules_function() -> None:
    # lfgtui/sim/acp_start.py: start_lightly replaces `_fields.extract_docstrings_from_cls`, which
    # pydantic calls by that module's global when a model with `use_attribute_docstrings` is made.
    # Read from the source, not this process's module: importing the sim agent (as the docs' sim
    # flags do) has replaced it here.
    from pydantic._internal import _docs_extraction, _fields

    source = inspect.getsource(_fields)
    assert "from ._docs_extraction import extract_docstrings_from_cls" in source
    assert "extract_docstrings_from_cls(cls, use_inspect=use_inspect)" in source
    assert list(inspect.signature(_docs_extraction.extract_docstrings_from_cls).parameters) == [
        "cls",
        "use_inspect",
    ]


def test_anthropics_sdk_still_lists_deprecated_models_with_their_dates() -> None:
    # lfgtui/providers/models.py: sdk_deprecations reads the SDK's own table of deprecated models.
    from anthropic._data import DEPRECATED_MODELS

    from lfgtui.providers.models import sdk_date

    assert isinstance(DEPRECATED_MODELS, dict) and DEPRECATED_MODELS, "model name -> its end of life"
    assert all(
        isinstance(model, str) and isinstance(written, str) for model, written in DEPRECATED_MODELS.items()
    )
    assert any(sdk_date(written) is not None for written in DEPRECATED_MODELS.values())


def test_textuals_drivers_still_write_and_read_through_what_lfgs_drivers_wrap() -> None:
    # lfgtui/ui/drawing/drivers.py: TerminalDriver wraps LinuxDriver's `_file`; BrowserDriver wraps
    # WebDriver's `_write` and closes its `_input_reader` when the server's pipes close.
    from textual.drivers._writer_thread import WriterThread
    from textual.drivers.linux_driver import LinuxDriver
    from textual.drivers.web_driver import WebDriver

    # the file the terminal's writer thread writes and flushes to is the one `__init__` kept
    assert "self._file = sys.__stderr__" in inspect.getsource(LinuxDriver.__init__)
    assert "WriterThread(self._file)" in inspect.getsource(LinuxDriver.start_application_mode)
    assert "self._file.write" in inspect.getsource(WriterThread.run)
    init = inspect.getsource(WebDriver.__init__)
    assert "self._write = " in init and "self._input_reader = " in init
    assert "self._write(" in inspect.getsource(WebDriver.write)
    from textual.drivers._input_reader import InputReader

    assert "self._input_reader = InputReader()" in init and callable(InputReader.close)
    assert "input_reader = self._input_reader" in inspect.getsource(WebDriver.run_input_thread)


def test_textuals_widgets_still_update_their_scrollbars_in_scroll_update() -> None:
    # lfgtui/ui/markdown/live.py: LiveMarkdown._set_virtual_size sets `virtual_size` without its
    # layout and calls `_scroll_update` as Textual's watcher of it does.
    from textual.scroll_view import ScrollView
    from textual.widget import Widget

    assert list(inspect.signature(Widget._scroll_update).parameters) == ["self", "virtual_size"]
    # Textual does the same when it sizes a widget without a layout
    sized = inspect.getsource(Widget._size_updated)
    assert "self.set_reactive(Widget.virtual_size, virtual_size)" in sized
    assert "self._scroll_update(virtual_size)" in sized
    assert "self._scroll_update(virtual_size)" in inspect.getsource(ScrollView._size_updated)


def test_textual_serve_still_builds_its_app_and_tabs_where_lfgs_web_hooks_in() -> None:
    # lfgtui/remote/web.py: WebServer adds its gate to `_make_app`'s app and replaces
    # `handle_websocket`, passing messages on with `_process_messages`; TabService keeps the stderr of
    # the process `_open_app_process` starts.
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    assert list(inspect.signature(Server._make_app).parameters) == ["self"]
    assert "self._make_app()" in inspect.getsource(Server)
    assert list(inspect.signature(Server._process_messages).parameters) == [
        "self",
        "websocket",
        "app_service",
    ]
    assert "self._process_messages(" in inspect.getsource(Server.handle_websocket)
    assert list(inspect.signature(AppService._open_app_process).parameters) == ["self", "width", "height"]
    assert "self._open_app_process(width, height)" in inspect.getsource(AppService)


def test_rich_syntax_still_has_the_base_style_and_code_that_code_rows_draw_with() -> None:
    # lfgtui/ui/markdown/render.py: _code_rows draws a code block from `Syntax._get_base_style()` and
    # `Syntax._process_code(code)` as `Syntax` itself does.
    from rich.style import Style
    from rich.syntax import Syntax

    syntax = Syntax("x = 1\n", "python")
    assert isinstance(syntax._get_base_style(), Style)
    assert syntax._process_code(syntax.code) == (True, "x = 1\n")
    source = inspect.getsource(Syntax)
    assert "self._get_base_style()" in source and "self._process_code(" in source


def test_logging_file_handlers_still_open_their_stream_in_open() -> None:
    # lfgtui/commands/logs.py: PrivateLogHandler overrides `FileHandler._open` to make its file with
    # mode 0600.
    import logging

    assert list(inspect.signature(logging.FileHandler._open).parameters) == ["self"]
    assert "self._open()" in inspect.getsource(logging.FileHandler)
