"""The file tools' reading and searching, done in a child process that lfg can always kill.

A pattern like `(a+)+$` backtracks for hours inside one C call, and a read of a FIFO or of some
procfs entries blocks in the kernel: either would freeze lfg's event loop and make it deaf to
SIGINT and SIGTERM. In a child process the loop only waits on a pipe and a time limit ends it.

The parent runs this file as a script (`python -I -S reader.py`), so only the standard library is
imported and the child starts in tens of milliseconds. The request is one JSON object on stdin;
each reply is one JSON object per line on stdout: `{"match": …}` as a search finds them, or one
`{"output": …}`, `{"error": …}` or `{"os_error": …}`.

Memory stays bounded whatever the file: it is read in chunks and only the first bytes of a line
are kept (`keep_bytes`); the rest of a long line is skipped, not held.
"""

from __future__ import annotations

import codecs
import itertools
import json
import math
import os
import re
import signal
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024
SNIFF_BYTES = 8192
SEARCH_WINDOW = 64 * 1024
"""Characters at the start of each line that a search pattern is matched against."""
MAX_MATCH_LINE = 300
SKIPPED_DIRS = frozenset({".git"})
UTF8_MAX = 4
OWN_DEADLINE_GRACE_S = 5
"""Seconds past the parent's time limit after which the child ends itself, should lfg be gone."""


class Refusal(Exception):
    """A reason the model should read; sent as `{"error": …}`."""


def keep_bytes(characters: int) -> int:
    """Bytes to keep of a line so that it still holds `characters` characters once decoded."""
    return characters * UTF8_MAX


def open_regular(name: str | Path, folder: int | None = None) -> int:
    """Open `name` (in the open `folder`, if given) for reading, refusing a link and anything but a
    regular file.

    O_NONBLOCK keeps a FIFO from blocking the open; the type is checked on the opened descriptor
    (not the name), so nothing swapped in between the check and the read is read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, dir_fd=folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        shown = Path(name).name
        raise Refusal(f"'{shown}' is not a regular file (a FIFO, socket or device); it is not read")
    return fd


def chunks(fd: int) -> Iterator[bytes]:
    """The file's bytes in bounded chunks; a read that would block is refused, never waited for."""
    while True:
        try:
            chunk = os.read(fd, CHUNK)
        except BlockingIOError:
            raise Refusal(
                "the file has nothing to read yet (reading it would block); it is not read"
            ) from None
        if not chunk:
            return
        yield chunk


def bounded_lines(data: Iterable[bytes], keep: int) -> Iterator[tuple[bytes, bool]]:
    """Each line (split at '\\n', which it keeps) cut to its first `keep` bytes, and whether it was cut."""
    head = bytearray()
    cut = False
    for chunk in data:
        start = 0
        while start < len(chunk):
            end = chunk.find(b"\n", start)
            stop = len(chunk) if end == -1 else end + 1
            room = keep - len(head)
            if room > 0:
                head += chunk[start : min(stop, start + room)]
            cut = cut or stop - start > room
            if end == -1:
                break
            yield bytes(head), cut
            head, cut = bytearray(), False
            start = stop
    if head or cut:
        yield bytes(head), cut


