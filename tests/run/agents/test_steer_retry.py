"""A steer handed to a coding agent whose turn is then cancelled, before the agent is known to have
read it, is no user turn of that attempt: it is what the attempt left unsent (issue 73: lfg said it
"went into the agent's running turn" though no model request carried it), and the retry that sends
what was left (the TUI's `r`, then send) sends it into the retry's turn, over ACP
(`_session/steering`), a user turn of that attempt only. Against the sim agent under
`--steering injected`; the turn is held open by the agent's permission request, answered only once
the steer has landed, so where it lands does not depend on the machine's speed."""

from __future__ import annotations

from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.events import ApprovalAsked, Event, Holding, Outcome, PromptSent, Steered
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.approvals import Approvals
from lfgtui.run.held import send_held
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS

STEER = "Also say the word PELICAN."


async def test_a_retry_of_a_steered_agent_turn_sends_the_same_steer_into_its_turn_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "t"\nprompt = "Write the notes."\nprovider = "sim-acp"\n'
        f'model = "writer:ttft_ms=0,tokens_per_s=0"\nworkdir = "{tmp_path}"\n'
    )
    sim = BUILTIN["sim-acp"]
    config = sim.with_agent(command=(*sim.agent.command, "--steering", "injected"))
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    events: list[Event] = []
    waiting: list[str] = []
    landed: set[int] = set()

    async with Providers({"sim-acp": config}) as providers:
        run = Run(loaded.tickets, providers, Approvals(askable=True), [], keep_agents=True)

        def heard(event: Event) -> None:
            events.append(event)
            if isinstance(event, ApprovalAsked):
                waiting.append(event.call_id)
                if event.attempt == 1 and len(waiting) == 1:
                    assert run.steer("t", STEER, by="ada") is None
            if isinstance(event, Holding) and (event.sent or "read the steer" in event.message):
                landed.add(event.attempt)
                if event.attempt == 1:
                    run.cancel("t")  # the steered attempt ends without completing: a retry is asked
            if 2 in landed:
                while waiting:
                    run.approvals.answer("t", waiting.pop(), True, "you")

        run.sinks.append(heard)
        try:
            run.start()
            await run.wait()
            assert run.states["t"].outcome is Outcome.CANCELLED
            assert [(m.text, m.steer) for m in run.states["t"].left_held] == [(STEER, True)], "unsent"
            waiting.clear()
            assert send_held(run, "t") is None
            await run.wait()
        finally:
            await run.close_agents()
    assert run.states["t"].outcome is Outcome.COMPLETED and run.states["t"].attempt == 2
    steers = [(e.attempt, e.text, e.by) for e in events if isinstance(e, Steered)]
    assert steers == [(2, STEER, "ada")], "a user turn of the retry's own turn alone"
    assert [(e.attempt, e.text) for e in events if isinstance(e, PromptSent)] == [
        (1, "Write the notes."),
        (2, "Write the notes."),
    ], "replayed as a steer, not sent as a next prompt"
