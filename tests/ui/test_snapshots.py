"""SVG snapshots of the run screen, with the clock frozen so times and spinners never move.

Mid-stream states are made deterministic with sim scenarios that stall after a known number of
tokens. Update the snapshots after a deliberate change with `pytest --snapshot-update`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from lfgtui.config.load import Config
from lfgtui.cost.prices import run_prices
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import keys
from tests.support.compose import lfg_app
from tests.support.patience import PATIENCE

SIZE = (120, 36)

STALLED = """
ttft_ms = 10
tokens_per_s = 1000
[[call]]
text = '''
## Findings

The service **renders widgets** and keeps a cache:

- `render()` builds the markup
- `cache.get()` returns hits

```python
def render(name):
    return f"<{name}/>"
```

This sentence is cut off by the stall and never'''
[[fault]]
kind = "stall"
after_tokens = 42
"""

TOOL_THEN_STALL = """
ttft_ms = 10
tokens_per_s = 1000
[[call]]
text = "Let me read the file."
[[call.tool_call]]
name = "read_file"
arguments = { path = "README.md" }
[[call]]
text = "The README says this project renders widgets, and then the stream stops right"
[[fault]]
kind = "stall"
call = 1
after_tokens = 13
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tickets folder and a private scenario folder with the stalling scenarios."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    scenarios = tmp_path / "config" / "lfgtui" / "scenarios"
    scenarios.mkdir(parents=True)
    (scenarios / "stalled.toml").write_text(STALLED)
    (scenarios / "tool-then-stall.toml").write_text(TOOL_THEN_STALL)
    (tmp_path / "README.md").write_text("# Widget\nRenders widgets.\n")
    return tmp_path


def app_for(workdir: Path, toml: str, providers: Providers | None = None, **options: Any) -> LfgApp:
    path = workdir / "tickets.toml"
    path.write_text('[defaults]\nprovider = "sim"\n\n' + toml)
    loaded = load_tickets(path, Config(path=None), BUILTIN_TOOLS, env={})
    shared = providers or Providers()
    prices = run_prices(shared.configs, loaded.tickets)  # as `lfg run` prices them: the sim is free
    return lfg_app(loaded.tickets, shared, run_id="snapshot", clock=lambda: 1000.0, prices=prices, **options)


