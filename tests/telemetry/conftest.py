"""Fixtures of the telemetry's tests: a real OTLP/HTTP receiver per test (tests/support/otlp_receiver.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture
def start_receiver() -> Iterator[Callable[..., OtlpReceiver]]:
    """Starts an `OtlpReceiver` with the options given (`delay_s`); all closed at the end."""
    receivers: list[OtlpReceiver] = []

    def start(**options: float) -> OtlpReceiver:
        receivers.append(OtlpReceiver(**options))
        return receivers[-1]

    yield start
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def receiver(start_receiver: Callable[..., OtlpReceiver]) -> OtlpReceiver:
    return start_receiver()
