"""The session updates ACP made stable after the schema lfg's SDK was built from, typed by lfg.

The package index stops at `agent-client-protocol` 0.12.1 (schema v1.19), which rejects these as
invalid; ACP's stable schema (v1.34) has them: notices and compaction (stable 2026-10-09), sub-agent
sessions and plan operations (2026-11-20). Their shapes are written here from the published spec
(agentclientprotocol.com's announcements and RFDs, docs.rs `agent_client_protocol_schema::v1`, read
2026-11-26) and checked against what claude-agent-acp 0.101.0 sends; where the spec pages did not
spell a field out, the schema repository's snapshot of 2026-08-22 (`schema/v1/schema.unstable.json`)
did, for shapes unchanged since. Only the fields lfg reads are typed; others are allowed, as the
spec's extensibility asks. When a newer SDK reaches the index, this module can shrink to it.

`stable_update` reads one update (the `update` of a `session/update`'s params): one of these models,
None for a kind not here (the SDK reads it), or `Malformed` for one of these kinds that does not
validate (the reader logs it once per kind and drops it; never fatal).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Wire(BaseModel):
    """A wire object: camelCase names by alias, fields lfg does not read allowed, `_meta` kept."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)
    meta: dict[str, Any] | None = Field(default=None, alias="_meta")


class ContentBlock(_Wire):
    """A content block as these updates carry it: its `type`, and its text when it is text."""

    type: str
    text: str | None = None


def blocks_text(blocks: list[ContentBlock] | None) -> str:
    """The text of a list of content blocks (others as `[type content]`)."""
    return "\n".join(
        b.text if b.type == "text" and b.text is not None else f"[{b.type} content]" for b in blocks or ()
    )


class Notice(_Wire):
    """`notice`: advisory words for the person, not conversation history (`severity` info, warning or
    error, or another string; a non-empty `title`; an optional `description`)."""

    session_update: Literal["notice"] = Field(alias="sessionUpdate")
    severity: str
    title: Annotated[str, Field(min_length=1)]
    description: str | None = None


class CompactionUpdate(_Wire):
    """`compaction_update`: the agent compacts its context (`in_progress`, `completed`, `failed`,
    `cancelled`), one timeline entry per `compactionId`; a later update patches it."""

    session_update: Literal["compaction_update"] = Field(alias="sessionUpdate")
    compaction_id: str = Field(alias="compactionId")
    status: str
    summary: list[ContentBlock] | None = None
    error: str | None = None


class CompactionSummaryChunk(_Wire):
    """`compaction_summary_chunk`: a piece of a compaction's summary, streamed."""

    session_update: Literal["compaction_summary_chunk"] = Field(alias="sessionUpdate")
    compaction_id: str = Field(alias="compactionId")
    content: ContentBlock


class SubagentState(_Wire):
    """A child session's work state as its parent reports it (`running`, `idle` with a stop reason)."""

    state: str
    stop_reason: str | None = Field(default=None, alias="stopReason")


class SubagentUpdate(_Wire):
    """`subagent_update`, sent on the parent session: announces the child `sessionId` (before any of
    its traffic), then patches its title, description and state."""

    session_update: Literal["subagent_update"] = Field(alias="sessionUpdate")
    session_id: str = Field(alias="sessionId")
    title: str | None = None
    description: str | None = None
    capabilities: dict[str, Any] | None = None
    """What the client may do to the child: `cancel` (`{}`) lets it send `session/cancel` with the
    child's session id, which stops the child alone."""
    state: SubagentState | None = None


class SessionMessage(_Wire):
    """`session_message`: a message between sessions (the parent's task to a child, a child's
    hand-back), sent on both sessions; never the parent's answer."""

    session_update: Literal["session_message"] = Field(alias="sessionUpdate")
    message_id: str = Field(alias="messageId")
    sender_session_id: str = Field(alias="senderSessionId")
    recipient_session_id: str = Field(alias="recipientSessionId")
    content: list[ContentBlock]


class SessionMessageChunk(_Wire):
    """`session_message_chunk`: a piece of such a message, streamed."""

    session_update: Literal["session_message_chunk"] = Field(alias="sessionUpdate")
    sender_session_id: str = Field(alias="senderSessionId")
    recipient_session_id: str = Field(alias="recipientSessionId")
    content: ContentBlock


class PlanEntry(_Wire):
    content: str
    priority: Literal["high", "medium", "low"]
    status: Literal["pending", "in_progress", "completed"]


class PlanItems(_Wire):
    type: Literal["items"]
    plan_id: str = Field(alias="planId")
    entries: list[PlanEntry]


class PlanMarkdown(_Wire):
    type: Literal["markdown"]
    plan_id: str = Field(alias="planId")
    content: str


class PlanFile(_Wire):
    type: Literal["file"]
    plan_id: str = Field(alias="planId")
    uri: str


class PlanUpdate(_Wire):
    """`plan_update`: the whole of plan `planId`, as entries, Markdown or a file, replacing it."""

    session_update: Literal["plan_update"] = Field(alias="sessionUpdate")
    plan: Annotated[PlanItems | PlanMarkdown | PlanFile, Field(discriminator="type")]


class PlanRemoved(_Wire):
    """`plan_removed`: plan `planId` is gone."""

    session_update: Literal["plan_removed"] = Field(alias="sessionUpdate")
    plan_id: str = Field(alias="planId")


StableUpdate = (
    Notice
    | CompactionUpdate
    | CompactionSummaryChunk
    | SubagentUpdate
    | SessionMessage
    | SessionMessageChunk
    | PlanUpdate
    | PlanRemoved
)
_ADAPTER: TypeAdapter[StableUpdate] = TypeAdapter(
    Annotated[StableUpdate, Field(discriminator="session_update")]  # type: ignore[arg-type]
)
KINDS = frozenset(
    {
        "notice",
        "compaction_update",
        "compaction_summary_chunk",
        "subagent_update",
        "session_message",
        "session_message_chunk",
        "plan_update",
        "plan_removed",
    }
)


class Malformed(BaseModel):
    """One of these kinds that does not validate: what was wrong, to log once per kind."""

    kind: str
    error: str


def stable_update(update: dict[str, Any]) -> StableUpdate | Malformed | None:
    """The update as one of these models; None for a kind lfg does not type here."""
    kind = update.get("sessionUpdate")
    if not isinstance(kind, str) or kind not in KINDS:
        return None
    try:
        return _ADAPTER.validate_python(update)
    except ValidationError as exc:
        return Malformed(kind=str(kind), error=str(exc))


ADVERTISED: dict[str, Any] = {"session": {"notices": {}, "compaction": {}}, "subagents": {}, "plan": {}}
"""The stable client capabilities lfg handles (`{}` each advertises one): `session.notices`,
`session.compaction`, `subagents` (lfg keeps a child's traffic apart) and `plan` (plan operations)."""


def advertised(capabilities: dict[str, Any]) -> dict[str, Any]:
    """An `initialize` request's `clientCapabilities` with `ADVERTISED`: the SDK's schema drops
    fields it lacks when it serializes them, so lfg's pipe adds them to the request as it is sent."""
    session = capabilities.get("session")
    session = session if isinstance(session, dict) else {}
    return capabilities | ADVERTISED | {"session": session | ADVERTISED["session"]}
