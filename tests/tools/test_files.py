"""The file tools and the shared runner, on real files in a per-test workdir next to a secret folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from lfgtui.providers.base import ToolSpec, parse_tool_arguments
from lfgtui.tools import BUILTIN_TOOLS, ToolContext, ToolError, ToolOutcome, confine, run_tool
from lfgtui.tools.files import MAX_LIST_ENTRIES, MAX_MATCHES
from lfgtui.tools.reader import MAX_MATCH_LINE

SECRET = "TOP-SECRET-CONTENT"
IS_A_DIRECTORY = "is a directory, not a file (list_dir shows what it holds)"
LINK_NOTE = (
    "lfg opens files only through the workdir's real folders, never through a link: use the path it leads to"
)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the workdir that no tool may reach."""
    folder = tmp_path.resolve() / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(f"{SECRET}\n")
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path.resolve() / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def ctx(workdir: Path, outside: Path) -> ToolContext:
    """A workdir holding a symlink to the outside folder and one to the secret file in it."""
    (workdir / "linked_dir").symlink_to(outside, target_is_directory=True)
    (workdir / "linked_file").symlink_to(outside / "secret.txt")
    return ToolContext(workdir=workdir, env={})


async def call(ctx: ToolContext, name: str, **arguments: Any) -> ToolOutcome:
    return await run_tool(BUILTIN_TOOLS[name], arguments, ctx)


# --- confinement ---------------------------------------------------------------------------------

ESCAPES = {
    "dotdot": ("../outside/secret.txt", "../outside"),
    "absolute": ("{outside}/secret.txt", "{outside}"),
    "symlink": ("linked_file", "linked_dir"),
}
FILE_TOOLS = {
    "read_file": lambda file, folder: {"path": file},
    "list_dir": lambda file, folder: {"path": folder},
    "search_files": lambda file, folder: {"pattern": "SECRET", "path": folder},
    "write_file": lambda file, folder: {"path": f"{folder}/new.txt", "content": "x"},
}


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("tool", FILE_TOOLS)
async def test_every_file_tool_refuses_paths_that_leave_the_workdir(
    ctx: ToolContext, outside: Path, tool: str, escape: str
) -> None:
    file, folder = (path.format(outside=outside) for path in ESCAPES[escape])
    outcome = await call(ctx, tool, **FILE_TOOLS[tool](file, folder))
    assert outcome.is_error
    assert ("is absolute" if escape == "absolute" else "is outside the ticket's workdir") in outcome.output
    assert SECRET not in outcome.output
    assert os.listdir(outside) == ["secret.txt"]


async def test_write_file_refuses_a_symlink_that_points_outside(ctx: ToolContext, outside: Path) -> None:
    outcome = await call(ctx, "write_file", path="linked_file", content="overwritten")
    assert outcome.is_error
    assert "a symbolic link leads out of it" in outcome.output
    assert (outside / "secret.txt").read_text() == f"{SECRET}\n"


async def test_search_files_does_not_follow_a_symlink_out_of_the_workdir(ctx: ToolContext) -> None:
    (ctx.workdir / "notes.txt").write_text("nothing to see\n")
    outcome = await call(ctx, "search_files", pattern="SECRET")
    assert not outcome.is_error
    assert outcome.output == "no matches for 'SECRET' under '.'"


def test_confine_explains_the_refusal(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"^path '\.\./x' is outside the ticket's workdir$"):
        confine(ctx, "../x")
    with pytest.raises(ToolError, match="is absolute"):
        confine(ctx, "/etc/passwd")
    with pytest.raises(ToolError, match=r"control character U\+0000"):
        confine(ctx, "a\0b")


def test_confine_allows_dotdot_that_stays_inside(ctx: ToolContext) -> None:
    assert confine(ctx, "a/../b.txt") == ctx.workdir / "b.txt"
    assert confine(ctx, ".") == ctx.workdir


def test_confine_follows_a_symlink_that_stays_inside(ctx: ToolContext) -> None:
    (ctx.workdir / "real").mkdir()
    (ctx.workdir / "alias").symlink_to(ctx.workdir / "real")
    assert confine(ctx, "alias/new.txt") == ctx.workdir / "real" / "new.txt"


