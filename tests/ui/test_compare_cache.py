"""The comparison of a fanned-out ticket's models (`=`) has the prompt cache's column: each model's
whole figure, cache reads over the whole prompts of its requests whose usage said (as the pane's
`cache 83%` and the fleet view's column say it), and `-` where none said: a model whose provider
reports no cache usage, a usage with no prompt count, a prompt of 0 tokens, a model still waiting
for its first token. Never `0%` for what is unknown, and `0%` for a miss the provider said (a ticket
still running after a request that wrote the cache). On the real app, against the sim caching as the
real APIs do (`prompt_caching = 1`: the second request of a conversation reads the prefix the first
wrote)."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region
from textual.widgets import Static

from lfgtui.sim.prompt_cache import prefix
from lfgtui.sim.server import SimServer
from lfgtui.sim.wire import estimate_input_tokens
from lfgtui.ui.screens.modals import CompareScreen
from lfgtui.ui.widgets.pane import PaneState
from tests.support.app import SIZE, make_app, tickets, until
from tests.support.streams import LOOK_TWICE, write_scenario

MODELS = {
    "cached": "sim/look",
    "plain": "sim/hello:ttft_ms=0",  # the sim's Chat sends no cache details when nothing was cached
    "no prompt count": "sim/hello:ttft_ms=0,usage_input_tokens=null,usage_cache_read_tokens=40",
    "zero prompt": "sim/hello:ttft_ms=0,usage_input_tokens=0,usage_cache_read_tokens=0",
    "waiting": "sim/hello:ttft_ms=600000",
    "midway": "sim/look-stalled",
    "past the prompt": "sim/hello:ttft_ms=0,usage_input_tokens=10,usage_cache_read_tokens=50",
}
STALLED = '[[fault]]\nkind = "stall"\ncall = 1\nafter_tokens = 0\n'
"""The cached scenario whose second request never answers: its ticket runs on with the first one's
figure, a miss the provider said (`cached_tokens` 0 of a prompt it wrote to the cache)."""


def expected_share(sim: SimServer) -> float:
    """What the cached model's figure must be, from what the sim sent: its first request wrote the
    prefix to the cache, its second read it, and each prompt counts both (Chat Completions'
    `prompt_tokens` holds `cached_tokens`)."""
    requests = [record for record in sim.log if record.scenario == "look"]
    assert len(requests) == 2, [record.scenario for record in sim.log]
    cached = estimate_input_tokens(prefix(requests[1].body))
    assert cached == estimate_input_tokens(prefix(requests[0].body)), "one prefix"
    own = [record.usage.input_tokens for record in requests if record.usage is not None]
    return cached / (sum(own) + 2 * cached)


async def test_the_comparison_shows_each_models_whole_cache_figure_and_a_dash_for_the_unknown(
    sim: SimServer, scenario_dir: Path, tmp_path: Path
) -> None:
    write_scenario(scenario_dir, "look", LOOK_TWICE)
    write_scenario(scenario_dir, "look-stalled", LOOK_TWICE + STALLED)
    listed = ", ".join(f'"{model}"' for model in MODELS.values())
    toml = f'[[ticket]]\nid = "ask"\nprompt = "x"\ntools = ["list_dir"]\nmodels = [{listed}]\n'
    app = make_app(sim, tickets(tmp_path, toml), yes=True)
    async with app.run_test(size=SIZE) as pilot:
        panes = {f"{pane.provider}/{pane.model}": pane for pane in app.controller.panes.values()}
        assert set(panes) == set(MODELS.values())
        running = [panes[MODELS["waiting"]], panes[MODELS["midway"]]]
        ended = [pane for pane in panes.values() if pane not in running]
        await until(pilot, lambda: all(pane.state is PaneState.COMPLETED for pane in ended))
        await until(pilot, lambda: [r.scenario for r in sim.log].count("look-stalled") == 2)
        await until(pilot, lambda: running[1].metrics.cache_hit is not None)  # its first request's
        assert all(pane.state is PaneState.RUNNING for pane in running)
        await pilot.press("equals_sign")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        at = screen.COLUMNS.index("cache")
        shown = {row[0]: row[at] for row in screen.rows}
        metrics = panes[MODELS["cached"]].metrics
        whole = expected_share(sim)
        assert 0 < whole < 1 and metrics.cache_hit == whole
        assert metrics.cache_hit_last != whole, "the ticket's whole figure, not its last request's"
        assert {name: shown[model] for name, model in MODELS.items()} == {
            "cached": f"{whole:.0%}",
            "plain": "-",
            "no prompt count": "-",
            "zero prompt": "-",
            "waiting": "-",
            "midway": "0%",
            "past the prompt": "100%",  # 50 read of a prompt of 10: the prompt is its parts at least
        }
        await pilot.pause()
        drawn = [
            strip.text
            for widget in screen.query(Static)
            for strip in widget.render_lines(Region(0, 0, *widget.size))
        ]
        header = next(line for line in drawn if "model" in line and "outcome" in line)
        assert header.split() == list(screen.COLUMNS), header
        row = next(line for line in drawn if MODELS["cached"] in line)
        assert row.split()[at + 1] == f"{whole:.0%}", row  # TTFT is two words: `0 ms`
