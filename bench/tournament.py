#!/usr/bin/env python3
"""What a tournament's bookkeeping costs on the per-token path: 16 contestants with a `check` and a
judge, against the same 16 tickets without them, measured in one invocation.

Not a test (nothing here runs in CI). On this machine it starts a standalone sim server (`lfg sim
serve`, so that the streaming is counted in no lfg process) and a git repository, then runs two
tickets files through `lfg run --json`, each a ticket with `attempts = --contestants` (default 16)
of `--rate` tok/s each (default 100, for about `--duration` s) in worktrees of that repository:

- `plain`: the attempts and their worktrees, nothing else: the baseline;
- `tournament`: the same with `check = "true"` and `judge = "bench/tournament-judge"`: the referee
  follows every event of every contestant, the judge's ticket is held until the verdict.

They run `--repeat` times (default 5), both at once in each round (plain started first in even rounds,
the tournament in odd ones), each on a repository of its own, so that whatever else loads the
machine meanwhile weighs on both alike. The figure is each run
process's CPU per token over the same streaming window: from the first /proc sample (every 0.1 s)
after every contestant of both runs has sent its first token to the last before the first
contestant's attempt ended (at least 3 s, else the round is left out), so neither the worktrees'
making nor a check or the judge (which run once attempts end) is in it, and the tokens each run read
between the two samples. It prints each run's figure and each round's ratio, then the
medians of the runs and of the rounds' ratios (the tournament's overhead per token: the target is
under 2%), and the referee's own work per token timed in this process, the part of the overhead no
load on the machine blurs. A round whose run could not be sampled is left out, saying so.

    python bench/tournament.py                       # 16 x 100 tok/s for about 20 s, 5 rounds
    python bench/tournament.py --repeat 9 --rate 200
    python bench/tournament.py --quick               # 4 x 50 tok/s for 3 s, 1 round: does it run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _figures import ratio
from _render_lfg import LONG_ANSWER_TOKENS
from broker import LFG, SAMPLE_S, Sampler, Stamped, start_sim

from lfgtui.config.load import load_config
from lfgtui.events import TextDelta
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.tournament.referee import Referee

KINDS = ("plain", "tournament")
JUDGE = "fix@judge"
TOURNAMENT = 'check = "true"\njudge = "bench/tournament-judge"\n'
"""What makes the plain ticket a tournament: a check in each worktree, and a judge on the sim."""


@dataclass
class Measured:
    """One run: its exit code, the streaming window's CPU and tokens, whether the verdict came."""

    kind: str
    code: int
    cpu_s: float
    tokens: int
    window_s: float
    verdict: bool

    @property
    def us_per_token(self) -> float:
        return 1e6 * self.cpu_s / max(1, self.tokens)


MIN_WINDOW_S = 3.0
"""The shortest window a round is measured over: shorter, a diff measured or a sample late weighs."""


def streaming(lines: list[tuple[float, dict[str, Any]]], contestants: int) -> tuple[float, float] | None:
    """When every contestant was streaming: from the last one's first token to the first attempt's
    end (None, saying why, when they never all were)."""
    firsts: dict[str, float] = {}
    endings = [(seen, line) for seen, line in lines if line["type"] == "attempt_ended"]
    for _, line in endings:
        if line["outcome"] != "completed":
            print(f"!! {line['ticket']} ended {line['outcome']}: {line.get('error')}")
    for seen, line in lines:
        if line["type"] == "text" and line["ticket"] != JUDGE:
            firsts.setdefault(line["ticket"], seen)
    if len(firsts) < contestants or not endings:
        print(f"!! {len(firsts)} of {contestants} contestants streamed: see the run's stderr")
        return None
    return max(firsts.values()), min(seen for seen, _ in endings)


