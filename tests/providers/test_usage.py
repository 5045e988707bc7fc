"""The one check every reported token count passes (providers/usage.py), and the ACP turn usage that
goes through it too."""

from __future__ import annotations

import math

import pytest
from acp import schema

from lfgtui.events import EventFactory, ModelShare, Status, Usage
from lfgtui.providers.usage import MAX_TOKENS, UsageCheck, count_problem
from lfgtui.run.agents.session.prompts import from_quota, from_usage


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0, None),
        (12.0, None),
        (MAX_TOKENS, None),
        (MAX_TOKENS + 1, "more than 1,000,000,000,000 tokens"),
        (2**70, "more than 1,000,000,000,000 tokens"),
        (-3, "negative"),
        (10.5, "not a whole number"),
        (math.nan, "not a finite number"),
        (math.inf, "not a finite number"),
        ("12", "not a number"),
        ([1], "not a number"),
        ({"n": 1}, "not a number"),
        (True, "not a number"),
    ],
)
def test_a_count_is_a_whole_number_from_zero_to_the_bound(value: object, problem: str | None) -> None:
    assert count_problem(value) == problem


def test_each_ignored_value_is_said_once_per_call_and_quoted_short() -> None:
    check = UsageCheck(EventFactory("t", 1))
    assert check.count("usage.output_tokens", "x" * 10_000) is None
    assert check.count("usage.output_tokens", "y") is None, "the same field, the same problem"
    assert check.count("usage.prompt_tokens", 7.0) == 7
    (status, usage) = check.events(input_tokens=7)
    assert isinstance(status, Status) and isinstance(usage, Usage) and usage.input_tokens == 7
    assert status.message.startswith("ignored the provider's usage.output_tokens = \"xxxxxxx")
    assert len(status.message) < 140
    assert check.count("usage.output_tokens", -1) is None
    assert [type(e) for e in check.events()] == [Status], "no counts: no Usage, the estimate stays"
    assert check.events() == []


def test_an_acp_turn_usage_goes_through_the_same_check() -> None:
    """The ACP SDK checks the type and sign of each count; the bound is ours."""
    usage = schema.Usage.model_validate(
        {"inputTokens": 9, "outputTokens": 2**70, "thoughtTokens": 2**41, "totalTokens": 2}
    )
    events = from_usage(EventFactory("t", 1), usage, 0.2)
    said = [e.message for e in events if isinstance(e, Status)]
    assert [m.split(" = ")[0] for m in said] == [
        "ignored the provider's usage.outputTokens",
        "ignored the provider's usage.thoughtTokens",
    ]
    (counts,) = [e for e in events if isinstance(e, Usage)]
    assert (counts.input_tokens, counts.output_tokens, counts.reasoning_tokens) == (9, None, None)
    assert counts.tokens_per_char == 0.2, "what lfg's calibration says a character is worth, as it came"


def quota(model_usage: object) -> dict[str, object]:
    """A Gemini CLI answer's `_meta`: 10 in, 4 out, and `model_usage` as given."""
    return {"quota": {"token_count": {"input_tokens": 10, "output_tokens": 4}, "model_usage": model_usage}}


def test_gemini_names_the_models_that_answered_and_each_ones_share() -> None:
    split = [
        {"model": "gemini-2.5-flash", "token_count": {"input_tokens": 6, "output_tokens": 1}},
        {"model": "gemini-2.5-pro", "token_count": {"input_tokens": 4, "output_tokens": 3}},
    ]
    [usage] = from_quota(EventFactory("t", 1), quota(split), None)
    assert isinstance(usage, Usage)
    assert (usage.input_tokens, usage.output_tokens) == (10, 4)
    assert usage.models == (ModelShare("gemini-2.5-flash", 6, 1), ModelShare("gemini-2.5-pro", 4, 3))


@pytest.mark.parametrize(
    ("model_usage", "said"),
    [
        ([], None),
        ({"model": "gemini-2.5-pro"}, None),
        ([{"token_count": {"input_tokens": 1, "output_tokens": 1}}], 'model_usage[0].model = ""'),
        ([{"model": 7, "token_count": {"input_tokens": 1, "output_tokens": 1}}], "model_usage[0].model = 7"),
        ([{"model": "m" * 500, "token_count": {"input_tokens": 1, "output_tokens": 1}}], "longer than 200"),
        ([{"model": "gemini-2.5-pro", "token_count": {"input_tokens": -1, "output_tokens": 1}}], "negative"),
        (
            [
                {"model": "gemini-2.5-pro", "token_count": {"input_tokens": 1, "output_tokens": 1}},
                {"model": "gemini-2.5-flash"},
            ],
            None,
        ),
    ],
)
def test_a_split_that_leaves_a_part_out_is_no_split_and_the_counts_stay(
    model_usage: object, said: str | None
) -> None:
    """A part left out would be a cost left out: the turn's counts stand, unsplit, and what was wrong is
    said (a missing count is absence, not an error, as everywhere in usage)."""
    *notes, usage = from_quota(EventFactory("t", 1), quota(model_usage), None)
    assert isinstance(usage, Usage)
    assert (usage.input_tokens, usage.output_tokens, usage.models) == (10, 4, ())
    if said is None:
        assert notes == []
    else:
        [note] = notes
        assert isinstance(note, Status) and said in note.message
