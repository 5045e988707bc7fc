"""How to install one of lfg's extras (`otel`, `broker`, `prometheus`, `mcp`), said so that it works.

lfg is installed from its clone (`pip install .`, or `pip install -e '.[test]'`), not from a package
index, so `pip install 'lfgtui[otel]'` cannot work. An install from a folder knows it: the hint names
that folder (with `-e` when the install was editable), so it works from wherever the command runs;
otherwise it says to run it in the clone.
"""

from __future__ import annotations

import json
from importlib import metadata
from urllib.parse import unquote, urlsplit


def install_hint(extra: str) -> str:
    """The pip command that adds `extra` to this lfg: `pip install -e '/path/to/clone[otel]'`."""
    found = _clone()
    if found is None:
        return f"pip install -e '.[{extra}]' in lfg's clone"
    clone, editable = found
    return f"pip install {'-e ' if editable else ''}'{clone}[{extra}]'"


def _clone() -> tuple[str, bool] | None:
    """The folder lfg was installed from and whether the install is editable (PEP 610's
    direct_url.json), or None. The clone's own `lfgtui.egg-info` comes first on the path when lfg
    runs in it: it has none."""
    texts = (found.read_text("direct_url.json") for found in metadata.distributions(name="lfgtui"))
    try:
        found = json.loads(next((text for text in texts if text), "{}"))
    except ValueError:
        return None
    url = urlsplit(str(found.get("url", "")))
    if "dir_info" not in found or url.scheme != "file":
        return None
    return unquote(url.path), bool(found["dir_info"].get("editable"))
