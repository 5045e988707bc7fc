"""The metrics reducer, fed hand-stamped events so every number is known exactly."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lfgtui.cost.metrics import LIVE_WINDOW_S, RATE_STEP_S, RATE_STEPS, Metrics, MetricsBook, RateHistory
from lfgtui.cost.prices import PriceBook
from lfgtui.events import (
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    Event,
    EventFactory,
    Outcome,
    ReasoningDelta,
    RequestSent,
    Steered,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolResult,
    Usage,
)
from lfgtui.providers.base import PriceOverride, ProviderConfig
from tests.support.recording import turn_around_a_call


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_ttft_is_split_between_reasoning_and_answer(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now = 100.4
    m.apply(ev(ReasoningDelta, text="hmm"))
    clock.now = 101.0
    m.apply(ev(TextDelta, text="Hi"))
    assert m.ttft_s == pytest.approx(0.4)
    assert m.ttft_reasoning_s == pytest.approx(0.4)
    assert m.ttft_text_s == pytest.approx(1.0)


def test_ttft_is_timed_from_the_request_that_answered_not_from_its_retries(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now += 2.1  # a 429 at once, then a wait of 2 s before the retry
    m.apply(ev(RequestSent, call=0))
    clock.now += 0.3
    m.apply(ev(TextDelta, text="Hi"))
    clock.now += 5.0  # a second model call (after a tool) does not count
    m.apply(ev(RequestSent, call=1))
    clock.now += 0.1
    m.apply(ev(ReasoningDelta, text="hmm"))
    assert m.ttft_s == m.ttft_text_s == pytest.approx(0.3)
    assert m.ttft_reasoning_s is None, "the first model call had no reasoning"


def test_tokens_are_estimated_until_usage_arrives(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    for word in ["Hello", " there", " friend"]:
        clock.now += 0.1
        m.apply(ev(TextDelta, text=word))
    assert m.tokens_estimated
    assert m.output_tokens == 4  # 18 characters at about four a token, counted on the whole output
    m.apply(ev(Usage, input_tokens=12, output_tokens=3))
    assert not m.tokens_estimated
    assert (m.output_tokens, m.input_tokens) == (3, 12)


def test_rate_excludes_the_time_between_model_calls(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    for call in range(2):
        m.apply(ev(RequestSent, call=call))
        clock.now += 0.5
        for _ in range(11):
            m.apply(ev(TextDelta, text="tok"))
            clock.now += 0.1
        clock.now -= 0.1
        m.apply(ev(Usage, output_tokens=11))
        m.apply(ev(CallEnded, stop_reason="tool_calls"))
        clock.now += 30.0  # a slow tool runs between the calls
    # each call: 10 tokens after the first chunk over 1.0 s
    assert m.tokens_per_s == pytest.approx(10.0)
    assert m.chunks == 22
    assert m.requests[1].ended


def test_tool_argument_fragments_count_as_output(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now += 0.2
    m.apply(ev(ToolCallArgsDelta, call_id="c", fragment='{"path":'))
    assert m.ttft_s == pytest.approx(0.2)
    assert m.ttft_text_s is None
    assert m.output_tokens == 2


def test_live_rate_uses_a_sliding_window(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    for _ in range(40):  # 20 tokens/s for 2 s, one token (five characters) per chunk
        clock.now += 0.05
        m.apply(ev(TextDelta, text="abcde"))
    assert m.live_tokens_per_s(clock.now) == pytest.approx(20.0, rel=0.05)
    assert m.live_tokens_per_s(clock.now + 10) == 0.0


def test_the_live_rate_of_an_answer_just_begun_counts_as_the_final_rate_does(clock: Clock) -> None:
    """The first chunk opens the span and is not counted over it, and there is no rate over a burst:
    the pane draws an answer's first words at once, and one chunk over a millisecond read as
    thousands of tokens a second."""
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now += 0.3
    m.apply(ev(TextDelta, text="Here"))
    assert m.live_tokens_per_s(clock.now + 0.001) == 0.0
    for _ in range(25):  # 50 tokens/s for half a second, one token (five characters) per chunk
        clock.now += 0.02
        m.apply(ev(TextDelta, text=" abcd"))
    assert m.live_tokens_per_s(clock.now) == pytest.approx(50.0, rel=0.05)
    assert m.live_tokens_per_s(clock.now) == pytest.approx(m.tokens_per_s, rel=0.05)


def test_no_rate_without_two_chunks(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    assert m.ttft_s is None and m.tokens_per_s is None
    m.apply(ev(RequestSent, call=0))
    m.apply(ev(TextDelta, text="one"))
    assert m.tokens_per_s is None


RATES = PriceOverride(input_per_mtok=2.0, output_per_mtok=10.0, cache_read_per_mtok=0.5)


def test_cost_comes_from_each_requests_usage_with_cache_reads_priced_apart(clock: Clock) -> None:
    ev = EventFactory("t", 1, clock=clock)
    book = MetricsBook(prices=PriceBook({"p": ProviderConfig(name="p", kind="openai", prices=RATES)}))
    book(ev(AttemptStarted, provider="p", model="m"))
    book(ev(RequestSent, call=0, input_estimate=500))
    book(ev(TextDelta, text="12345678"))
    metrics = book.attempts[("t", 1)]
    estimate = (500 * 2.0 + 2 * 10.0) / 1e6  # the prompt's estimate and 2 estimated output tokens
    assert metrics.cost_estimated and metrics.cost_usd == pytest.approx(estimate)
    book(ev(Usage, input_tokens=1_000, output_tokens=100, cache_read_tokens=400))
    book(ev(CallEnded, stop_reason="tool_use"))
    book(ev(RequestSent, call=1))
    book(ev(Usage, input_tokens=2_000, output_tokens=50))
    first = (600 * 2.0 + 400 * 0.5 + 100 * 10.0) / 1e6
    second = (2_000 * 2.0 + 50 * 10.0) / 1e6
    assert metrics.cost_usd == pytest.approx(first + second)
    assert not metrics.cost_estimated
    assert book.cost_usd() == (pytest.approx(first + second), False)


def test_a_request_never_answered_costs_nothing_and_one_cut_short_is_estimated(clock: Clock) -> None:
    ev = EventFactory("t", 1, clock=clock)
    book = MetricsBook(prices=PriceBook({"p": ProviderConfig(name="p", kind="openai", prices=RATES)}))
    book(ev(AttemptStarted, provider="p", model="m"))
    for _ in range(3):  # refused (a 500, a 401) or never sent, and tried again: no usage, no output
        book(ev(RequestSent, call=0, input_estimate=500_000))
    metrics = book.attempts[("t", 1)]
    assert (metrics.cost_usd, metrics.cost_estimated) == (0.0, False)
    assert book.cost_usd() == (0.0, False)
    book(ev(RequestSent, call=0, input_estimate=500))
    book(ev(TextDelta, text="12345678"))  # then the stream breaks off, no usage ever comes
    assert metrics.cost_usd == pytest.approx((500 * 2.0 + 2 * 10.0) / 1e6)
    assert metrics.cost_estimated and metrics.tokens_estimated


def test_hidden_reasoning_tokens_are_counted_apart_not_spread_over_the_visible_texts_time(
    clock: Clock,
) -> None:
    """Issue 52: a model thinks 3,000 tokens no one sees, then answers at 25 tok/s. Its count
    (`output_tokens`) holds the thinking; spread over the visible text's time it read 1,525 tok/s.
    The rate is the visible text's; the thinking is counted and timed apart, and still paid for."""
    ev = EventFactory("t", 1, clock=clock)
    book = MetricsBook(prices=PriceBook({"p": ProviderConfig(name="p", kind="openai", prices=RATES)}))
    book(ev(AttemptStarted, provider="p", model="m"))
    book(ev(RequestSent, call=0))
    clock.now += 30.0  # it thinks, and nothing streams
    for _ in range(50):  # 50 tokens of four characters, one every 40 ms: 25 tok/s
        book(ev(TextDelta, text="tok "))
        clock.now += 0.04
    book(ev(Usage, input_tokens=1_000, output_tokens=3_050, reasoning_tokens=3_000))
    book(ev(CallEnded, stop_reason="stop"))
    metrics = book.attempts[("t", 1)]
    assert metrics.tokens_per_s == pytest.approx(25.0, rel=0.05)
    assert not metrics.rate_estimated, "the count says which of its tokens streamed"
    assert metrics.output_tokens == 3_050 and metrics.thinking_tokens == 3_000
    assert not metrics.thinking_estimated
    assert metrics.thinking_s == pytest.approx(30.0), "the time before the first visible token"
    assert metrics.cost_usd == pytest.approx((1_000 * 2.0 + 3_050 * 10.0) / 1e6), "thinking is paid for"
    assert book.calibration.tokens_per_char("p", "m") == pytest.approx(50 / 200), "the answer's worth"