def settled(condition: Callable[[LfgApp], bool]) -> Callable[[Pilot[Any]], Any]:
    """A `run_before` that waits for the app to reach a state (bounded well inside the test's own
    timeout: a loaded machine starts agents slowly), then for frames to draw it."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LfgApp)
        async with asyncio.timeout(45 * PATIENCE):
            while not condition(app):
                await asyncio.sleep(0.02)
        await pilot.pause(0.3)

    return run_before


def ticket(ticket_id: str, model: str, extra: str = "") -> str:
    head = f'[[ticket]]\nid = "{ticket_id}"\ntitle = "{ticket_id} work"\n'
    return head + f'prompt = "x"\nmodel = "{model}"\n{extra}\n'


def test_one_pane_finished(workdir: Path, snap_compare: Any) -> None:
    app = app_for(workdir, ticket("hello", "hello"))
    done = settled(lambda a: a.controller.panes["hello"].state is PaneState.COMPLETED)
    assert snap_compare(app, terminal_size=SIZE, run_before=done)


def test_four_panes_mid_stream_with_a_tool_log_expanded(workdir: Path, snap_compare: Any) -> None:
    toml = ticket("alpha", "stalled") + ticket("beta", "stalled")
    toml += ticket("gamma", "tool-then-stall", 'tools = ["read_file"]') + ticket("delta", "stalled")

    def streaming(app: LfgApp) -> bool:
        bodies = [p.body.source for p in app.controller.panes.values()]
        return all(b.endswith(("never", "stops right")) for b in bodies)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(streaming)(pilot)
        await pilot.press("tab", "tab", "t")
        await pilot.pause(0.3)

    assert snap_compare(app_for(workdir, toml), terminal_size=SIZE, run_before=run_before)


def test_a_zoomed_pane(workdir: Path, snap_compare: Any) -> None:
    toml = ticket("alpha", "stalled") + ticket("beta", "hello")

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(lambda a: a.controller.panes["alpha"].body.source.endswith("never"))(pilot)
        await pilot.press("z")
        await pilot.pause(0.3)

    assert snap_compare(app_for(workdir, toml), terminal_size=SIZE, run_before=run_before)


def test_a_failed_pane_with_its_error(workdir: Path, snap_compare: Any) -> None:
    app = app_for(workdir, ticket("dropped", "fault-drop") + ticket("denied", "fault-401"))
    failed = settled(lambda a: all(p.state is PaneState.FAILED for p in a.controller.panes.values()))
    assert snap_compare(app, terminal_size=SIZE, run_before=failed)


def test_coding_agents_beside_the_api_quotas_in_the_summary_bar(workdir: Path, snap_compare: Any) -> None:
    """Two sim agent tickets that report $0.03 a prompt, and an API ticket whose headers say its quota."""
    quota = "hello:ttft_ms=1,ratelimit_requests=500,ratelimit_tokens=90000,ratelimit_window_ms=360000"
    toml = ticket("api", quota)
    toml += ticket("one", "hello:ttft_ms=0", 'provider = "sim-acp"')
    toml += ticket("two", "hello:ttft_ms=0", 'provider = "sim-acp"')
    costly = BUILTIN["sim-acp"].with_agent(command=(*BUILTIN["sim-acp"].agent.command, "--cost", "0.03"))
    app = app_for(workdir, toml, providers=Providers({"sim-acp": costly}))
    done = settled(lambda a: all(p.state is PaneState.COMPLETED for p in a.controller.panes.values()))
    assert snap_compare(app, terminal_size=(160, 36), run_before=done)


def test_the_light_theme(workdir: Path, snap_compare: Any) -> None:
    app = app_for(workdir, ticket("gcd", "reasoning"), theme="light")
    done = settled(lambda a: a.controller.panes["gcd"].state is PaneState.COMPLETED)
    assert snap_compare(app, terminal_size=SIZE, run_before=done)


def test_a_default_terminal_shows_four_panes_says_where_two_more_are_and_keeps_help_and_quit(
    workdir: Path, snap_compare: Any
) -> None:
    toml = "".join(ticket(name, "stalled") for name in ("one", "two", "three", "four", "five", "six"))
    app = app_for(workdir, toml)
    streaming = settled(lambda a: all(p.body.source.endswith("never") for p in a.controller.panes.values()))
    assert snap_compare(app, terminal_size=(80, 24), run_before=streaming)


def test_a_verdict_at_80x24_keeps_the_winners_mark_and_its_column_names(
    workdir: Path, snap_compare: Any
) -> None:
    from lfgtui.ui.screens.verdict import VerdictScreen
    from tests.support.verdicts import three_contestants

    app = app_for(workdir, ticket("hello", "hello"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(lambda a: a.controller.panes["hello"].state is PaneState.COMPLETED)(pilot)
        await pilot.app.push_screen(VerdictScreen(three_contestants()))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_a_turn_picked_on_the_transcript_to_fork_after(workdir: Path, snap_compare: Any) -> None:
    """Three turns, the second picked (`k` twice): its words reversed, the third turn (which a fork
    after it leaves out) dimmed, the notice saying which turn and its keys."""
    app = app_for(workdir, ticket("hello", "hello"))

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LfgApp)
        pane = app.controller.panes["hello"]
        for turn, words in ((2, "second words"), (3, "third words")):
            await settled(lambda a: pane.state is PaneState.COMPLETED)(pilot)
            await pilot.press("i", *keys(words), "enter")
            answered = settled(
                lambda a, turn=turn: pane.attempt == turn and pane.state is PaneState.COMPLETED
            )
            await answered(pilot)
        await pilot.press("k", "k")
        await settled(lambda a: pane.picked == 2)(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
