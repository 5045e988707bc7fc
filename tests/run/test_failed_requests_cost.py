"""A request costs what its usage says: one the provider refused (401, 500) or that never reached it
(a refused connection) costs $0, however often it was tried, and takes nothing from a budget; one that
streamed some output and then failed without usage is estimated, and marked so (issue #65)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lfgtui.cost.prices import PriceBook
from lfgtui.history.rows import AttemptRow
from lfgtui.history.store import Selection, Store
from lfgtui.providers.base import PriceOverride
from lfgtui.providers.registry import Providers
from lfgtui.sim.server import SimServer
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, pane, tickets, until
from tests.support.lfg import Lfg, ending, free_port, recorded_run

PRICES = "prices = { input_per_mtok = 100.0, output_per_mtok = 1000.0 }"
"""$100 per million input tokens: a long prompt's estimate is dollars a try."""
LONG_PROMPT = "word " * 20_000
"""About 25,000 tokens by lfg's estimate: $2.50 a try at `PRICES`, were a failed try charged."""
FAILING = {
    "refused-500": "fault-500",
    "refused-401": "fault-401",
}
HEALTHY = "long-answer:repeat=5,tokens_per_s=400"


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    made = Lfg(tmp_path)
    made.env["GONE_KEY"] = "not-a-key"
    return made


def configure(lfg: Lfg, max_cost_usd: float | None = None) -> None:
    """The sim priced at `PRICES`, and `gone`: a provider whose port refuses the connection."""
    budget = "" if max_cost_usd is None else f"[run]\nmax_cost_usd = {max_cost_usd!r}\n\n"
    lfg.config.write_text(
        f"{budget}[providers.sim]\n{PRICES}\nmax_retries = 1\n\n"
        f'[providers.gone]\nkind = "openai"\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
        f'api_key_env = "GONE_KEY"\nmax_retries = 1\n{PRICES}\n'
    )


def tickets_file(lfg: Lfg, *, dropped: bool) -> Path:
    """The failing tickets (a long prompt each), the healthy one and, when `dropped`, one whose answer
    breaks off part way without usage."""
    failing = [(ticket, "sim", model) for ticket, model in FAILING.items()]
    failing.append(("never-sent", "gone", "gpt-4o"))
    toml = ['[defaults]\nprovider = "sim"\n']
    for ticket, provider, model in failing:
        toml.append(
            f'[[ticket]]\nid = "{ticket}"\nprovider = "{provider}"\nmodel = "{model}"\n'
            f'prompt = """{LONG_PROMPT}"""\n'
        )
    if dropped:
        toml.append('[[ticket]]\nid = "dropped"\nprompt = "x"\nmodel = "fault-drop"\n')
    toml.append(f'[[ticket]]\nid = "healthy"\nprompt = "x"\nmodel = "{HEALTHY}"\n')
    return lfg.tickets("\n".join(toml))


def recorded_attempt(db: Path, run_id: str, ticket: str) -> AttemptRow:
    with Store.open(db) as store:
        record = store.load(Selection(run_id))
    [shown] = [t for t in record.tickets if t.row.ticket == ticket]
    return shown.attempts[-1].row


def test_a_failed_request_costs_nothing_and_a_healthy_ticket_completes_under_a_budget(lfg: Lfg) -> None:
    db = lfg.workdir / "history.db"
    configure(lfg)
    code, events, stderr = lfg.run(tickets_file(lfg, dropped=True), "--db", str(db))
    assert code == 1, stderr
    run_id = recorded_run(stderr)
    for ticket in [*FAILING, "never-sent"]:
        end = ending(events, ticket)
        assert end["outcome"] == "failed"
        said = (end["cost_usd"], end["cost_estimated"], end["output_tokens"])
        assert said == (0.0, False, 0), f"{ticket}: nothing was answered, nothing is charged"
        row = recorded_attempt(db, run_id, ticket)
        assert (row.cost_usd, row.cost_estimated, row.output_tokens) == (0.0, False, 0), ticket
    assert "retrying" in " ".join(e.get("message", "") for e in events if e["ticket"] == "refused-500")
    dropped = ending(events, "dropped")
    assert dropped["outcome"] == "failed" and dropped["output_tokens"] > 0
    assert dropped["cost_usd"] > 0 and dropped["cost_estimated"], "output streamed, no usage: an estimate"
    row = recorded_attempt(db, run_id, "dropped")
    assert row.cost_estimated and row.tokens_estimated and row.cost_usd == dropped["cost_usd"]
    healthy = ending(events, "healthy")
    assert healthy["outcome"] == "completed" and not healthy["cost_estimated"]

    # Again, under a budget just above what the healthy ticket cost: the failures take none of it.
    configure(lfg, max_cost_usd=healthy["cost_usd"] * 1.01)
    code, events, stderr = lfg.run(tickets_file(lfg, dropped=False))
    assert code == 1, stderr
    assert ending(events, "healthy")["outcome"] == "completed", ending(events, "healthy")["error"]
    assert ending(events, "healthy")["cost_usd"] == healthy["cost_usd"]
    for ticket in [*FAILING, "never-sent"]:
        assert ending(events, ticket)["error"]["kind"] != "budget"


async def test_the_pane_shows_a_failed_request_costing_nothing(sim: SimServer, tmp_path: Path) -> None:
    configs = Providers(sim=sim).configs
    priced = replace(configs["sim"], prices=PriceOverride(input_per_mtok=100.0, output_per_mtok=1000.0))
    toml = f'[[ticket]]\nid = "t"\nmodel = "fault-401"\nprompt = """{LONG_PROMPT}"""\n'
    app = make_app(sim, tickets(tmp_path, toml), prices=PriceBook({**configs, "sim": priced}))
    async with app.run_test(size=SIZE) as pilot:
        shown = pane(app, "t")
        await until(pilot, lambda: shown.state is PaneState.FAILED and " tok · $" in str(shown.gauges.text))
        gauges = str(shown.gauges.text)
    assert " · 0 tok · $0 · " in gauges, "refused: no tokens, nothing charged, and nothing estimated"