def run_round(
    commands: dict[str, list[str]], env: dict[str, str], folder: Path, contestants: int
) -> dict[str, Measured] | None:
    """Each kind's run, all at once (started in the order given), sampled together and measured over
    the same window: while every contestant of every run was streaming (None, saying why, when that
    was shorter than `MIN_WINDOW_S`)."""
    runs: dict[str, Stamped] = {}
    stderrs = {kind: open(folder / f"{kind}.stderr", "wb") for kind in commands}  # noqa: SIM115
    try:
        for kind, command in commands.items():
            runs[kind] = Stamped(command, env, stderrs[kind])
        sampler = Sampler({kind: [run.process.pid] for kind, run in runs.items()}, None)
        sampler.start()
        try:
            codes = {kind: run.wait()[0] for kind, run in runs.items()}
        finally:
            sampler.stop()
    finally:
        for stderr in stderrs.values():
            stderr.close()
    lines = {}
    for kind, run in runs.items():
        (folder / f"{kind}.ndjson").write_bytes(b"".join(line + b"\n" for _, line in run.lines))
        lines[kind] = [(seen, json.loads(line)) for seen, line in run.lines if line.strip()]
        if codes[kind] != 0:
            said = (folder / f"{kind}.stderr").read_text()[-1500:]
            print(f"!! {kind}: lfg run exited {codes[kind]}: {said}")
    spans = [streaming(kind_lines, contestants) for kind_lines in lines.values()]
    if any(span is None for span in spans):
        return None
    start, end = max(span[0] for span in spans if span), min(span[1] for span in spans if span)
    inside = [row for row in sampler.rows if start <= row.wall < end]
    if len(inside) < 2 or inside[-1].wall - inside[0].wall < MIN_WINDOW_S:
        print(f"!! every contestant of both runs streamed at once for {max(0.0, end - start):.1f} s only")
        return None
    first, last = inside[0], inside[-1]
    measured = {}
    for kind, kind_lines in lines.items():
        tokens = sum(
            1 for seen, line in kind_lines if line["type"] == "text" and first.wall < seen <= last.wall
        )
        verdict = any(line["type"] == "verdict" for _, line in kind_lines)
        cpu = last.cpu[kind] - first.cpu[kind]
        measured[kind] = Measured(kind, codes[kind], cpu, tokens, last.wall - first.wall, verdict)
    return measured


def referee_ns_per_event(tickets: Path, config: Path, events: int = 200_000) -> float:
    """The referee's own CPU per text event of a contestant (what the tournament adds to each token's
    path in the run's process), timed in this process over `events` calls, less the same loop's
    calls of a sink that does nothing."""
    loaded = load_tickets(tickets, load_config(config), BUILTIN_TOOLS, env={})
    run = Run(loaded.tickets, Providers(), Approvals(yes=True), [])
    referee = Referee(run)
    contestants = [t.id for t in loaded.tickets if t.judges is None]
    deltas = [
        TextDelta(ticket=contestants[n % len(contestants)], attempt=1, seq=n, t=0.0, text="word ")
        for n in range(events)
    ]

    def timed(sink: Any) -> float:
        start = time.process_time()
        for delta in deltas:
            sink(delta)
        return time.process_time() - start

    nothing = min(timed(lambda _: None) for _ in range(3))
    return 1e9 * (min(timed(referee) for _ in range(3)) - nothing) / events


def setup(folder: Path, args: argparse.Namespace, sim_port: int, env: dict[str, str]) -> dict[str, Path]:
    """A repository for the worktrees, the config (the sim as provider `bench`) and each kind's tickets."""
    repeat = int(args.rate * args.duration / LONG_ANSWER_TOKENS) + 1
    model = f"long-answer:tokens_per_s={args.rate:g},ttft_ms=100,repeat={repeat}"
    files = {}
    for kind in KINDS:
        repo = folder / f"repo-{kind}"  # one each: both run at once, and git locks a repository's worktrees
        repo.mkdir()
        for git in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
            subprocess.run(["git", "-C", str(repo), *git], check=True, env=env)
        files[kind] = folder / f"{kind}.toml"
        files[kind].write_text(
            f'[[ticket]]\nid = "fix"\nprompt = "go"\nprovider = "bench"\nmodel = "{model}"\n'
            f'attempts = {args.contestants}\nisolation = "worktree"\nworkdir = "{repo}"\n'
            + (TOURNAMENT if kind == "tournament" else "")
        )
    (folder / "config.toml").write_text(
        f'[providers.bench]\nkind = "openai"\nbase_url = "http://127.0.0.1:{sim_port}/v1"\n'
        f"idle_timeout_s = 30\n[run]\nmax_concurrency = {args.contestants + 1}\n"
    )
    return files


