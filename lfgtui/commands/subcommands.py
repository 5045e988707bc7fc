"""argparse subcommands whose arguments are added only when one is chosen.

Building every command's parser for each `lfg` run (27 parsers and ~100 arguments, gettext looked up
for argparse's own words in each parser) cost ~10 ms of every command, `lfg --help` included. Help
for a group of commands needs only their names and help lines: each command's arguments, and its
own subcommands, are added when argparse reaches its name, so help, usage and errors read as before.
Each command registers its handler with its name (`args.handler`), so `lfg` runs the command chosen
without a list of names of its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

AddArguments = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int | Coroutine[Any, Any, int]]
"""What runs a command: its exit code, or a coroutine that `lfg` runs in an event loop for it."""


class Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """`parser.add_subparsers(action=Subcommands, …)`; `add_command` registers a command with what
    adds its arguments and what runs it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, AddArguments] = {}

    def add_command(
        self,
        name: str,
        help: str,
        add_arguments: AddArguments | None = None,
        handler: Handler | None = None,
        **options: Any,
    ) -> None:
        """A command named (and listed in help) now, its arguments added only if it is chosen;
        `handler` runs it (`args.handler`; a subcommand's handler replaces its command's)."""
        parser = self.add_parser(name, help=help, **options)
        if handler is not None:
            parser.set_defaults(handler=handler)
        if add_arguments is not None:
            self._pending[name] = add_arguments

    def add_every_argument(self) -> None:
        """Add every command's arguments now, subcommands' too: for a reader of the whole parser
        (the documentation's command reference), not for a run, which adds only its command's."""
        for name, add_arguments in list(self._pending.items()):
            add_arguments(self.choices[name])
        self._pending.clear()
        for parser in self.choices.values():
            for action in parser._actions:
                if isinstance(action, Subcommands):
                    action.add_every_argument()

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Sequence[str],  # the command's name, then the arguments that follow it
        option_string: str | None = None,
    ) -> None:
        namespace.command_parser = self.parser_of(values[0])  # whose usage an error shows
        super().__call__(parser, namespace, values, option_string)

    def parser_of(self, name: str) -> argparse.ArgumentParser:
        """The parser of command `name`, its arguments added (parsing it, or reading the whole tree
        for shell completion)."""
        add_arguments = self._pending.pop(name, None)
        if add_arguments is not None:
            add_arguments(self.choices[name])
        return self.choices[name]
