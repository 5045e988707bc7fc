"""Which files of a diff are binary by their bytes, whatever the worktree's `.gitattributes` says.

git reads the attributes of the tree it diffs (its `.gitattributes` files, `$GIT_DIR/info/attributes`),
and an agent writes the first: `calc.py -diff` makes git write `Binary files a/calc.py and b/calc.py
differ` for a text file, so review listed `calc.py +0 -0` and its change went unseen. The git here
(2.39) has no way to diff without them (`--attr-source` came in 2.40), so lfg asks git which files it
takes for binary (`--numstat`: `-` for lines), reads the first bytes of each side of those as git's own
test does (a NUL byte in the first 8,000), and shows the ones that are text with `--text`. A file that
is binary by its bytes stays binary, listed with its sizes before and after (worktrees/patch.py), and
`lfg land` refuses it unless told to land what review could not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lfgtui.worktrees.git import checked, git

SNIFF_BYTES = 8000
"""How far git looks for a NUL byte to call a file binary (xdiff's `buffer_is_binary`)."""
MAX_SNIFFED = 200
"""The most files git calls binary that are read to tell text from binary: past it they stay binary
(listed, not shown, refused by `lfg land` unless told)."""
PLAIN = ("--no-ext-diff", "--no-textconv", "--no-renames")
"""No diff driver or text conversion of the repository's configuration runs."""
_ABSENT = "0" * 40
_GITLINK = "160000"


@dataclass(frozen=True)
class Binaries:
    """The files git takes for binary in a diff: each one binary by its bytes with its sizes before
    and after (None: it has no such side), and those that are text by their bytes."""

    sizes: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    texts: tuple[str, ...] = ()


def literal(paths: list[str] | tuple[str, ...], exclude: bool = False) -> tuple[str, ...]:
    """`paths` as pathspecs that match each name exactly (`*` and `:` are no magic in them)."""
    magic = ":(exclude,literal)" if exclude else ":(literal)"
    return tuple(f"{magic}{path}" for path in paths)


async def binaries(cwd: Path, span: tuple[str, ...], env: Mapping[str, str] | None = None) -> Binaries:
    """Of the diff of `span` (`--cached BASE`, or `BASE COMMIT`) in `cwd`, the files git takes for
    binary, told apart by their bytes (module docstring)."""
    numbers = await checked(cwd, "diff", *PLAIN, "--numstat", "-z", *span, "--", env=env)
    candidates = [
        path
        for plus, _, path in (
            record.split("\t", 2) for record in _records(numbers) if record.count("\t") >= 2
        )
        if plus == "-"
    ]
    if not candidates:
        return Binaries()
    raw = await checked(
        cwd, "diff", *PLAIN, "--raw", "-z", "--no-abbrev", *span, "--", *literal(candidates), env=env
    )
    fields = _records(raw)
    sizes: dict[str, tuple[int | None, int | None]] = {}
    texts: list[str] = []
    for at in range(0, len(fields) - 1, 2):
        old_mode, new_mode, old, new, *_ = fields[at].lstrip(":").split(" ")
        path = fields[at + 1]
        if _GITLINK in (old_mode, new_mode):
            continue
        sides = [sha for sha in (old, new) if sha != _ABSENT]
        if len(sizes) + len(texts) < MAX_SNIFFED and not any([await _binary(cwd, sha, env) for sha in sides]):
            texts.append(path)
            continue
        sizes[path] = (await _size(cwd, old, env), await _size(cwd, new, env))
    return Binaries(sizes, tuple(texts))


def _records(out: bytes) -> list[str]:
    return [record for record in out.decode(errors="surrogateescape").split("\0") if record]


async def _binary(cwd: Path, sha: str, env: Mapping[str, str] | None) -> bool:
    found = await git(cwd, "cat-file", "blob", sha, env=env, limit=SNIFF_BYTES)
    return b"\0" in found.out[:SNIFF_BYTES]


async def _size(cwd: Path, sha: str, env: Mapping[str, str] | None) -> int | None:
    """The blob's bytes; None when the side has none (or git cannot say)."""
    if sha == _ABSENT:
        return None
    found = await git(cwd, "cat-file", "-s", sha, env=env)
    text = found.out.strip()
    return int(text) if found.code == 0 and text.isdigit() else None
