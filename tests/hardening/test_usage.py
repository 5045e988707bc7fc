"""Token counts a provider should never send: through every wire format, `lfg run --json` with the bad
counts beside a healthy ticket, and the TUI with a priced model.

Each bad value is ignored where it enters (providers/usage.py): the ticket completes with lfg's own
estimate and a status naming the field; its neighbour keeps its reported tokens; the history holds
both; the exit code is 0.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.cost.prices import PriceBook
from lfgtui.events import Event, Status
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN
from lfgtui.sim.protocols import anthropic, openai_chat, openai_responses
from lfgtui.sim.scenario import SENT_USAGE
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, until
from tests.support.app import tickets as tickets_file
from tests.support.hardening import Harness

BAD_VALUES = {
    "nan": "NaN",
    "1e400": "1e400",
    "string": '"abc"',
    "list": "[1]",
    "fraction": "10.5",
    "negative": "-3",
    "2^70": str(2**70),
}
"""JSON text of each bad count, as the sim sends it (`usage_FIELD=JSON`)."""
FAST = "ttft_ms=0,tokens_per_s=0"
WIRES = {
    "sim": {name: f"usage.{place}" for name, place in openai_chat.USAGE_PLACES.items()},
    "sim-responses": {name: f"usage.{place}" for name, place in openai_responses.USAGE_PLACES.items()},
    "sim-anthropic": {
        name: f"usage.{place}"
        for name, place in {**anthropic.START_USAGE_PLACES, **anthropic.DELTA_USAGE_PLACES}.items()
    },
    "sim-agent": {name: name for name in SENT_USAGE},
}
"""Each built-in sim provider (one per wire format) and the name its status gives each count."""


def request_counts(db: Path, ticket: str) -> dict[str, int | None]:
    """The counts the history recorded for the ticket's one request, and whether its tokens are estimated."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            f"SELECT {', '.join(f'r.{name}' for name in SENT_USAGE)}, a.tokens_estimated, a.output_tokens "
            "FROM requests r JOIN attempts a ON a.id = r.attempt_id JOIN tickets t ON t.id = a.ticket_id "
            "WHERE t.ticket = ?",
            (ticket,),
        ).fetchone()
    return dict(zip([*SENT_USAGE, "tokens_estimated", "attempt_output_tokens"], row, strict=True))


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Harness:
    return Harness(tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
@pytest.mark.parametrize("provider", WIRES)
def test_a_bad_count_is_ignored_saying_so_and_costs_no_other_ticket(
    harness: Harness, provider: str, value: str
) -> None:
    names = WIRES[provider]
    tickets = [{"id": "healthy", "prompt": "Hi.", "provider": provider, "model": f"hello:{FAST}"}]
    tickets += [
        {"id": field, "prompt": "Hi.", "provider": provider, "model": f"hello:{FAST},usage_{field}={value}"}
        for field in names
    ]
    result = harness.run(harness.tickets(*tickets))

    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    result.check_history()
    healthy = result.of("healthy", "usage")[-1]
    assert healthy["output_tokens"] and healthy["input_tokens"]
    assert not [s for s in result.statuses("healthy") if "ignored" in s]
    assert request_counts(result.db, "healthy")["tokens_estimated"] == 0
    for field, name in names.items():
        assert result.ending(field)["outcome"] == "completed", field
        assert result.text(field) == result.text("healthy"), field
        said = [s for s in result.statuses(field) if s.startswith(f"ignored the provider's {name} = ")]
        assert len(said) == 1, (field, result.statuses(field))
        assert "lfg keeps its own estimate" in said[0]
        recorded = request_counts(result.db, field)
        if field == "input_tokens" or provider != "sim-anthropic":
            assert recorded[field] is None, (field, recorded)
        if field == "output_tokens":
            assert recorded["tokens_estimated"] == 1 and recorded["attempt_output_tokens"], recorded
        else:
            assert recorded["output_tokens"] == healthy["output_tokens"], (field, recorded)


EXPENSIVE = PriceBook(
    {
        **BUILTIN,
        "sim": replace(BUILTIN["sim"], prices=PriceOverride(input_per_mtok=1000.0, output_per_mtok=1000.0)),
    }
)
"""The sim priced at $1,000 per million tokens in and out."""


@pytest.mark.parametrize("value", ["10.5", "NaN", '"abc"', "[1]", str(2**70)])
async def test_the_tui_prices_a_bad_count_as_an_estimate(sim: SimServer, tmp_path: Path, value: str) -> None:
    """Prices multiply counts exactly: a count that is not a whole number must never reach them."""
    toml = '[[ticket]]\nid = "ok"\nprompt = "x"\nmodel = "hello"\n\n'
    toml += f'[[ticket]]\nid = "bad"\nprompt = "x"\nmodel = \'hello:usage_output_tokens={value}\'\n'
    events: list[Event] = []
    app = make_app(
        sim,
        tickets_file(tmp_path, toml),
        prices=EXPENSIVE,
        history=tmp_path / "h.sqlite3",
        sinks=[events.append],
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {pane(app, t).state for t in ("ok", "bad")} == {PaneState.COMPLETED})
        ended = app.frames
        await until(pilot, lambda: app.frames > ended + 1)  # both gauges drawn again, as finished
        bad, ok = pane(app, "bad"), pane(app, "ok")
        assert "~$" in str(bad.gauges.text) and "$" in str(ok.gauges.text)
        assert "~$" not in str(ok.gauges.text), "the healthy ticket's cost is its reported tokens'"
    said = [e.message for e in events if isinstance(e, Status) and e.ticket == "bad"]
    assert any(s.startswith("ignored the provider's usage.completion_tokens = ") for s in said), said
