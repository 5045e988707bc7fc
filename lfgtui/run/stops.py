"""Stop reasons: the names the adapters give `CallEnded.stop_reason`, and how an attempt ends on each.

Each provider says in its own words why a model call ended; each adapter's `STOP_REASONS` table turns
them into the names below (a name no table knows is passed on as the provider said it). `stop` and
`tool_calls` are a normal end: the tool loop runs the tools, or the attempt completes. `pause_turn`
(Anthropic: a server tool's loop paused a long turn) is no end at all: the paused turn is sent back as
it is, so the model goes on, as the Anthropic SDK's own tool runner does; that next call counts
against `max_calls`. Every other reason below ends the attempt early, failed with an error kind of
its own, keeping everything that arrived (the refusal's words are the answer shown):

- `refusal` (kind `refused`): Anthropic's `refusal`; Chat's `delta.refusal` text (its finish reason
  is `stop`); a Responses `refusal` content part.
- `content_filter` (kind `content_filter`): Chat's `content_filter`; a Responses answer incomplete
  for `content_filter`.
- `model_context_window_exceeded` (kind `context_window`): Anthropic's, when the answer fills the
  window (the OpenAI wires end such an answer as `length`, read as `max_tokens`).
- `max_tokens` (kind `max_tokens`): Anthropic's `max_tokens`; Chat's `length`; a Responses answer
  incomplete for `max_output_tokens`.

Why failed with a kind rather than an outcome of their own: an attempt that was refused, filtered or
cut off did not give the answer asked for, so everything that reads `failed` already does the right
thing with it (the exit code is 1, the ticket's dependents are skipped, it is not continued or
forked from, a retry is the person's to ask), the history's `outcome` column needs no new value (its
CHECK constraint would mean rebuilding the attempts table, and an older lfg could not read the
row), and an older lfg reads an error kind it does not know as `internal` rather than failing. The
kind says which it was, in the pane, the NDJSON `error`, the history, the telemetry's `error.type`
and `lfg history stats`.
"""

from __future__ import annotations

from lfgtui.events import ErrorInfo, ErrorKind

STOP = "stop"
TOOL_CALLS = "tool_calls"
PAUSE_TURN = "pause_turn"
REFUSAL = "refusal"
CONTENT_FILTER = "content_filter"
CONTEXT_WINDOW_EXCEEDED = "model_context_window_exceeded"
MAX_TOKENS = "max_tokens"

ENDS_EARLY = {
    REFUSAL: ErrorKind.REFUSED,
    CONTENT_FILTER: ErrorKind.CONTENT_FILTER,
    CONTEXT_WINDOW_EXCEEDED: ErrorKind.CONTEXT_WINDOW,
    MAX_TOKENS: ErrorKind.MAX_TOKENS,
}
"""The stop reasons that end an attempt early, and the kind of error each is."""


def ended_early(stop_reason: str, max_tokens: int | None) -> ErrorInfo | None:
    """The error a model call's stop reason ends its attempt with (None: the attempt goes on or
    completes); `max_tokens` is what the call asked for (None: the adapter's default or the model's
    own limit), which the hint of a cut answer names."""
    kind = ENDS_EARLY.get(stop_reason)
    if kind is None:
        return None
    return ErrorInfo(kind, _message(kind, max_tokens))


def _message(kind: ErrorKind, max_tokens: int | None) -> str:
    match kind:
        case ErrorKind.REFUSED:
            return "the model refused to answer (stop reason refusal); what it said is kept as its answer"
        case ErrorKind.CONTENT_FILTER:
            return "the provider's content filter stopped the answer (content_filter); what arrived is kept"
        case ErrorKind.CONTEXT_WINDOW:
            return (
                "the answer filled the model's context window (model_context_window_exceeded) and is cut "
                "off; what arrived is kept. Shorten the prompt or the conversation, or use a model with "
                "a larger context window"
            )
    if max_tokens is None:
        limit = "its output token limit (none set: the provider's default or the model's own)"
        hint = "Set max_tokens"
    else:
        limit = f"max_tokens ({max_tokens:,} tokens)"
        hint = "Raise max_tokens"
    return f"the answer was cut off at {limit}; what arrived is kept. {hint}, up to the model's output limit"


def paused(stop_reason: str) -> bool:
    """Whether a model call paused its turn, to be sent back as it is for the model to go on."""
    return stop_reason == PAUSE_TURN
