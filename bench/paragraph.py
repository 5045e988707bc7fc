#!/usr/bin/env python3
"""What one frame costs the pane body while a single huge paragraph streams, by paragraph size.

For each size the paragraph arrives at once (as a hidden pane shown again, or `lfg attach` catching
up, would see it), then 20 flushes each add 1 KB, as streaming tokens do. It prints the median time
a flush took and the characters it rendered, and their ratios to the first size: bounded per-frame
work means ratios near 1 however long the paragraph. A flush also renders pieces left over from the
paragraph's arrival, within `RELAYOUT_BUDGET`, so its time sits near that budget until they are done.
Not run in CI.

    python bench/paragraph.py                  # 1, 8 and 32 MB
    python bench/paragraph.py --sizes 1,4
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from textual.app import App, ComposeResult

from lfgtui.ui.markdown.live import LiveMarkdown

WORDS = "All work and no play makes a long answer, however it ends. "
FLUSHES = 20


class Bench(App[None]):
    CSS = "LiveMarkdown { width: 100; height: 40; }"

    def compose(self) -> ComposeResult:
        yield LiveMarkdown(code_theme="monokai")


async def measure(megabytes: int) -> tuple[float, int]:
    """Median seconds and characters rendered per flush, for a paragraph of `megabytes`."""
    async with Bench().run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        stream = pilot.app.query_one(LiveMarkdown)
        size = megabytes * 1_000_000
        stream.append((WORDS * (size // len(WORDS) + 1))[:size])
        stream.flush()
        times, chars = [], []
        for _ in range(FLUSHES):
            stream.append(WORDS * 17)
            before = stream.stats.chars_rendered
            started = time.perf_counter()
            stream.flush()
            times.append(time.perf_counter() - started)
            chars.append(stream.stats.chars_rendered - before)
        return statistics.median(times), int(statistics.median(chars))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,8,32", help="paragraph sizes in MB, comma-separated")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    first: tuple[float, int] | None = None
    print(f"{'paragraph':>10} {'flush ms':>9} {'chars':>7} {'time ratio':>11} {'chars ratio':>12}")
    for megabytes in sizes:
        seconds, chars = asyncio.run(measure(megabytes))
        first = first or (seconds, chars)
        print(
            f"{megabytes:>7} MB {seconds * 1000:>9.2f} {chars:>7} {seconds / first[0]:>11.2f}"
            f" {chars / max(1, first[1]):>12.2f}"
        )


if __name__ == "__main__":
    main()