def test_a_count_holding_thinking_it_does_not_split_out_is_rated_by_the_calibration(clock: Clock) -> None:
    """Anthropic's count of a thinking model's answer holds its whole thinking, shown summarised or
    not at all, and says not how much (`Usage.output_unseen`): the characters that streamed are
    worth what the calibration says, so 3,000 hidden tokens never read as thousands a second, and
    the calibration learns nothing from such a count."""
    ev = EventFactory("t", 1, clock=clock)
    book = MetricsBook(prices=PriceBook({"p": ProviderConfig(name="p", kind="anthropic", prices=RATES)}))
    book(ev(AttemptStarted, provider="p", model="m"))
    book(ev(RequestSent, call=0, tokens_per_char=0.25))
    clock.now += 30.0  # it thinks, and only a summary of it streams
    for _ in range(25):  # a summary, then the answer: four characters a token, 25 tok/s
        book(ev(ReasoningDelta, text="why "))
        clock.now += 0.04
    for _ in range(50):
        book(ev(TextDelta, text="tok "))
        clock.now += 0.04
    book(ev(Usage, input_tokens=1_000, output_tokens=3_075, output_unseen=True))
    book(ev(CallEnded, stop_reason="stop"))
    metrics = book.attempts[("t", 1)]
    assert metrics.tokens_per_s == pytest.approx(25.0, rel=0.05)
    assert metrics.rate_estimated, "the count does not say which of its tokens streamed"
    assert metrics.output_tokens == 3_075
    assert metrics.cost_usd == pytest.approx((1_000 * 2.0 + 3_075 * 10.0) / 1e6), "thinking is paid for"
    assert book.calibration.tokens_per_char("p", "m") is None, "nothing learnt from such a count"


