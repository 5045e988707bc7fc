"""The model table: ids and dated snapshots found, the anthropic SDK's own end-of-life dates used,
a model's lifecycle on a given day, and no built-in provider defaulting to a retired model."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from anthropic._data import DEPRECATED_MODELS

from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.models import (
    RETIRING_WITHIN,
    TABLE,
    VENDOR_HOSTS,
    Status,
    facts,
    lifecycle,
    max_output_tokens,
    sdk_date,
    sdk_deprecations,
)

READ = date(2026, 11, 26)
"""The day the table was read from the providers' pages."""


def test_a_dated_snapshot_is_its_model() -> None:
    assert facts("claude-sonnet-4-5-20250929") == facts("claude-sonnet-4-5")
    assert facts("gpt-4.1-mini-2025-04-14") == facts("gpt-4.1-mini")
    assert max_output_tokens("claude-haiku-4-5-20251001") == 64_000


def test_an_unknown_model_has_no_facts_and_is_never_refused() -> None:
    assert facts("llama3.2") is None
    assert max_output_tokens("agent-demo") is None
    assert lifecycle("gpt-4.1-mini-extra", READ) == (Status.OK, "")
    assert facts("gpt-4.1-mini-extra") is None, "a longer name is another model, not a snapshot"


def test_every_sdk_end_of_life_is_read_as_a_date() -> None:
    """The SDK writes `November 30th, 2026`: an entry written another way would be silently left
    out, so an SDK that changes how it writes them fails here."""
    assert sdk_deprecations().keys() == DEPRECATED_MODELS.keys()
    assert sdk_date("November 30th, 2026") == date(2026, 11, 30)
    assert sdk_date("January 22nd, 2027") == date(2027, 1, 22)
    assert sdk_date("soon") is None


def test_anthropic_dates_come_from_the_sdk_and_replacements_from_the_docs() -> None:
    for model, end in sdk_deprecations().items():
        known = facts(model)
        assert known is not None, f"{model}: in the SDK's table, not in lfg's"
        assert known.lifecycle is not None and known.lifecycle.shutdown == end
    sonnet = facts("claude-sonnet-4-5")
    assert sonnet is not None and sonnet.lifecycle is not None
    assert sonnet.lifecycle.replacement == "claude-sonnet-5-5"


def test_a_model_is_ok_then_retiring_then_retired() -> None:
    shutdown = date(2027, 1, 14)  # gpt-4.1-mini, replaced by gpt-6-luna
    early = lifecycle("gpt-4.1-mini", shutdown - timedelta(days=RETIRING_WITHIN + 1))
    assert early.status is Status.OK
    soon = lifecycle("gpt-4.1-mini", shutdown - timedelta(days=RETIRING_WITHIN))
    assert soon.status is Status.RETIRING
    assert "2027-01-14" in soon.message and "'gpt-6-luna'" in soon.message and "in 30 days" in soon.message
    assert "tomorrow" in lifecycle("gpt-4.1-mini", shutdown - timedelta(days=1)).message
    gone = lifecycle("gpt-4.1-mini-2025-04-14", shutdown)
    assert gone.status is Status.RETIRED
    retired = "model 'gpt-4.1-mini-2025-04-14' was retired on 2027-01-14: use 'gpt-6-luna'"
    assert gone.message.startswith(retired)


def test_xai_grok_4_is_retired_and_names_its_replacement() -> None:
    status, message = lifecycle("grok-4", READ)
    assert status is Status.RETIRED and "'grok-4.3'" in message and "docs.x.ai" in message


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_no_builtin_provider_defaults_to_a_model_retired_when_the_table_was_read(name: str) -> None:
    model = BUILTIN[name].default_model or ""
    assert lifecycle(model, READ).status is not Status.RETIRED


def test_every_replacement_is_a_model_the_table_knows_or_one_its_provider_names_elsewhere() -> None:
    """A replacement the table knows is not itself retired on the day it was read."""
    for known in TABLE.values():
        replacement = known.lifecycle.replacement if known.lifecycle else None
        if replacement is not None and facts(replacement) is not None:
            assert lifecycle(replacement, READ).status is Status.OK, (known.model, replacement)
        assert known.vendor in VENDOR_HOSTS


TODAY = date(2026, 11, 27)
"""The day the vendors' pages were read again (issue #75)."""


@pytest.mark.parametrize(
    ("model", "shutdown", "replacement"),
    [
        ("o3", "2026-12-11", "'gpt-5.6-sol'"),
        ("o3-2025-04-16", "2026-12-11", "'gpt-5.6-sol'"),
        ("o3-pro", "2026-12-11", "'gpt-5.6-sol'"),
        ("gpt-5-pro-2025-10-06", "2026-12-11", "'gpt-5.6-sol'"),
        ("gemini-2.5-pro", "2026-12-01", "'gemini-3.8-flash'"),
        ("gemini-2.5-flash", "2026-12-01", "'gemini-3.5-flash-lite'"),
    ],
)
def test_a_model_shut_down_within_weeks_is_warned_with_its_date_and_replacement(
    model: str, shutdown: str, replacement: str
) -> None:
    status, message = lifecycle(model, TODAY)
    assert status is Status.RETIRING and shutdown in message and replacement in message
    assert lifecycle(model, date.fromisoformat(shutdown)).status is Status.RETIRED


def test_gpt_5_1_retires_on_april_first_2027() -> None:
    assert lifecycle("gpt-5.1", TODAY).status is Status.OK
    gone = lifecycle("gpt-5.1-2025-11-13", date(2027, 4, 1))
    assert gone.status is Status.RETIRED and "2027-04-01" in gone.message


def test_gpt_6_2_astra_is_known_with_its_own_limits_and_efforts() -> None:
    astra = facts("gpt-6.2-astra")
    assert astra is not None and not astra.inferred
    assert (astra.context_window, astra.max_output_tokens, astra.thinking) == (1_050_000, 128_000, "always")
    assert astra.efforts == ("low", "medium", "high", "xhigh", "max")
