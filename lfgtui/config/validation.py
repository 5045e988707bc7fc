"""Checking the user's TOML files before anything starts, and reporting every problem at once.

tomllib gives values but no positions, so `TomlDoc` scans the source text for table headers and
`key =` lines to point each problem at a line. The scan is deliberately simple (it skips the inside
of multi-line strings and nothing else); when it cannot find a key it falls back to the table's line.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_FIELDS = frozenset({"api_key", "apikey", "api_token", "key", "token", "secret", "password"})
SECRET_HINT = (
    "a key is never stored in a file; put it in an environment variable and name that variable with "
    "api_key_env in the provider's [providers.NAME] table"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, located as precisely as the source allows."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


class ValidationError(Exception):
    """Every problem found in a file, so the user can fix them all in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Kind:
    """A value a field accepts, described the way an error message should say it."""

    description: str
    check: Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite number: TOML's `inf` and `nan` are no timeout, temperature or limit anyone means."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


STRING = Kind("a string", lambda value: isinstance(value, str))
BOOLEAN = Kind("true or false", lambda value: isinstance(value, bool))
PATH = Kind("a path (text with no NUL character)", lambda value: STRING.check(value) and "\0" not in value)
STRING_LIST = Kind("a list of strings", _is_string_list)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
"""What a ticket id written in a tickets file may be made of."""
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+(?:@[A-Za-z0-9_.-]+)?")
"""What a ticket of a run may be called: a written id, or `ID@model` for one model of a fanned-out ticket."""
ENV_NAMES = Kind(
    "a list of environment variable names (letters, digits and '_', not starting with a digit)",
    lambda value: STRING_LIST.check(value) and all(ENV_NAME.fullmatch(name) for name in value),
)
STRING_TABLE = Kind(
    "a table of strings",
    lambda value: isinstance(value, dict) and all(isinstance(item, str) for item in value.values()),
)
TABLE = Kind("a table", lambda value: isinstance(value, dict))
TABLE_LIST = Kind(
    "an array of tables (written [[name]])",
    lambda value: isinstance(value, list) and all(isinstance(item, dict) for item in value),
)
POSITIVE_INT = Kind("an integer of at least 1", lambda value: _is_int(value) and value >= 1)
NON_NEGATIVE_INT = Kind("an integer of at least 0", lambda value: _is_int(value) and value >= 0)
POSITIVE_NUMBER = Kind("a finite number greater than 0", lambda value: _is_number(value) and value > 0)
NON_NEGATIVE_NUMBER = Kind("a finite number of at least 0", lambda value: _is_number(value) and value >= 0)


_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    (list, "array"),
    (dict, "table"),
)


def _type_name(value: Any) -> str:
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), "date/time")


def describe(value: Any) -> str:
    """A TOML value as the user wrote it, for 'got ...' in a message."""
    if isinstance(value, list | dict):
        items = value.values() if isinstance(value, dict) else value
        contents = " and ".join(sorted({f"{_type_name(item)}s" for item in items}))
        container = "an array" if isinstance(value, list) else "a table"
        return f"{container} of {contents}" if contents else f"{container} with nothing in it"
    if isinstance(value, str):
        return f"the string {value!r}"
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return f"the {_type_name(value)} {shown}"


def did_you_mean(name: str, choices: Collection[str]) -> str:
    """A ' (did you mean 'x'?)' suffix for a likely typo, or nothing."""
    import difflib  # here: only a problem needs it, and every command that reads config imports us

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown(what: str, name: str, choices: Collection[str]) -> str:
    """The message for a name that is not one of `choices`: the likely fix, then every valid name."""
    known = ", ".join(sorted(choices)) or "none"
    return f"unknown {what} {name!r}{did_you_mean(name, choices)}; known {what}s: {known}"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")
_HEADER_PART = re.compile(r""""([^"]*)"|'([^']*)'|([^.\s]+)""")
_ERROR_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass
class _Section:
    header: tuple[str, ...]
    line: int | None
    keys: dict[str, int] = field(default_factory=dict)


def _header_parts(text: str) -> tuple[str, ...]:
    return tuple(double or single or bare for double, single, bare in _HEADER_PART.findall(text))


def _scan(text: str) -> list[_Section]:
    """The tables of a TOML source in order, each with the line of every key it sets."""
    sections = [_Section(header=(), line=None)]
    open_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if open_string is not None:
            if line.count(open_string) % 2 == 1:
                open_string = None
            continue
        if header := _HEADER.match(line):
            sections.append(_Section(header=_header_parts(header.group(2)), line=number))
            continue
        if key := _KEY.match(line):
            sections[-1].keys.setdefault(key.group(1).strip("\"'"), number)
        open_string = next((quote for quote in ('"""', "'''") if line.count(quote) % 2 == 1), None)
    return sections