def test_an_unpriced_attempt_has_no_cost_and_makes_the_runs_total_inexact(clock: Clock) -> None:
    ev = EventFactory("t", 1, clock=clock)
    book = MetricsBook(prices=PriceBook({"sim": ProviderConfig(name="sim", kind="sim")}))
    assert book.cost_usd() == (None, False)
    book(ev(AttemptStarted, provider="sim", model="hello"))
    book(ev(RequestSent, call=0))
    assert book.attempts[("t", 1)].cost_usd is None
    assert book.cost_usd() == (None, True)


def test_ttft_skips_empty_chunks_and_an_agents_notice_before_its_thinking(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now += 0.01
    m.apply(ev(TextDelta, text=""))
    m.apply(ev(TextDelta, text="Heads up: this model is deprecated."))  # whole, then the model thinks
    clock.now += 0.5
    m.apply(ev(ReasoningDelta, text="hmm"))
    clock.now += 0.5
    m.apply(ev(TextDelta, text="\n"))
    clock.now += 0.1
    m.apply(ev(TextDelta, text="Hi"))
    assert m.ttft_s == m.ttft_reasoning_s == pytest.approx(0.51)
    assert m.ttft_text_s == pytest.approx(1.11), "a blank chunk is not the answer's first output"


def test_a_one_chunk_answer_before_a_tool_call_is_the_models_first_output(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now += 0.3
    m.apply(ev(TextDelta, text="Let me look."))
    m.apply(ev(ToolCallStarted, call_id="c", name="read_file"))
    clock.now += 1.0
    m.apply(ev(ReasoningDelta, text="hmm"))
    assert m.ttft_s == m.ttft_text_s == pytest.approx(0.3)


def test_an_agents_rate_leaves_out_its_tools_and_the_wait_for_approval(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))  # one prompt: the agent makes its own model calls
    for step in range(2):
        for _ in range(11):
            clock.now += 0.1
            m.apply(ev(TextDelta, text=" toks"))
        m.apply(ev(ToolCallStarted, call_id=f"c{step}", name="write_file"))
        m.apply(ev(ApprovalAsked, message="may it?", call_id=f"c{step}", name="write_file", arguments={}))
        clock.now += 20.0  # the person takes their time
        m.apply(ev(ApprovalAnswered, message="yes", call_id=f"c{step}", allowed=True, by="you"))
        clock.now += 5.0  # the tool runs
        m.apply(ev(ToolResult, call_id=f"c{step}", output="ok", is_error=False))
    # each run: 10 tokens after its first chunk over 1.0 s
    assert m.tokens_per_s == pytest.approx(10.0)


def test_an_agents_tool_input_sent_whole_is_left_out_of_its_reported_tokens_that_streamed(
    clock: Clock,
) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))  # one prompt: the agent makes its own model calls
    for step in range(2):
        for _ in range(11):  # 11 chunks of 4 characters a run, 0.1 s apart
            clock.now += 0.1
            m.apply(ev(TextDelta, text=" tok"))
        if step == 0:  # a Write announced bare, then its 1,000 characters of input, all at once
            m.apply(ev(ToolCallStarted, call_id="w", name="Write"))
            m.apply(ev(ToolCallReady, call_id="w", name="Write", arguments={}, raw_arguments="{}"))
            content = {"content": "x" * 985}
            raw = '{"content": "' + "x" * 985 + '"}'
            m.apply(ev(ToolCallUpdated, call_id="w", name="Write", arguments=content, raw_arguments=raw))
            clock.now += 5.0  # the tool runs
            m.apply(ev(ToolResult, call_id="w", output="ok", is_error=False))
    # lfg's own count: the chunks, 40 characters a second at five a token
    assert m.tokens_per_s == pytest.approx(8.0) and m.rate_estimated, "lfg's own count: the chunks"
    # the agent counts what it wrote: 22 chunks of a token each and 250 tokens of input (4 characters a token)
    m.apply(ev(Usage, output_tokens=272))
    assert not m.tokens_estimated and m.output_tokens == 272
    # 88 characters of chunks and 1,000 of input for 272 tokens: 20 chunks of 4 characters streamed over 2 s
    assert m.tokens_per_s == pytest.approx(272 * 80 / 1088 / 2.0) == pytest.approx(10.0)
    assert m.rate_estimated, "the split between what streamed and the input assumed one tokens per character"


