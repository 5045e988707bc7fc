"""`lfg` as a subprocess in an isolated environment (no keys, its own config and scenarios), its
NDJSON events picked apart, a free port, the modules a command imports, a long tickets file."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from lfgtui.cost.metrics import MIN_STREAM_S, Metrics, MetricsBook
from lfgtui.cost.prices import PriceBook
from lfgtui.history import recorded
from lfgtui.history.store import Selection, Store
from lfgtui.sim.scenario import split_tokens
from tests.support import warm_lfg
from tests.support.patience import PATIENCE


class Lfg:
    """Runs `python -m lfgtui` in an isolated environment: no keys, its own config and scenario folders."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        self.scenarios = self.home / "config" / "lfgtui" / "scenarios"
        self.scenarios.mkdir(parents=True)
        self.config = tmp_path / "config.toml"
        self.config.write_text("")
        self.workdir = tmp_path / "work"
        self.workdir.mkdir()
        (self.workdir / "README.md").write_text("# Widget\nA tiny service that renders widgets.\n")
        self.env = {
            k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LFG_")
        }
        self.env["LFG_MODEL_CATALOGUE"] = os.environ.get("LFG_MODEL_CATALOGUE", "off")  # conftest's: offline
        self.env |= {"XDG_CONFIG_HOME": str(self.home / "config"), "XDG_DATA_HOME": str(self.home / "data")}

    def tickets(self, toml: str) -> Path:
        path = self.workdir / "tickets.toml"
        path.write_text(textwrap.dedent(toml))
        return path

    def scenario(self, name: str, toml: str) -> str:
        (self.scenarios / f"{name}.toml").write_text(textwrap.dedent(toml))
        return name

    def args(self, tickets: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "lfgtui", "run", str(tickets), "--config", str(self.config), *extra]

    def run(self, tickets: Path, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
        done = warm_lfg.run(self.args(tickets, "--json", *extra), env=self.env, timeout=60 * PATIENCE)
        events = [json.loads(line) for line in done.stdout.splitlines()]
        return done.returncode, events, done.stderr


def history(lfg: Lfg, command: str, *args: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`lfg history COMMAND ARGS…` as a subprocess, in `lfg`'s environment (its default file unless `db`)."""
    where = ["--db", str(db)] if db else []
    command_line = [sys.executable, "-m", "lfgtui", "history", command, "--config", str(lfg.config), *where]
    command_line += args
    return warm_lfg.run(command_line, env=lfg.env, timeout=60 * PATIENCE)


def data(done: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a command printed, once it succeeded."""
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def of(events: list[dict[str, Any]], ticket: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["ticket"] == ticket and (kind is None or e["type"] == kind)]


def text(events: list[dict[str, Any]], ticket: str) -> str:
    return "".join(e["text"] for e in of(events, ticket, "text"))


def sim_pace(events: list[dict[str, Any]], ticket: str, input_tokens: int = 0) -> float:
    """The sim's tokens of text that streamed over the time they streamed, from the NDJSON's own
    times: the text is cut into runs at each tool call, and a run counts its tokens after its first
    chunk (the sim's own pieces, `split_tokens`) over its first chunk to its last, a run that came
    all at once (a loaded machine's sim catching up: within `MIN_STREAM_S`) counting for nothing, as
    in the metrics. `input_tokens` are those of the input of a call the agent sent whole (its count
    less its text): where lfg took that input as written since the run before it (`placed_at`),
    the run spans on to the call and counts them too. What tok/s must read, whatever pace a loaded
    machine let the agent keep."""
    runs: list[list[dict[str, Any]]] = [[]]
    ends: list[float | None] = []  # where lfg placed the first call's input: its run spans on to it
    placed = placed_at(events, ticket) if input_tokens else None
    for event in of(events, ticket):
        if event["type"] == "tool_call":
            ends.append(None if ends else placed)
            runs.append([])
        elif event["type"] == "text" and event["text"]:
            runs[-1].append(event)
    ends.append(None)
    spans = [
        (run, (run[-1]["t"] if end is None else end) - run[0]["t"], end is not None)
        for run, end in zip(runs, ends, strict=True)
        if run
    ]
    streamed = [
        (run, time, spans_on)
        for run, time, spans_on in spans
        if (len(run) > 1 or spans_on) and time >= MIN_STREAM_S
    ]
    tokens = sum(len(split_tokens(e["text"])) for run, _, _ in streamed for e in run[1:])
    tokens += sum(input_tokens for _, _, spans_on in streamed if spans_on)
    return tokens / sum(time for _, time, _ in streamed)


def placed_at(events: list[dict[str, Any]], ticket: str) -> float | None:
    """When the ticket's first tool call, its input sent whole, reached lfg, if that was `MIN_STREAM_S`
    or more after the text before it: lfg then takes the input as written meanwhile, its tokens over
    that time (cost/metrics.py, `_whole_input`); sooner (None), as come at no time of its own, split
    off the count by characters (an estimate). A sim that sends them at once is read either way on a
    loaded machine: its text can reach lfg late."""
    last = None
    for event in of(events, ticket):
        if event["type"] == "text" and event["text"]:
            last = event["t"]
        elif event["type"] == "tool_call":
            return event["t"] if last is not None and event["t"] - last >= MIN_STREAM_S else None
    return None


def command(lfg: Lfg, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`lfg ARGS` run to its end in `lfg`'s environment (plus `env`), its output captured."""
    return warm_lfg.run(
        [sys.executable, "-m", "lfgtui", *args], env=lfg.env | (env or {}), timeout=60 * PATIENCE
    )


def ending(events: list[dict[str, Any]], ticket: str) -> dict[str, Any]:
    (end,) = of(events, ticket, "attempt_ended")
    return end


def imported_by(
    *args: str, env: dict[str, str], packages: tuple[str, ...] = ("lfgtui",)
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """`lfg ARGS` run to its end, and the modules of `packages` it imported: a short command starts
    fast only while it imports little (issues #15, #77; the time itself is measured by bench/startup.py)."""
    code = (
        "import sys\nfrom lfgtui.commands.main import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
        f"    print('imported:', *sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}),"
        " file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60 * PATIENCE
    )
    last = done.stderr.splitlines()[-1]
    assert last.startswith("imported: "), done.stderr
    return done, set(last.split()[1:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def many_tickets(count: int) -> str:
    """A valid file of `count` tickets, each depending on (and quoting) later ones: one long chain."""
    tickets = ['[defaults]\nprovider = "sim"\nmodel = "hello"\n']
    for number in range(count):
        later = [f"t{after:06d}" for after in (number + 1, number + 7) if after < count]
        quoted = f"{{{{ outputs.{later[0]} }}}}" if later else "nothing"
        depends_on = ", ".join(f'"{ticket}"' for ticket in later)
        tickets.append(
            f'[[ticket]]\nid = "t{number:06d}"\ntitle = "Ticket {number}"\nprompt = """\nGo on from\n'
            f'{quoted}\n"""\ndepends_on = [{depends_on}]\ntools = ["read_file"]\nmax_tokens = 100\n'
        )
    return "\n".join(tickets)


CLONE = Path(__file__).parents[2]
"""lfg's clone, which the tests' lfg is installed from (`pip install -e`): the install hints name it."""
DEMO = CLONE / "examples" / "demo.toml"


def quick_demo(folder: Path, tokens_per_s: int = 150) -> Path:
    """examples/demo.toml in `folder` (its workdir), every ticket's sim model at `tokens_per_s`: what
    a test of the run around the demo needs, not the ~25 s a person watches."""

    def paced(found: re.Match[str]) -> str:
        name, _, options = found.group(1).partition(":")
        kept = [option for option in options.split(",") if option and not option.startswith("tokens_per_s=")]
        return f'model = "{name}:{",".join([*kept, f"tokens_per_s={tokens_per_s}"])}"'

    text = re.sub(r'^model = "([^"]+)"', paced, DEMO.read_text(), flags=re.MULTILINE)
    path = folder / "demo.toml"
    path.write_text(text)
    return path


def recorded_run(stderr: str) -> str:
    """The id of the run `lfg run` says it recorded."""
    found = re.search(r"recorded as run (\w+)", stderr)
    assert found is not None, stderr
    return found.group(1)


def rebuilt_metrics(db: Path, ticket_id: str) -> Metrics:
    """The ticket's last attempt's metrics as a resumed or replayed pane computes them: from the
    events the history rebuilds, through a book that prices only the models a coding agent says
    answered (the run's providers are not known here)."""
    with Store.open(db) as store:
        [run] = store.list_runs(1)
        record = store.load(Selection(run.id))
    [shown] = [t for t in recorded.recorded_run(record).tickets if t.ticket.id == ticket_id]
    book = MetricsBook(prices=PriceBook({}))
    for event in shown.attempts[-1].events:
        book(event)
    return book.attempts[(ticket_id, shown.attempts[-1].number)]
