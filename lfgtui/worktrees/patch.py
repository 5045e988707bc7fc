"""A ticket's unified diff as git streams it, split file by file, each file shown whole or not at all.

One cap on the whole diff cut everything after one huge file (a minified bundle, a line of 600,000
characters): review then listed one file where the run changed five, and landing landed all five.
Here every file of the diff keeps its header (`diff --git`, its modes, `---`/`+++`), so every file is
listed; a file whose own diff is over `FILE_BYTES`, or that no longer fits the whole diff's
`TOTAL_BYTES`, keeps only its header and a `lfg: not shown` line saying why. An embedded git
repository (an agent's `git init` or `git clone` in its worktree: git records only a commit of it,
a gitlink, mode 160000) is never shown as if it were its files: it is marked too. `lfg land` refuses
what is marked (worktrees/land.py).

A file's path is read from its `diff --git` line exactly (`header_path`): lfg's diffs have no
renames, so both names are the same, which splits a name with spaces at the right place; a name git
quotes (a tab, a newline, a quote, or non-ASCII letters when `core.quotePath` is on, as in diffs
older lfgs recorded) is unquoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

FILE_BYTES = 200_000
"""The most bytes of one file's diff shown; a bigger one is listed with its size and not shown."""
TOTAL_BYTES = 500_000
"""The most bytes of the whole diff shown; files past it are listed with their size and not shown."""
HEAD_BYTES = 16 * 1024
"""The most bytes of a file not shown kept to read its header (its name, its modes) from."""
NOT_SHOWN = "lfg: not shown"
"""How the line that marks a file not shown begins (what follows says why); git never writes it in
a file's header, and a file's own lines in a hunk start with `+`, `-` or a space."""
REVIEW_FIRST = "review before landing"
GITLINK = "160000"
_MARK = b"\ndiff --git "
_HEADER = "diff --git "
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(text: str) -> tuple[str, str] | None:
    """A C-quoted name at the start of `text` (as git quotes one: `"a/caf\\303\\251"`) and the rest
    after it; None when it is not one."""
    if not text.startswith('"'):
        return None
    raw, at = bytearray(), 1
    while at < len(text):
        char = text[at]
        if char == '"':
            return raw.decode(errors="replace"), text[at + 1 :]
        if char != "\\":
            raw += char.encode()
            at += 1
        elif text[at + 1 : at + 4].isdigit() and len(text[at + 1 : at + 4]) == 3:
            raw.append(int(text[at + 1 : at + 4], 8) & 0xFF)
            at += 4
        elif text[at + 1 : at + 2] in _ESCAPES:
            raw.append(_ESCAPES[text[at + 1]])
            at += 2
        else:
            return None
    return None


def _quoted(name: str) -> str:
    """`name` as git writes it in a `diff --git` line: C-quoted when it has a quote, a backslash or a
    control character."""
    if not any(char in '"\\' or ord(char) < 32 or ord(char) == 127 for char in name):
        return name
    reverse = {value: key for key, value in _ESCAPES.items() if key not in "ab"}
    out = []
    for byte in name.encode(errors="surrogateescape"):
        if byte in reverse:
            out.append("\\" + reverse[byte])
        elif byte < 32 or byte >= 127:
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return '"' + "".join(out) + '"'


def header_path(line: str) -> str | None:
    """The file a `diff --git a/NAME b/NAME` line is about, exactly; None when `line` is not one."""
    if not line.startswith(_HEADER):
        return None
    rest = line[len(_HEADER) :]
    first = _unquote(rest)
    if first is not None:  # a quoted name: `"a/x" "b/x"`, or one side quoted and not the other
        second = _unquote(first[1].lstrip(" "))
        name = second[0] if second is not None else first[1].lstrip(" ")
        return name[2:] if name[:2] in ("a/", "b/") else name
    for old, new in (("a/", "b/"), ("", "")):  # the same name twice (no renames); no prefix at all
        size = (len(rest) - len(old) - len(new) - 1) // 2
        if (
            size > 0
            and rest == f"{old}{rest[len(old) : len(old) + size]} {new}{rest[len(old) : len(old) + size]}"
        ):
            return rest[len(old) : len(old) + size]
    name = rest.rsplit(" b/", 1)[-1] if " b/" in rest else rest  # two different names: the new one
    return name