def described_turn(
    per_char: float | None, reported: int, seen: int = 0, counted_per_char: float | None = None
) -> Metrics:
    """An agent's turn around a call that lfg sees only as the agent's account of it (the command
    Codex ran, not the script its model wrote), `seen` of its characters the model's input; the
    calibration said `per_char` when the request left, `counted_per_char` when the count came."""

    def call(ev: EventFactory) -> list[Event]:
        account = {"command": "wc -l README.md"}
        ready = {"call_id": "c", "name": "Run wc", "arguments": account, "raw_arguments": json.dumps(account)}
        return [
            ev(ToolCallStarted, call_id="c", name="Run wc"),
            ev(ToolCallReady, **ready, model_input_chars=seen),
            ev(ToolResult, call_id="c", output="3 README.md", is_error=False),
        ]

    m = Metrics()
    for event in turn_around_a_call(call, reported, per_char, counted_per_char):
        m.apply(event)
    return m


def test_a_count_with_input_lfg_never_saw_rates_what_streamed_at_the_calibrated_worth() -> None:
    """Its 88 characters streamed 80 after each run's first chunk over 2 s; the count holds the
    model's script too, so it says only that a character is worth at most count / 88."""
    m = described_turn(per_char=0.2, reported=40)
    assert m.tokens_per_s == pytest.approx(80 * 0.2 / 2.0) and m.rate_estimated
    assert m.requests[0].counted_chars is None, "no one knows the characters that count holds"
    bounded = described_turn(per_char=0.2, reported=10)
    assert bounded.tokens_per_s == pytest.approx(80 * 10 / 88 / 2.0), "never more than the count allows"
    uncalibrated = described_turn(per_char=None, reported=40)
    assert uncalibrated.tokens_per_s == pytest.approx(80 * 0.2 / 2.0), "five characters a token"
    written = described_turn(per_char=0.2, reported=40, seen=312)  # a file's content it showed
    assert written.tokens_per_s == pytest.approx(80 * 40 / (88 + 312) / 2.0), "the count bounds it lower"


