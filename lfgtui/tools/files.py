"""The file tools: read, list, search and write, each confined to the ticket's workdir.

Reading and searching run in a child process (`reader.py`) under a time limit, so no file (a FIFO,
a procfs entry that blocks) and no pattern (one that backtracks for hours) can stall the event
loop; the child is killed when the limit passes or the call is cancelled. Each tool bounds its own
output: a model that asks for a huge file or a whole tree gets a bounded answer and a note on how
to ask for more.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import stat
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lfgtui.providers.base import ToolSpec
from lfgtui.tools import reader
from lfgtui.tools.base import NOTE_ROOM, ToolContext, ToolError, ToolOutcome, confine
from lfgtui.tools.beneath import make_folders_beneath, open_beneath
from lfgtui.tools.scripts import stdlib_script

DEFAULT_READ_LINES = 2000
MAX_LIST_ENTRIES = 500
MAX_MATCHES = 200
JSON_CHAR_BYTES = 12
"""The most bytes one character takes in a reply: an astral character is two `\\uXXXX` escapes."""
REPLY_ROOM = 64 * 1024
"""Bytes of a reply beyond its text: its keys, a path."""
TEXT_READ_BYTES = 8 * 1024 * 1024
"""The most an ACP agent gets from one fs/read_text_file: more is refused (it can ask for fewer lines)."""
KILL_WAIT_S = 5.0
"""How long to wait for a killed reader to be reaped: a read stuck in the kernel may never end."""


def _open_file(ctx: ToolContext, name: str) -> int:
    """A descriptor of the regular file `name` for reading, opened beneath the workdir with no link on
    its path (tools/beneath.py); a directory or a special file is refused with a clear reason.

    O_NONBLOCK keeps a FIFO from blocking the open; the type is checked on the descriptor, so what
    is read is what was checked. The reader child reads this descriptor, never a path.
    """
    confine(ctx, name)
    try:
        fd = open_beneath(ctx.workdir, name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket
            raise ToolError(f"'{name}' is not a regular file") from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ToolError(f"'{name}' is a directory, not a file (list_dir shows what it holds)")
        raise ToolError(f"'{name}' is not a regular file")
    return fd


@contextlib.asynccontextmanager
async def _reader(
    request: dict[str, Any], fd: int, ctx: ToolContext, reply_chars: int
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """Start the reader child on `request` and the open file or folder `fd` (which it is given, and
    which is closed here), and give its replies (each up to `reply_chars` characters of text); it is
    killed on leaving, however that happens (done, stopped early, cancelled, timed out)."""
    try:
        process = await asyncio.create_subprocess_exec(
            *stdlib_script(Path(reader.__file__)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=ctx.workdir,
            env={},
            limit=JSON_CHAR_BYTES * reply_chars + REPLY_ROOM,
            pass_fds=(fd,),
        )
    finally:
        os.close(fd)
    assert process.stdin is not None and process.stdout is not None  # piped above
    try:
        given = {**request, "fd": fd, "time_limit_s": ctx.read_time_limit_s}
        process.stdin.write(json.dumps(given).encode())
        await process.stdin.drain()
        process.stdin.close()
        yield _replies(process, process.stdout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), KILL_WAIT_S)


async def _replies(
    process: asyncio.subprocess.Process, out: asyncio.StreamReader
) -> AsyncIterator[dict[str, Any]]:
    """The reader's replies; a reader that fails without saying why becomes a ToolError."""
    while line := await out.readline():
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise ToolError(message["error"])
        if "os_error" in message:
            error = message["os_error"]
            raise OSError(error["errno"], error["strerror"], error["filename"])
        yield message
    code = await process.wait()
    if code != 0:
        raise ToolError(f"the file reader failed (exit code {code})")


