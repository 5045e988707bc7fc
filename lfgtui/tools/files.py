"""The file tools: read, list, search and write, each confined to the ticket's workdir.

They run on the event loop without threads, so each bounds its own work and output: a model that
asks for a huge file or a whole tree gets a bounded answer and a note on how to ask for more.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lfgtui.providers.base import ToolSpec
from lfgtui.tools.base import NOTE_ROOM, ToolContext, ToolError, ToolOutcome, confine

DEFAULT_READ_LINES = 2000
MAX_LIST_ENTRIES = 500
MAX_MATCHES = 200
MAX_MATCH_LINE = 300
SNIFF_BYTES = 8192
SKIPPED_DIRS = frozenset({".git"})


def _looks_binary(head: bytes) -> bool:
    """The heuristic git and grep use: text files have no NUL bytes near the start."""
    return b"\0" in head


def _open_text(path: Path) -> io.TextIOWrapper | None:
    """Open `path` as UTF-8 text (undecodable bytes replaced), or None when it looks binary."""
    with path.open("rb") as raw:
        if _looks_binary(raw.read(SNIFF_BYTES)):
            return None
    return path.open(encoding="utf-8", errors="replace", newline="")


def _refuse_non_file(target: Path, name: str) -> None:
    """Refuse a directory or a special file: opening a FIFO would block the whole event loop."""
    if target.is_dir():
        raise ToolError(f"'{name}' is a directory, not a file (list_dir shows what it holds)")
    if target.exists() and not target.is_file():
        raise ToolError(f"'{name}' is not a regular file")


class ReadFile:
    """Read a window of lines from a text file."""

    needs_approval = False
    spec = ToolSpec(
        name="read_file",
        description=(
            "Read a text file in the workdir. Returns up to `limit` lines starting at line `offset` "
            f"(from 1; default: the first {DEFAULT_READ_LINES} lines). When more follows, a note at the "
            "end says which offset to read on from. Binary files and directories are refused."
        ),
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path, relative to the workdir."},
                "offset": {"type": "integer", "minimum": 1, "description": "First line to read, from 1."},
                "limit": {"type": "integer", "minimum": 1, "description": "Most lines to return."},
            },
            "required": ["path"],
            "additionalProperties": False,
        },
    )

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        name: str = arguments["path"]
        target = confine(ctx, name)
        _refuse_non_file(target, name)
        text = _open_text(target)
        if text is None:
            size = target.stat().st_size
            raise ToolError(f"'{name}' looks like a binary file ({size} bytes); read_file only reads text")
        with text:
            window = _read_window(
                name,
                text,
                first=arguments.get("offset", 1),
                count=arguments.get("limit", DEFAULT_READ_LINES),
                budget=ctx.output_limit - NOTE_ROOM,
            )
        return ToolOutcome(window)


def _read_window(name: str, lines: Iterable[str], first: int, count: int, budget: int) -> str:
    """Lines `first` onwards: at most `count` of them and `budget` characters, with a note when cut."""
    shown: list[str] = []
    size = 0
    note = ""
    number = 0
    for number, line in enumerate(lines, 1):
        if number < first:
            continue
        if len(shown) == count or size + len(line) > budget:
            if shown:
                reason = "" if len(shown) == count else ", all that fits in the output limit"
                note = f"[showed lines {first} to {number - 1}{reason}; read on with offset={number}]"
            else:
                shown.append(line[:budget])
                width = len(line.rstrip("\r\n"))
                note = (
                    f"[line {number} has {width} characters; showed the first {budget}; "
                    f"read on with offset={number + 1}]"
                )
            break
        shown.append(line)
        size += len(line)
    if not shown:
        if number == 0:
            return f"'{name}' is empty"
        raise ToolError(f"offset {first} is past the end of '{name}', which has {number} lines")
    body = "".join(shown)
    if not note:
        return body
    separator = "" if body.endswith("\n") else "\n"
    return f"{body}{separator}{note}"


class ListDir:
    """List one directory, so the model can find its way without a shell."""

    needs_approval = False
    spec = ToolSpec(
        name="list_dir",
        description=(
            "List a directory in the workdir, sorted by name. Directories end with '/', symbolic links "
            f"with '@'. At most {MAX_LIST_ENTRIES} entries are shown."
        ),
        parameters={
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "Directory path, relative to the workdir (default: the workdir itself).",
                },
            },
            "additionalProperties": False,
        },
    )

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        name: str = arguments.get("path", ".")
        target = confine(ctx, name)
        if target.exists() and not target.is_dir():
            raise ToolError(f"'{name}' is a file, not a directory; use read_file to read it")
        with os.scandir(target) as entries:
            labels = [_entry_label(entry) for entry in sorted(entries, key=lambda entry: entry.name)]
        if not labels:
            return ToolOutcome(f"'{name}' is empty")
        shown = labels[:MAX_LIST_ENTRIES]
        if len(labels) > MAX_LIST_ENTRIES:
            shown.append(f"… {len(labels) - MAX_LIST_ENTRIES} more")
        return ToolOutcome("\n".join(shown))


def _entry_label(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return f"{entry.name}@"
    if entry.is_dir():
        return f"{entry.name}/"
    return entry.name


class SearchFiles:
    """Search text files for a regular expression, like a bounded `grep -rn`."""

    needs_approval = False
    spec = ToolSpec(
        name="search_files",
        description=(
            "Search the text files under a path in the workdir for a Python regular expression. "
            "Prints each matching line as 'path:LINE: text', with paths relative to the workdir. "
            f"Skips binary files and .git, does not follow symbolic links, and stops after {MAX_MATCHES} "
            "matches."
        ),
        parameters={
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "A Python regular expression (`re` syntax)."},
                "path": {
                    "type": "string",
                    "description": "File or directory to search, relative to the workdir (default: all).",
                },
                "glob": {
                    "type": "string",
                    "description": "Only search files whose path matches this glob, e.g. '*.py'.",
                },
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
    )

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        pattern: str = arguments["pattern"]
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"invalid regular expression {pattern!r}: {exc}") from None
        name: str = arguments.get("path", ".")
        root = confine(ctx, name)
        if not root.exists():
            raise ToolError(f"'{name}' does not exist")
        glob: str | None = arguments.get("glob")
        found: list[str] = []
        budget = ctx.output_limit - NOTE_ROOM
        for file in _walk(root):
            relative = file.relative_to(ctx.workdir)
            if glob is not None and not relative.match(glob):
                continue
            for number, line in _matching_lines(file, regex):
                text = line if len(line) <= MAX_MATCH_LINE else f"{line[:MAX_MATCH_LINE]}…"
                entry = f"{relative.as_posix()}:{number}: {text}"
                if len(found) == MAX_MATCHES or len(entry) >= budget:
                    found.append(f"[stopped after {len(found)} matches; narrow the pattern, path or glob]")
                    return ToolOutcome("\n".join(found))
                found.append(entry)
                budget -= len(entry) + 1
            await asyncio.sleep(0)  # a big tree must not starve the other tickets' streams
        if not found:
            scope = f" in files matching {glob!r}" if glob is not None else ""
            return ToolOutcome(f"no matches for {pattern!r} under '{name}'{scope}")
        return ToolOutcome("\n".join(found))


def _walk(root: Path) -> Iterator[Path]:
    """The regular files under `root` in a stable order, without .git or any symbolic link."""
    if not root.is_dir():
        if root.is_file():
            yield root
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)  # os.walk never enters linked dirs
        for file in sorted(files):
            path = Path(folder, file)
            if not path.is_symlink() and path.is_file():
                yield path


def _matching_lines(file: Path, regex: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    """Numbered lines of `file` that match; nothing for a binary or unreadable file."""
    try:
        text = _open_text(file)
    except OSError:
        return
    if text is None:
        return
    with text:
        for number, line in enumerate(text, 1):
            if regex.search(line):
                yield number, line.rstrip("\r\n")


class WriteFile:
    """Create or overwrite a file; the user approves it first."""

    needs_approval = True
    spec = ToolSpec(
        name="write_file",
        description=(
            "Write text to a file in the workdir, replacing it if it exists and creating missing parent "
            "folders. Reports the bytes written."
        ),
        parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "File path, relative to the workdir."},
                "content": {"type": "string", "description": "The whole new content of the file."},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        },
    )

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        name: str = arguments["path"]
        target = confine(ctx, name)
        _refuse_non_file(target, name)
        try:
            data = arguments["content"].encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ToolError(f"the content is not valid Unicode text: {exc}") from None
        existed = target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return ToolOutcome(f"{'overwrote' if existed else 'created'} '{name}': wrote {len(data)} bytes")
