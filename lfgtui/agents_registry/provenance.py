"""Where each agent installed from the registry came from: a small JSON file in lfg's data folder
(`agents/installed.json`), one record per registry id, read by `lfg agents --registry` and by the
next `lfg agents install` (which never replaces another version unasked).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from lfgtui.folders import private_folder


@dataclass(frozen=True)
class Installed:
    """One installed agent: what the registry said, how it was installed, and how to start it."""

    id: str
    version: str
    distribution: str
    """`npx`, `uvx` or `binary`."""
    source: str
    """The package, or the archive's URL."""
    sha256: str | None
    """The checksum verified at install; None when the registry gave none."""
    registry: str
    """The index it was read from: its URL, and whether fetched, cached or the bundled snapshot."""
    folder: str
    command: list[str]
    env: dict[str, str]
    provider: str | None
    """lfg's built-in provider that runs the same CLI, if any."""
    installed_at: str
    redirects: list[str] = field(default_factory=list)
    """Where the archive's URL redirected to, in order (the last served it); none for a package."""


def agents_folder() -> Path:
    return Path(platformdirs.user_data_dir("lfgtui")) / "agents"


def _file() -> Path:
    return agents_folder() / "installed.json"


def installed() -> dict[str, Installed]:
    """Every recorded agent by id; a file lfg cannot read is reported, never overwritten silently."""
    path = _file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        records: dict[str, Any] = json.loads(text)["agents"]
        return {agent_id: Installed(**record) for agent_id, record in records.items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path}: not lfg's record of installed agents ({exc}); move it aside to start anew"
        ) from None


def record(agent: Installed) -> None:
    """Add or replace `agent`'s record (written whole to a new file, then renamed over the old)."""
    every = installed() | {agent.id: agent}
    path = _file()
    private_folder(path.parent)
    fresh = path.with_suffix(".json.new")
    fresh.write_text(
        json.dumps({"agents": {k: asdict(v) for k, v in sorted(every.items())}}, indent=2), encoding="utf-8"
    )
    os.replace(fresh, path)