def test_confine_refuses_a_symlink_loop(ctx: ToolContext) -> None:
    (ctx.workdir / "loop").symlink_to(ctx.workdir / "loop")
    with pytest.raises(ToolError, match="loop"):
        confine(ctx, "loop/x")


def test_a_symlinked_workdir_works_once_resolved(workdir: Path) -> None:
    alias = workdir.parent / "alias"
    alias.symlink_to(workdir)
    with pytest.raises(ValueError, match="resolved"):
        ToolContext(workdir=alias, env={})
    assert confine(ToolContext(workdir=alias.resolve(), env={}), "a.txt") == workdir / "a.txt"


# --- argument checking and the runner ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("read_file", {}, "missing required argument(s): path"),
        ("write_file", {"path": "a.txt"}, "missing required argument(s): content"),
        ("read_file", {"path": 3}, "argument 'path' must be of type string, got integer"),
        ("read_file", {"path": "a", "offset": "2"}, "argument 'offset' must be of type integer, got string"),
        ("read_file", {"path": "a", "limit": True}, "argument 'limit' must be of type integer, got boolean"),
        ("read_file", {"path": "a", "limit": 2.5}, "argument 'limit' must be of type integer, got number"),
        ("read_file", {"path": "a.txt", "offset": 0}, "argument 'offset' must be at least 1, got 0"),
        ("list_dir", {"folder": "."}, "unexpected argument 'folder'; the arguments are: path"),
        ("search_files", {"pattern": ["a"]}, "argument 'pattern' must be of type string, got array"),
        ("run_command", {"command": "true", "timeout_s": 0}, "argument 'timeout_s' must be greater than 0"),
    ],
)
async def test_bad_arguments_give_an_error_outcome(
    ctx: ToolContext, name: str, arguments: dict[str, Any], message: str
) -> None:
    outcome = await run_tool(BUILTIN_TOOLS[name], arguments, ctx)
    assert outcome.is_error
    assert message in outcome.output


async def test_arguments_that_are_not_an_object_give_an_error_outcome(ctx: ToolContext) -> None:
    outcome = await run_tool(BUILTIN_TOOLS["list_dir"], ["."], ctx)  # type: ignore[arg-type]
    assert outcome == ToolOutcome("the arguments must be a JSON object, got array", is_error=True)


async def test_a_null_optional_argument_counts_as_omitted(ctx: ToolContext) -> None:
    (ctx.workdir / "a.txt").write_text("one\ntwo\n")
    outcome = await call(ctx, "read_file", path="a.txt", offset=None, limit=None)
    assert outcome == ToolOutcome("one\ntwo\n")


