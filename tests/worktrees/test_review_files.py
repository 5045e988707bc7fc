"""What review shows of a worktree, and what landing and forking do with it, on real git repositories
in temporary folders: a file too big to show among others, names with spaces and non-ASCII letters,
a symlink out of the worktree, a FIFO, and git repositories an agent made inside its worktree."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from lfgtui.worktrees.git import GitError
from lfgtui.worktrees.land import LandError, LandOptions, land
from lfgtui.worktrees.patch import PatchParts, header_path
from lfgtui.worktrees.review import CommentError, file_notes, parse_diff, quoted_from
from lfgtui.worktrees.tree import Worktree, create_worktree, diff_text, fork_worktree
from tests.support.git import commit_all, git, isolate_git, worktree_repo
from tests.support.patience import PATIENCE

HUGE_LINE = "x" * 600_000 + "\n"
"""One line longer than the whole review used to show (a minified bundle)."""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(tmp_path, monkeypatch)


@pytest.fixture
async def tree(tmp_path: Path) -> Worktree:
    return await create_worktree(worktree_repo(tmp_path / "repo"), "run1", "t", tmp_path / "trees")


def nested_repository(folder: Path, commit: bool = True) -> None:
    """What an agent's `git init` (and commit) inside its worktree leaves."""
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Agent")
    git(folder, "config", "user.email", "agent@example.com")
    (folder / "lib.py").write_text("print('nested')\n")
    if commit:
        commit_all(folder, "the agent's own repository")


async def test_a_huge_first_file_leaves_every_later_file_listed_and_shown(tree: Worktree) -> None:
    (tree.path / "a-bundle.js").write_text(HUGE_LINE)
    (tree.path / "b.txt").write_text("bee\n")
    (tree.path / "change.txt").write_text("a\nB\nc\n")
    os.symlink("/etc/passwd", tree.path / "link")
    (tree.path / "z-dos.txt").write_bytes(b"one\r\ntwo\r\n")
    text = await diff_text(tree)
    assert "+one\r\n+two\r\n" in text  # what is shown is git's own text, its \r kept
    files = parse_diff(text)[:4]
    assert [f.path for f in files] == ["a-bundle.js", "b.txt", "change.txt", "link"]
    bundle, bee, change, link = files
    assert bundle.not_shown is not None and bundle.not_shown.startswith("its diff is 600,1")
    assert bundle.not_shown.endswith(" bytes, more than lfg shows; review before landing")
    assert bundle.hunks == ()
    assert (bee.added, change.added, change.removed) == (1, 1, 1)
    assert bee.not_shown is None and change.not_shown is None
    assert link.link_target == "/etc/passwd" and link.not_shown is None


async def test_names_with_spaces_and_non_ascii_letters_are_read_exactly(tree: Worktree) -> None:
    names = ["my notes.txt", "caf\u00e9 b/x.md", "\u65e5\u672c.txt", 'say "hi"\tnow.txt']
    for name in names:
        (tree.path / name).parent.mkdir(exist_ok=True)
        (tree.path / name).write_text(f"{name}\n")
    files = parse_diff(await diff_text(tree))
    assert sorted(f.path for f in files) == sorted(names)
    assert all(f.hunks[0].lines[0].text == f"+{f.path}" for f in files)
    assert quoted_from(files, tree.path, "my notes.txt", 1) == "+my notes.txt"


def test_a_header_names_its_file_whatever_the_name_and_quoting() -> None:
    assert header_path("diff --git a/x b/y b/x b/y") == "x b/y"
    assert header_path('diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"') == "caf\u00e9.txt"
    assert header_path("diff --git a/a b/a") == "a"
    assert header_path("+diff --git a/x b/x") is None


