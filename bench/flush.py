#!/usr/bin/env python3
"""The CPU a pane body's flushes cost per streamed token, with no screen, against another tree.

`render.py` measures the whole live view, whose figures move by tens of percent on a shared machine.
This one times only `LiveMarkdown`: a pane body (`--size`, a pane of the 16-pane grid at 200x60 by
default) fed a corpus token by token and flushed every `--every` tokens, as the frame clock does at
200 tok/s and 20 fps. Each corpus is timed in CPU time (`time.process_time`), the fastest of
`--passes` passes, and printed in µs per token with what the flushes rendered; "not rendering" is
the part of that pass spent outside `LiveMarkdown`'s tail and finished-block renders (the splitter,
scrolling, repaints: a flush's bookkeeping). The corpora are the
sim's `long-answer` scenario (what `render.py` streams), the Markdown report of `_markdown_corpus.py`
(headings, lists, a longer code block, a table, a quote), `prose`, paragraphs of about 140 words
(a streaming paragraph's rows), `tables`, two tables of 16 and 12 rows (a streaming table's rows),
and `lists`, a numbered plan of 12 two-line steps and a bullet list (a streaming list's items);
`--corpus` picks.

    python bench/flush.py
    python bench/flush.py --base /tmp/before --repeat 3   # against another tree, interleaved

`--base DIR` runs the same child with the lfgtui package in DIR (`git worktree add /tmp/before main
--detach`), alternating with this tree's, and prints the ratio of the medians for each corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from _figures import ratio, table_head, table_row
from _trees import child_json

CORPORA = ("long-answer", "report", "prose", "tables", "lists")
PROSE = (
    "The worker pool returned its batches in order, and the **pane** that owns each stream drew them as"
    " they came: a paragraph of an answer that explains itself at length, with *emphasis* here and a"
    " `name` there, as models write when asked why. Latency stayed within budget for most requests,"
    " though the slowest tenth waited on the provider's queue rather than on the network, which the"
    " gauges show as a long time to first token and a normal rate after it. Nothing here is cached:"
    " every figure is measured again on each run, and the history keeps what each attempt cost so a"
    " later run can be compared with it [in the history](https://example.com/history) without guessing.\n\n"
)
"""A long paragraph of prose, the shape most of a model's answer takes."""

TABLES = (
    "The runs compare as follows, fastest first:\n\n"
    "| Model | TTFT (ms) | Tokens/s | Cost |\n|---|--:|--:|--:|\n"
    + "".join(
        f"| model-{i} | {i * 37 % 500 + 90} | {i * 13.7 % 150:.1f} | ${i * 0.0137:.4f} |\n" for i in range(16)
    )
    + "\nAnd what each one is good at:\n\n| Model | Strength | Weakness |\n|---|---|---|\n"
    + "".join(
        f"| model-{i} | {('long answers', 'careful code review', 'short replies')[i % 3]} with *context* |"
        f" {('slow first token', 'costs more per token', 'loses the thread')[i % 3]} at times |\n"
        for i in range(12)
    )
    + "\n"
)
"""A table-heavy answer: a table of numbers that fits a pane of the grid, then one of phrases that
rich must shrink to fit it (a streaming table's rows)."""

LISTS = (
    "The plan, step by step:\n\n"
    + "".join(
        f"{i}. Read the `{name}` module and note where it {verb}, so that the change keeps the\n"
        f"{' ' * (len(str(i)) + 2)}**behaviour** the tests pin down and the docs describe.\n"
        for i, (name, verb) in enumerate(
            [("scheduler", "waits"), ("worker", "reads"), ("pane", "draws"), ("history", "writes")] * 3, 1
        )
    )
    + "\nWhat each step needs:\n\n"
    + "".join(
        f"- the {what} of the step before it, and a test that fails without it\n"
        for what in ("notes", "diff", "figures", "review", "benchmark", "docs")
    )
    + "\n"
)
"""A list-heavy answer, as coding agents write them: a numbered plan of 12 two-line steps (one
block, its last item the live tail) and a bullet list."""