def gitlink(head: list[str] | tuple[str, ...]) -> bool:
    """Whether a file's header lines say its new side is an embedded repository (a gitlink)."""
    for text in head:
        words = text.split()
        if text.startswith(("new file mode ", "new mode ")) and words[-1] == GITLINK:
            return True
        if text.startswith("index ") and len(words) == 3 and words[2] == GITLINK:
            return True
    return False


def not_shown_line(unshown: Unshown) -> str:
    """`lfg: not shown — WHY; review before landing` (an embedded repository is not landed at all)."""
    after = "" if unshown.embedded else f"; {REVIEW_FIRST}"
    return f"{NOT_SHOWN} \u2014 {unshown.reason}{after}"


def not_shown_reason(head: list[str] | tuple[str, ...]) -> str | None:
    """Why a file of a diff is not shown, from its header lines; None when it is shown."""
    for text in head:
        if text.startswith(NOT_SHOWN):
            return text.removeprefix(NOT_SHOWN).lstrip(" \u2014:")
    return None


def embedded_reason(path: str) -> str:
    """Why an embedded repository is neither shown nor landed, and what to do."""
    return (
        "an embedded git repository (a folder with its own .git: git would record one commit of it, "
        f"not its files); lfg does not land it: remove {path}/.git to land its files as plain files, "
        "or remove the folder"
    )


@dataclass
class _Part:
    """One file's part of the diff as it streams: the bytes kept (all of them while it fits) and its
    whole size."""

    kept: bytearray = field(default_factory=bytearray)
    size: int = 0
    shown: bool = True


@dataclass(frozen=True)
class Unshown:
    """A file of the diff that is listed but not shown, and why."""

    path: str
    reason: str
    embedded: bool = False
    """An embedded git repository: `lfg land` refuses it, whatever it is told."""


