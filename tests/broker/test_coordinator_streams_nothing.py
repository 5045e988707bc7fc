"""A coordinator (`lfg run --broker`) streams nothing itself: its workers do. So it makes no
provider ready: it imports no SDK and starts no sim (issue #77: a second of CPU per coordinator),
nor the HTTP client of `lfg attach`.
Nor does a worker load what it does not serve (the HTTP server, without `--metrics`; the price
table, for the sims; the history's export, recorder and reader).
Real `lfg worker` and `lfg run --broker` processes on a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.fleet import STEADY, Fleet, ends, same_tickets
from tests.support.lfg import imported_by
from tests.support.patience import PATIENCE
from tests.support.terminal import Terminal


def test_a_coordinator_makes_no_provider_ready_while_its_worker_streams_the_ticket(fleet: Fleet) -> None:
    at_exit = "import atexit, sys\natexit.register(lambda: print('imported:', *sys.modules, file=sys.stderr))"
    fleet.start("w1", before=at_exit)
    args = fleet.lfg.args(fleet.lfg.tickets(same_tickets(["t"], "hello")), "--json", "--broker", fleet.url)
    args[args.index("--config") + 1] = str(fleet.config(STEADY))
    done, imported = imported_by(*args[3:], env=fleet.lfg.env)  # after `python -m lfgtui`
    assert done.returncode == 0, done.stderr
    assert ends([json.loads(line) for line in done.stdout.splitlines()]) == {("t", 1): "completed"}
    assert not {"lfgtui.providers.openai_chat", "lfgtui.sim.server"} & imported, imported
    # It follows its workers' events on the broker: not `lfg attach`'s HTTP client (remote/attach.py,
    # httpx2), which following a run needs only over HTTP (remote/following.py holds what both share).
    assert "lfgtui.remote.attach" not in imported and "lfgtui.remote.following" in imported, imported
    # The worker serves HTTP only for --metrics (and a lead ticket's door): it loads no server module.
    fleet.stop()
    lines = fleet.said("w1").splitlines()
    (loaded,) = [line.split()[1:] for line in lines if line.startswith("imported: ")]
    assert "lfgtui.providers.openai_chat" in loaded, loaded  # it streamed the ticket
    assert "lfgtui.remote.server" not in loaded, loaded
    # Nor does it read the price table (a fifth of a second of CPU) for a sim, which costs nothing.
    assert "genai_prices" not in loaded, loaded
    # It passes tickets on as rows (history/row_json.py, history/ticket_rows.py): it records nothing,
    # exports nothing and reads no history, so it loads neither the export, the recorder nor the reader.
    history = {"lfgtui.history.export", "lfgtui.history.recorder", "lfgtui.history.recorded"}
    assert not history & set(loaded), loaded
    assert "lfgtui.history.row_json" in loaded, "the test sees the history's imports"


def test_the_coordinators_tui_starts_no_provider_worker_while_its_worker_streams_the_ticket(
    fleet: Fleet,
) -> None:
    """The TUI reads a local run's streams in a provider worker child, started as lfg starts; a run
    on the broker's workers would only pay its imports (the SDKs, the sim: a second of CPU)."""
    fleet.start("w1")
    args = fleet.lfg.args(fleet.lfg.tickets(same_tickets(["t"], "hello")), "--broker", fleet.url)
    args[args.index("--config") + 1] = str(fleet.config(STEADY))
    terminal = Terminal()
    process = terminal.start(args, fleet.lfg.env)
    try:
        terminal.wait_for(b"1 completed", timeout=60)  # run on w1: its answer reached the TUI
        assert process.poll() is None, terminal.output.decode(errors="replace")
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        commands = [Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ") for child in children]
        assert not [c for c in commands if b"lfgtui.providers.worker_child" in c], commands
    finally:
        process.terminate()
        process.wait(timeout=30 * PATIENCE)
        terminal.hang_up()
    assert "(attempt 1): completed" in fleet.said("w1"), fleet.said("w1")