class Loud:
    """A tool with too much to say, or a bug."""

    needs_approval = False
    spec = ToolSpec("loud", "Says a lot.", {"type": "object", "properties": {}})

    def __init__(self, output: str = "", crash: bool = False) -> None:
        self.output, self.crash = output, crash

    async def run(self, arguments: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        if self.crash:
            raise KeyError("oops")
        return ToolOutcome(self.output)


async def test_the_runner_caps_any_output_keeping_the_head(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={}, output_limit=2000)
    outcome = await run_tool(Loud("a" * 1000 + "b" * 9000), {}, ctx)
    assert len(outcome.output) <= 2000
    assert outcome.output.startswith("a" * 1000)
    assert outcome.output.endswith(f"[… {10000 - (2000 - 256)} more characters cut]")


async def test_a_tool_bug_becomes_an_error_outcome(ctx: ToolContext) -> None:
    outcome = await run_tool(Loud(crash=True), {}, ctx)
    assert outcome == ToolOutcome("loud failed: KeyError: 'oops'", is_error=True)


def test_only_the_tools_that_change_things_need_approval() -> None:
    approved = {name for name, tool in BUILTIN_TOOLS.items() if tool.needs_approval}
    assert approved == {"write_file", "run_command"}
    for name, tool in BUILTIN_TOOLS.items():
        schema = tool.spec.parameters
        assert tool.spec.name == name
        assert schema["type"] == "object"
        assert set(schema.get("required", ())) <= set(schema["properties"])


# --- read_file -----------------------------------------------------------------------------------


async def test_read_file_returns_the_text(ctx: ToolContext) -> None:
    (ctx.workdir / "a.txt").write_text("héllo\r\nworld")
    assert await call(ctx, "read_file", path="a.txt") == ToolOutcome("héllo\r\nworld")


async def test_read_file_reads_a_window_and_says_where_to_read_on(ctx: ToolContext) -> None:
    (ctx.workdir / "n.txt").write_text("".join(f"{n}\n" for n in range(1, 11)))
    outcome = await call(ctx, "read_file", path="n.txt", offset=3, limit=2)
    assert outcome == ToolOutcome("3\n4\n[showed lines 3 to 4; read on with offset=5]")
    assert await call(ctx, "read_file", path="n.txt", offset=9) == ToolOutcome("9\n10\n")


async def test_read_file_keeps_the_default_line_limit(ctx: ToolContext) -> None:
    (ctx.workdir / "n.txt").write_text("x\n" * 2500)
    outcome = await call(ctx, "read_file", path="n.txt")
    assert outcome.output.endswith("x\n[showed lines 1 to 2000; read on with offset=2001]")


async def test_read_file_stops_at_the_output_limit(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={}, output_limit=2000)
    (ctx.workdir / "wide.txt").write_text(("y" * 99 + "\n") * 100)
    outcome = await call(ctx, "read_file", path="wide.txt")
    assert len(outcome.output) <= 2000
    assert outcome.output.endswith(
        "y\n[showed lines 1 to 17, all that fits in the output limit; read on with offset=18]"
    )


async def test_read_file_cuts_a_single_overlong_line(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={}, output_limit=2000)
    (ctx.workdir / "min.js").write_text("z" * 5000 + "\nnext\n")
    outcome = await call(ctx, "read_file", path="min.js")
    assert len(outcome.output) <= 2000
    note = "[line 1 is longer than 1744 characters; showed the first 1744; read on with offset=2]"
    assert outcome.output == "z" * 1744 + "\n" + note


async def test_read_file_refuses_binary_files_and_directories(ctx: ToolContext) -> None:
    (ctx.workdir / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (ctx.workdir / "src").mkdir()
    binary = await call(ctx, "read_file", path="img.png")
    assert binary == ToolOutcome(
        "'img.png' looks like a binary file (16 bytes); read_file only reads text", is_error=True
    )
    folder = await call(ctx, "read_file", path="src")
    assert folder == ToolOutcome(f"'src' {IS_A_DIRECTORY}", is_error=True)


async def test_read_file_reports_missing_files_and_offsets_past_the_end(ctx: ToolContext) -> None:
    (ctx.workdir / "two.txt").write_text("a\nb\n")
    (ctx.workdir / "empty.txt").write_text("")
    missing = await call(ctx, "read_file", path="nope/x.txt")
    assert missing == ToolOutcome("No such file or directory: 'nope/x.txt'", is_error=True)
    past = await call(ctx, "read_file", path="two.txt", offset=5)
    assert past == ToolOutcome("offset 5 is past the end of 'two.txt', which has 2 lines", is_error=True)
    assert await call(ctx, "read_file", path="empty.txt") == ToolOutcome("'empty.txt' is empty")


# --- list_dir ------------------------------------------------------------------------------------


async def test_list_dir_sorts_and_marks_entries(ctx: ToolContext) -> None:
    (ctx.workdir / "b.txt").write_text("")
    (ctx.workdir / "a").mkdir()
    (ctx.workdir / "a" / "inner.txt").write_text("")
    outcome = await call(ctx, "list_dir")
    assert outcome == ToolOutcome("a/\nb.txt\nlinked_dir@\nlinked_file@")
    assert await call(ctx, "list_dir", path="a") == ToolOutcome("inner.txt")


async def test_list_dir_is_bounded(ctx: ToolContext) -> None:
    folder = ctx.workdir / "many"
    folder.mkdir()
    for n in range(MAX_LIST_ENTRIES + 7):
        (folder / f"f{n:04}").write_text("")
    lines = (await call(ctx, "list_dir", path="many")).output.splitlines()
    assert len(lines) == MAX_LIST_ENTRIES + 1
    assert lines[0] == "f0000"
    assert lines[-1] == "… 7 more"


async def test_list_dir_refuses_files_and_reports_missing_folders(ctx: ToolContext) -> None:
    (ctx.workdir / "f.txt").write_text("")
    (ctx.workdir / "empty").mkdir()
    file = await call(ctx, "list_dir", path="f.txt")
    assert file == ToolOutcome("'f.txt' is a file, not a directory; use read_file to read it", is_error=True)
    missing = await call(ctx, "list_dir", path="gone")
    assert missing == ToolOutcome("No such file or directory: 'gone'", is_error=True)
    assert await call(ctx, "list_dir", path="empty") == ToolOutcome("'empty' is empty")


# --- search_files --------------------------------------------------------------------------------


@pytest.fixture
def tree(ctx: ToolContext) -> Path:
    root = ctx.workdir
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "main.py").write_text("import os\n\ndef main():\n    return os.getcwd()\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper():\n    pass\n")
    (root / "README.md").write_text("def is not code here\n")
    (root / "blob.bin").write_bytes(b"def \0\0binary")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("def in git\n")
    return root


async def test_search_files_prints_path_line_and_text(ctx: ToolContext, tree: Path) -> None:
    outcome = await call(ctx, "search_files", pattern=r"^def \w+\(")
    assert outcome == ToolOutcome("src/main.py:3: def main():\nsrc/pkg/util.py:1: def helper():")


async def test_search_files_narrows_by_path_and_glob(ctx: ToolContext, tree: Path) -> None:
    in_pkg = await call(ctx, "search_files", pattern="def", path="src/pkg")
    assert in_pkg.output == "src/pkg/util.py:1: def helper():"
    markdown = await call(ctx, "search_files", pattern="def", glob="*.md")
    assert markdown.output == "README.md:1: def is not code here"
    one_file = await call(ctx, "search_files", pattern="os", path="src/main.py")
    assert one_file.output == "src/main.py:1: import os\nsrc/main.py:4:     return os.getcwd()"
    none = await call(ctx, "search_files", pattern="def", glob="*.rs")
    assert none == ToolOutcome("no matches for 'def' under '.' in files matching '*.rs'")


async def test_search_files_skips_binary_files_and_git(ctx: ToolContext, tree: Path) -> None:
    outcome = await call(ctx, "search_files", pattern="def")
    assert "blob.bin" not in outcome.output
    assert ".git" not in outcome.output
    assert len(outcome.output.splitlines()) == 3


async def test_search_files_refuses_an_invalid_regex(ctx: ToolContext) -> None:
    outcome = await call(ctx, "search_files", pattern="(unclosed")
    reason = "missing ), unterminated subpattern at position 0"
    assert outcome == ToolOutcome(f"invalid regular expression '(unclosed': {reason}", is_error=True)


async def test_search_files_reports_a_missing_path(ctx: ToolContext) -> None:
    outcome = await call(ctx, "search_files", pattern="x", path="gone")
    assert outcome == ToolOutcome("'gone' does not exist", is_error=True)


async def test_search_files_caps_matches_and_line_length(ctx: ToolContext) -> None:
    (ctx.workdir / "long.txt").write_text("hit " + "w" * 1000 + "\n")
    (ctx.workdir / "many.txt").write_text("hit\n" * (MAX_MATCHES + 50))
    long = await call(ctx, "search_files", pattern="hit", path="long.txt")
    assert long.output == f"long.txt:1: {('hit ' + 'w' * 1000)[:MAX_MATCH_LINE]}…"
    many = (await call(ctx, "search_files", pattern="hit", path="many.txt")).output.splitlines()
    assert len(many) == MAX_MATCHES + 1
    assert many[-1] == f"[stopped after {MAX_MATCHES} matches; narrow the pattern, path or glob]"


async def test_search_files_stops_at_the_output_limit(workdir: Path) -> None:
    ctx = ToolContext(workdir=workdir, env={}, output_limit=2000)
    (ctx.workdir / "wide.txt").write_text(("hit " + "w" * 200 + "\n") * 50)
    outcome = await call(ctx, "search_files", pattern="hit")
    assert len(outcome.output) <= 2000
    assert outcome.output.endswith("[stopped after 8 matches; narrow the pattern, path or glob]")


# --- write_file ----------------------------------------------------------------------------------


async def test_write_file_creates_folders_and_reports_bytes(ctx: ToolContext) -> None:
    created = await call(ctx, "write_file", path="deep/er/note.txt", content="héllo\n")
    assert created == ToolOutcome("created 'deep/er/note.txt': wrote 7 bytes")
    assert (ctx.workdir / "deep" / "er" / "note.txt").read_text() == "héllo\n"
    again = await call(ctx, "write_file", path="deep/er/note.txt", content="")
    assert again == ToolOutcome("overwrote 'deep/er/note.txt': wrote 0 bytes")


async def test_write_file_refuses_directories_and_bad_text(ctx: ToolContext) -> None:
    (ctx.workdir / "src").mkdir()
    folder = await call(ctx, "write_file", path="src", content="x")
    assert folder == ToolOutcome(f"'src' {IS_A_DIRECTORY}", is_error=True)
    surrogate = await call(ctx, "write_file", path="s.txt", content="\ud800")
    assert surrogate.is_error
    assert surrogate.output.startswith("the content is not valid Unicode text")
    assert not (ctx.workdir / "s.txt").exists()


async def test_write_file_reports_a_file_in_the_way_of_a_folder(ctx: ToolContext) -> None:
    (ctx.workdir / "plain").write_text("")
    outcome = await call(ctx, "write_file", path="plain/x.txt", content="x")
    assert outcome.is_error
    assert "'plain" in outcome.output


async def test_write_file_refuses_a_hard_link_but_read_file_follows_it(
    ctx: ToolContext, outside: Path
) -> None:
    os.link(outside / "secret.txt", ctx.workdir / "linked_hard")
    read = await call(ctx, "read_file", path="linked_hard")
    assert read == ToolOutcome(f"{SECRET}\n")  # documented: a hard link is the file itself
    write = await call(ctx, "write_file", path="linked_hard", content="changed")
    assert write.is_error and "has 2 hard links" in write.output and "allow" not in write.output
    assert (outside / "secret.txt").read_text() == f"{SECRET}\n"


CONTROL_PATHS = {
    "newlines": "README.md\n\n\n.git/hooks/pre-commit",
    "escape": "notes\x1b[2K.txt",
    "delete": "a\x7fb.txt",
    "c1": "a\x9bb.txt",
    "override": "evil\u202etxt.exe",
    "isolate": "a\u2066b.txt",
}


@pytest.mark.parametrize("path", CONTROL_PATHS.values(), ids=CONTROL_PATHS.keys())
async def test_paths_with_control_characters_are_refused(ctx: ToolContext, path: str) -> None:
    outcome = await call(ctx, "write_file", path=path, content="#!/bin/sh\necho owned\n")
    assert outcome.is_error and "contains the control character U+" in outcome.output
    assert sorted(p.name for p in ctx.workdir.iterdir()) == ["linked_dir", "linked_file"]


GIT_PATHS = {
    "hook": ".git/hooks/pre-commit",
    "nested": "sub/.git/config",
    "uppercase": ".GIT/config",
    "dotdot": "src/../.git/config",
}


@pytest.mark.parametrize("path", GIT_PATHS.values(), ids=GIT_PATHS.keys())
async def test_write_file_into_git_needs_the_tickets_opt_in(ctx: ToolContext, path: str) -> None:
    (ctx.workdir / ".git").mkdir()
    (ctx.workdir / "src").mkdir()
    refused = await call(ctx, "write_file", path=path, content="[core]\n\tfsmonitor = ./evil\n")
    assert refused.is_error and "allow_git_writes = true" in refused.output
    assert list((ctx.workdir / ".git").iterdir()) == []
    allowed = ToolContext(workdir=ctx.workdir, env={}, allow_git_writes=True)
    assert not (await call(allowed, "write_file", path=path, content="[core]\n")).is_error


async def test_a_link_to_git_is_refused_with_or_without_the_opt_in(ctx: ToolContext) -> None:
    (ctx.workdir / ".git").mkdir()
    (ctx.workdir / "repo_link").symlink_to(ctx.workdir / ".git", target_is_directory=True)
    refused = await call(ctx, "write_file", path="repo_link/config", content="[core]\n\tfsmonitor = ./evil\n")
    assert refused.is_error and "allow_git_writes = true" in refused.output
    allowed = ToolContext(workdir=ctx.workdir, env={}, allow_git_writes=True)
    through = await call(allowed, "write_file", path="repo_link/config", content="[core]\n")
    assert through.is_error and "goes through the symbolic link 'repo_link'" in through.output
    assert list((ctx.workdir / ".git").iterdir()) == []


async def test_a_name_that_only_contains_git_is_not_refused(ctx: ToolContext) -> None:
    assert not (await call(ctx, "write_file", path=".github/workflows/x.yml", content="")).is_error
    assert not (await call(ctx, "write_file", path="docs/.gitignore", content="")).is_error


async def test_non_finite_numbers_are_invalid_arguments(ctx: ToolContext) -> None:
    for value in (float("nan"), float("inf"), float("-inf")):
        outcome = await call(ctx, "run_command", command="true", timeout_s=value)
        assert outcome == ToolOutcome(
            f"argument 'timeout_s' must be a finite number, got {value}", is_error=True
        )


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_tool_arguments_with_non_finite_numbers_are_not_valid_json(number: str) -> None:
    arguments, error = parse_tool_arguments(f'{{"command": "true", "timeout_s": {number}}}')
    assert arguments == {}
    assert error is not None and error.startswith(f"tool arguments are not valid JSON: {number} ")
    assert parse_tool_arguments('{"timeout_s": 1.5e3}') == ({"timeout_s": 1500.0}, None)


# --- no link on the path -------------------------------------------------------------------------

LINKED = {
    "a linked folder": ("alias/a.txt", "alias", "real"),
    "a linked file": ("shortcut.txt", "shortcut.txt", "real/a.txt"),
}


@pytest.mark.parametrize("case", LINKED)
async def test_a_link_inside_the_workdir_is_named_not_followed(ctx: ToolContext, case: str) -> None:
    """A link that stays inside is refused too (its target could change between check and open),
    in one line that names it and where it leads, so the model can ask for that path instead."""
    path, link, target = LINKED[case]
    (ctx.workdir / "real").mkdir()
    (ctx.workdir / "real" / "a.txt").write_text("inside\n")
    (ctx.workdir / "alias").symlink_to("real")
    (ctx.workdir / "shortcut.txt").symlink_to("real/a.txt")
    said = f"path {path!r} goes through the symbolic link {link!r} (to {target!r})"
    for tool, arguments in (
        ("read_file", {"path": path}),
        ("write_file", {"path": path, "content": "x"}),
        ("search_files", {"pattern": "inside", "path": path}),
    ):
        outcome = await call(ctx, tool, **arguments)
        assert outcome.is_error and outcome.output.startswith(said), (tool, outcome)
        assert "\n" not in outcome.output
    assert (ctx.workdir / "real" / "a.txt").read_text() == "inside\n"
    listed = await call(ctx, "list_dir", path="alias")
    assert listed == ToolOutcome(
        f"path 'alias' goes through the symbolic link 'alias' (to 'real'); {LINK_NOTE}", True
    )


async def test_write_file_makes_missing_folders_and_no_link_among_them(
    ctx: ToolContext, outside: Path
) -> None:
    made = await call(ctx, "write_file", path="new/deep/file.txt", content="x")
    assert made.output == "created 'new/deep/file.txt': wrote 1 bytes"
    (ctx.workdir / "new" / "deeper").symlink_to(ctx.workdir / "new" / "deep")
    refused = await call(ctx, "write_file", path="new/deeper/more/file.txt", content="x")
    assert refused.is_error and "the symbolic link 'new/deeper'" in refused.output
    assert not (ctx.workdir / "new" / "deep" / "more").exists()
