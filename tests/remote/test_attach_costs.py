"""Costs for watchers: `lfg attach` prices a served run with the runner's card, to the same numbers,
in the TUI and in `--json`; a card with garbage shows `$?` and breaks nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from typing import Any

import pytest

from lfgtui.cost.metrics import MetricsBook
from lfgtui.cost.prices import format_usd
from lfgtui.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    EventFactory,
    Outcome,
    RequestSent,
    TextDelta,
    Usage,
)
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.catalog import BUILTIN
from lfgtui.remote.attach import Attachment
from lfgtui.remote.codec import encode
from lfgtui.sim.server import SimServer
from lfgtui.ui.app import LfgApp
from tests.support.app import until
from tests.support.lfg import Lfg
from tests.support.remote import TICKET, attached_app, lying_server
from tests.support.serving import TOKEN, attach_json, finish, served
from tests.support.terminal import Terminal

PRICED = """
[[ticket]]
id = "paid"
provider = "priced"
prompt = "Say hello."
model = "hello"

[[ticket]]
id = "long"
provider = "priced"
prompt = "go"
model = "long-answer:tokens_per_s=400"

[[ticket]]
id = "free"
provider = "sim"
prompt = "Say hello."
model = "hello"
"""
"""Two tickets on a sim provider the config prices, one on the sim as it is (free: `$0`)."""
CONFIGS = {
    "priced": replace(
        BUILTIN["sim"],
        name="priced",
        prices=PriceOverride(
            input_per_mtok=2.5, output_per_mtok=10.0, cache_read_per_mtok=1.25, cache_write_per_mtok=3.75
        ),
    )
}


def gauges(app: LfgApp, ticket: str) -> list[str]:
    """The parts of a pane's gauge line: TTFT, rate, tokens, cost, time."""
    return [part.strip() for part in app.controller.panes[ticket].gauges.text.plain.split(" · ")]


def runner_costs(book: MetricsBook) -> dict[tuple[str, int], tuple[float | None, bool]]:
    return {
        key: (m.cost_usd, m.cost_usd is not None and m.cost_estimated) for key, m in book.attempts.items()
    }


async def test_the_attached_tui_shows_the_runners_costs(sim: SimServer, tmp_path: Any) -> None:
    async with served(sim, tmp_path, PRICED, configs=CONFIGS) as run:
        app, attachment = await attached_app(run.url, sim)
        watched = app.controller
        async with app.run_test(size=(140, 44)) as pilot:
            run.run.start()
            await finish(run)
            await until(
                pilot, lambda: attachment.state == "ended" and all(p.finished for p in watched.panes.values())
            )
            runner = run.run.book
            assert runner_costs(watched.book) == runner_costs(runner), "every attempt priced to the same bit"
            total = runner.cost_usd()
            assert total[0] is not None and total[0] > 0, "priced; `free` costs a known nothing"
            assert watched.book.cost_usd() == total
            await until(pilot, lambda: f"  {format_usd(*total)}  " in str(watched.screen.summary.render()))
            attempts = runner.attempts.items()
            shown = {ticket: format_usd(m.cost_usd, m.cost_estimated) for (ticket, _), m in attempts}
            assert [shown[t][:3] for t in ("paid", "long", "free")] == ["$0.", "$0.", "$0"]
            await until(pilot, lambda: all(cost in gauges(app, ticket) for ticket, cost in shown.items()))
            await pilot.press("q")
        await attachment.aclose()


