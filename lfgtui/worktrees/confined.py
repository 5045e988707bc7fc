"""How lfg's own git reads a ticket's worktree: only the person's repository has a say.

A sandboxed agent may write its worktree and the worktree's own git folder
(`<repo>/.git/worktrees/<id>`: its `HEAD`, its index, a `config.worktree` that
`extensions.worktreeConfig` makes git read). lfg's git runs outside the box, as the person, so none of
that may decide what it does:

- git is pointed at the repository's shared git folder (`GIT_DIR`) with the worktree as its work
  tree (`GIT_WORK_TREE`), never through the worktree's `.git` file: the worktree's `HEAD`, index,
  `config.worktree` and per-worktree files are not read; the start is the branch lfg made and recorded;
- the index is lfg's own (`GIT_INDEX_FILE`), never the worktree's;
- no filter runs: every `filter.<name>` the configuration defines has its clean, smudge and process
  commands emptied and is not required, so a `.gitattributes` the agent wrote (`* filter=x`) starts
  nothing, not even a filter of the person's whose command is a script in the worktree; no hook
  runs (git.py), no sparse checkout applies, and every diff lfg reads is `--no-ext-diff --no-textconv`.

Files are read as they are on disk: a git-lfs file is its content, not its pointer (review lists
it as a binary change, and landing it needs `--include-unreviewed`).
"""

from __future__ import annotations

from pathlib import Path

from lfgtui.worktrees.git import checked, git, line

_SETTINGS = (
    ("core.sparseCheckout", "false"),
    ("core.sparseCheckoutCone", "false"),
    ("index.sparse", "false"),
    ("core.splitIndex", "false"),
)
"""No sparse checkout and no split index: either reads files of a git folder. (git.py starts no
fsmonitor, and runs no hook but the person's, pinned, in a landing's own steps.)"""


async def common_dir(repo: Path) -> Path:
    """The git folder the repository `repo` (the person's checkout lfg recorded) shares with its
    worktrees."""
    return Path(line(await checked(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")))


async def no_filters(git_dir: Path) -> dict[str, str]:
    """`GIT_CONFIG_*` variables that empty every filter the configuration of `git_dir` defines and
    the settings of `_SETTINGS` (exact keys: a filter's name may hold any character)."""
    listed = await git(git_dir, "config", "-z", "--get-regexp", r"^filter\.", env={"GIT_DIR": str(git_dir)})
    names: set[str] = set()
    for record in listed.out.decode(errors="surrogateescape").split("\0"):
        key = record.partition("\n")[0]
        if key.startswith("filter.") and key.count(".") >= 2:
            names.add(key[len("filter.") : key.rindex(".")])
    settings = list(_SETTINGS)
    for name in sorted(names):
        settings += [(f"filter.{name}.{part}", "") for part in ("clean", "smudge", "process")]
        settings.append((f"filter.{name}.required", "false"))
    env = {"GIT_CONFIG_COUNT": str(len(settings))}
    for number, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{number}"] = key
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    return env


async def confined_env(repo: Path, work_tree: Path, index: Path) -> dict[str, str]:
    """The environment lfg's git reads the worktree `work_tree` of `repo` in, through lfg's own
    `index` (see the module docstring)."""
    shared = await common_dir(repo)
    return {
        **(await no_filters(shared)),
        "GIT_DIR": str(shared),
        "GIT_WORK_TREE": str(work_tree),
        "GIT_INDEX_FILE": str(index),
    }


def own_index(work_tree: Path, shared: Path) -> Path | None:
    """The worktree's own index (what `git add` in it staged), found from its `.git` file (which the
    sandbox keeps read-only); None when it has none there."""
    try:
        text = (work_tree / ".git").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    own = Path(work_tree, text.removeprefix("gitdir: ")).resolve()
    if not text.startswith("gitdir: ") or own.parent != (shared / "worktrees").resolve():
        return None
    return own / "index" if (own / "index").is_file() else None