def test_a_count_with_input_lfg_never_saw_is_rated_at_the_worth_the_calibration_had_when_it_came() -> None:
    """Tickets that start together send their requests before any count: what the run learnt by the
    time this one's count came (`Usage.tokens_per_char`) rates it, within the count's bound."""
    learnt = described_turn(per_char=None, reported=40, counted_per_char=0.2)
    assert learnt.tokens_per_s == pytest.approx(80 * 0.2 / 2.0) and learnt.rate_estimated
    later = described_turn(per_char=0.3, reported=40, counted_per_char=0.2)
    assert later.tokens_per_s == pytest.approx(80 * 0.2 / 2.0), "the newer figure"
    bounded = described_turn(per_char=None, reported=10, counted_per_char=0.2)
    assert bounded.tokens_per_s == pytest.approx(80 * 10 / 88 / 2.0), "never more than the count allows"


def test_a_call_described_before_its_input_came_counts_that_input(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0, tokens_per_char=0.5))
    for _ in range(11):
        clock.now += 0.1
        m.apply(ev(TextDelta, text=" tok"))
    m.apply(
        ev(ToolCallReady, call_id="b", name="Bash", arguments={}, raw_arguments="{}", model_input_chars=0)
    )
    raw = '{"command": "' + "x" * 985 + '"}'
    m.apply(ev(ToolCallUpdated, call_id="b", name="Bash", arguments={}, raw_arguments=raw))
    m.apply(ev(Usage, output_tokens=272))
    assert m.requests[0].counted_chars == 44 + 1000
    assert m.tokens_per_s == pytest.approx(272 * 40 / 1044 / 1.0), (
        "split by characters, the calibration unused"
    )


def test_the_run_learns_a_characters_worth_only_from_counts_whose_characters_it_knows(clock: Clock) -> None:
    book = MetricsBook()
    ev = EventFactory("t", 1, clock=clock)
    events = [ev(AttemptStarted, provider="codex", model="m"), ev(RequestSent, call=0)]
    events += [ev(TextDelta, text=" tok") for _ in range(100)]
    account = ev(ToolCallReady, call_id="c", name="ls", arguments={}, raw_arguments="{}", model_input_chars=0)
    ended = [ev(Usage, output_tokens=300), ev(AttemptEnded, outcome=Outcome.COMPLETED)]
    for event in [*events, account, *ended]:
        book(event)
    assert book.calibration.tokens_per_char("codex", "m") is None
    for event in [*events, *ended]:  # the same turn without the call: its count is of what streamed
        book(replace(event, attempt=2))
    assert book.calibration.tokens_per_char("codex", "m") == 300 / 400