@dataclass(frozen=True)
class TomlDoc:
    """A parsed TOML file that remembers where its tables and keys are.

    Tables are indexed once, by name and by every prefix of their name, so that finding a line costs
    the same in a file of ten tables as in one of ten thousand: a loader asks for one per key.
    """

    path: Path
    data: dict[str, Any]
    sections: tuple[_Section, ...]
    _named: dict[tuple[str, ...], list[int]] = field(init=False, repr=False, compare=False)
    _prefixes: dict[tuple[int, str], int] = field(init=False, repr=False, compare=False)
    _under: dict[int, list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the tables: each prefix of a name is a node (0 is the empty one) listing its tables."""
        named: dict[tuple[str, ...], list[int]] = {}
        prefixes: dict[tuple[int, str], int] = {}
        under: dict[int, list[int]] = {0: []}
        for at, section in enumerate(self.sections):
            named.setdefault(section.header, []).append(at)
            node = 0
            under[node].append(at)
            for part in section.header:
                node = prefixes.setdefault((node, part), len(prefixes) + 1)
                under.setdefault(node, []).append(at)
        object.__setattr__(self, "_named", named)
        object.__setattr__(self, "_prefixes", prefixes)
        object.__setattr__(self, "_under", under)

    def line(self, header: str = "", key: str | None = None, index: int = 0) -> int | None:
        """Where `key` is set in the `index`-th table called `header` ('' is the top level).

        A key written as its own table (`[header.key]`) gives that table's line; a key not found at
        all gives the line of its table, and a table only implied by `[header.sub]` gives that line.
        """
        wanted = _header_parts(header)
        positions = self._named.get(wanted, [])
        if index >= len(positions):
            return self._first_under(wanted, 0)
        section = self.sections[positions[index]]
        if key is None:
            return section.line
        if key in section.keys:
            return section.keys[key]
        return self._first_under((*wanted, key), positions[index] + 1) or section.line

    def _first_under(self, prefix: tuple[str, ...], start: int) -> int | None:
        """The line of the first table header at or after `start` inside `prefix`."""
        node = 0
        for part in prefix:
            found = self._prefixes.get((node, part))
            if found is None:
                return None
            node = found
        positions = self._under[node]
        at = bisect.bisect_left(positions, start)
        return self.sections[positions[at]].line if at < len(positions) else None


def load_toml(path: Path) -> TomlDoc:
    """Read and parse one file; a missing file or a syntax error becomes a located `Problem`."""
    import tomllib  # here: without a config.toml, `lfg history list` reads no TOML at all

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError([Problem(path, None, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError([Problem(path, None, f"cannot read the file: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if at := _ERROR_AT.search(message):
            line, column = int(at.group(1)), int(at.group(2))
            detail = f"TOML syntax error at line {line}, column {column}: {message[: at.start()]}"
        else:
            line = max(1, len(text.splitlines()))
            detail = (
                f"TOML syntax error at the end of the file: {message.replace(' (at end of document)', '')}"
            )
        raise ValidationError([Problem(path, line, detail)]) from None
    return TomlDoc(path=path, data=data, sections=tuple(_scan(text)))


class Checker:
    """Collects the problems of one file so that all of them are reported, not just the first."""

    def __init__(self, doc: TomlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.doc.path, line, message))

    def fields(
        self,
        table: Mapping[str, Any],
        allowed: Mapping[str, Kind],
        where: str,
        header: str = "",
        index: int = 0,
        renamed: Mapping[str, str] | None = None,
        elsewhere: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The fields of `table` that are known and well typed; every other one becomes a problem.

        `renamed` maps a field's old name to its name now: the old one is read as the new one (a
        file written before the rename keeps working), but a table may not set both. `elsewhere`
        says, of a field that belongs in another file, where it goes."""
        valid: dict[str, Any] = {}
        for written, value in table.items():
            line = self.doc.line(header, written, index)
            key = renamed.get(written, written) if renamed else written
            kind = allowed.get(key)
            if key != written and key in table:
                both = f"{written} is the old name of {key}, which is set too; keep only {key}"
                self.add(line, f"{where}: {both}")
            elif kind is None:
                if key.lower() in SECRET_FIELDS:
                    self.add(line, f"{where}: {key!r} is not allowed: {SECRET_HINT}")
                elif elsewhere and key in elsewhere:
                    self.add(line, f"{where}: unknown field {key!r}: {elsewhere[key]}")
                else:
                    self.add(line, f"{where}: {unknown('field', key, allowed)}")
            elif not kind.check(value):
                self.add(line, f"{where}: {written} must be {kind.description}, got {describe(value)}")
            else:
                valid[key] = value
        return valid

    def raise_if_any(self) -> None:
        """Raise every problem found so far, in file order (problems without a line first)."""
        if self.problems:
            raise ValidationError(sorted(self.problems, key=lambda problem: problem.line or 0))