async def test_lfg_attach_in_a_terminal_shows_the_runners_cost(sim: SimServer, tmp_path: Any) -> None:
    """The command itself, not only its app: `lfg attach URL` hands the card's prices to the TUI."""
    async with served(sim, tmp_path, PRICED, configs=CONFIGS) as run:
        run.run.start()
        await finish(run)
        total = format_usd(*run.run.book.cost_usd())
        lfg, terminal = Lfg(tmp_path), Terminal(columns=160)
        command = [sys.executable, "-m", "lfgtui", "attach", run.url, "--config", str(lfg.config)]
        process = terminal.start(command, lfg.env | {"LFG_TOKEN": TOKEN})
        try:
            await asyncio.to_thread(terminal.wait_for, f"  {total}".encode())
            terminal.type(b"q")
            assert await asyncio.to_thread(process.wait, 30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            terminal.hang_up()
    assert total.startswith("$0."), "every attempt priced (the sim at a known nothing): exact"


def ended_costs(lines: list[dict[str, Any]]) -> dict[tuple[str, int], tuple[float | None, bool]]:
    ends = [line for line in lines if line["type"] == "attempt_ended"]
    return {(line["ticket"], line["attempt"]): (line["cost_usd"], line["cost_estimated"]) for line in ends}


async def test_attach_json_prints_the_runners_costs(sim: SimServer, tmp_path: Any) -> None:
    """The runner's `--json` prints `cost_usd` from its book at each attempt's end; so does a watcher's."""
    async with served(sim, tmp_path, PRICED, configs=CONFIGS) as run:
        run.run.start()
        await finish(run)
        lines, err = await attach_json(run.url)
    costs = ended_costs(lines)
    assert costs == runner_costs(run.run.book) and not err
    assert costs[("paid", 1)][0] is not None and costs[("paid", 1)][0] > 0
    assert costs[("free", 1)] == (0.0, False), "the sim is free: 0, not null"


RATES = {
    "input_per_mtok": 2.0,
    "output_per_mtok": 8.0,
    "cache_read_per_mtok": 2.0,
    "cache_write_per_mtok": 2.0,
}
VALID = [{"provider": "p", "model": "m", "price": {"source": "config", **RATES, "tiers": []}}]
GARBAGE: list[object] = [
    [
        {
            "provider": "p",
            "model": "m",
            "price": {"source": "config", **RATES, "input_per_mtok": -2.0, "tiers": []},
        }
    ],
    [
        {
            "provider": "p",
            "model": "m",
            "price": {"source": "config", **RATES, "output_per_mtok": float("nan"), "tiers": []},
        }
    ],
    [{"provider": "p", "model": "m", "price": {"source": "\x1b[2J" + "x" * 100_000, **RATES, "tiers": []}}],
    [{"provider": ["p"], "model": {"m": 1}, "price": 3}],
    {"p": "m"},
    "free",
]


def one_priced_attempt() -> list[bytes]:
    """The messages of a ticket `a` attempt on (p, m): 1,000 tokens in, 500 out (with rates 2 and 8
    per million: $0.006)."""
    clock = iter(float(n) for n in range(10))
    ev = EventFactory("a", 1, clock=lambda: next(clock))
    events = [
        ev(AttemptStarted, provider="p", model="m"),
        ev(RequestSent, call=0),
        ev(TextDelta, text="priced"),
        ev(Usage, input_tokens=1_000, output_tokens=500),
        ev(CallEnded, stop_reason="stop"),
        ev(AttemptEnded, outcome=Outcome.COMPLETED),
    ]
    return [json.dumps({"now": 9, "events": [encode(event, 0.0) for event in events]}).encode()]


@pytest.mark.parametrize(
    "card", [VALID, *GARBAGE], ids=["valid", *(f"garbage{n}" for n in range(len(GARBAGE)))]
)
async def test_a_card_with_garbage_shows_unknown_costs_and_breaks_nothing(
    card: object, sim: SimServer
) -> None:
    """The valid card beside them prices the same attempt, so each case can fail."""
    valid = card is VALID
    shown = "$0.006" if valid else "$?"
    async with lying_server(
        {"run_id": "r", "tickets": [TICKET], "prices": card}, one_priced_attempt()
    ) as url:
        attachment = Attachment(url, TOKEN)
        remote = await attachment.describe()
        await attachment.aclose()
        assert (remote.prices is not None) is valid
        assert (remote.prices_problem is None) is valid
        if not valid:
            assert remote.prices_problem is not None
            assert "not valid" in remote.prices_problem and "\x1b" not in remote.prices_problem
            assert "xxxx" not in remote.prices_problem
        app, attachment = await attached_app(url, sim)
        async with app.run_test(size=(120, 30)) as pilot:
            await until(pilot, lambda: attachment.state == "ended" and app.controller.panes["a"].finished)
            cost = app.controller.book.cost_usd()
            assert cost == ((0.006, False) if valid else (None, True)), "a call, priced or not"
            summary = app.controller.screen.summary
            await until(pilot, lambda: "1 completed" in str(summary.render()))
            assert f"  {shown}  " in str(summary.render())
            await until(pilot, lambda: "500 tok" in gauges(app, "a"))
            assert shown in gauges(app, "a")
            await pilot.press("q")
        await attachment.aclose()
        lines, err = await attach_json(url)
    assert ended_costs(lines) == {("a", 1): (0.006 if valid else None, False)}
    assert ("prices are not valid" in err) is not valid
