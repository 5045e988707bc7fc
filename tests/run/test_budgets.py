"""max_cost_usd: a ticket, or the whole run, stops once it has cost its budget; what arrived is kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.cost.prices import PriceBook
from lfgtui.events import AttemptEnded, ErrorKind, Event, Outcome, Status, TextDelta
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.sim.server import SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS

LONG = "long-answer:repeat=20,tokens_per_s=400"
"""About 3,700 output tokens: at $1,000 per million output tokens, about $3.70 when it completes."""


def tickets(tmp_path: Path, toml: str) -> Path:
    path = tmp_path / "tickets.toml"
    path.write_text('[defaults]\nprovider = "sim"\n' + toml)
    return path


def priced(providers: Providers) -> PriceBook:
    """The sim priced at $1,000 per million output tokens (a tenth of a cent a token), input free;
    `sim-anthropic` priced as Anthropic's own endpoint would be, where its model `hello` has no price."""
    configs = providers.configs
    sim = replace(configs["sim"], prices=PriceOverride(input_per_mtok=0.0, output_per_mtok=1000.0))
    unpriced = replace(configs["sim-anthropic"], base_url="https://api.anthropic.com")
    return PriceBook({**configs, "sim": sim, "sim-anthropic": unpriced})


async def run_to_end(sim: SimServer, path: Path, max_cost_usd: float | None = None) -> list[Event]:
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    async with Providers(sim=sim) as providers:
        run = Run(
            loaded.tickets,
            providers,
            Approvals(),
            [events.append],
            prices=priced(providers),
            max_cost_usd=max_cost_usd,
        )
        run.start()
        await run.wait()
    return events


def ending(events: list[Event], ticket: str) -> AttemptEnded:
    return next(e for e in events if isinstance(e, AttemptEnded) and e.ticket == ticket)


def text(events: list[Event], ticket: str) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta) and e.ticket == ticket)


async def test_a_ticket_stops_at_its_budget_keeping_its_text(sim: SimServer, tmp_path: Path) -> None:
    path = tickets(
        tmp_path,
        f'[[ticket]]\nid = "capped"\nprompt = "x"\nmodel = "{LONG}"\nmax_cost_usd = 0.25\n'
        '[[ticket]]\nid = "free"\nprompt = "x"\nmodel = "hello"\n',
    )
    events = await run_to_end(sim, path)
    capped = ending(events, "capped")
    assert capped.outcome is Outcome.FAILED
    assert capped.error is not None and capped.error.kind is ErrorKind.BUDGET
    assert "reaching the ticket's max_cost_usd $0.25" in capped.error.message
    kept = text(events, "capped")
    assert kept, "what arrived before the budget ran out is kept"
    assert len(kept) < 4 * 3700 / 2, "it stopped long before the answer's end"
    assert ending(events, "free").outcome is Outcome.COMPLETED


async def test_the_run_budget_stops_every_running_ticket(sim: SimServer, tmp_path: Path) -> None:
    path = tickets(
        tmp_path,
        f'[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "{LONG}"\n'
        f'[[ticket]]\nid = "b"\nprompt = "x"\nmodel = "{LONG}"\n',
    )
    events = await run_to_end(sim, path, max_cost_usd=0.5)
    for ticket in ("a", "b"):
        ended = ending(events, ticket)
        assert ended.outcome is Outcome.FAILED
        assert ended.error is not None and ended.error.kind is ErrorKind.BUDGET
        assert "reaching [run] max_cost_usd $0.5" in ended.error.message
        assert text(events, ticket)


async def test_an_unpriced_model_is_never_stopped_by_a_budget(sim: SimServer, tmp_path: Path) -> None:
    path = tickets(
        tmp_path,
        '[[ticket]]\nid = "a"\nprompt = "x"\nmodel = "hello"\nprovider = "sim-anthropic"\n'
        "max_cost_usd = 0.000001\n",
    )
    events = await run_to_end(sim, path)
    assert ending(events, "a").outcome is Outcome.COMPLETED, "no price: the cost is unknown, not over budget"
    notes = [e.message for e in events if isinstance(e, Status)]
    assert "no price is known for sim-anthropic/hello: its cost is not counted in max_cost_usd" in notes