def bench(args: argparse.Namespace, folder: Path) -> int:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")}
    for name in ("CONFIG", "DATA", "STATE"):
        env[f"XDG_{name}_HOME"] = str(folder / name.lower())
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "OPENAI_API_KEY": "sim"}
    env |= {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "bench"}
    env |= {"GIT_COMMITTER_EMAIL": "b@x"}
    sim, sim_port = start_sim(env)
    try:
        files = setup(folder, args, sim_port, env)
        runs: dict[str, list[Measured]] = {kind: [] for kind in KINDS}
        ratios: list[float] = []
        for round_ in range(args.repeat):
            order = KINDS if round_ % 2 == 0 else tuple(reversed(KINDS))
            config = ["--config", str(folder / "config.toml")]
            commands = {
                kind: [*LFG, "run", str(files[kind]), "--json", "--no-history", *config] for kind in order
            }
            measured = run_round(commands, env, folder, args.contestants)
            if measured is None:
                print(f"round {round_ + 1} left out", flush=True)
                continue
            for kind in order:
                one = measured[kind]
                print(
                    f"round {round_ + 1} {kind:10}  {one.us_per_token:7.1f} us/token  "
                    f"({one.tokens} tokens in {one.window_s:.1f} s, load {os.getloadavg()[0]:.2f})"
                    + ("" if kind == "plain" or one.verdict else "  !! no verdict"),
                    flush=True,
                )
            plain, tournament = measured["plain"], measured["tournament"]
            runs["plain"].append(plain)
            runs["tournament"].append(tournament)
            ratios.append(tournament.us_per_token / plain.us_per_token)
            print(f"round {round_ + 1} tournament / plain  {ratios[-1]:.3f}", flush=True)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    if not ratios:
        print("!! no round measured both runs")
        return 1
    plain_us, tournament_us = (statistics.median(m.us_per_token for m in runs[kind]) for kind in KINDS)
    print(
        f"median CPU per token over {len(ratios)} rounds: plain {plain_us:.1f} us, tournament "
        f"{tournament_us:.1f} us, their ratio {ratio(tournament_us, plain_us)}; the rounds' ratios: median "
        f"{statistics.median(ratios):.3f} ({100 * (statistics.median(ratios) - 1):+.1f}%), "
        f"from {min(ratios):.3f} to {max(ratios):.3f}"
    )
    referee = referee_ns_per_event(files["tournament"], folder / "config.toml")
    print(
        f"the referee's own work per token: {referee:.0f} ns, {referee / (10 * plain_us):.3f}% of plain's "
        "CPU per token (timed in this process)"
    )
    failed = [
        m for kind in KINDS for m in runs[kind] if m.code != 0 or (kind == "tournament" and not m.verdict)
    ]
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contestants", type=int, default=16, help="attempts of the ticket (default 16)")
    parser.add_argument("--rate", type=float, default=100, help="tok/s of each contestant (default 100)")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds each one streams, about (default 20)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="rounds of both runs, interleaved (default 5)")
    parser.add_argument("--quick", action="store_true", help="4 x 50 tok/s for 3 s, 1 round")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the folder of logs (each kind's last NDJSON and stderr), and say where",
    )
    args = parser.parse_args()
    if args.quick:
        args.contestants, args.rate, args.duration, args.repeat = 4, 50.0, 3.0, 1
    print(
        f"{args.contestants} contestants x {args.rate:g} tok/s for about {args.duration:g} s, "
        f"{args.repeat} rounds; sampled every {SAMPLE_S} s; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    folder = Path(tempfile.mkdtemp(prefix="lfg-bench-tournament-"))
    try:
        return bench(args, folder)
    finally:
        if args.keep:
            print(f"logs in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
