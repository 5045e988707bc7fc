"""Which worker ran an attempt, read back from the statuses the history keeps (broker/running_on.py)."""

from __future__ import annotations

from lfgtui.broker.running_on import RanOn, ran_on, running_on


def test_the_latest_worker_a_status_names_is_read_back_after_a_retrys_reason() -> None:
    statuses = [
        running_on("w1", "build-3"),
        "retry asked by ana",
        "retry asked by ana; " + running_on("gpu box (2)", "build-4.example"),
        "working in /srv/clone on branch lfg/abc/t",
    ]
    assert ran_on(statuses) == RanOn("gpu box (2)", "build-4.example")
    assert str(ran_on(statuses[:1])) == "worker w1 (on build-3)"


def test_statuses_that_name_no_worker_give_none() -> None:
    assert ran_on(["working in /tmp/x on branch b", "running on worker ", "running on worker w1"]) is None
