"""The sim's quota headers: a window's reset is told exactly, whatever the clock reads."""

from __future__ import annotations

from lfgtui.sim.quota import OPENAI, Quotas
from lfgtui.sim.scenario import Scenario


def test_a_window_that_just_began_resets_in_exactly_its_length() -> None:
    """`started + window - now` carries float dust at most clock values (4.001 + 60 - 4.001 >
    60); rounded up, a 60 s window would be told as `1m1s`."""
    scenario = Scenario(name="quota", ratelimit_requests=5)
    for tick in range(4_000, 4_200):
        now = tick / 1000
        taken = Quotas().take(scenario, 10, OPENAI, now)
        assert taken is not None
        assert taken.retry_after_s == 60
        assert taken.headers["x-ratelimit-reset-requests"] == "1m0s"