def tokens_of(corpus: str, count: int) -> list[str]:
    """About `count` tokens of `corpus`, cut as the sim (or the report's tokeniser) cuts them."""
    if corpus in ("prose", "tables", "lists"):
        from _markdown_corpus import TOKEN_RE

        once = TOKEN_RE.findall({"prose": PROSE, "tables": TABLES, "lists": LISTS}[corpus])
        return (once * (count // len(once) + 1))[:count]
    if corpus == "report":
        from _markdown_corpus import make_tokens

        return make_tokens(count)
    from lfgtui.sim.scenario import ScenarioLibrary, split_tokens

    once = split_tokens(ScenarioLibrary().resolve("long-answer:repeat=1").call(0).text)
    return (once * (count // len(once) + 1))[:count]


async def measure(corpora: list[str], count: int, every: int, passes: int, size: tuple[int, int]) -> dict:
    from textual.app import App, ComposeResult

    from lfgtui.ui.markdown.live import LiveMarkdown

    rendering = [0.0]
    for name in ("_render_tail", "_render_finished"):  # rendering, apart from a flush's bookkeeping
        method = getattr(LiveMarkdown, name)

        def timed(self: LiveMarkdown, *args: object, _method=method, **named: object) -> object:
            start = time.process_time()
            try:
                return _method(self, *args, **named)
            finally:
                rendering[0] += time.process_time() - start

        setattr(LiveMarkdown, name, timed)
    width, height = size

    class Bench(App[None]):
        CSS = f"LiveMarkdown {{ width: {width}; height: {height}; }}"

        def compose(self) -> ComposeResult:
            yield LiveMarkdown()

    figures: dict[str, dict[str, float]] = {}
    async with Bench().run_test(size=(width + 10, height + 4)) as pilot:
        await pilot.pause()
        body = pilot.app.query_one(LiveMarkdown)
        for corpus in corpora:
            tokens = tokens_of(corpus, count)
            best, best_rendering = float("inf"), 0.0
            for _ in range(passes):
                body.clear()
                body.flush()
                before = vars(body.stats).copy()
                rendering[0] = 0.0
                start = time.process_time()
                for index, token in enumerate(tokens, 1):
                    body.append(token)
                    if index % every == 0:
                        body.flush()
                body.finish()
                took = time.process_time() - start
                if took < best:
                    best, best_rendering = took, rendering[0]
                after = vars(body.stats)
            figures[corpus] = {
                "us": best / len(tokens) * 1e6,
                "other_us": (best - best_rendering) / len(tokens) * 1e6,
                "tail": (after["tail_renders"] - before["tail_renders"]) / len(tokens),
                "blocks": (after["blocks_rendered"] - before["blocks_rendered"]) / len(tokens),
                "chars": (after["chars_rendered"] - before["chars_rendered"]) / len(tokens),
            }
    return figures


def run_child(args: argparse.Namespace, base: Path | None) -> dict[str, dict[str, float]]:
    command = [sys.executable, __file__, "--child", "--corpus", args.corpus, "--tokens", str(args.tokens)]
    command += ["--every", str(args.every), "--passes", str(args.passes), "--size", args.size]
    return child_json(command, base)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=",".join(CORPORA), help="corpora, comma-separated")
    parser.add_argument("--tokens", type=int, default=3_000, help="tokens per pass")
    parser.add_argument("--every", type=int, default=10, help="tokens between flushes")
    parser.add_argument("--passes", type=int, default=5, help="passes per corpus; the fastest counts")
    parser.add_argument("--size", default="48x13", help="the pane body's width x height")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tree, interleaved")
    parser.add_argument("--base", type=Path, help="another tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    corpora = args.corpus.split(",")
    if args.child:
        width, height = (int(part) for part in args.size.split("x"))
        figures = asyncio.run(measure(corpora, args.tokens, args.every, args.passes, (width, height)))
        print(json.dumps(figures))
        return
    trees = {"lfg": None, **({"lfg-base": args.base} if args.base else {})}
    runs: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
    columns = ["tree", "run", "corpus", "µs/tok", "not rendering µs/tok", "tail renders/tok", "blocks/tok"]
    columns.append("chars rendered/tok")
    print(table_head(columns))
    for number in range(1, args.repeat + 1):
        for name, base in trees.items():
            result = run_child(args, base)
            runs[name].append(result)
            for corpus, f in result.items():
                cells = [f"{f['us']:.1f}", f"{f.get('other_us', float('nan')):.1f}", f"{f['tail']:.3f}"]
                cells += [f"{f['blocks']:.3f}", f"{f['chars']:.0f}"]
                print(table_row([name, str(number), corpus, *cells]))
    if args.base:
        print("\nratios of the medians' µs per token, lfg/lfg-base (below 1 means this tree is cheaper):")
        for figure, label in (("us", "the whole flush"), ("other_us", "a flush's work besides rendering")):
            medians = {
                name: {
                    corpus: statistics.median(r[corpus].get(figure, float("nan")) for r in results)
                    for corpus in corpora
                }
                for name, results in runs.items()
            }
            ours, theirs = medians["lfg"], medians["lfg-base"]
            cells = ", ".join(f"{corpus} {ratio(ours[corpus], theirs[corpus])}" for corpus in corpora)
            print(f"  {label}: {cells}")


if __name__ == "__main__":
    main()