def test_parts_split_at_every_file_whatever_the_chunks() -> None:
    diff = b"".join(
        b"diff --git a/f%d b/f%d\n--- a/f%d\n+++ b/f%d\n@@ -1 +1 @@\n-old\n+new\n" % (n, n, n, n)
        for n in range(50)
    )
    for size in (1, 7, 12, 64 * 1024):
        parts = PatchParts(file_bytes=1000, total_bytes=1000)
        for at in range(0, len(diff), size):
            parts.feed(diff[at : at + size])
        parts.close()
        files = parse_diff(parts.text())
        assert [f.path for f in files] == [f"f{n}" for n in range(50)]
        shown = [f for f in files if f.not_shown is None]
        assert 0 < len(shown) < 50 and all(f.added == 1 for f in shown)
        assert {u.path for u in parts.unshown()} == {f.path for f in files if f.not_shown is not None}


async def test_a_comment_on_a_fifo_is_refused_without_opening_it(tree: Worktree) -> None:
    os.mkfifo(tree.path / "pipe")
    os.symlink("pipe", tree.path / "to-pipe")
    os.symlink("/etc/hostname", tree.path / "outside")
    os.symlink("/etc", tree.path / "folder-out")
    for name in ("pipe", "to-pipe", "outside", "folder-out/hostname"):
        said: list[BaseException] = []

        def comment(name: str = name, said: list[BaseException] = said) -> None:
            try:
                quoted_from([], tree.path, name, 1)
            except CommentError as exc:
                said.append(exc)

        reader = threading.Thread(target=comment, daemon=True)  # a FIFO's read would never return
        reader.start()
        reader.join(timeout=60 * PATIENCE)
        assert not reader.is_alive(), f"a comment on {name} hangs"
        assert len(said) == 1, name
    assert "lfg does not open it" in str(said[0]) or "out of the worktree" in str(said[0])


async def test_land_refuses_a_file_review_could_not_show_unless_told(tree: Worktree) -> None:
    (tree.path / "bundle.js").write_text(HUGE_LINE)
    (tree.path / "small.txt").write_text("small\n")
    before = git(tree.repo, "rev-parse", "main")
    with pytest.raises(LandError) as refused:
        await land(tree, LandOptions(message="land it"))
    assert "review could not show 1 file(s): bundle.js (its diff is 600,1" in str(refused.value)
    assert "--include-unreviewed" in str(refused.value)
    assert git(tree.repo, "rev-parse", "main") == before
    assert git(tree.path, "status", "--porcelain") == "?? bundle.js\n?? small.txt".strip()
    landed = await land(tree, LandOptions(message="land it", include_unreviewed=True))
    assert git(tree.repo, "show", f"{landed.landed_commit}:small.txt") == "small"
    assert len(git(tree.repo, "show", f"{landed.landed_commit}:bundle.js")) == 600_000


@pytest.mark.parametrize("committed", [True, False], ids=["with-commits", "no-commit-yet"])
async def test_an_embedded_repository_is_listed_not_shown_and_never_landed(
    tree: Worktree, committed: bool
) -> None:
    nested_repository(tree.path / "vendor", commit=committed)
    (tree.path / "notes.md").write_text("notes\n")
    files = parse_diff(await diff_text(tree))
    assert [f.path for f in files] == ["notes.md", "vendor"]
    assert files[1].not_shown is not None and "embedded git repository" in files[1].not_shown
    before = git(tree.repo, "rev-parse", "main")
    for include in (False, True):
        with pytest.raises(LandError) as refused:
            await land(tree, LandOptions(message="land it", include_unreviewed=include))
        assert "vendor in" in str(refused.value) and "Remove vendor/.git" in str(refused.value)
    assert git(tree.repo, "rev-parse", "main") == before
    assert git(tree.repo, "ls-tree", "-r", "main") == git(tree.repo, "ls-tree", "-r", before)