def test_tool_arguments_that_streamed_are_not_counted_again_when_the_call_is_ready(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    m.apply(ev(ToolCallStarted, call_id="c", name="write_file"))
    raw = ""
    for _ in range(11):
        clock.now += 0.1
        m.apply(ev(ToolCallArgsDelta, call_id="c", fragment="abcd"))
        raw += "abcd"
    m.apply(ev(ToolCallReady, call_id="c", name="write_file", arguments={}, raw_arguments=raw))
    m.apply(ev(Usage, output_tokens=11))
    assert m.tokens_per_s == pytest.approx(10.0) and not m.rate_estimated


def test_output_that_arrives_in_one_burst_has_no_rate(clock: Clock) -> None:
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    clock.now += 0.2
    m.apply(ev(TextDelta, text="API Error:"))
    clock.now += 0.002
    m.apply(ev(TextDelta, text=" 500 the upstream service failed to answer in time" * 8))
    assert m.output_tokens > 50 and m.tokens_per_s is None
    m.apply(ev(ToolResult, call_id="c", output="retried", is_error=False))  # a pause
    for _ in range(5):  # a run that streams: the burst still counts for nothing
        clock.now += 0.1
        m.apply(ev(TextDelta, text=" toks"))
    assert m.tokens_per_s == pytest.approx(10.0)


def test_the_rate_history_is_the_live_rate_at_each_step_by_the_events_own_times() -> None:
    history = RateHistory()
    for i in range(40):  # 10 tokens every 0.1 s from t = 100 to 104: 100 tok/s
        history.add(100.0 + i * 0.1, 10)
    rates = history.rates(until=104.0, n=8)
    assert rates[-4:] == [100.0] * 4, "a full window: the stream's rate"
    assert history.rates(until=110.0, n=4) == [0.0] * 4, "nothing streamed in the last seconds"
    assert history.rates(until=103.95, n=8, ended=True) == rates, "an attempt that ended: its last step whole"


def test_an_event_older_than_the_newest_step_lands_in_its_own_step() -> None:
    history = RateHistory()
    history.add(10.0, 4)
    history.add(12.0, 4)
    history.add(10.2, 4)  # out of order
    assert history.rates(until=10.5, n=1) == [8 / LIVE_WINDOW_S]
    history.add(10.0 - RATE_STEPS * RATE_STEP_S, 99)  # older than what is kept: dropped
    assert sum(history.counts) == 12


def test_a_count_cut_short_by_a_steer_is_partial_and_what_streamed_is_rated_at_the_calibration(
    clock: Clock,
) -> None:
    """Issue 73: steered mid-answer, Claude Code cuts that model call off, starts another with the
    steer, and reports no tokens for the part it cut. The cut count over the whole time read 3.01
    tok/s for a true 25. What streamed is rated at the calibrated worth, its gauge marked estimated;
    the wait for the next call's first token is no streaming; the calibration learns nothing."""
    ev = EventFactory("t", 1, clock=clock)
    book = MetricsBook(prices=PriceBook({"p": ProviderConfig(name="p", kind="openai", prices=RATES)}))
    book(ev(AttemptStarted, provider="p", model="m"))
    book(ev(RequestSent, call=0, tokens_per_char=0.25))  # one prompt: the agent's own model calls
    for _ in range(100):  # four characters a token, one every 40 ms: 25 tok/s
        book(ev(TextDelta, text="tok "))
        clock.now += 0.04
    book(ev(Steered, text="Also say PELICAN.", by="you"))  # the call is cut off here
    clock.now += 3.0  # the agent's next model call, with the steer, before its first token
    for _ in range(20):
        book(ev(TextDelta, text="tok "))
        clock.now += 0.04
    book(ev(Usage, input_tokens=1_000, output_tokens=20))  # none of the 100 cut off
    book(ev(CallEnded, stop_reason="end_turn"))
    book(ev(AttemptEnded, outcome=Outcome.COMPLETED))
    metrics = book.attempts[("t", 1)]
    assert metrics.tokens_per_s == pytest.approx(25.0, rel=0.05)
    assert metrics.rate_estimated and metrics.tokens_estimated and metrics.cost_estimated
    assert metrics.output_tokens == 120, "the count, or what streamed if more: it left out the cut part"
    assert book.calibration.tokens_per_char("p", "m") is None, "nothing learnt from a partial count"


def test_a_steer_between_rounds_cuts_nothing(clock: Clock) -> None:
    """A tool loop takes a steer at its safe point, after a call ended and its tools ran: the count
    of every request is whole, and exact."""
    ev, m = EventFactory("t", 1, clock=clock), Metrics()
    m.apply(ev(RequestSent, call=0))
    for _ in range(11):
        clock.now += 0.1
        m.apply(ev(TextDelta, text=" toks"))
    m.apply(ev(Usage, output_tokens=22))
    m.apply(ev(CallEnded, stop_reason="tool_use"))
    m.apply(ev(ToolResult, call_id="c", output="ok", is_error=False))
    m.apply(ev(Steered, text="Also say PELICAN.", by="you"))
    assert not m.rate_estimated and not m.tokens_estimated
    assert m.tokens_per_s == pytest.approx(20.0)
