"""What people read, written the same way in the panes, the headless output, `lfg ask`, the history
and the `lfg worktrees` listing: outcome glyphs, times, rates, token counts, metric rows, tables.

Plain strings only, and light to import (no rich, textual or sqlite3): every `lfg` command may use it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from lfgtui.outcome import Outcome

if TYPE_CHECKING:
    from lfgtui.cost.metrics import AgentUsage, Metrics
    from lfgtui.events import AgentLimit, ContextUsed, QuotaSeen

OUTCOME_GLYPHS = {
    Outcome.COMPLETED: "✓",
    Outcome.FAILED: "✗",
    Outcome.CANCELLED: "■",
    Outcome.SKIPPED: "○",
    Outcome.INTERRUPTED: "!",
}
_BAD = "?"
"""A number or time that cannot be shown (a bad value read from the history file)."""


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 test`, `2 tests`; `many` for a noun whose plural is not its `s` form (`retry`, `retries`)."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def when(timestamp: float | None) -> str:
    """A Unix time as local `YYYY-MM-DD HH:MM:SS`, `-` for none, `?` for a bad value."""
    if timestamp is None:
        return "-"
    try:
        return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return _BAD


def ms(value: float | None) -> str:
    """Milliseconds, `412 ms`; `-` for none, `?` for a bad value."""
    if value is None:
        return "-"
    return f"{value:.0f} ms" if math.isfinite(value) else _BAD


def seconds(value: float) -> str:
    """A short time, `30.0s`: a pane's elapsed time under a minute, the time a model thought."""
    return f"{value:.1f}s"


def rate(value: float | None, estimated: bool = False) -> str:
    """A rate such as tokens per second, one decimal, `~` in front when it rests on an estimate; `-`
    for none, `?` for a bad value."""
    if value is None:
        return "-"
    return f"{'~' if estimated else ''}{value:.1f}" if math.isfinite(value) else _BAD


def share(value: float | None) -> str:
    """A share as a whole percent, `83%`: the prompt cache's hit rate in the panes, the fleet view and
    the compared rows; `-` for none (no request's usage said: never `0%`, which is a known miss)."""
    return "-" if value is None else f"{value:.0%}"


def tokens(count: int | None, estimated: bool) -> str:
    """A token count, `~` in front while it is lfg's estimate; `-` for none."""
    if count is None:
        return "-"
    return f"{'~' if estimated else ''}{count}"


def ttft(m: Metrics) -> str:
    """An attempt's time to first token, in milliseconds."""
    return ms(None if m.ttft_s is None else m.ttft_s * 1000)


def thinking(m: Metrics) -> str:
    """`3000 thinking in 30.0s`: the thinking an attempt's tokens hold (`~` while lfg's estimate) and
    the time before its first output that is not thinking; empty when it did not think. Apart from
    tok/s, which never counts it (cost/metrics.py)."""
    if not m.thinking_tokens:
        return ""
    took = f" in {seconds(m.thinking_s)}" if m.thinking_s else ""
    return f"{tokens(m.thinking_tokens, m.thinking_estimated)} thinking{took}"


def counted(m: Metrics, unit: str = "") -> str:
    """An attempt's tokens (followed by `unit`), the thinking among them in brackets:
    `3050 tokens (3000 thinking in 30.0s)`."""
    thought = thinking(m)
    return tokens(m.output_tokens, m.tokens_estimated) + unit + (f" ({thought})" if thought else "")


def gauges(m: Metrics) -> str:
    """TTFT, tok/s, tokens and cost on one line; `~` marks a count or cost that is still an estimate."""
    from lfgtui.cost.prices import format_usd  # here: prices.py imports decimal, which a listing never needs

    cost = format_usd(m.cost_usd, m.cost_estimated)
    speed = rate(m.tokens_per_s, m.rate_estimated)
    return f"TTFT {ttft(m)} · {speed} tok/s · {counted(m, ' tokens')} · {cost}"


COMPARED = ("outcome", "TTFT", "tok/s", "tokens", "cost", "cache", "duration")
"""The columns of `compared`, as the tables that show its rows head them."""


def compared(m: Metrics, outcome: str, duration: str) -> tuple[str, ...]:
    """Outcome, TTFT, tok/s, tokens, cost, prompt cache hit rate (`Metrics.cache_hit`: the attempt's
    whole figure) and duration of an attempt: a row of the headless closing table, of the TUI's
    comparison of a fanned-out ticket's models and of a tournament's table."""
    from lfgtui.cost.prices import format_usd

    return (
        outcome,
        ttft(m),
        rate(m.tokens_per_s, m.rate_estimated),
        counted(m),
        format_usd(m.cost_usd, m.cost_estimated),
        share(m.cache_hit),
        duration,
    )


FIELD_WIDTH = 40
"""The most characters `cell` shows of one field that someone else wrote."""


def cell(text: str, width: int = FIELD_WIDTH, keep_end: bool = False) -> str:
    """Text someone else wrote (a broker's run index) as one cell of a table: inert, on one line, and
    cut to `width` characters with `…` (its end kept for a path): one field of 200 kB would push
    every other column off the screen."""
    from lfgtui.inert import inert  # here: most listings show only their own text

    shown = inert(text).replace("\n", " ").replace("\t", " ")
    if len(shown) <= width:
        return shown
    return "…" + shown[1 - width :] if keep_end else shown[: width - 1] + "…"


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart, with no trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def context_text(context: ContextUsed) -> str:
    """A coding agent's context for people: `context 45,210 of 200,000 tokens (23%)`, with the cost
    and the account's limit it reports when it does."""
    from lfgtui.cost.prices import format_usd

    used, size = context.used, context.size
    percent = f" ({context_percent(used, size)})" if size else ""
    cost = "" if context.cost_usd is None else f", {format_usd(context.cost_usd)} by the agent's count"
    limit = "" if context.limit is None else f", {limit_text(context.limit)}"
    return f"context {used:,} of {size:,} tokens{percent}{cost}{limit}"