async def test_a_fork_carries_an_embedded_repository_whole(tree: Worktree, tmp_path: Path) -> None:
    nested_repository(tree.path / "vendor")
    nested_repository(tree.path / "fresh", commit=False)
    (tree.path / "vendor" / "uncommitted.txt").write_text("work in progress\n")
    fork = await fork_worktree(tree, "t-fork1", tmp_path / "trees")
    for folder, files in (("vendor", ["lib.py", "uncommitted.txt"]), ("fresh", ["lib.py"])):
        for name in files:
            assert (fork.path / folder / name).read_text() == (tree.path / folder / name).read_text()
        assert git(fork.path / folder, "status", "--porcelain") == git(
            tree.path / folder, "status", "--porcelain"
        )
    assert git(fork.path / "vendor", "log", "--format=%s") == "the agent's own repository"


async def test_a_fork_refuses_an_embedded_repository_it_cannot_copy_and_says_which(
    tree: Worktree, tmp_path: Path
) -> None:
    nested_repository(tree.path / "vendor")
    os.mkfifo(tree.path / "vendor" / "pipe")
    with pytest.raises(GitError) as refused:
        await fork_worktree(tree, "t-fork1", tmp_path / "trees")
    assert "pipe is not a regular file" in str(refused.value)
    assert not (tmp_path / "trees" / "run1" / "t-fork1").exists()
    assert "lfg/run1/t-fork1" not in git(tree.repo, "branch", "--list")


async def test_a_gitattributes_that_calls_a_text_file_binary_does_not_hide_its_change(tree: Worktree) -> None:
    """`change.txt -diff` in the agent's .gitattributes made git write `Binary files … differ`: review
    listed `change.txt +0 -0`. Review tells binary by the bytes, so the change shows, and lands as shown."""
    (tree.path / ".gitattributes").write_text("change.txt -diff\n*.txt binary\n")
    (tree.path / "change.txt").write_text("a\nhidden\nc\n")
    files = {f.path: f for f in parse_diff(await diff_text(tree))}
    change = files["change.txt"]
    assert (change.added, change.removed, change.not_shown) == (1, 1, None)
    assert [line.text for hunk in change.hunks for line in hunk.lines if line.text[:1] in "+-"] == [
        "-b",
        "+hidden",
    ]
    landed = await land(tree, LandOptions(message="land it"))
    assert git(tree.repo, "show", f"{landed.landed_commit}:change.txt") == "a\nhidden\nc"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ("mode", "its mode changes 100644 \u2192 100755 (made executable), which its lines do not show"),
        ("binary", "a new binary file of 1,600 bytes: lfg shows none of them"),
        ("changed binary", "a binary file, 1,600 \u2192 8 bytes: lfg shows none of them"),
    ],
    ids=["mode", "new binary", "changed binary"],
)
async def test_a_mode_change_or_a_binary_is_said_in_review_and_not_landed_unless_told(
    tmp_path: Path, change: str, said: str
) -> None:
    repo = worktree_repo(tmp_path / "repo")
    image = b"\x89PNG\r\n\x1a\n\0\0" * 160
    if change == "changed binary":
        (repo / "image.png").write_bytes(image)
        commit_all(repo, "an image")
    tree = await create_worktree(repo, "run1", "t", tmp_path / "trees")
    path = "sub/code.py" if change == "mode" else "image.png"
    if change == "mode":
        os.chmod(tree.path / path, 0o755)
    else:
        (tree.path / path).write_bytes(image if change == "binary" else b"\0smaller")
    (files,) = [f for f in parse_diff(await diff_text(tree)) if f.path == path]
    assert files.not_shown == f"{said}; review before landing"
    assert file_notes(files) == [f"not shown \u2014 {said}; review before landing"], (
        "the CLI and the screen say it"
    )
    before = git(tree.repo, "rev-parse", "main")
    with pytest.raises(LandError) as refused:
        await land(tree, LandOptions(message="land it"))
    assert f"review could not show 1 file(s): {path} ({said})" in str(refused.value)
    assert git(tree.repo, "rev-parse", "main") == before
    landed = await land(tree, LandOptions(message="land it", include_unreviewed=True))
    assert git(tree.repo, "ls-tree", landed.landed_commit, path).split()[0] == (
        "100755" if change == "mode" else "100644"
    )