class ReadFile:
    """Read a window of lines from a text file."""

    needs_approval = False
    spec = ToolSpec(
        name="read_file",
        description=(
            "Read a text file in the workdir. Returns up to `limit` lines starting at line `offset` "
            f"(from 1; default: the first {DEFAULT_READ_LINES} lines). When more follows, a note at the "
            "end says which offset to read on from; a line longer than the output limit is cut. Binary "
            "files, directories and special files (FIFOs, devices) are refused."
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
        request = {
            "op": "read",
            "name": name,
            "first": arguments.get("offset", 1),
            "count": arguments.get("limit", DEFAULT_READ_LINES),
            "budget": ctx.output_limit - NOTE_ROOM,
        }
        return ToolOutcome(await _read_once(request, _open_file(ctx, name), ctx, ctx.output_limit))


async def read_text(ctx: ToolContext, name: str, first: int = 1, count: int | None = None) -> str:
    """Lines of a text file exactly as they are, for an ACP agent's `fs/read_text_file`: confined,
    in the killable reader and under the time limit as `read_file` is, and at most `TEXT_READ_BYTES`."""
    request = {"op": "text", "name": name, "first": first, "count": count, "max_bytes": TEXT_READ_BYTES}
    return await _read_once(request, _open_file(ctx, name), ctx, TEXT_READ_BYTES)


async def _read_once(request: dict[str, Any], fd: int, ctx: ToolContext, reply_chars: int) -> str:
    """The reader's one `output` for `request` on the open file `fd`, within the read time limit."""
    name = request["name"]
    try:
        async with asyncio.timeout(ctx.read_time_limit_s), _reader(request, fd, ctx, reply_chars) as replies:
            async for reply in replies:
                output: str = reply["output"]
                return output
    except TimeoutError:
        raise ToolError(
            f"reading '{name}' took longer than {ctx.read_time_limit_s:g} s (the time limit); "
            "it may be a file that never ends or blocks"
        ) from None
    raise ToolError(f"the file reader gave no answer for '{name}'")


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
        confine(ctx, name)
        try:
            fd = open_beneath(ctx.workdir, name, os.O_RDONLY | os.O_DIRECTORY)
        except NotADirectoryError:
            raise ToolError(f"'{name}' is a file, not a directory; use read_file to read it") from None
        try:
            with os.scandir(fd) as entries:
                labels = [_entry_label(entry) for entry in sorted(entries, key=lambda entry: entry.name)]
        finally:
            os.close(fd)
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
            f"matches. Only the first {reader.SEARCH_WINDOW} characters of each line are searched. A search "
            "that takes too long (a pattern that backtracks badly) is stopped with the matches found so far."
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
        name: str = arguments.get("path", ".")
        shown = confine(ctx, name).relative_to(ctx.workdir).as_posix()
        try:
            root = open_beneath(ctx.workdir, name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            raise ToolError(f"'{name}' does not exist") from None
        glob: str | None = arguments.get("glob")
        request = {"op": "search", "pattern": pattern, "root": shown, "glob": glob}
        found: list[str] = []
        budget = ctx.output_limit - NOTE_ROOM
        try:
            async with (
                asyncio.timeout(ctx.read_time_limit_s),
                _reader(request, root, ctx, ctx.output_limit) as replies,
            ):
                async for reply in replies:
                    entry: str = reply["match"]
                    if len(found) == MAX_MATCHES or len(entry) >= budget:
                        found.append(
                            f"[stopped after {len(found)} matches; narrow the pattern, path or glob]"
                        )
                        return ToolOutcome("\n".join(found))
                    found.append(entry)
                    budget -= len(entry) + 1
        except TimeoutError:
            found.append(
                f"[the search took longer than {ctx.read_time_limit_s:g} s (the time limit) and was stopped "
                f"after {len(found)} matches: the pattern took too long (nested repeats like '(a+)+' "
                "backtrack without end) or there was too much to search; simplify the pattern or narrow "
                "the path or glob]"
            )
            return ToolOutcome("\n".join(found), is_error=True)
        if not found:
            scope = f" in files matching {glob!r}" if glob is not None else ""
            return ToolOutcome(f"no matches for {pattern!r} under '{name}'{scope}")
        return ToolOutcome("\n".join(found))


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
        if not ctx.allow_git_writes and _in_git_folder(name, target.relative_to(ctx.workdir)):
            raise ToolError(
                f"'{name}' is inside a .git folder; writing there can run code (hooks, core.fsmonitor, "
                "aliases), so it is refused unless the ticket sets allow_git_writes = true"
            )
        try:
            data = arguments["content"].encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ToolError(f"the content is not valid Unicode text: {exc}") from None
        make_folders_beneath(ctx.workdir, name)
        existed = _write_regular(ctx, name, data)
        return ToolOutcome(f"{'overwrote' if existed else 'created'} '{name}': wrote {len(data)} bytes")


def _is_git_name(part: str) -> bool:
    """Whether a path component names `.git` on some filesystem: any case, with ignorable format
    characters (macOS drops them) or trailing dots and spaces (Windows drops them)."""
    visible = "".join(char for char in part if unicodedata.category(char) != "Cf")
    return visible.rstrip(". ").casefold() == ".git"


def _in_git_folder(name: str, resolved: Path) -> bool:
    """Whether the path as given, or as resolved (a symbolic link to .git), goes through a `.git`."""
    return any(_is_git_name(part) for part in (*Path(name).parts, *resolved.parts))


def _write_regular(ctx: ToolContext, name: str, data: bytes) -> bool:
    """Replace the content of the file `name` beneath the workdir (no link on its path), refusing
    anything but a regular file with one link; whether it existed.

    The checks are on the opened descriptor, so nothing swapped in after them is written. A hard
    link is refused: the same file also lives under another name, maybe outside the workdir.
    """
    flags = os.O_WRONLY | os.O_NONBLOCK
    try:
        fd, existed = open_beneath(ctx.workdir, name, flags | os.O_CREAT | os.O_EXCL), False
    except FileExistsError:
        fd, existed = _open_to_write(ctx, name, flags), True
    with os.fdopen(fd, "wb") as file:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ToolError(f"'{name}' is not a regular file")
        if status.st_nlink > 1:
            raise ToolError(
                f"'{name}' has {status.st_nlink} hard links: the same file also lives under another name, "
                "perhaps outside the workdir, so write_file does not change it"
            )
        file.truncate(0)
        file.write(data)
    return existed


def _open_to_write(ctx: ToolContext, name: str, flags: int) -> int:
    """The existing file `name` opened with `flags`; a directory or a FIFO or socket is refused."""
    try:
        return open_beneath(ctx.workdir, name, flags)
    except IsADirectoryError:
        raise ToolError(f"'{name}' is a directory, not a file (list_dir shows what it holds)") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads, or a socket
            raise ToolError(f"'{name}' is not a regular file") from None
        raise