def short_count(count: int) -> str:
    """A token count in a few characters: `812`, `45.2k`, `1.2M`."""
    for limit, unit in ((1_000_000, "M"), (1_000, "k")):
        if count >= limit:
            return f"{count / limit:.1f}".removesuffix(".0") + unit
    return str(count)


def short_context(context: ContextUsed) -> str:
    """`ctx 45.2k/200k 23%`: how full a coding agent's context window is, in a few characters."""
    used, size = context.used, context.size
    return f"ctx {short_count(used)}/{short_count(size)} {context_percent(used, size)}"


def context_percent(used: int, size: int) -> str:
    """How full a context window is: `0.4%` under ten, `23%` above, `<0.1%` for a context that has
    something in it (never `0.0%`, which would say it is empty)."""
    share = 100 * used / size if size else 0.0
    if 0 < share < 0.05:
        return "<0.1%"
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"


def countdown(seconds: float) -> str:
    """A time left, short: `42s`, `6m00s`, `2h05m`."""
    whole = max(0, math.ceil(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _compact(count: int) -> str:
    """A count in a few characters, rounded down (what is left is never overstated): `950`,
    `89,950`, `450k`, `1.2M`."""
    if count < 100_000:
        return f"{count:,}"
    if count < 1_000_000:
        return f"{count // 1000}k"
    return f"{count // 100_000 / 10:g}M"


def quota_text(quota: QuotaSeen, elapsed: float = 0.0) -> str:
    """A provider's quota as its headers said it, `elapsed` seconds ago: `openai 12/500 req ↻42s ·
    9,800/30k tok ↻1s` (left of the limit, and the time until each resets while it has not)."""
    parts = []
    for unit, limit, left, reset_s in (
        ("req", quota.requests_limit, quota.requests_remaining, quota.requests_reset_s),
        ("tok", quota.tokens_limit, quota.tokens_remaining, quota.tokens_reset_s),
    ):
        if left is None:
            continue
        part = f"{_compact(left)}{'' if limit is None else '/' + _compact(limit)} {unit}"
        if reset_s is not None and reset_s > elapsed:
            part += f" ↻{countdown(reset_s - elapsed)}"
        parts.append(part)
    return f"{quota.provider} {' · '.join(parts) or 'quota unknown'}"


def agent_usage_text(usage: AgentUsage, now: float) -> str:
    """A coding agent provider's sessions as they reported themselves, for the summary bar at `now`:
    `claude-code ctx 150k/200k 75% (fullest of 3) · $1.20 agent · 5h 91% used ↻1h12m` (the
    context of the fullest running session, else of the last report; the cost of all its attempts
    by the agents' count; the account's limit as last said and, while its sessions run and burn it
    faster than it resets, when it runs out at that pace: `5h 91% used ↻1h12m, out ~12m`)."""
    from lfgtui.cost.prices import format_usd

    parts = []
    if usage.context is not None:
        fullest = f" (fullest of {usage.sessions})" if usage.sessions > 1 else ""
        parts.append(short_context(usage.context) + fullest)
    if usage.cost_usd is not None:
        parts.append(f"{format_usd(usage.cost_usd)} agent")
    if usage.limited is not None and usage.limited.limit is not None:
        limit = limit_text(usage.limited.limit, now - usage.limited.t)
        runs_out = usage.limit_runs_out_at() if usage.running else None
        if runs_out is not None and runs_out > now:
            limit += f", out ~{countdown(runs_out - now)}"
        parts.append(limit)
    return f"{usage.provider} {' · '.join(parts)}"


LIMIT_WINDOWS = {
    "five_hour": "5h",
    "seven_day": "7d",
    "seven_day_opus": "7d opus",
    "seven_day_sonnet": "7d sonnet",
}
"""Short names of Claude Code's windows; another is shown as the agent names it."""


def limit_text(limit: AgentLimit, elapsed: float = 0.0) -> str:
    """An agent's account limit as it said it, `elapsed` seconds ago: `5h 91% used ↻1h12m`,
    `7d limit reached ↻2h05m`, `5h limit ok` (the countdown while the window has not reset)."""
    window = LIMIT_WINDOWS.get(limit.window, limit.window)
    if limit.status == "rejected":
        said = f"{window} limit reached"
    elif limit.used is not None:
        said = f"{window} {limit.used * 100:.0f}% used"
    else:
        said = f"{window} limit {'near' if limit.status == 'allowed_warning' else 'ok'}"
    if limit.reset_s is not None and limit.reset_s > elapsed:
        said += f" ↻{countdown(limit.reset_s - elapsed)}"
    return said.lstrip()


def waited(seconds: float) -> str:
    """How long something waited for the person, as the pane header and `lfg history stats` say it:
    `<1 min`, `14 min`, `2 h 5 min`."""
    minutes = int(max(seconds, 0.0) // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def fenced(text: str, language: str = "") -> str:
    """A Markdown fenced code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"
