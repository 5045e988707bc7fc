"""The fault matrix end to end: one `lfg run --json` per row, the faulty ticket beside a healthy one.

Each row checks what the faulty ticket did (outcome, error, retries, the text it kept), that the
healthy ticket streamed to the end regardless, that the history file holds both attempts with every
token that was printed, and the exit code. `when` names a row of the documentation's "What happens
when…" tables (docs/what-happens/): a test below keeps the two in step. How each adapter classifies
the same faults is tests/providers/test_fault_matrix.py; this file is about the whole run.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.hardening import KEY_VAR, Harness, Result

STEADY_TEXT = (
    "Steady progress: this ticket keeps streaming while its neighbour fails — ünïcödé, 漢字 and 🚀 "
    "arrive whole. " * 4
)
HUGE_LINES = ("A 10 MB answer, line after line, with a multi-byte character now and then: é.\\n" * 13)[:1024]
"""1 KiB of the answer as TOML text (`\\n` escapes), repeated 10240 times by the scenario."""
SCENARIOS = {
    "steady": f'ttft_ms = 20\ntokens_per_s = 300\n[[call]]\ntext = "{STEADY_TEXT}"\n',
    "rate-limited": """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        text = "Answered after the rate limit."
        [[fault]]
        kind = "http"
        status = 429
        retry_after = 0.3
        message = "Rate limit reached for requests."
        times = 1
        """,
    "drop-early": """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        text = "Answered on the second connection."
        [[fault]]
        kind = "drop"
        after_tokens = 0
        times = 1
        """,
    "huge": f"""
        ttft_ms = 0
        tokens_per_s = 0
        chunk_chars = 65536
        repeat = 10240
        [[call]]
        text = "{HUGE_LINES}"
        """,
    "big-tool-output": """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        [[call.tool_call]]
        name = "run_command"
        arguments = { command = "head -c 1048576 /dev/zero | tr '\\\\0' x; echo; echo the-end" }
        [[call]]
        text = "Read the tail of it."
        """,
    "agent-big-result": """
        ttft_ms = 10
        tokens_per_s = 500
        [[call]]
        text = "Reading the log."
        [[call.tool_call]]
        name = "read_file"
        arguments = { path = "big.log" }
        result = "BIG_RESULT"
        [[call]]
        text = "That was a big log."
        """.replace("BIG_RESULT", "y" * 1024 * 1024),
}


@dataclass(frozen=True)
class Row:
    """One faulty ticket and what must come of it; `when` names its row in docs/what-happens/."""

    id: str
    when: str
    ticket: dict[str, Any]
    outcome: str
    code: int
    error: tuple[str, int | None] | None = None  # kind and HTTP status
    words: tuple[str, ...] = ()  # in the error message
    retries: int = 0  # announced retries
    kept: str | None = None  # the text the faulty ticket received and kept
    args: tuple[str, ...] = ()
    check: Callable[[Result], None] | None = field(default=None, compare=False)


def sim(model: str, **fields: Any) -> dict[str, Any]:
    return {"provider": "keyed", "model": model, **fields}


def retried_after_retry_after(result: Result) -> None:
    retrying, paused = result.statuses("f")
    assert "HTTP 429 rate_limited: Rate limit reached" in retrying and "retrying in 0.3s (1/1)" in retrying
    assert paused.startswith("paused: ") and paused.endswith(" rate limited, resumes in 1 s"), (
        "its provider paused"
    )
    assert result.text("f") == "Answered after the rate limit."


def retried_before_the_first_token(result: Result) -> None:
    (status,) = result.statuses("f")
    assert status.startswith("connection: connection failed:") and "retrying in" in status
    assert result.text("f") == "Answered on the second connection."


def bad_tool_json_goes_back_to_the_model(result: Result) -> None:
    (call,) = result.of("f", "tool_call")
    assert call["error"].startswith("tool arguments are not valid JSON")
    (out,) = result.of("f", "tool_result")
    assert out["is_error"] and "not valid JSON" in out["output"]
    assert result.text("f") == "Sorry, my tool call was malformed."


def ten_megabytes_arrive_whole(result: Result) -> None:
    answer = result.text("f")
    assert len(answer.encode()) >= 10 * 1024 * 1024
    assert answer.startswith("A 10 MB answer, line after line") and answer.count("é") > 10_000


def a_huge_command_output_is_capped_to_its_tail(result: Result) -> None:
    (out,) = result.of("f", "tool_result")
    assert not out["is_error"]
    assert len(out["output"]) <= 64 * 1024
    assert re.match(r"\[… \d+ bytes of earlier output dropped\]\n", out["output"])
    assert out["output"].endswith("x\nthe-end\n[exit code 0]")
    assert result.text("f") == "Read the tail of it."


def an_agents_huge_tool_result_is_kept_whole(result: Result) -> None:
    (out,) = result.of("f", "tool_result")
    assert out["output"] == "y" * 1024 * 1024
    assert result.text("f") == "Reading the log.\n\nThat was a big log."


def max_calls_stops_the_loop(result: Result) -> None:
    assert len(result.of("f", "tool_call")) == len(result.of("f", "tool_result")) == 3


def the_stream_stopped_at_the_limit(result: Result) -> None:
    assert 2000 < len(result.text("f")) < 2200


def the_dependent_is_skipped(result: Result) -> None:
    assert result.ending("after")["outcome"] == "skipped"
    assert not result.of("after", "attempt_started")
    assert result.statuses("after") == ["skipped: f did not complete"]


AUTH = "the API key is rejected (401) or lacks access (403)"
SERVER = "the provider fails: 500, 502, 503, or Anthropic's 529 overloaded"
DROP = "the connection drops"
ROWS = [
    Row("401", AUTH, sim("fault-401"), "failed", 1, ("auth", 401), ("Incorrect API key", KEY_VAR)),
    Row("403", AUTH, sim("fault-403"), "failed", 1, ("auth", 403), ("do not have access", KEY_VAR)),
    Row(
        "404",
        "the model does not exist (404)",
        sim("no-such-model"),
        "failed",
        1,
        ("not_found", 404),
        ("unknown sim model 'no-such-model'",),
    ),
    Row(
        "400",
        "the request is refused (400), e.g. the context is too long",
        sim("fault-400"),
        "failed",
        1,
        ("bad_request", 400),
        ("maximum context length is 8192 tokens",),
    ),
    Row(
        "429",
        "the provider rate limits (429 with Retry-After)",
        sim("rate-limited"),
        "completed",
        0,
        retries=1,
        check=retried_after_retry_after,
    ),
    *[
        Row(status, SERVER, sim(f"fault-{status}"), "failed", 1, (kind, int(status)), (words,), retries=1)
        for status, kind, words in [
            ("500", "server", "The server had an error"),
            ("502", "server", "Bad gateway"),
            ("503", "server", "currently overloaded"),
            ("529", "overloaded", "Overloaded"),
        ]
    ],
    Row(
        "refused",
        "the connection is refused",
        {"provider": "refused", "model": "hello"},
        "failed",
        1,
        ("connection", None),
        ("connection failed: connection refused by 127.0.0.1:",),
        retries=1,
    ),
    Row(
        "dns",
        "the host name does not resolve",
        {"provider": "nowhere", "model": "hello"},
        "failed",
        1,
        ("connection", None),
        ("connection failed: cannot resolve host lfg-no-such-host.invalid",),
        retries=1,
    ),
    Row(
        "drop-mid-stream",
        DROP,
        sim("fault-drop"),
        "failed",
        1,
        ("connection", None),
        ("peer closed connection",),
        kept="This answer will be cut off part of",
    ),
    Row(
        "drop-before-first-token",
        DROP,
        sim("drop-early"),
        "completed",
        0,
        retries=1,
        check=retried_before_the_first_token,
    ),
    Row(
        "stall",
        "no data arrives for longer than the idle timeout",
        sim("fault-stall"),
        "failed",
        1,
        ("timeout", None),
        ("no data from the provider within the idle timeout",),
        kept="These first words arrive and",
    ),
    Row(
        "error-event",
        "the stream carries an error event",
        sim("fault-error-event"),
        "failed",
        1,
        ("stream_error", None),
        ("Overloaded",),
        kept="Half of this answer arrives before",
    ),
    Row(
        "malformed",
        "a chunk is not valid JSON",
        sim("fault-malformed"),
        "failed",
        1,
        ("malformed", None),
        ("not valid JSON",),
        kept="A few words arrive",
    ),
    Row(
        "bad-tool-json",
        "the model's tool-call arguments are not valid JSON",
        sim("bad-tool-json", tools=["read_file"]),
        "completed",
        0,
        check=bad_tool_json_goes_back_to_the_model,
    ),
    Row(
        "10mb-answer",
        "the answer is 10 MB",
        sim("huge"),
        "completed",
        0,
        check=ten_megabytes_arrive_whole,
    ),
    Row(
        "1mb-command-output",
        "a tool's output is 1 MB",
        sim("big-tool-output", tools=["run_command"]),
        "completed",
        0,
        args=("--yes",),
        check=a_huge_command_output_is_capped_to_its_tail,
    ),
    Row(
        "1mb-agent-tool-result",
        "a tool's output is 1 MB",
        {"provider": "sim-agent", "model": "agent-big-result"},
        "completed",
        0,
        check=an_agents_huge_tool_result_is_kept_whole,
    ),
    Row(
        "max-calls",
        "the model never stops calling tools",
        sim("tool-loop", tools=["list_dir"], max_calls=3),
        "failed",
        1,
        ("max_calls", None),
        ("stopped after 3 model calls (max_calls)",),
        check=max_calls_stops_the_loop,
    ),
    Row(
        "output-limit",
        "one attempt streams without end",
        sim("long-answer:ttft_ms=0,tokens_per_s=4000,repeat=100", max_output_chars=2000),
        "failed",
        1,
        ("output_limit", None),
        ("streamed more than 2,000 characters (max_output_chars)", "what arrived is kept"),
        check=the_stream_stopped_at_the_limit,
    ),
    Row(
        "failed-dependency",
        "a ticket's dependency fails",
        sim("fault-401"),
        "failed",
        1,
        ("auth", 401),
        check=the_dependent_is_skipped,
    ),
]


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Harness:
    made = Harness(tmp_path, monkeypatch, capsys)
    for name, toml in SCENARIOS.items():
        made.scenario(name, toml)
    return made


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_fault_row(harness: Harness, row: Row) -> None:
    tickets = [
        {"id": "steady", "prompt": "Keep going.", "provider": "sim", "model": "steady"},
        {"id": "f", "prompt": "Try.", **row.ticket},
    ]
    if row.id == "failed-dependency":
        tickets.append(
            {"id": "after", "prompt": "Use {{ outputs.f }}", "provider": "sim", "model": "hello"}
            | {"depends_on": ["f"]}
        )
    result = harness.run(harness.tickets(*tickets), *row.args)

    assert result.code == row.code, result.stderr
    assert "Traceback" not in result.stderr
    end = result.ending("f")
    assert end["outcome"] == row.outcome
    if row.error is None:
        assert end["error"] is None
    else:
        assert (end["error"]["kind"], end["error"]["status"]) == row.error
        for words in row.words:
            assert words in end["error"]["message"]
    retrying = [s for s in result.statuses("f") if "retrying in" in s]
    assert len(retrying) == row.retries
    if row.kept is not None:
        assert result.text("f") == row.kept
    if row.check is not None:
        row.check(result)

    assert result.ending("steady")["outcome"] == "completed", "the healthy ticket streamed to the end"
    assert result.text("steady") == STEADY_TEXT
    result.check_history()


WEB = "tests/remote/test_web_security.py"
INBOX = "tests/remote/test_inbox.py"
"""The tests of who may use `lfg web`."""
SOAK = "tests/hardening/test_served_hostile.py"
"""The served run beside hostile peers."""
NEWCOMER = "tests/ui/test_newcomer.py"
"""The TUI as someone new meets it: a default terminal, the help, the palette, a small approval."""

BROKER = "tests/broker"
TELEMETRY = "tests/telemetry"
ELSEWHERE = {
    "a chunk's text holds a lone surrogate (JSON's `\"\\ud800\"`, half of a UTF-16 pair, which no UTF-8 can "
    "hold)": [
        "tests/hardening/test_lone_surrogates.py::"
        "test_a_lone_surrogate_in_one_models_stream_leaves_every_tickets_transcript_and_gauges",
        "tests/hardening/test_lone_surrogates.py::"
        "test_a_lone_surrogate_in_the_other_wires_streams_is_kept_and_sent_back_whole",
    ],
    "the worktrees folder is reached through a symlink (`LFG_WORKTREES`, a linked data folder, "
    "macOS's `/tmp`)": [
        "tests/worktrees/test_run.py::test_a_worktrees_root_reached_through_a_symlink_works",
    ],
    "`lfg land` while the base branch is being rebased or bisected in any checkout (its HEAD detached), "
    "or is in the middle of a merge, cherry-pick, revert or `git am` there": [
        "tests/worktrees/test_land.py::test_a_base_the_person_is_rebasing_bisecting_or_merging_is_not_moved",
    ],
    "`lfg land` of a change that rewrote hooks kept in the working tree (`core.hooksPath = .githooks`, "
    "husky's `.husky/_`)": [
        "tests/worktrees/test_land.py::test_landing_runs_the_persons_hooks_never_the_ones_the_change_rewrote",
    ],
    "`lfg review` of a change with a file whose diff is too big to show (a minified bundle, one huge line)": [
        "tests/review/test_review_command.py::"
        "test_review_lists_every_file_the_run_changed_and_land_lands_only_what_it_showed",
        "tests/worktrees/test_review_files.py::test_land_refuses_a_file_review_could_not_show_unless_told",
    ],
    "an agent writes a `.gitattributes` marking a text file `-diff` or `binary`, makes a script executable, "
    "or adds a binary file": [
        "tests/worktrees/test_review_files.py::test_a_gitattributes_that_calls_a_text_file_binary_does_not_hide_its_change",
        "tests/worktrees/test_review_files.py::test_a_mode_change_or_a_binary_is_said_in_review_and_not_landed_unless_told",
    ],
    "an agent made a git repository inside its worktree (`git init`, `git clone`)": [
        "tests/worktrees/test_review_files.py::test_an_embedded_repository_is_listed_not_shown_and_never_landed",
        "tests/worktrees/test_review_files.py::test_a_fork_carries_an_embedded_repository_whole",
        "tests/worktrees/test_review_files.py::"
        "test_a_fork_refuses_an_embedded_repository_it_cannot_copy_and_says_which",
    ],
    "a review comment names a FIFO, socket or device in the worktree, or a symlink out of it": [
        "tests/worktrees/test_review_files.py::test_a_comment_on_a_fifo_is_refused_without_opening_it",
    ],
    "`lfg fork` of a ticket whose worktree was removed (`lfg worktrees clean --force`, or by hand)": [
        "tests/fork/test_fork_run.py::test_a_ticket_whose_worktree_was_cleaned_does_not_fork_from_nothing",
    ],
    "the model refuses (Anthropic's stop reason `refusal`, Chat Completions' `delta.refusal`, a Responses "
    "`refusal` content part)": [
        "tests/run/test_stops.py::test_a_refusal_is_its_own_ending_showing_what_the_model_said",
        "tests/commands/test_stop_reasons.py::test_refusals_filters_and_cut_answers_are_no_completion_and_the_history_counts_them",
    ],
    "a content filter stops the answer (Chat's finish reason `content_filter`, a Responses answer "
    "incomplete for `content_filter`)": [
        "tests/run/test_stops.py::test_a_filter_or_a_full_context_window_ends_the_attempt_keeping_what_arrived",
    ],
    "the answer fills the model's context window (Anthropic's `model_context_window_exceeded`)": [
        "tests/run/test_stops.py::test_a_filter_or_a_full_context_window_ends_the_attempt_keeping_what_arrived",
    ],
    "the answer is cut at its output token limit (Anthropic's `max_tokens`, Chat's `length`, a Responses "
    "answer incomplete for `max_output_tokens`)": [
        "tests/run/test_stops.py::test_an_answer_cut_at_max_tokens_is_no_completion_and_says_how_to_get_it_whole",
        "tests/run/test_stops.py::test_a_tool_call_cut_at_max_tokens_is_not_run",
    ],
    "Anthropic pauses a long turn (`pause_turn`, a server tool's loop at its limit)": [
        "tests/run/test_stops.py::test_a_paused_turn_is_sent_back_and_goes_on_to_complete",
        "tests/run/test_stops.py::test_a_paused_turn_counts_against_max_calls",
    ],
    "`lfg agents` lists an agent whose command is not installed": [
        "tests/commands/test_agents.py::test_built_in_and_configured_agents_are_listed_with_install_commands_and_credential_names",
        "tests/commands/test_agents.py::test_a_named_agent_that_is_not_installed_fails_the_check_and_says_what_to_install",
    ],
    "`lfg agents --check` starts an agent that never answers, asks to log in, or exits": [
        "tests/commands/test_agents.py::test_a_check_is_bounded_by_its_timeout_and_the_others_go_on",
        "tests/commands/test_agents.py::test_check_says_what_is_missing_when_the_agent_cannot_log_in",
    ],
    "a coding agent reports its context (`usage_update`) again and again, and resends its command list, "
    "mode or settings (Claude Code: 2 to 4 usage updates a turn, 25 slash commands)": [
        "tests/run/agents/test_context.py::test_usage_and_commands_are_a_context_and_a_detail_not_statuses",
        "tests/run/agents/test_context.py::test_commands_mode_and_settings_are_one_detail_each_time_they_change",
        "tests/run/agents/test_context.py::test_the_pane_gauges_the_context_and_the_agents_cost_per_attempt",
    ],
    "a coding agent reports a cost (`usage_update`'s `cost`, the session's cumulative total)": [
        "tests/run/agents/test_context.py::test_an_agent_reported_cost_counts_toward_max_cost_usd",
        "tests/run/agents/test_context.py::test_each_attempt_costs_its_share_of_the_sessions_cumulative_cost",
        "tests/run/agents/test_context.py::test_the_pane_gauges_the_context_and_the_agents_cost_per_attempt",
    ],
    "you quit lfg (or leave a run) while several coding agents are kept for follow-ups, each slow to exit": [
        "tests/run/agents/test_stalls.py::test_quitting_stops_the_kept_agents_all_at_once",
    ],
    "a run is torn down (quit, served run closed, a second cancel) while a coding agent is being closed, "
    "or its terminals are": [
        "tests/run/agents/test_closing.py::test_a_run_torn_down_while_its_agent_closes_leaves_nothing_for_the_closed_loop",
        "tests/run/agents/test_closing.py::test_an_agent_ends_when_its_attempt_is_left_at_the_start",
        "tests/run/agents/test_closing.py::test_closing_the_terminals_cancelled_still_stops_and_reaps_every_one",
    ],
    "a coding agent's run is resumed (`lfg resume`) after follow-ups it answered live in the same "
    "agent session": [
        "tests/run/agents/test_stalls.py::test_resume_after_a_live_follow_up_loads_the_latest_agent_session",
    ],
    "your no to a coding agent's permission request ends its turn (Codex answers `cancelled` when you "
    'pick "tell Codex what to do differently")': [
        "tests/run/agents/test_stalls.py::test_a_no_that_ends_the_agents_turn_completes_it_for_a_follow_up",
        "tests/run/agents/test_stalls.py::test_after_a_no_ends_the_turn_a_follow_up_tells_the_same_agent_what_to_do",
    ],
    "a coding agent sends nothing mid-turn while no approval waits for you (Codex retrying a dead network)": [
        "tests/run/agents/test_stalls.py::test_an_agent_that_goes_quiet_is_stalled_then_fails_as_timeout_keeping_its_text",
        "tests/run/agents/test_stalls.py::test_waiting_for_the_person_is_not_a_stall",
        "tests/run/agents/test_stalls.py::test_a_stalled_agent_is_counted_stalled_until_it_times_out",
        "tests/run/agents/test_stalls.py::test_a_stall_and_a_progress_note_are_recorded_as_what_they_are",
        "tests/run/agents/test_stalls.py::test_a_replay_shows_the_progress_note_then_the_stall_as_the_live_run_did",
    ],
    "a coding agent's messages follow one another with nothing between them (text before a tool call "
    "and text after it, an answer on each side of its thinking, a new `messageId`)": [
        "tests/run/agents/test_text_gauges.py::test_messages_on_both_sides_of_a_tool_call_are_separate_blocks",
        "tests/run/agents/test_blocks.py::test_text_on_both_sides_of_a_tool_call_or_thinking_becomes_two_blocks",
        "tests/run/agents/test_blocks.py::test_a_new_message_id_starts_a_block_and_breaks_already_there_are_kept",
    ],
    "a coding agent sends an empty chunk or a notice of its own before the model's output, waits for an "
    "approval or runs tools mid-turn, or relays an error in one burst": [
        "tests/run/agents/test_text_gauges.py::test_ttft_waits_for_the_models_output_past_an_empty_chunk_and_the_agents_notice",
        "tests/run/agents/test_text_gauges.py::test_the_rate_leaves_out_the_time_the_agents_tools_run",
        "tests/run/agents/test_text_gauges.py::test_an_error_relayed_in_one_burst_has_no_rate",
        "tests/cost/test_metrics.py::test_an_agents_rate_leaves_out_its_tools_and_the_wait_for_approval",
        "tests/cost/test_metrics.py::test_output_that_arrives_in_one_burst_has_no_rate",
    ],
    "the TUI shows thousands of tickets (`lfg run` of a file with 3,000, `lfg attach` to a server "
    "describing 3,000)": [
        "tests/ui/test_many_tickets.py::test_attaching_to_a_run_of_3000_tickets_mounts_only_the_panes_in_view",
        "tests/ui/test_many_tickets.py::test_a_run_of_3000_tickets_counts_them_as_they_change_and_streams_in_view",
    ],
    "a coding agent exits mid-turn, writes something other than ACP on its stdout, or never opens a "
    "session": [
        "tests/run/agents/test_attempt.py::test_a_crash_fails_the_ticket_keeping_the_text_and_quoting_the_log",
        "tests/run/agents/test_attempt.py::test_garbage_on_stdout_fails_the_ticket_as_malformed",
        "tests/run/agents/test_attempt.py::test_an_agent_that_never_answers_initialize_times_out",
        "tests/run/agents/test_run.py::test_an_agent_that_crashes_fails_only_its_ticket",
    ],
    "a coding agent sends JSON that is not a JSON-RPC message (an id that is a list, an error that is not "
    "an object, nesting deeper than Python parses), a line over 64 MiB, or a message of more than 100,000 "
    "objects and arrays": [
        "tests/run/agents/test_side_channels.py::test_json_that_is_not_a_json_rpc_message_fails_the_ticket_as_malformed",
        "tests/run/agents/test_side_channels.py::test_a_message_of_too_many_objects_is_refused_before_it_is_parsed",
        "tests/run/agents/test_side_channels.py::test_brackets_inside_strings_are_text_and_not_counted",
        "tests/run/agents/test_side_channels.py::test_a_line_over_64_mib_is_refused_as_it_is_read",
    ],
    "a coding agent announces a tool call bare (no title, no input: Claude Code's `Write {}`, `Terminal {}`) "
    "and describes it in later `tool_call_update`s": [
        "tests/run/agents/test_tool_updates.py::test_claude_codes_bare_calls_become_rows_named_as_in_its_own_ui",
        "tests/run/agents/test_tool_updates.py::test_an_update_that_changes_nothing_shown_is_no_event",
        "tests/run/agents/test_tool_updates.py::test_the_panes_row_reads_as_the_agent_finally_described_the_call",
        "tests/run/agents/test_run.py::test_ndjson_and_the_history_keep_the_call_as_the_agent_finally_described_it",
    ],
    "a coding agent floods its stderr": [
        "tests/run/agents/test_side_channels.py::test_the_agents_log_keeps_its_head_and_tail_and_says_what_it_dropped",
        "tests/run/agents/test_side_channels.py::test_a_log_that_cannot_be_written_is_still_read_to_its_end",
    ],
    "a library logs what an agent or a server sent (the ACP SDK quotes an unknown method's name)": [
        "tests/run/agents/test_side_channels.py::test_a_library_logging_what_an_agent_sent_never_writes_it_to_the_terminal",
        "tests/test_logs.py::test_within_library_logs_records_go_inert_to_a_private_file_and_the_root_is_left_as_it_was",
        "tests/test_logs.py::test_a_record_that_cannot_be_written_is_dropped_not_printed_raw",
    ],
    "a coding agent asks for a terminal in a folder outside the workdir, or for a file outside the workdir, "
    "in .git or behind a link": [
        "tests/run/agents/test_attempt.py::test_a_terminal_outside_the_workdir_or_not_approved_is_refused_with_the_reason",
        "tests/run/agents/test_attempt.py::test_reads_and_writes_outside_the_workdir_are_refused",
        "tests/run/agents/test_attempt.py::test_a_write_the_person_did_not_see_is_asked_for",
    ],
    "a prompt with its dependencies' answers filled in (`{{ outputs.ID }}`, quoted once or many times) "
    "would be longer than 4,000,000 characters": [
        "tests/tickets/test_tickets.py::test_render_prompt_past_the_cap_names_the_answer_and_the_cap",
        "tests/run/test_run.py::test_a_prompt_past_the_cap_fails_its_ticket_before_anything_is_sent",
    ],
    "a 429's Retry-After asks for minutes, or is an HTTP-date (RFC 9110)": [
        "tests/run/test_tool_loop.py::test_a_retry_after_of_minutes_is_waited_up_to_ten_minutes",
        "tests/run/test_tool_loop.py::test_a_retry_after_http_date_is_waited_until_that_moment",
    ],
    "a 429's Retry-After or a rate-limit header's reset is absurd (`1e15` s, `16666666666666m40s`, the year "
    "9999, or the same relayed by a gateway as `llm_provider-…`)": [
        "tests/run/test_quota_per_model.py::test_an_absurd_reset_in_any_header_form_holds_the_model_at_most_max_hold_s",
        "tests/run/test_quota_per_model.py::test_a_run_whose_provider_states_a_wait_of_ten_to_the_fifteen_seconds_ends",
    ],
    "one model of a provider is rate limited (a 429, or its headers say its quota is spent, even for an "
    "hour) and a fallback link or another ticket uses another model of the same provider": [
        "tests/run/test_quota_per_model.py::test_a_429_on_one_model_holds_neither_the_fallback_nor_other_tickets_on_another_model",
    ],
    "a coding agent asks to log in (ACP `auth_required`)": [
        "tests/run/agents/test_login.py::test_an_agent_that_asks_to_log_in_is_logged_in_with_the_key_lfg_passes",
        "tests/run/agents/test_login.py::test_an_agent_that_cannot_log_in_says_which_methods_variables_and_login_command",
    ],
    "a provider's `auth_method` is not one the agent offers, or logging in with it fails": [
        "tests/run/agents/test_login.py::test_auth_method_logs_in_before_the_session_and_a_failure_says_why",
        "tests/run/agents/test_login.py::test_an_auth_method_the_agent_does_not_offer_is_named_with_those_it_does",
    ],
    "a ticket's `model` or `mode` is not in the coding agent's own list (its session config options, or "
    "its older models or modes)": [
        "tests/run/agents/test_login.py::test_a_model_or_mode_the_agent_does_not_offer_fails_naming_those_it_does",
        "tests/run/agents/test_login.py::test_a_model_reaches_an_agent_that_offers_only_the_older_session_models",
        "tests/run/agents/test_login.py::test_a_builtin_agent_gets_its_documented_variables_and_the_model_in_its_own",
    ],
    "a ticket's MCP server uses a transport its coding agent does not take (http or sse, which the agent's "
    "`mcpCapabilities` do not list)": [
        "tests/run/agents/test_mcp.py::test_the_tickets_servers_reach_the_agent_in_session_new_only_as_it_takes_them",
        "tests/run/agents/test_mcp.py::test_stdio_is_always_taken_http_and_sse_as_the_agent_says",
    ],
    "a ticket's MCP server cannot be given on this machine: its program is not on PATH, or a variable it "
    "takes a value from is unset": [
        "tests/tickets/test_tickets.py::test_mcp_servers_must_be_known_given_to_a_coding_agent_and_available",
        "tests/run/agents/test_mcp.py::test_a_server_that_cannot_be_given_when_the_session_opens_fails_the_attempt",
    ],
    "a ticket's `model`, or its provider's `default_model`, has no way to reach its coding agent (no model "
    "option, no `{model}` in the command, no `model_env`)": [
        "tests/run/agents/test_login.py::test_a_model_nothing_can_carry_is_said_not_to_reach_the_agent",
        "tests/run/agents/test_login.py::test_a_providers_default_model_reaches_the_agent_as_a_tickets_model_does",
    ],
    "Codex runs a model outside its catalogue (a gateway's own name) and warns about it as answer text": [
        "tests/run/agents/test_text_gauges.py::test_ttft_waits_for_the_models_output_past_an_empty_chunk_and_the_agents_notice",
        "tests/run/agents/test_tool_updates.py::test_what_an_agent_says_of_its_session_before_its_work_is_one_detail_with_its_work",
    ],
    "lfg quits, or a ticket is cancelled, while a coding agent is mid-turn": [
        "tests/run/agents/test_attempt.py::test_cancelling_sends_session_cancel_and_leaves_no_process",
        "tests/run/agents/test_tui.py::test_cancel_and_quit_while_agents_work_leave_no_process",
        "tests/run/agents/test_tui.py::test_quitting_over_an_agent_deaf_to_cancel_is_bounded_and_ends_it",
    ],
    "`lfg agents --check` checks Claude Code, which has no key and no login": [
        "tests/run/agents/test_login.py::test_claude_codes_login_is_looked_for_where_it_keeps_it",
        "tests/run/agents/test_login.py::test_a_credentials_file_elsewhere_does_not_count_when_claude_config_dir_points_away",
    ],
    "a run has more tickets than the terminal holds panes (an 80\u00d724 terminal holds four, two rows of "
    "two)": [
        f"{NEWCOMER}::test_the_demo_at_80x24_shows_its_panes_says_where_the_others_are_and_keeps_help_and_quit",
        "tests/ui/test_snapshots.py::test_a_default_terminal_shows_four_panes_says_where_two_more_are_and_keeps_help_and_quit",
    ],
    "the footer is too narrow for every key": [
        f"{NEWCOMER}::test_the_demo_at_80x24_shows_its_panes_says_where_the_others_are_and_keeps_help_and_quit",
        "tests/ui/test_snapshots.py::test_a_default_terminal_shows_four_panes_says_where_two_more_are_and_keeps_help_and_quit",
    ],
    "the help (`?`) is taller than the terminal": [
        f"{NEWCOMER}::test_the_demo_at_80x24_shows_its_panes_says_where_the_others_are_and_keeps_help_and_quit",
    ],
    "an approval is asked on a small terminal": [
        f"{NEWCOMER}::test_an_approval_opens_centred_over_the_pane_that_asks_and_stays_whole_when_small",
    ],
    "an error is too long for the pane's three-line notice": [
        "tests/ui/test_pane_notice.py::test_an_error_too_long_for_the_notice_is_cut_short_so_the_hint_shows",
        "tests/ui/test_pane_notice.py::test_the_retry_hint_is_never_split_over_two_lines",
    ],
    "a coding agent asks to edit a file": [
        "tests/ui/test_tool_log.py::test_an_agents_edit_is_shown_as_a_coloured_diff_one_argument_a_line",
        "tests/ui/test_tool_log.py::test_nothing_in_an_agents_request_passes_for_another_argument_or_hides",
    ],
    "a coding agent runs another model than the ticket's (its own choice for a ticket that left it, or "
    "one it fell back to and says so in a config option update)": [
        "tests/run/agents/test_login.py::test_the_model_the_agent_reports_is_kept_beside_the_one_asked",
        "tests/run/agents/test_tui.py::test_the_header_names_the_model_the_agent_reports_when_not_the_tickets",
    ],
    "a coding agent runs a command in lfg's terminal (`terminal/create`)": [
        "tests/run/agents/test_terminals.py::test_the_commands_output_is_the_tool_calls_result",
        "tests/run/agents/test_terminals.py::test_without_yes_a_headless_run_refuses_the_command_as_it_refuses_run_command",
        "tests/run/agents/test_terminals.py::test_auto_approve_run_command_lets_the_agents_command_run",
        "tests/run/agents/test_terminals.py::test_a_command_the_agent_kills_shows_its_output_and_that_it_was_killed",
        "tests/run/agents/test_terminals.py::test_a_long_output_keeps_its_tail_within_the_cap",
        "tests/run/agents/test_terminals.py::test_a_command_gets_no_secrets_only_the_allowlist_and_env_passthrough",
        "tests/run/agents/test_attempt.py::test_a_command_approved_in_the_agents_own_request_is_not_asked_again",
    ],
    "a coding agent's command prints while it runs (in lfg's terminal, or in the agent itself streaming "
    "it in its updates' `_meta`, as Codex does), fast or with escape sequences": [
        "tests/run/agents/test_tool_output.py::test_codexs_command_output_is_coalesced_into_a_few_events_and_its_result_keeps_it_all",
        "tests/run/agents/test_tool_output.py::test_what_a_call_holds_and_keeps_is_bounded",
        "tests/run/agents/test_tool_output.py::test_codexs_commands_end_with_their_exit_code_and_one_refused_before_it_ran_reads_denied",
        "tests/run/agents/test_tool_output.py::test_the_output_of_a_command_in_lfgs_terminal_and_in_the_agents_own_streams_into_its_row",
        "tests/run/agents/test_tool_output.py::test_a_chatty_commands_output_streams_bounded_and_a_killed_one_shows_what_it_printed",
        "tests/run/agents/test_tool_output.py::test_the_row_shows_a_commands_output_inert_while_it_runs",
    ],
    "a ticket's coding agent is not installed": [
        "tests/run/agents/test_run.py::test_an_agent_that_is_not_installed_is_refused_naming_what_to_install",
    ],
    "lfg is killed (even SIGKILL) while coding agents work": [
        "tests/run/agents/test_attempt.py::test_no_agent_outlives_lfg_killed_with_sigkill",
    ],
    "an agent service sends a tool call and never its result": [
        "tests/run/test_tool_loop.py::test_a_tool_call_an_agent_service_leaves_without_a_result_is_never_run_here",
    ],
    "a provider reports a token count that is not a whole number from 0 to 10^12 (NaN, 1e400, 10.5, -3, "
    '2^70, `"abc"`, a list), in any usage field of any wire format, an agent service or a coding agent': [
        "tests/hardening/test_usage.py::test_a_bad_count_is_ignored_saying_so_and_costs_no_other_ticket",
        "tests/hardening/test_usage.py::test_the_tui_prices_a_bad_count_as_an_estimate",
        "tests/providers/test_usage.py::test_an_acp_turn_usage_goes_through_the_same_check",
    ],
    "an Anthropic(-compatible) stream carries no usage": [
        "tests/providers/test_anthropic.py::test_a_stream_without_usage_completes_with_estimated_tokens",
        "tests/providers/test_anthropic.py::test_usage_only_in_message_start_keeps_the_input_and_estimates_the_output",
    ],
    "a tickets file holds 10,000 tickets, or Ctrl-C comes while it is checked": [
        "tests/tickets/test_tickets.py::test_checking_grows_linearly_with_the_number_of_tickets",
        "tests/commands/test_run.py::test_sigint_while_loading_the_tickets_exits_130_in_one_line",
        "tests/hardening/test_signals.py::test_a_ctrl_c_python_swallows_in_a_finalizer_is_still_seen",
    ],
    "a provider's rate-limit headers say its account has no requests (or not a request's tokens) left "
    "before a reset": [
        "tests/run/test_quota.py::test_the_limiter_waits_for_the_reset_the_provider_named_instead_of_meeting_a_429",
        "tests/ui/test_app.py::test_the_summary_bar_shows_what_each_provider_has_left_and_when_it_resets",
    ],
    "an attempt fails in a way more waiting will not fix soon (401/403, 404, a 429 or 529 asking for "
    "longer than the ticket's `max_wait_s`, or still refusing after its retries) and the ticket has a "
    "`fallback`": [
        "tests/run/test_failover.py::"
        "test_a_429_whose_reset_is_past_max_wait_s_moves_the_ticket_to_its_fallback_which_completes",
    ],
    "a LiteLLM proxy relays a 429's Retry-After and the rate-limit headers only as "
    "`llm_provider-retry-after`, `llm_provider-x-ratelimit-*`": [
        "tests/run/test_failover.py::test_a_gateways_llm_provider_retry_after_is_waited_as_stated",
        "tests/run/test_failover.py::"
        "test_a_gateways_spelling_of_the_rate_limit_headers_is_read_and_the_providers_own_wins",
    ],
    "a gateway passes on its upstream's 401 about the gateway's own key (LiteLLM: "
    "`litellm.AuthenticationError: …`)": [
        "tests/run/test_failover.py::test_a_gateways_relayed_upstream_401_says_the_gateways_key_was_refused_not_ours",
    ],
    "a 429 has no Retry-After, but its rate-limit headers say when the quota resets (another client "
    "spent it)": [
        "tests/run/test_quota.py::"
        "test_a_429_without_retry_after_names_the_reset_in_its_headers_and_the_retry_waits_for_it",
    ],
    "a provider's quota is spent (its rate-limit headers say no requests, or not a request's tokens, are "
    'left before a reset) and the ticket (or its provider) says `on_quota = "fallback"` or `"pause"`': [
        "tests/run/test_quota_plan.py::test_on_quota_fallback_moves_to_the_next_link_instead_of_waiting_for_the_reset",
        "tests/run/test_quota_plan.py::test_on_quota_fallback_with_no_link_left_waits_and_says_so",
        "tests/run/test_quota_plan.py::test_on_quota_pause_leaves_the_line_until_the_person_resumes_it",
        "tests/run/test_quota_plan.py::test_on_quota_pause_with_no_one_to_resume_it_waits_for_the_reset",
        "tests/ui/test_quota_pane.py::test_a_ticket_paused_for_its_quota_waits_for_p_past_the_reset",
    ],
    "several tickets share a provider's limits (`max_concurrency`, `requests_per_minute`, "
    "`tokens_per_minute`), and one of them gets a 429": [
        "tests/run/test_calls_limits.py::test_two_agents_of_one_provider_stream_one_after_the_other",
        "tests/run/test_calls_limits.py::test_a_429_received_by_one_agent_pauses_the_other_s_next_request_of_its_model",
        "tests/run/test_ratelimit.py::test_the_line_is_first_come_first_served",
        "tests/ui/test_many_agents.py::test_a_ticket_waiting_for_its_providers_shared_limit_shows_as_queued",
    ],
    "a ticket or the whole run reaches its `max_cost_usd`": [
        "tests/run/test_budgets.py::test_a_ticket_stops_at_its_budget_keeping_its_text",
        "tests/run/test_budgets.py::test_the_run_budget_stops_every_running_ticket",
        "tests/run/test_budgets.py::test_an_unpriced_model_is_never_stopped_by_a_budget",
    ],
    '`isolation = "worktree"` is set but the workdir is not in a git repository, or the repository has '
    "no commit": [
        "tests/worktrees/test_run.py::test_a_workdir_outside_a_repository_fails_the_ticket_saying_why",
    ],
    "a `--notify-command` hook fails, hangs or cannot keep up": [
        "tests/alerts/test_notify.py::test_a_failing_or_missing_command_is_a_warning_not_an_exception",
        "tests/alerts/test_notify.py::test_a_hanging_command_is_killed_with_its_children_after_its_timeout",
        "tests/alerts/test_notify.py::test_overflow_drops_the_oldest_waiting_and_counts_them",
        "tests/alerts/test_notify.py::test_the_call_returns_before_the_command_has_read_its_event",
    ],
    "a `--notify-command` hook leaves processes behind (`setsid …`, a daemon), or hooks still hang when "
    "the run ends": [
        "tests/alerts/test_notify.py::test_what_a_hook_started_in_a_session_of_its_own_ends_with_it",
        "tests/alerts/test_notify.py::test_two_hung_hooks_do_not_keep_the_run_finished_notification_from_the_command",
        "tests/alerts/test_notify.py::test_overflow_never_drops_the_run_finished_notification",
    ],
    "`lfg ask` has no `--model`, and the provider's default model calls tools": [
        "tests/commands/test_main.py::test_ask_answers_on_the_default_provider_and_says_which_model",
        "tests/commands/test_main.py::test_ask_model_of_a_provider_is_configurable",
    ],
    "a command needs an extra that is not installed (`otel`, `broker`, `prometheus`)": [
        f"{TELEMETRY}/test_export.py::test_without_the_extra_the_run_stops_before_it_starts_saying_what_to_install",
        f"{BROKER}/test_commands.py::test_without_the_extra_the_broker_commands_say_what_to_install",
        f"{BROKER}/test_commands.py::test_a_worker_without_prometheus_client_says_what_to_install",
    ],
    "`--theme` names no theme (`lfg run --theme ligth`), headless runs included": [
        "tests/commands/test_bad_values.py::test_a_bad_value_is_refused_in_one_line_before_anything_starts",
    ],
    "a command is given an option it does not take (`lfg run --bogus`)": [
        "tests/commands/test_completion.py::test_an_unknown_option_is_said_with_its_commands_usage",
    ],
    "the answer, reasoning, a tool's output or an error message carries escape sequences (title, "
    "clipboard, hyperlink, cursor moves)": [
        "tests/hardening/test_escapes.py::test_the_tui_shows_escape_sequences_without_obeying_them",
        "tests/hardening/test_escapes.py::test_headless_lines_and_ask_are_inert_and_ndjson_is_lossless",
        "tests/hardening/test_escapes.py::test_a_provider_error_message_is_inert",
    ],
    "a requested command or path hides lines, control characters or bidi overrides": [
        "tests/ui/test_app.py::test_a_request_longer_than_its_notice_is_approved_only_once_seen_whole",
        "tests/ui/test_tool_log.py::test_every_line_break_control_and_bidi_override_of_a_command_is_visible",
    ],
    "a tool's regex is catastrophic (or a search runs past 10 s)": [
        "tests/tools/test_reader.py::test_a_catastrophic_pattern_is_stopped_without_blocking_the_loop",
        "tests/tools/test_reader.py::test_sigterm_is_answered_during_a_catastrophic_search",
    ],
    "the model reads a FIFO, a device, or a procfs file that would block": [
        "tests/tools/test_reader.py::test_fifos_and_devices_are_refused_without_blocking",
        "tests/tools/test_reader.py::test_the_reader_checks_the_opened_file_not_its_name",
    ],
    "the model reads or searches a huge file or a line of hundreds of MB": [
        "tests/tools/test_reader.py::test_a_huge_file_without_newlines_is_read_and_searched_in_bounded_memory",
    ],
    "a command leaves processes behind (`setsid …`, `nohup … &`, a daemon)": [
        "tests/tools/test_command.py::test_no_process_of_the_tree_outlives_the_command",
        "tests/tools/test_command.py::test_no_process_of_the_tree_outlives_lfg",
    ],
    "a command would see secrets in the environment": [
        "tests/tools/test_command.py::test_run_command_gets_only_allowlisted_variables",
        "tests/tools/test_command.py::test_env_passthrough_passes_named_variables_but_never_a_configured_key",
    ],
    "`write_file` targets `.git`, a hard-linked file, or a path with control characters": [
        "tests/tools/test_files.py::test_write_file_into_git_needs_the_tickets_opt_in",
        "tests/tools/test_files.py::test_write_file_refuses_a_hard_link_but_read_file_follows_it",
        "tests/tools/test_files.py::test_paths_with_control_characters_are_refused",
    ],
    "a tool call's arguments contain NaN, Infinity or 1e999": [
        "tests/commands/test_run.py::test_non_finite_numbers_in_tool_arguments_are_invalid_and_never_printed",
    ],
    "a recorded answer, tool output, title or imported field holds terminal escape sequences": [
        "tests/history/test_untrusted.py::test_text_outputs_show_escape_sequences_without_running_them",
        "tests/history/test_untrusted.py::test_markdown_file_export_is_inert_and_the_history_keeps_the_raw_text",
        "tests/history/test_untrusted.py::test_json_outputs_are_lossless_yet_show_nothing_raw",
    ],
    "`lfg history import` gets a file that is not UTF-8, not JSON, nested too deeply, or has a field of "
    "the wrong type, a number that is not finite, a negative token count or cost, an unknown outcome, a "
    "malformed id or a missing key": [
        "tests/history/test_untrusted.py::test_a_crafted_export_is_refused_whole_saying_where",
        "tests/history/test_untrusted.py::test_a_file_that_is_not_an_export_is_refused",
        "tests/history/test_untrusted.py::test_an_import_that_fails_half_way_leaves_nothing_behind",
    ],
    "the history writer meets a value its file cannot take (a count beyond 64 bits, text with a lone "
    "surrogate)": [
        "tests/history/test_numbers.py::test_counts_no_column_can_take_are_stored_as_null",
        "tests/history/test_numbers.py::test_a_batch_that_fails_leaves_every_attempt_with_its_outcome",
    ],
    "the disk of the history file fills up (or the file is locked or fails) during `lfg run` or `lfg "
    "resume`": [
        "tests/history/test_full_disk.py::test_a_disk_given_room_before_the_run_ends_gets_every_ticket_s_outcome",
        "tests/history/test_full_disk.py::test_a_disk_full_to_the_end_says_what_the_history_lacks_and_exits_3",
    ],
    "the history file holds a row lfg did not write (edited by hand, another program)": [
        "tests/history/test_untrusted.py::test_rows_no_lfg_wrote_never_stop_a_reader",
    ],
    "the history file is damaged (garbage over its pages) or is not an SQLite file": [
        "tests/history/test_untrusted.py::test_a_damaged_file_is_named_with_what_to_do_and_kept",
        "tests/history/test_untrusted.py::test_lfg_run_over_a_damaged_file_runs_without_history",
    ],
    "a newer lfg opens a history file an older lfg is still recording a run into": [
        "tests/history/test_store.py::test_a_file_an_older_lfg_is_recording_into_is_migrated_only_once_its_run_ends",
        "tests/history/test_untrusted.py::test_lfg_run_beside_an_older_lfg_still_recording_runs_without_history",
    ],
    "`lfg resume` retries or follows up a ticket": [
        "tests/run/test_resume_tickets.py::test_every_field_of_a_ticket_is_set_here",
        "tests/run/test_resume_tickets.py::test_every_field_of_a_ticket_is_recorded_and_restored",
        "tests/run/test_resume_tickets.py::test_a_retry_of_a_worktree_ticket_works_in_its_own_worktree",
    ],
    "a run recorded by an older lfg, which kept fewer ticket fields, is resumed or imported": [
        "tests/run/test_resume_tickets.py::test_a_ticket_an_older_lfg_recorded_runs_with_the_defaults_and_says_so",
        "tests/run/test_resume_tickets.py::test_an_export_older_than_the_fields_imports_with_the_defaults",
    ],
    "a run brought in by `lfg history import` is resumed, or one of its tickets re-run": [
        "tests/run/test_resume_tickets.py::test_an_imported_run_keeps_every_field_but_grants_nothing_here",
        "tests/commands/test_resume.py::test_an_imported_run_asks_before_its_tools_work_outside_this_folder",
    ],
    "the history file or its -wal/-shm are readable by others": [
        "tests/history/test_untrusted.py::test_a_history_file_readable_by_others_is_tightened",
        "tests/history/test_untrusted.py::test_a_file_of_another_user_is_left_alone_with_a_warning",
    ],
    "the terminal goes away under a TUI (an ssh connection drops, the tmux server is killed, a browser "
    "tab's `lfg web` server dies), with or without a SIGHUP": [
        "tests/hardening/test_hangup.py::test_lfg_run_ends_recorded_and_unlocked_when_its_terminal_goes",
        "tests/hardening/test_hangup.py::test_a_recorded_run_opened_in_the_tui_ends_when_its_terminal_goes",
        "tests/hardening/test_hangup.py::test_lfg_attach_ends_when_its_terminal_goes",
        "tests/hardening/test_hangup.py::test_a_browser_tab_ends_when_the_web_server_goes",
    ],
    "`lfg history show` is piped into another program or a file": [
        "tests/commands/test_history.py::test_piped_show_is_the_markdown_whole_not_fitted_to_80_columns",
        "tests/commands/test_history.py::test_a_models_headings_nest_under_its_attempts_heading",
    ],
    "whatever reads a command's output stops reading (`lfg history list --json \\| head -1`)": [
        "tests/commands/test_history.py::test_a_reader_that_stops_reading_ends_the_command_quietly",
    ],
    "a history search has more than 1,000 characters, 64 terms or 8 prefix terms": [
        "tests/history/test_untrusted.py::test_a_search_too_big_to_run_is_refused_at_once",
    ],
    "the answer holds one huge paragraph (megabytes without a blank line)": [
        "tests/ui/test_huge_paragraph.py::test_an_8_mb_paragraph_streams_whole_and_scrolls_to_its_start",
        "tests/ui/test_huge_paragraph.py::test_q_quits_while_an_8_mb_paragraph_streams",
        "tests/ui/test_live_markdown.py::test_a_huge_paragraph_costs_each_flush_what_a_short_one_does",
        "tests/ui/test_markdown_blocks.py::test_long_blocks_are_cut_the_same_however_the_text_is_split",
    ],
    "`--serve` gets a flood of idle or unauthenticated connections, garbage requests or guessed tokens": [
        "tests/remote/test_hostile_peers.py::test_connections_are_capped_and_timed_out_before_they_show_the_token",
        "tests/remote/test_hostile_peers.py::test_malformed_requests_get_400_and_print_no_traceback",
    ],
    "a watcher stops reading, or resumes with an id the server never gave (`X.²`)": [
        "tests/remote/test_hostile_peers.py::test_a_watcher_that_stops_reading_is_cut_off_and_leaves_nothing_queued",
        "tests/remote/test_hostile_peers.py::test_an_id_the_server_never_gave_starts_the_stream_over",
        "tests/remote/test_server.py::test_a_watcher_that_stops_reading_is_dropped_while_the_others_get_everything",
    ],
    "`--serve` runs with few file descriptors (`ulimit -n` 256, macOS's default) and gets a flood of "
    "connections": [
        "tests/remote/test_hostile_peers.py::test_a_burst_of_connections_accepted_at_once_is_capped_like_any_other",
        f"{SOAK}::test_a_served_run_beside_hostile_peers_completes_and_its_watcher_gets_all_of_it",
    ],
    "a `--serve` run ends while watchers that never read and idle connections are still open": [
        f"{SOAK}::test_a_served_run_beside_hostile_peers_completes_and_its_watcher_gets_all_of_it",
    ],
    (
        "`lfg attach` starts while others hold every connection a server takes before the token (it "
        "answers 503), or its proxy answers 502 or 429"
    ): [
        "tests/remote/test_hostile_peers.py::test_attach_started_while_others_hold_every_slot_before_the_token_waits_its_turn",
        f"{SOAK}::test_a_served_run_beside_hostile_peers_completes_and_its_watcher_gets_all_of_it",
    ],
    "`lfg run --serve … --start-on-attach` gets Ctrl-C before anyone attached": [
        "tests/remote/test_web_tabs.py::test_ctrl_c_before_anyone_attached_starts_nothing",
    ],
    "`--serve` is given an address beyond this machine (`0.0.0.0`, a host name)": [
        "tests/remote/test_hostile_peers.py::test_lfg_refuses_to_serve_beyond_this_machine_unless_told",
    ],
    (
        "`lfg attach` gets a non-ASCII id, a clock of 400 digits, a negative count, events after an "
        "attempt's end, a description over 16 MiB, a 502, or a server that greets and drops"
    ): [
        "tests/remote/test_hostile_peers.py::test_attach_takes_no_bad_id_clock_count_or_event_after_an_attempts_end",
        "tests/remote/test_hostile_peers.py::test_attach_backs_off_from_a_502_and_gives_up_on_a_server_that_greets_and_drops",
        "tests/remote/test_hostile_peers.py::test_attach_takes_no_description_of_a_run_past_its_size_limit",
    ],
    "`lfg attach` gets a token with non-ASCII characters, or a token file with a byte-order mark": [
        "tests/remote/test_hostile_peers.py::test_a_token_file_with_a_bom_is_read_and_a_token_an_http_header_cannot_carry_is_refused",
    ],
    "a web page in the person's browser (even one served from another port of 127.0.0.1), a DNS-rebinding "
    "host name or any client without the key tries to use `lfg web`": [
        f"{WEB}::test_without_the_key_the_page_its_files_and_the_websocket_are_refused",
        f"{WEB}::test_a_host_name_it_does_not_serve_is_refused_even_with_the_cookie",
        f"{WEB}::test_a_websocket_without_this_pages_origin_is_refused_even_with_the_cookie",
        f"{WEB}::test_a_page_from_another_port_cannot_open_the_websocket_in_the_same_browser",
    ],
    "more browser tabs open `lfg web` than `--max-tabs` (default 8)": [
        f"{WEB}::test_tabs_past_max_tabs_are_told_why_and_start_nothing",
    ],
    "`lfg web --host` names an address other machines reach, or 0.0.0.0": [
        f"{WEB}::test_a_host_others_reach_is_refused_with_the_reason",
    ],
    "`lfg web FILE` starts and no browser tab opens": [
        "tests/remote/test_web_tabs.py::test_the_run_starts_when_the_first_tab_opens",
    ],
    "a browser tab opens `lfg web FILE`, or is reloaded, after its run has ended": [
        "tests/remote/test_web_tabs.py::test_a_tab_opened_after_the_run_ended_shows_the_recorded_run",
    ],
    "the broker goes away while `lfg run --publish` runs (killed, restarted, unreachable)": [
        f"{BROKER}/test_publish_attach.py::test_the_broker_killed_mid_run_stalls_only_the_watchers_who_see_the_gap_when_it_returns",
    ],
    "the broker has a password and none or a wrong one is given, a TLS broker is asked with `redis://`, its "
    "certificate is not trusted, a URL names a run where a broker is asked for, or no broker is there": [
        f"{BROKER}/test_commands.py::test_a_wrong_password_and_no_password_are_said",
        f"{BROKER}/test_commands.py::test_a_tls_broker_asked_without_tls_says_to_use_rediss",
        f"{BROKER}/test_commands.py::test_a_broker_that_is_not_there_stops_the_run_before_it_starts",
        f"{BROKER}/test_urls.py::test_a_password_in_the_urls_query_is_never_said",
    ],
    "a broker entry arrives twice (a write retried after a lost reply) or is read again after a reconnect": [
        f"{BROKER}/test_publish_attach.py::test_a_watcher_that_comes_after_the_end_reads_the_whole_run_and_resent_entries_show_nothing_twice",
        f"{BROKER}/test_publish_attach.py::test_twenty_watchers_follow_a_published_run_and_each_gets_every_event_once",
    ],
    "a worker is killed or stopped mid-ticket (`kill -9`, SIGTERM, its machine gone, cut off from the "
    "broker) under `lfg run --broker`": [
        f"{BROKER}/test_workers.py::test_a_worker_killed_mid_stream_leaves_its_ticket_to_another_and_both_attempts_are_recorded",
        f"{BROKER}/test_taking.py::test_a_worker_stopped_mid_attempt_ends_it_interrupted_and_another_worker_runs_the_ticket",
        f"{BROKER}/test_faults.py::test_a_dead_workers_entry_is_taken_over_behind_any_number_of_live_ones",
    ],
    "a worker is paused (SIGSTOP) or cut off from the broker for longer than its lease, under `lfg run "
    "--broker`": [
        f"{BROKER}/test_faults.py::test_a_worker_cut_off_past_its_lease_stops_its_attempt_before_another_takes_it_over",
        f"{BROKER}/test_faults.py::test_a_worker_paused_past_its_lease_does_not_run_its_attempt_on_beside_the_one_that_took_it_over",
        f"{BROKER}/test_faults.py::test_a_stale_attempts_end_is_not_recorded_once_another_worker_holds_its_entry",
        f"{BROKER}/test_paused_worker.py::test_a_worker_woken_past_its_lease_publishes_nothing_of_what_came_during_its_pause",
        f"{BROKER}/test_superseded.py::test_a_paused_workers_late_events_after_the_takeover_are_dropped_but_its_interrupted_end",
    ],
    "the broker loses its state mid-run (redis-server restarted without persistence, `FLUSHALL`, failover "
    "to a lagging replica, eviction) under `lfg run --broker`": [
        f"{BROKER}/test_faults.py::test_a_broker_that_lost_everything_mid_run_ends_with_every_ticket_completed_once",
    ],
    "a work entry on the broker is malformed or hostile (escapes or `../` in the run id, a provider other "
    "than its stream's, an unknown provider, an attempt of 2^70, a 200 kB note)": [
        f"{BROKER}/test_hostile.py::test_hostile_work_entries_are_refused_inert_and_leave_nothing_behind",
    ],
    "the broker is killed and restarted (with its append-only file) while `lfg run --broker` hands out "
    "tickets": [
        f"{BROKER}/test_workers.py::test_the_broker_killed_and_restarted_with_its_append_only_file_loses_no_ticket_and_completes_none_twice",
    ],
    "the coordinator of `lfg run --broker` is killed (`kill -9`) while its workers run its tickets, then "
    "`lfg resume RUN --broker URL` (the TUI, `--headless` or `--json`)": [
        f"{BROKER}/test_resume.py::test_a_killed_coordinator_is_picked_up_and_adopts_what_its_workers_ran_meanwhile",
        f"{BROKER}/test_resume.py::test_an_attempt_still_streaming_on_its_worker_is_followed_to_its_end_not_run_again",
        f"{BROKER}/test_resume.py::test_a_ticket_taken_over_while_its_coordinator_was_away_is_recorded_as_both_attempts",
        f"{BROKER}/test_resume.py::test_a_run_that_cannot_be_picked_up_from_the_broker_says_why_and_changes_nothing",
        f"{BROKER}/test_resume.py::test_a_killed_coordinator_is_picked_up_in_the_tui_its_panes_restored_and_streaming_on",
        f"{BROKER}/test_resume.py::test_an_approval_asked_before_the_coordinator_died_is_answered_with_a_key_in_the_tui",
    ],
    "the broker trims the run's events (`[broker] max_len`) before the coordinator of `lfg run --broker` "
    "reads them (it fell behind: paused, slow, cut off)": [
        f"{BROKER}/test_trimmed.py::test_a_coordinator_that_fell_behind_a_trimmed_stream_still_learns_how_each_attempt_ended",
    ],
    "`lfg attach redis://…/RUN` comes to a run after the broker trimmed its events (`[broker] max_len`), "
    "or reads a publisher's gap entry": [
        f"{BROKER}/test_lost_by_watchers.py::test_attach_json_to_a_trimmed_stream_prints_the_gap_and_the_attempt_end_partial",
        f"{BROKER}/test_lost_by_watchers.py::test_the_attached_tui_says_in_the_pane_what_a_trimmed_stream_lost",
        f"{BROKER}/test_lost_by_watchers.py::test_a_gap_entry_tells_each_attempt_it_names_and_nothing_a_stranger_wrote_in_it",
    ],
    "a worker is stopped (SIGTERM) or killed after an attempt ended but before it handed the ticket back, "
    "under `lfg run --broker`": [
        f"{BROKER}/test_taking.py::test_an_attempt_that_ended_on_a_worker_stopped_before_it_acknowledged_is_not_run_again",
        f"{BROKER}/test_taking.py::test_a_worker_stopped_right_after_an_attempt_ended_acknowledges_its_entry_before_it_exits",
    ],
    "no worker on the broker has a ticket's provider (not in its config, its key not set, its agent not "
    "installed) under `lfg run --broker`": [
        f"{BROKER}/test_workers.py::test_a_ticket_whose_provider_a_worker_lacks_waits_for_one_that_has_it_and_says_why",
    ],
    "a coding agent's ticket that a worker ran is followed up (`f`) under `lfg run --broker` after that "
    "worker left the broker": [
        f"{BROKER}/test_workers.py::test_a_follow_up_whose_agents_worker_is_gone_starts_a_new_session_elsewhere_and_says_so",
    ],
    "the OpenTelemetry receiver is down or too slow while `lfg run --otel` runs": [
        f"{TELEMETRY}/test_export.py::test_a_receiver_down_or_slow_never_holds_up_the_run_and_what_it_lost_is_counted",
    ],
    "`lfg run --otel` without the `otel` extra, with a `[telemetry] headers` variable unset, or a protocol "
    "lfg does not speak": [
        f"{TELEMETRY}/test_export.py::test_without_the_extra_the_run_stops_before_it_starts_saying_what_to_install",
        f"{TELEMETRY}/test_settings.py::test_headers_come_from_the_variables_the_config_names",
        f"{TELEMETRY}/test_settings.py::test_a_protocol_lfg_does_not_speak_is_refused_saying_who_asked",
    ],
    "a tab's `lfg attach` cannot start (the run's server is gone, the token is refused, the config is "
    "invalid)": [
        "tests/remote/test_web_tabs.py::test_a_tab_whose_lfg_attach_cannot_start_shows_why",
    ],
    "a page of another site, or any client without the token, asks the inbox (`/v1/inbox`, approve, "
    "deny, a follow-up)": [
        f"{INBOX}::test_without_the_token_the_inbox_answers_401_and_its_page_holds_nothing_of_the_run",
    ],
    "an agent's answer or tool call holds HTML (`<script>`, `<img onerror=…>`) or bidirectional "
    "controls, and the inbox shows it": [
        "tests/remote/test_inbox_browser.py::test_on_a_phone_the_inbox_shows_what_waits_as_text_and_approve_moves_it",
        f"{INBOX}::test_every_argument_is_shown_whole_and_revealed",
    ],
    "the inbox sends a follow-up to a ticket that is still working, or one that is blank, not UTF-8 or "
    "over 244,096 bytes": [
        f"{INBOX}::test_the_inbox_lists_who_needs_you_first_and_its_answers_reach_the_run",
    ],
    "a tournament's judge ranks first a contestant whose check failed or whose attempt did not complete": [
        "tests/tournament/test_overruled.py::test_a_judge_that_ranks_a_failed_check_first_is_overruled_and_the_best_that_passed_wins",
        "tests/tournament/test_overruled.py::test_no_winner_nothing_to_land_and_no_judge_asked_when_no_contestant_completed",
    ],
    "a tickets file asks for more than 100 `attempts`, or a blank `check`": [
        "tests/tournament/test_fields.py::test_attempts_past_the_maximum_and_a_blank_check_are_refused_naming_file_line_and_field",
    ],
    "a tournament's judge answers with a key given twice in one object, or arrays nested thousands deep": [
        "tests/tournament/test_judge.py::test_an_answer_nested_too_deep_is_asked_for_again_not_a_recursion_error",
        "tests/tournament/test_judge.py::test_a_malformed_ranking_is_refused_saying_what_is_wrong",
    ],
    "a tournament contestant changes what its own check does (edits a test, writes a `conftest.py`, "
    "`.pytest.ini`, `GNUmakefile`, `.npmrc` or a file in a folder the check names, or exits 0 as pytest "
    "imports its code)": [
        "tests/tournament/test_overruled.py::test_a_contestants_own_conftest_does_not_run_in_its_check_the_bases_does",
        "tests/tournament/test_rigs.py::"
        "test_a_rigged_check_fails_saying_what_was_put_back_or_refused_and_the_honest_contestant_wins",
        "tests/tournament/test_rigs.py::"
        "test_a_file_the_check_names_that_the_base_lacks_is_the_contestants_output_and_passes_its_check",
    ],
    "a tournament's contestant ran on a worker whose base commit the coordinator's checkout lacks, or its "
    "reported diff was cut (over 500,000 characters) or does not apply there": [
        "tests/worktrees/test_snapshot.py::test_a_reported_diff_that_cannot_be_checked_here_says_why",
        "tests/broker/test_tournament.py::test_a_tournament_through_the_broker_picks_its_winner_checked_on_the_reported_diff",
    ],
    "a tournament contestant's worktree changes after its check (a process it left running, a sibling "
    "writing into it)": [
        "tests/tournament/test_snapshot.py::test_the_check_runs_in_a_fresh_worktree_and_land_lands_what_it_checked_not_later_changes",
    ],
    "the worker running a ticket is gone when you cancel one of its sub-agents (`X`) under "
    "`lfg run --broker`": [
        "tests/broker/test_fleet_subagents.py::test_x_on_the_coordinator_says_when_the_worker_running_the_ticket_does_not_answer",
    ],
}
"""Rows of docs/what-happens/ whose fault is not a ticket beside a healthy one in `lfg run --json`: each
names the tests that cover it."""

WHAT_HAPPENS = Path(__file__).parents[2] / "docs" / "what-happens"
PAGES = (
    "providers.md",
    "coding-agents.md",
    "runs.md",
    "live-view.md",
    "commands.md",
    "tools.md",
    "history.md",
    "watching.md",
    "broker.md",
    "telemetry.md",
)
"""The topic pages of "What happens when…", in the order of the site's navigation."""


def documented_faults() -> list[str]:
    """The `when` of every row of every page's table, page after page."""
    rows = []
    for page in PAGES:
        text = (WHAT_HAPPENS / page).read_text(encoding="utf-8")
        rows += [
            line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| when ")
        ]
    return [row.split(" | ")[0].removeprefix("| ") for row in rows]


def test_every_what_happens_page_is_read() -> None:
    assert {path.name for path in WHAT_HAPPENS.glob("*.md")} - {"index.md"} == set(PAGES)


def test_the_documented_faults_match_the_rows() -> None:
    tested = list(dict.fromkeys(row.when for row in ROWS))
    documented = documented_faults()
    assert [when for when in documented if when not in ELSEWHERE] == tested
    assert set(ELSEWHERE) <= set(documented)
    assert len(documented) == len(set(documented)), "a row is documented twice"


@pytest.mark.parametrize("node", [node for nodes in ELSEWHERE.values() for node in nodes])
def test_rows_tested_elsewhere_name_tests_that_exist(node: str) -> None:
    path, name = node.split("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, name, None)), f"{node} is not a test"
