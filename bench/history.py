"""Benchmark of the run history: search latency, write throughput, size, and CPU cost during a run.

Not a test (nothing here runs in CI). It prints:

1. write throughput: a synthetic history of `--attempts` attempts (about `--chars` characters each:
   prompt, reasoning, answer, a tool call and its output) streamed token by token through the real
   `Recorder`, batched as the writer batches a run of `--tickets` concurrent tickets;
2. bytes per 1,000 tokens: the file's size after a checkpoint over the output tokens recorded;
3. search latency p50/p95 over `--queries` queries (single words across the vocabulary, two-word
   ANDs, exact phrases, prefixes), plus the slowest kind of query, the most common word;
4. CPU: `lfg run --headless --json` with `--tickets` tickets at `--rate` tok/s each for about
   `--cpu-seconds`, with history and with `--no-history`, alternated `--cpu-rounds` times; the CPU
   time of each child process comes from `getrusage(RUSAGE_CHILDREN)`.

Defaults (50,000 attempts, about 50 M characters) take a few minutes on a 2-core machine.
Run: `python bench/history.py`, or e.g. `python bench/history.py --attempts 5000 --cpu-rounds 1`.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    Event,
    EventFactory,
    Outcome,
    PromptSent,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    Usage,
)
from lfgtui.history.recorder import Item, Recorder, Started
from lfgtui.history.stats import percentile
from lfgtui.history.store import Store
from lfgtui.history.writer import FLUSH_INTERVAL_S
from lfgtui.sim.scenario import ScenarioLibrary, split_tokens
from lfgtui.tickets.ticket import Ticket, TicketFile

SYLLABLES = [a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en", "is", "on")]


@dataclass(frozen=True)
class Corpus:
    """Synthetic words with Zipf-like frequencies, so common and rare words both exist."""

    words: tuple[str, ...]
    weights: tuple[float, ...]

    @classmethod
    def make(cls, size: int, rng: random.Random) -> Corpus:
        words: set[str] = set()
        while len(words) < size:
            words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
        ordered = tuple(sorted(words))
        weights = tuple(1 / (rank + 1) ** 1.07 for rank in range(size))
        return cls(ordered, tuple(itertools.accumulate(weights)))

    def text(self, chars: int, rng: random.Random) -> str:
        words = rng.choices(self.words, cum_weights=self.weights, k=max(1, chars // 8))
        return " ".join(words)


def _attempt(
    ticket: str, start: float, rate: float, corpus: Corpus, chars: int, rng: random.Random
) -> list[Item]:
    """One attempt's events at `rate` tokens per second: reasoning, text, a tool call, a result, text."""
    clock = [start]
    ev = EventFactory(ticket, 1, clock=lambda: clock[0])
    items: list[Item] = []

    def emit(cls: type[Event], dt: float = 0.0, **fields: object) -> None:
        clock[0] += dt
        items.append(ev(cls, **fields))

    def stream(cls: type[TextDelta | ReasoningDelta], text: str) -> None:
        for token in split_tokens(text):
            emit(cls, 1 / rate, text=token)

    prompt = corpus.text(chars * 15 // 100, rng)
    started = ev(AttemptStarted, provider="sim", model=rng.choice(("model-a", "model-b", "model-c")))
    items.append(Started(started, time.time()))
    emit(PromptSent, text=prompt)
    emit(RequestSent, 0.001, call=0)
    clock[0] += rng.uniform(0.2, 0.6)
    stream(ReasoningDelta, corpus.text(chars * 20 // 100, rng))
    stream(TextDelta, corpus.text(chars * 10 // 100, rng))
    raw = f'{{"path": "{corpus.text(20, rng).replace(" ", "/")}.py"}}'
    emit(ToolCallStarted, 1 / rate, call_id="c1", name="read_file")
    for fragment in (raw[:10], raw[10:]):
        emit(ToolCallArgsDelta, 1 / rate, call_id="c1", fragment=fragment)
    emit(ToolCallReady, call_id="c1", name="read_file", arguments={}, raw_arguments=raw)
    emit(Usage, input_tokens=200, output_tokens=None)
    emit(CallEnded, stop_reason="tool_use")
    emit(ToolResult, 0.01, call_id="c1", output=corpus.text(chars * 15 // 100, rng))
    emit(RequestSent, 0.001, call=1)
    clock[0] += rng.uniform(0.2, 0.6)
    stream(TextDelta, corpus.text(chars * 40 // 100, rng))
    emit(CallEnded, stop_reason="stop")
    emit(AttemptEnded, outcome=Outcome.COMPLETED)
    return items


def _time_of(item: Item) -> float:
    return item.event.t if isinstance(item, Started) else item.t


def _batches(attempts: list[list[Item]]) -> Iterator[list[Item]]:
    """The events of concurrent attempts merged by time and cut into writer-sized batches."""
    merged = sorted((item for items in attempts for item in items), key=_time_of)
    batch: list[Item] = []
    window_end = _time_of(merged[0]) + FLUSH_INTERVAL_S
    for item in merged:
        if _time_of(item) > window_end and batch:
            yield batch
            batch = []
            window_end = _time_of(item) + FLUSH_INTERVAL_S
        batch.append(item)
    yield batch


def _ticket(index: int) -> Ticket:
    return Ticket(
        id=f"t{index}",
        prompt="(bench)",
        title=f"t{index}",
        system=None,
        provider="sim",
        model="model-a",
        tools=("read_file",),
        max_calls=20,
        max_tokens=None,
        temperature=None,
        workdir=Path.cwd(),
        depends_on=(),
        auto_approve=frozenset(),
        auto_approve_all=False,
        line=0,
    )


def build(db: Path, args: argparse.Namespace, corpus: Corpus, rng: random.Random) -> tuple[int, float]:
    """Write the history; returns the events written and the seconds spent writing them."""
    tickets = TicketFile(Path("bench.toml"), tuple(_ticket(i) for i in range(args.tickets)), False)
    events = 0
    writing = 0.0
    runs = math.ceil(args.attempts / args.tickets)
    for run in range(runs):
        attempts = [
            _attempt(t.id, run * 100.0 + rng.uniform(0, 1), args.rate, corpus, args.chars, rng)
            for t in tickets.tickets
        ]
        recorder = Recorder.begin(db, tickets, "bench")
        for batch in _batches(attempts):
            start = time.perf_counter()
            recorder.write(batch)
            writing += time.perf_counter() - start
            events += len(batch)
        recorder.finish()
        if run % max(1, runs // 10) == 0:
            print(f"  … {run * args.tickets:,} attempts written", file=sys.stderr)
    return events, writing


def queries(corpus: Corpus, store: Store, count: int, rng: random.Random) -> list[str]:
    """Single words across the vocabulary, two-word ANDs, exact phrases from stored text, prefixes."""
    (last,) = store.conn.execute("SELECT max(id) FROM parts").fetchone()
    sample = [
        row[0]
        for row in (
            store.conn.execute(
                "SELECT substr(text, 1, 400) FROM parts WHERE id >= ? AND kind = 'text' LIMIT 1",
                (rng.randint(1, last),),
            ).fetchone()
            for _ in range(count)
        )
        if row
    ] or ["no text"]
    made: list[str] = []
    for i in range(count):
        kind = i % 10
        if kind < 6:
            made.append(rng.choice(corpus.words))
        elif kind < 8:
            made.append(f"{rng.choice(corpus.words)} {rng.choice(corpus.words)}")
        elif kind < 9:
            words = rng.choice(sample).split()
            at = rng.randrange(max(1, len(words) - 2))
            made.append('"' + " ".join(words[at : at + 2]) + '"')
        else:
            made.append(rng.choice(corpus.words)[:4] + "*")
    return made


def timed_search(store: Store, query: str) -> float:
    start = time.perf_counter()
    store.search(query, limit=20)
    return (time.perf_counter() - start) * 1000


def cpu_of(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + system) and wall seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def cpu_ratio(args: argparse.Namespace, folder: Path) -> None:
    per_repeat = len(split_tokens(ScenarioLibrary().resolve("long-answer:repeat=1").call(0).text))
    repeat = max(1, round(args.rate * args.cpu_seconds / per_repeat))
    model = f"long-answer:tokens_per_s={args.rate},repeat={repeat},ttft_ms=100"
    tickets = folder / "cpu.toml"
    tickets.write_text(
        "".join(f'[[ticket]]\nid = "t{i}"\nprompt = "go"\nmodel = "{model}"\n\n' for i in range(args.tickets))
    )
    config = folder / "config.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")}
    env |= {"XDG_CONFIG_HOME": str(folder / "config"), "XDG_DATA_HOME": str(folder / "data")}
    base = [
        sys.executable,
        "-m",
        "lfgtui",
        "run",
        str(tickets),
        "--headless",
        "--json",
        "--config",
        str(config),
    ]
    variants = {"history": ["--db", str(folder / "cpu.sqlite3")], "no-history": ["--no-history"]}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    wall: dict[str, list[float]] = {name: [] for name in variants}
    tokens = args.tickets * repeat * per_repeat
    print(f"\nCPU: {args.tickets} tickets x {args.rate} tok/s x {repeat * per_repeat} tokens ({model})")
    for round_ in range(args.cpu_rounds):
        for name, extra in variants.items() if round_ % 2 == 0 else reversed(variants.items()):
            seconds, elapsed = cpu_of(base + extra, env)
            cpu[name].append(seconds)
            wall[name].append(elapsed)
            print(f"  round {round_ + 1} {name:10}  cpu {seconds:6.2f} s  wall {elapsed:6.2f} s")
    print(f"  {tokens:,} tokens streamed per run; CPU of the runs, history vs --no-history:")
    for name, pick in (("median", statistics.median), ("best", min)):
        with_history, without = pick(cpu["history"]), pick(cpu["no-history"])
        extra = 100 * (with_history / without - 1)
        print(f"  {name:6}  {with_history:6.2f} s vs {without:6.2f} s: history costs {extra:+.1f}% CPU")
    print("  (target: at most +10%; `best` is the least disturbed by other load on the machine)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--attempts", type=int, default=50_000, help="attempts in the history (default 50000)"
    )
    parser.add_argument("--chars", type=int, default=1000, help="characters per attempt (default 1000)")
    parser.add_argument("--vocabulary", type=int, default=50_000, help="distinct words (default 50000)")
    parser.add_argument("--queries", type=int, default=300, help="search queries to time (default 300)")
    parser.add_argument("--tickets", type=int, default=16, help="concurrent tickets (default 16)")
    parser.add_argument("--rate", type=int, default=200, help="tokens per second per ticket (default 200)")
    parser.add_argument("--cpu-seconds", type=float, default=10, help="length of each CPU run (default 10)")
    parser.add_argument("--cpu-rounds", type=int, default=3, help="CPU runs per variant (default 3)")
    parser.add_argument("--skip-cpu", action="store_true", help="skip the CPU comparison")
    parser.add_argument("--db", type=Path, help="build the history here and keep it (default: a temp file)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="lfg-bench-") as tmp:
        folder = Path(tmp)
        db = args.db or folder / "history.sqlite3"
        corpus = Corpus.make(args.vocabulary, rng)
        print(f"building {args.attempts:,} attempts of ~{args.chars:,} characters in {db}", file=sys.stderr)
        started = time.perf_counter()
        events, writing = build(db, args, corpus, rng)
        total = time.perf_counter() - started
        with Store.open(db) as store:
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            attempts, tokens, chars = store.conn.execute(
                "SELECT count(*), sum(output_tokens), (SELECT sum(length(text)) FROM parts) FROM attempts"
            ).fetchone()
            size = db.stat().st_size
            print(
                f"\nhistory: {attempts:,} attempts, {chars / 1e6:.1f} M characters, {tokens:,} output tokens"
            )
            print(f"  built in {total:.1f} s; writer busy {writing:.1f} s")
            print(f"  write throughput  {events / writing:,.0f} events/s ({events:,} events)")
            print(
                f"  file size         {size / 1e6:.1f} MB: {size * 1000 / tokens:,.0f} bytes per 1,000 tokens"
            )

            made = queries(corpus, store, args.queries, rng)
            for query in made[:20]:
                store.search(query)
            latencies = [timed_search(store, q) for q in made]
            common = [timed_search(store, corpus.words[0]) for _ in range(5)]
            hits = sum(1 for q in made if store.search(q, limit=1))
            print(f"\nsearch: {len(made)} queries ({hits} with matches), top 20 with snippets")
            print(
                f"  p50 {percentile(latencies, 50):.1f} ms   p95 {percentile(latencies, 95):.1f} ms"
                f"   max {max(latencies):.1f} ms   (target: p95 under 100 ms)"
            )
            print(f"  the most common word ({corpus.words[0]!r}): {statistics.median(common):.1f} ms")
        if not args.skip_cpu:
            cpu_ratio(args, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
