"""The few private names of our dependencies that lfg relies on, checked by name: when an upgrade
moves one, this fails and says which, instead of a stream or a notification failing at run time.
pyproject.toml pins textual and openai below the next major version for the same reason."""

from __future__ import annotations

import asyncio
import inspect
import socket

from textual.app import App
from textual.driver import Driver


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
