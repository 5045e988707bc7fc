"""Regenerate lfg's bundled ACP registry snapshot (`lfgtui/agents_registry/snapshot.json`) from a
checkout of the registry (github.com/agentclientprotocol/registry), bare or with a work tree:

    python tools/registry_snapshot.py PATH/TO/registry [--commit REV] [--out FILE]

The registry publishes the index its CI builds (`.github/workflows/build_registry.py`): every
top-level folder's `agent.json`, in folder order, the folders it skips left out (`_not_yet_unsupported`
holds agents not yet listed). This reads the same files at one commit through git, so the snapshot
says which commit and which day it is of, and nobody copies thirty entries by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = "https://github.com/agentclientprotocol/registry"
REGISTRY_VERSION = "1.0.0"
"""The index format's version, as the registry's build writes it."""
OUT = Path(__file__).parents[1] / "lfgtui" / "agents_registry" / "snapshot.json"


def _git(checkout: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(checkout), *args], check=True, capture_output=True, text=True
    ).stdout


def listed_folders(checkout: Path, commit: str) -> list[str]:
    """The top-level folders the registry's build reads: not hidden, not `_`-prefixed, not `dist`."""
    names = _git(checkout, "ls-tree", "-d", "--name-only", commit).split("\n")
    return sorted(n for n in names if n and not n.startswith((".", "_")) and n != "dist")


def snapshot(checkout: Path, commit: str = "HEAD") -> dict[str, object]:
    """The index at `commit`, with where and when it was taken."""
    sha = _git(checkout, "rev-parse", f"{commit}^{{commit}}").strip()
    day = _git(checkout, "show", "-s", "--format=%cs", sha).strip()
    agents = []
    for folder in listed_folders(checkout, sha):
        try:
            text = _git(checkout, "show", f"{sha}:{folder}/agent.json")
        except subprocess.CalledProcessError:
            continue  # an extension's folder, or one with no entry: the build skips it too
        agents.append(json.loads(text))
    taken = {"repository": REPOSITORY, "commit": sha, "date": day}
    return {"version": REGISTRY_VERSION, "taken": taken, "agents": agents}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a clone of the ACP registry (bare or not)")
    parser.add_argument("--commit", default="HEAD", help="the commit to take (default: HEAD)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write it (default: {OUT})")
    args = parser.parse_args(argv)
    taken = snapshot(args.checkout, args.commit)
    args.out.write_text(json.dumps(taken, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    count = len(taken["agents"])  # type: ignore[arg-type]
    print(f"{args.out}: {count} agents from {REPOSITORY} at {taken['taken']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
