"""The tables that set a run's tickets side by side have the prompt cache's column, as the TUI's
comparison and the fleet view have it: `lfg run --headless`'s closing table (each ticket, and each
fanned-out ticket's models) and `lfg history show`'s, each attempt's whole figure (cache reads over
the whole prompts of its requests whose usage said), `-` where none said. Against the sim caching
as the real APIs do."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.lfg import Lfg, data, history
from tests.support.patience import PATIENCE
from tests.support.streams import LOOK_TWICE

COLUMNS = ["outcome", "TTFT", "tok/s", "tokens", "cost", "cache", "duration"]
TICKETS = """
[[ticket]]
id = "cached"
prompt = "Look."
model = "look"
tools = ["list_dir"]

[[ticket]]
id = "plain"
prompt = "Say hello."
model = "hello:ttft_ms=0"

[[ticket]]
id = "ask"
prompt = "Look."
models = ["sim/look", "sim/hello:ttft_ms=0"]
tools = ["list_dir"]
"""


def figures(lfg: Lfg, run_id: str) -> dict[str, str]:
    """Each ticket's cache figure as the history's requests say it, worked out here from their
    counts: what every table must show."""
    run = data(history(lfg, "show", run_id, "--json"))["run"]
    shown = {}
    for ticket in run["tickets"]:
        (attempt,) = ticket["attempts"]
        said = [r for r in attempt["requests"] if r["input_tokens"] and r["cache_read_tokens"] is not None]
        prompts = sum(r["input_tokens"] for r in said)
        shown[ticket["ticket"]] = (
            f"{sum(r['cache_read_tokens'] for r in said) / prompts:.0%}" if said else "-"
        )
    return shown


def test_the_headless_and_history_tables_show_each_tickets_cache_figure(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    lfg.scenario("look", LOOK_TWICE)
    done = subprocess.run(
        lfg.args(lfg.tickets(TICKETS), "--headless"),
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stderr.split("recorded as run ")[1].split()[0]
    expected = figures(lfg, run_id)
    assert expected["cached"] not in ("-", "0%") and expected["plain"] == "-", expected
    assert expected["ask@look"] not in ("-", "0%") and expected["ask@hello-ttft_ms-0"] == "-"

    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("ticket"))
    assert header.split() == ["ticket", *COLUMNS]
    at = COLUMNS.index("cache") + 2  # TTFT is two words: `51 ms`
    rows = {line.split()[0]: line.split() for line in lines[lines.index(header) + 1 :][:4]}
    assert {ticket: row[at] for ticket, row in rows.items()} == expected
    models = lines[next(i for i, line in enumerate(lines) if line.startswith("compare ask")) + 1 :]
    assert models[0].split() == ["model", *COLUMNS]
    assert {row.split()[0]: row.split()[at] for row in models[1:3]} == {
        "sim/look": expected["ask@look"],
        "sim/hello:ttft_ms=0": "-",
    }

    markdown = history(lfg, "show", run_id).stdout
    table = [line.split("|")[1:-1] for line in markdown.splitlines() if line.startswith("| ")]
    column = [cell.strip() for cell in table[0]].index("cache")
    assert {row[0].strip(): row[column].strip() for row in table[1:]} == expected
