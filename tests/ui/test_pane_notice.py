"""A pane's notice as people read it: a retry's countdown and the retry key's hint."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from lfgtui.events import ErrorInfo, ErrorKind, EventFactory, Retrying
from lfgtui.ui.widgets.pane import retry_text, with_hint


def test_a_retry_counts_whole_seconds_up_and_never_says_in_0s() -> None:
    error = ErrorInfo(ErrorKind.RATE_LIMITED, "slow down", 429)
    retry = EventFactory("t", 1, clock=lambda: 10.0)(
        Retrying, message="", error=error, retry=1, max_retries=3, delay_s=2.0
    )
    said = [retry_text(retry, now).split(" — ")[1] for now in (10.0, 11.2, 11.9, 12.0, 13.0)]
    assert (
        said
        == ["retrying in 2s (1/3)", "retrying in 1s (1/3)", "retrying in 1s (1/3)"]
        + ["retrying now (1/3)"] * 2
    )


def test_the_retry_hint_is_never_split_over_two_lines() -> None:
    console = Console(width=200)
    for length in range(20, 60):
        failed = Text("✗ " + "x" * length)
        shown = with_hint(failed, "r: retry", 36, console)
        lines = [line.plain.rstrip() for line in shown.wrap(console, 36)]
        assert any(line.endswith("r: retry") for line in lines), lines
        assert not any(line.endswith("r:") for line in lines), lines


def test_an_error_too_long_for_the_notice_is_cut_short_so_the_hint_shows() -> None:
    console = Console(width=200)
    failed = Text("✗ HTTP 401 auth: " + "word " * 40)
    shown = with_hint(failed, "r: retry", 36, console, room=3)
    lines = [line.plain.rstrip() for line in shown.wrap(console, 36)]
    assert len(lines) == 3 and lines[-1].endswith("…  r: retry"), lines
