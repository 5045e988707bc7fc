"""An agent's messages cut into Markdown blocks where something interrupted them, read from the
ACP updates a real agent sends."""

from __future__ import annotations

from acp import schema

from lfgtui.events import EventFactory, ReasoningDelta, TextDelta
from lfgtui.run.agents.updates import UpdateReader


def said(*updates: object) -> tuple[str, str]:
    """The answer and the thinking one turn's updates stream as."""
    reader = UpdateReader(EventFactory("t", 1))
    events = [event for update in updates for event in reader.events(update)]
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    return answer, "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def message(text: str, message_id: str | None = None) -> schema.AgentMessageChunk:
    block = schema.TextContentBlock(type="text", text=text)
    update = "agent_message_chunk"
    return schema.AgentMessageChunk(session_update=update, content=block, message_id=message_id)


def thought(text: str) -> schema.AgentThoughtChunk:
    block = schema.TextContentBlock(type="text", text=text)
    return schema.AgentThoughtChunk(session_update="agent_thought_chunk", content=block)


def tool(call_id: str) -> schema.ToolCallStart:
    return schema.ToolCallStart(session_update="tool_call", tool_call_id=call_id, title="Read README.md")


def test_text_on_both_sides_of_a_tool_call_or_thinking_becomes_two_blocks() -> None:
    answer, thinking = said(
        thought("First I look."),
        message("Reading the"),
        message(" first step."),
        tool("c1"),
        thought("Now the README."),
        message("## Heading"),
        message("\n\nBody."),
    )
    assert answer == "Reading the first step.\n\n## Heading\n\nBody."
    assert thinking == "First I look.\n\nNow the README."


def test_a_new_message_id_starts_a_block_and_breaks_already_there_are_kept() -> None:
    answer, _ = said(
        message("Heads up: deprecated.", "m1"),
        message("Sure.\n", "m2"),
        message("More of it.", "m2"),
        tool("c1"),
        message("\nNext.", "m3"),
        tool("c2"),
        message("\n\nLast.", "m4"),
    )
    assert answer == "Heads up: deprecated.\n\nSure.\nMore of it.\n\nNext.\n\nLast."


def test_an_empty_chunk_after_a_tool_call_adds_nothing_until_text_comes() -> None:
    answer, _ = said(message("Before."), tool("c1"), message(""), message("After."))
    assert answer == "Before.\n\nAfter."
    assert said(tool("c1"), message("Only after."))[0] == "Only after.", "no break before the first text"
