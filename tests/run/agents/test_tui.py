"""A coding-agent ticket in the real app through Pilot: its pane, its permission requests, its process."""

from __future__ import annotations

from pathlib import Path

from lfgtui.config.load import Config
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.screens.modals import AgentLogScreen, ApprovalScreen, ConfirmScreen, FollowUpScreen
from lfgtui.ui.widgets.pane import PaneState
from lfgtui.ui.widgets.tool_log import ToolState
from tests.support.agents import agent_app, agent_processes, no_agent_left
from tests.support.app import SIZE, keys, until
from tests.support.compose import lfg_app

WRITER = (
    '[[ticket]]\nid = "w"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "writer:ttft_ms=0,tokens_per_s=300"\n'
)


async def test_the_agents_permission_requests_are_the_panes_approvals(tmp_path: Path) -> None:
    app = agent_app(tmp_path, WRITER)
    async with app.run_test(size=SIZE) as pilot:
        w = app.controller.panes["w"]
        asking = "approve write_file notes/summary.md\n  kind: edit"
        await until(pilot, lambda: str(w.notice.render()).startswith(asking), 20)
        assert w.state is PaneState.APPROVAL
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalScreen))
        request = app.screen.request.plain
        assert "\n  kind: edit\n" in request and "\n      │ Written by the lfg writer scenario." in request
        assert "\n  yes picks: Allow once\n  no picks: Reject" in request, "one argument a line"
        assert "\\n" not in request, "the written text line by line, not a JSON string"
        await pilot.press("y")

        def asks_about_the_command() -> bool:
            return w.state is PaneState.APPROVAL and "run_command" in str(w.notice.render())

        await until(pilot, asks_about_the_command, timeout=20)
        assert (tmp_path / "notes" / "summary.md").exists(), "the write the person saw was not asked again"
        await pilot.press("n")
        await until(pilot, lambda: w.state is PaneState.COMPLETED, timeout=20)
        states = [row.state for row in w.tools.rows.values()]
        assert states == [ToolState.OK, ToolState.OK, ToolState.DENIED], "the edit, lfg's write, the command"
        assert str(w.tools.title) == "tools (3, 1 denied)"
        assert "Done: the notes are in" in w.body.source
        plan = "✓ write_file notes/summary.md, run_command cat notes/summary.md\n"
        plan += "✓ Done: the notes are in `notes/summary.md`."
        await until(pilot, lambda: str(w.plan.render()) == plan, timeout=5)  # drawn on the next frame
        assert w.plan.display
    assert await no_agent_left(tmp_path)


async def test_cancel_and_quit_while_agents_work_leave_no_process(tmp_path: Path) -> None:
    slow = 'provider = "sim-acp"\nmodel = "long-answer:tokens_per_s=50,repeat=20"\n'
    app = agent_app(
        tmp_path, f'[[ticket]]\nid = "a"\nprompt = "x"\n{slow}\n[[ticket]]\nid = "b"\nprompt = "x"\n{slow}'
    )
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: all(len(p.body.source) > 20 for p in app.controller.panes.values()), timeout=20
        )
        assert len(agent_processes(tmp_path)) == 2
        await pilot.press("c")
        await until(pilot, lambda: app.controller.panes["a"].state is PaneState.CANCELLED, timeout=20)
        assert len(agent_processes(tmp_path)) == 1, "cancelling one ticket ends its agent only"
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: app.return_value is not None, timeout=20)
    assert await no_agent_left(tmp_path)


async def test_quitting_over_an_agent_deaf_to_cancel_is_bounded_and_ends_it(tmp_path: Path) -> None:
    deaf = BUILTIN["sim-acp"].with_agent(command=(*BUILTIN["sim-acp"].agent.command, "--deaf-to-cancel"))
    slow = 'provider = "sim-acp"\nmodel = "long-answer:tokens_per_s=50,repeat=20"\n'
    app = agent_app(tmp_path, f'[[ticket]]\nid = "hung"\nprompt = "x"\n{slow}', Providers({"sim-acp": deaf}))
    async with app.run_test(size=SIZE) as pilot:
        hung = app.controller.panes["hung"]
        await until(pilot, lambda: len(hung.body.source) > 20, timeout=20)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: app.return_value is not None, timeout=30)
    assert hung.state is PaneState.CANCELLED
    assert await no_agent_left(tmp_path), "the agent that ignored session/cancel was ended with lfg"