class PatchParts:
    """Receives `git diff`'s stdout chunk by chunk (`feed`) and keeps each file's diff within the
    bounds; `text()` is the diff to show, `unshown()` what it lists without showing."""

    def __init__(
        self,
        file_bytes: int = FILE_BYTES,
        total_bytes: int = TOTAL_BYTES,
        sizes: Mapping[str, tuple[int | None, int | None]] | None = None,
    ) -> None:
        self.file_bytes, self.total_bytes = file_bytes, total_bytes
        self.sizes = sizes or {}
        """Each binary file's bytes before and after (worktrees/binary.py), for the review to say."""
        self._parts: list[_Part] = []
        self._carry = b"\n"  # so the first `diff --git` is found as every later one is
        self._kept = 0
        self._extra: list[Unshown] = []

    def feed(self, chunk: bytes) -> None:
        data = self._carry + chunk
        start = 0
        while (at := data.find(_MARK, start)) != -1:
            self._add(data[start : at + 1])
            self._parts.append(_Part())
            start = at + 1
        cut = max(start, len(data) - len(_MARK) + 1)  # a header may straddle the next chunk
        self._add(data[start:cut])
        self._carry = data[cut:]

    def close(self) -> None:
        self._add(self._carry)
        self._carry = b""

    def _add(self, data: bytes) -> None:
        if not self._parts or not data:
            return  # before the first file: only the newline `feed` starts with
        part = self._parts[-1]
        part.size += len(data)
        if part.shown and (part.size > self.file_bytes or self._kept + len(data) > self.total_bytes):
            part.shown = False
            self._kept -= len(part.kept)
            part.kept = part.kept[:HEAD_BYTES]
        if not part.shown:  # its header is still kept: it lists the file
            part.kept += data[: max(0, HEAD_BYTES - len(part.kept))]
            return
        part.kept += data
        self._kept += len(data)

    def add_unshown(self, unshown: Unshown) -> None:
        """A file the diff itself does not have (an embedded repository git could not add: it has
        no commit yet), listed as not shown."""
        self._extra.append(unshown)

    def _files(self) -> list[tuple[list[str], str, Unshown | None]]:
        """Each file's lines, its path, and why it is not shown (None: it is)."""
        files = []
        for part in self._parts:
            lines = bytes(part.kept).decode(errors="replace").split("\n")  # a file's own \r stays
            if lines[-1] == "":
                lines.pop()
            path = header_path(lines[0]) if lines else None
            path = path if path is not None else "?"
            if not part.shown:
                head = _head(lines)
                reason = f"its diff is {part.size:,} bytes, more than lfg shows"
                if part.size <= self.file_bytes:
                    reason += f" in all ({self.total_bytes:,} bytes) after the files before it"
                files.append((head, path, Unshown(path, reason, gitlink(head))))
            elif gitlink(lines):
                head = lines[: next((i for i, t in enumerate(lines) if t.startswith("@@")), len(lines))]
                files.append((head, path, Unshown(path, embedded_reason(path), embedded=True)))
            else:
                head = lines[: next((i for i, t in enumerate(lines) if t.startswith("@@")), len(lines))]
                unseen = [*_binary_reason(head, self.sizes.get(path)), *_mode_reason(head)]
                files.append((lines, path, Unshown(path, "; ".join(unseen)) if unseen else None))
        files += [
            ([f"{_HEADER}{_quoted('a/' + u.path)} {_quoted('b/' + u.path)}"], u.path, u) for u in self._extra
        ]
        return files

    def text(self) -> str:
        out: list[str] = []
        for lines, _, unshown in self._files():
            if unshown is None:
                out += lines
                continue
            hunks = next((i for i, text in enumerate(lines) if text.startswith("@@")), len(lines))
            out += [*lines[:hunks], not_shown_line(unshown), *lines[hunks:]]  # in the header: no hunk's line
        return "\n".join(out) + "\n" if out else ""

    def unshown(self) -> list[Unshown]:
        return [unshown for _, _, unshown in self._files() if unshown is not None]


def _binary_reason(head: list[str], sizes: tuple[int | None, int | None] | None) -> list[str]:
    """`a binary file, 1,024 → 2,048 bytes`, when git's header says the file is binary."""
    if not any(text.startswith(("Binary files ", "GIT binary patch")) for text in head):
        return []
    before, after = sizes or (None, None)
    if before is None and after is None:
        return ["a binary file: lfg shows none of its bytes"]
    if before is None:
        return [f"a new binary file of {after:,} bytes: lfg shows none of them"]
    if after is None:
        return [f"a binary file of {before:,} bytes, deleted"]
    return [f"a binary file, {before:,} \u2192 {after:,} bytes: lfg shows none of them"]


def _mode_reason(head: list[str]) -> list[str]:
    """`its mode changes 100644 → 100755 (made executable)`: a change no line of the diff shows."""
    old = next((text.split()[-1] for text in head if text.startswith("old mode ")), None)
    new = next((text.split()[-1] for text in head if text.startswith("new mode ")), None)
    if old is None or new is None:
        return []
    made = (
        " (made executable)"
        if new.endswith("755")
        else " (no longer executable)"
        if old.endswith("755")
        else ""
    )
    return [f"its mode changes {old} \u2192 {new}{made}, which its lines do not show"]


def _head(lines: list[str]) -> list[str]:
    """A file's header lines: those before its first hunk or binary patch (of its first bytes)."""
    head = []
    for text in lines[:16]:
        if text.startswith(("@@", "GIT binary patch", "Binary files")) or len(text) > HEAD_BYTES // 2:
            break
        head.append(text)
    return head