def decode(head: bytes, cut: bool) -> str:
    """UTF-8 text of a line's head; a character split by the cut is dropped, not shown as '\ufffd'."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=not cut)


def read_window(name: str, lines: Iterable[tuple[bytes, bool]], first: int, count: int, budget: int) -> str:
    """Lines `first` onwards: at most `count` of them and `budget` characters, with a note when cut."""
    shown: list[str] = []
    size = 0
    note = ""
    number = 0
    for number, (head, cut) in enumerate(lines, 1):
        if number < first:
            continue
        line = decode(head, cut)
        if len(shown) == count or cut or size + len(line) > budget:
            if shown:
                reason = "" if len(shown) == count else ", all that fits in the output limit"
                note = f"[showed lines {first} to {number - 1}{reason}; read on with offset={number}]"
            else:
                shown.append(line[:budget])
                note = (
                    f"[line {number} is longer than {budget} characters; showed the first {budget}; "
                    f"read on with offset={number + 1}]"
                )
            break
        shown.append(line)
        size += len(line)
    if not shown:
        if number == 0:
            return f"'{name}' is empty"
        raise Refusal(f"offset {first} is past the end of '{name}', which has {number} lines")
    body = "".join(shown)
    if not note:
        return body
    separator = "" if body.endswith("\n") else "\n"
    return f"{body}{separator}{note}"


def text_lines(fd: int, keep: int) -> Iterator[tuple[bytes, bool]] | None:
    """The bounded lines of an open file, or None when it looks binary (git's and grep's test: a NUL
    byte near the start)."""
    data = chunks(fd)
    first = next(data, b"")
    if b"\0" in first[:SNIFF_BYTES]:
        return None
    return bounded_lines(itertools.chain((first,), data), keep)


def read(request: dict[str, Any]) -> dict[str, Any]:
    """The `read_file` answer for the file the parent opened beneath the workdir and gave as `fd`."""
    name, budget, fd = request["name"], request["budget"], request["fd"]
    try:
        lines = text_lines(fd, keep_bytes(budget))
        if lines is None:
            size = os.fstat(fd).st_size
            raise Refusal(f"'{name}' looks like a binary file ({size} bytes); read_file only reads text")
        return {"output": read_window(name, lines, request["first"], request["count"], budget)}
    finally:
        os.close(fd)


def text(request: dict[str, Any]) -> dict[str, Any]:
    """Lines `first` onwards (at most `count`; None: to the end) exactly as they are, for an ACP
    agent's fs/read_text_file; more than `max_bytes` of them is refused, never held."""
    name, first, count, budget = request["name"], request["first"], request["count"], request["max_bytes"]
    fd = request["fd"]
    try:
        lines = text_lines(fd, budget + 1)
        if lines is None:
            raise Refusal(f"'{name}' looks like a binary file; only text files are read")
        kept: list[bytes] = []
        size = 0
        for number, (head, cut) in enumerate(lines, 1):
            if number < first:
                continue
            if count is not None and number >= first + count:
                break
            size += len(head)
            if cut or size > budget:
                raise Refusal(
                    f"'{name}' from line {first} on is more than {budget} bytes; ask for fewer lines"
                )
            kept.append(head)
        return {"output": b"".join(kept).decode("utf-8", "replace")}
    finally:
        os.close(fd)


def search(request: dict[str, Any]) -> None:
    """Print each match under the request's root (the open file or folder `fd`, at the path `root`
    in the workdir) as `{"match": "path:LINE: text"}`, as it is found."""
    try:
        regex = re.compile(request["pattern"])
    except re.error as exc:
        raise Refusal(f"invalid regular expression {request['pattern']!r}: {exc}") from None
    for relative, fd in walk(request["fd"], Path(request["root"]), request["glob"]):
        for number, line in matching_lines(fd, regex):
            text = line if len(line) <= MAX_MATCH_LINE else f"{line[:MAX_MATCH_LINE]}…"
            reply({"match": f"{relative.as_posix()}:{number}: {text}"})


def walk(root: int, shown: Path, glob: str | None) -> Iterator[tuple[Path, int]]:
    """The regular files under the open file or folder `root` (at `shown`) whose path matches `glob`,
    each with a descriptor the caller closes, in a stable order, without .git or any symbolic link.

    `os.fwalk` enters each folder by descriptor and only if it is the folder it listed, and each
    file is opened in its folder with O_NOFOLLOW: no folder swapped for a link leads elsewhere.
    """
    mode = os.fstat(root).st_mode
    if not stat.S_ISDIR(mode):
        if stat.S_ISREG(mode) and (glob is None or shown.match(glob)):
            yield shown, os.dup(root)
        return
    for folder, dirs, files, folder_fd in os.fwalk(".", dir_fd=root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for file in sorted(files):
            relative = Path(os.path.normpath(shown / folder / file))
            if glob is not None and not relative.match(glob):
                continue
            try:
                fd = open_regular(file, folder_fd)
            except (OSError, Refusal):
                continue
            yield relative, fd


def matching_lines(fd: int, regex: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    """Numbered lines of the open file `fd` (closed here) whose first SEARCH_WINDOW characters
    match; none for a binary or unreadable file."""
    try:
        for number, (head, cut) in enumerate(text_lines(fd, keep_bytes(SEARCH_WINDOW)) or (), 1):
            line = decode(head, cut)[:SEARCH_WINDOW].rstrip("\r\n")
            if regex.search(line):
                yield number, line
    except (OSError, Refusal):
        return
    finally:
        os.close(fd)


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    request = json.loads(sys.stdin.read())
    signal.alarm(math.ceil(request["time_limit_s"]) + OWN_DEADLINE_GRACE_S)
    try:
        if request["op"] == "read":
            reply(read(request))
        elif request["op"] == "text":
            reply(text(request))
        else:
            search(request)
    except Refusal as exc:
        reply({"error": str(exc)})
    except OSError as exc:
        filename = None if exc.filename is None else os.fsdecode(exc.filename)
        reply({"os_error": {"errno": exc.errno, "strerror": exc.strerror, "filename": filename}})


if __name__ == "__main__":
    main()