async def test_l_shows_the_agents_log(tmp_path: Path) -> None:
    toml = '[[ticket]]\nid = "h"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'
    app = agent_app(tmp_path, toml)
    async with app.run_test(size=SIZE) as pilot:
        h = app.controller.panes["h"]
        await until(pilot, lambda: h.state is PaneState.COMPLETED, timeout=20)
        assert h.agent_log is not None
        h.shown.focus()
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, AgentLogScreen))
        shown = str(app.screen.query_one("#agent-log-text Static").render())
        assert "sim acp agent: scenario hello" in shown and "end_turn" in shown
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AgentLogScreen))


async def test_i_follows_up_in_the_same_agent_session(tmp_path: Path) -> None:
    app = agent_app(
        tmp_path, '[[ticket]]\nid = "h"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'
    )
    async with app.run_test(size=SIZE) as pilot:
        h = app.controller.panes["h"]
        await until(pilot, lambda: h.state is PaneState.COMPLETED, timeout=20)
        [agent] = agent_processes(tmp_path)
        h.shown.focus()
        await pilot.press("i")
        assert isinstance(app.screen, FollowUpScreen)
        await pilot.press(*keys("and then?"), "enter")
        await until(pilot, lambda: h.attempt == 2 and h.state is PaneState.COMPLETED, timeout=20)
        assert agent_processes(tmp_path) == [agent], "the same agent answered"
        assert "> and then?" in h.body.source
        assert h.body.source.count("Hello!") == 2
    assert await no_agent_left(tmp_path)


async def test_the_header_names_the_model_the_agent_reports_when_not_the_tickets(tmp_path: Path) -> None:
    """One agent falls back from the ticket's model (a config option update says so); one offers its
    models the older way, as Gemini CLI does, and picks its own for a ticket that leaves it."""
    path = tmp_path / "tickets.toml"
    path.write_text(
        '[[ticket]]\nid = "m"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "smart"\n'
        '[[ticket]]\nid = "g"\nprompt = "x"\nprovider = "gemini"\n'
    )
    sim = (*BUILTIN["sim-acp"].agent.command[:3], "--models", "fast,smart")
    hello = ("--scenario", "hello:ttft_ms=0")
    agents = {
        "sim-acp": BUILTIN["sim-acp"].with_agent(command=(*sim, "--fallback-model", "fast", *hello)),
        "gemini": BUILTIN["gemini"].with_agent(command=(*sim, "--unstable-models", *hello)),
    }
    loaded = load_tickets(path, Config(path=None, providers=BUILTIN | agents), BUILTIN_TOOLS)
    app = lfg_app(loaded.tickets, Providers(agents))
    async with app.run_test(size=SIZE) as pilot:
        m, g = app.controller.panes["m"], app.controller.panes["g"]
        await until(pilot, lambda: m.finished and g.finished, timeout=20)
        assert m.state is g.state is PaneState.COMPLETED
        await until(pilot, lambda: "sim-acp/fast" in m.header.text.plain, timeout=5)
        await until(pilot, lambda: "gemini/fast" in g.header.text.plain, timeout=5)
        assert (m.model, g.model) == ("smart", "default"), "what the tickets asked is kept"
        assert "(the sim agent runs model fast in mode default)" in m.body.source
        assert "(the sim agent runs model fast in mode default)" in g.body.source
    assert await no_agent_left(tmp_path)


async def test_an_approval_the_agent_withdraws_leaves_the_pane_saying_so(tmp_path: Path) -> None:
    """ACP `$/cancel_request`: the agent withdraws its permission request; the pane's approval goes,
    its status says the agent withdrew it, and the calls fail as withdrawn (a later answer reaching
    nothing is test_cancel_requests.py's)."""
    sim = BUILTIN["sim-acp"]
    trigger = tmp_path / "withdraw"  # the sim withdraws the ask waiting once this exists
    withdrawing = sim.with_agent(command=(*sim.agent.command, "--withdraw-when", str(trigger)))
    app = agent_app(tmp_path, WRITER, Providers({"sim-acp": withdrawing}))
    async with app.run_test(size=SIZE) as pilot:
        w = app.controller.panes["w"]
        await until(pilot, lambda: str(w.notice.render()).startswith("approve write_file"), 20)
        trigger.touch()
        await until(pilot, lambda: str(w.notice.render()).startswith("approve run_command"), 20)
        trigger.touch()  # its command is withdrawn too
        withdrawn = "the agent withdrew its request; nothing is answered"
        await until(pilot, lambda: w.approval is None and withdrawn in str(w.status_note), 20)
        await until(pilot, lambda: w.state is PaneState.COMPLETED, 30)
        assert not (tmp_path / "notes" / "summary.md").exists(), "the withdrawn write never ran"
        outputs = [row.output for row in w.tools.rows.values()]
        assert sum("withdrawn by the agent ($/cancel_request)" in output for output in outputs) == 2, outputs
    assert await no_agent_left(tmp_path)
