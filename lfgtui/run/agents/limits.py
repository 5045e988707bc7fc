"""The account limit a coding agent reports with its usage, read from the update's `_meta`.

ACP's `usage_update` says how full the context is and what the session cost, nothing of the
account's limits. Claude Code (claude-agent-acp) adds one in `_meta["_claude/rateLimit"]` whenever
the Claude Agent SDK's rate-limit event fires: a claude.ai subscription's window (`rateLimitType`:
`five_hour`, `seven_day`...), its `status`, the share of it used (`utilization`, 0 to 1) and when it
resets (`resetsAt`, a Unix time). Codex keeps its limits to its own `/status` text and Gemini CLI
sends no usage update, so this is the one read. The agent is untrusted: a field of the wrong type is
left out, and a limit without a status is none.
"""

from __future__ import annotations

import math
from typing import Any

from lfgtui.events import AgentLimit

CLAUDE_LIMIT = "_claude/rateLimit"


def agent_limit(meta: dict[str, Any] | None, now: float) -> AgentLimit | None:
    """The limit in a usage update's `meta`, its reset counted from `now` (the wall clock)."""
    said = meta.get(CLAUDE_LIMIT) if isinstance(meta, dict) else None
    if not isinstance(said, dict) or not isinstance(status := said.get("status"), str):
        return None
    window = said.get("rateLimitType")
    used, resets_at = _number(said.get("utilization")), _number(said.get("resetsAt"))
    return AgentLimit(
        window=window if isinstance(window, str) else "",
        status=status,
        used=used,
        reset_s=None if resets_at is None else resets_at - now,
    )


def _number(value: Any) -> float | None:
    """A finite number, else None."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if number else None
