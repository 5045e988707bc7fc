"""The sim ACP agent's steering (`--steering OUTCOME`): it advertises `_meta.steering.supported` in
its `initialize` answer and takes `_session/steering {sessionId, prompt, _meta.steering.idleBehavior}`
as claude-agent-acp 0.101 and codex-acp 2.6 do, answering `{outcome}`.

While a prompt of the session runs it answers the chosen OUTCOME (`injected`, `startedNewTurn`,
`promptRequired` or `failed`); a taken one (`injected`, `startedNewTurn`) is said in the running
turn at once, with the idleBehavior the client asked for, so a test sees it arrived mid-turn; under
`--steer-reads-late` one taken while a permission waits is said only after the turn's last answer
(`LATE_READ`), as Claude Code reads it. With no
prompt running it answers as the real agents do: `promptRequired` to a client that asked for it,
else `startedNewTurn`. After a `startedNewTurn` the agent plays a turn of its own with the steer once
no prompt of the session runs, as claude-agent-acp's detached `prompt()` does: updates that no
`session/prompt` owns, whose end no answer tells (claude-agent-acp #903). An idleBehavior other than
`promptRequired`, no session id or an empty prompt is refused as invalid params, as they refuse it.
Under `--message-ids` a steer taken while no permission waits is said at the start of the next model
call (a message of its own id), as Claude Code's model reads one it takes at priority `now`.

Under `--prompt-queueing` it advertises `agentCapabilities._meta.claudeCode.promptQueueing`, as
claude-agent-acp 0.101 does (its `initialize`, dist/acp-agent.js), and a `session/prompt` sent while
another of the session runs waits for it to end, then plays, its answer saying it was queued: what
claude-agent-acp's `turnQueue` does with a prompt sent mid-turn.
"""

from __future__ import annotations

import logging
from typing import Any

import acp
from acp.agent.connection import AgentSideConnection
from acp.helpers import update_agent_message_text

STEER_METHOD = "session/steering"
"""The extension method as the SDK hands it over (sent as `_session/steering`)."""
OUTCOMES = ("injected", "startedNewTurn", "promptRequired", "failed")
ADVERTISED = {"steering": {"supported": True}}
"""The `_meta` of its `initialize` answer under `--steering`."""
QUEUEING = {"claudeCode": {"promptQueueing": True}}
"""The `_meta` of its `agentCapabilities` under `--prompt-queueing`, as claude-agent-acp's."""
OWN_TURN = "(a turn of its own, which no prompt owns: {text})\n\n"
"""What the agent says in the turn it starts with a steer it answered `startedNewTurn`."""
MID_TURN = "\n\n(steered mid-turn, idleBehavior {idle}: {text})\n\n"
"""What the agent says of a steer it read mid-turn."""
LATE_READ = "\n\n(steered, read after the last answer: {text})\n\n"
"""What the agent's last model call says of a steer it read late (`--steer-reads-late`)."""
QUEUED_SAID = "(this prompt waited, queued behind the session's running turn)\n\n"
"""What a prompt that came mid-turn says first, under `--prompt-queueing`, once its turn starts."""

log = logging.getLogger(__name__)


async def steer(
    conn: AgentSideConnection, outcome: str, params: dict[str, Any], running: set[str], now: bool = True
) -> dict[str, Any]:
    """Answer one `_session/steering`: `outcome` while a prompt of its session (one of `running`) runs;
    a taken one said in the turn at once (`now`), else by the caller when it is read."""
    session_id, prompt, meta = params.get("sessionId"), params.get("prompt"), params.get("_meta")
    if not isinstance(session_id, str) or not session_id:
        raise acp.RequestError.invalid_params({"why": "steer params require a non-empty sessionId"})
    if not isinstance(prompt, list) or not prompt:
        raise acp.RequestError.invalid_params({"why": "steer params require a non-empty prompt array"})
    steering = meta.get("steering") if isinstance(meta, dict) else None
    idle = steering.get("idleBehavior") if isinstance(steering, dict) else None
    if idle not in (None, "promptRequired"):
        raise acp.RequestError.invalid_params({"why": "unsupported steering idleBehavior"})
    if session_id not in running:
        answer = "promptRequired" if idle == "promptRequired" else "startedNewTurn"
        log.info("steer in %s with no prompt running: %s", session_id, answer)
        return (
            {"outcome": answer, "reason": "noRunningTurn"}
            if answer == "promptRequired"
            else {"outcome": answer}
        )
    log.info("steer in %s mid-turn (idleBehavior %s): %s", session_id, idle, outcome)
    if outcome in ("injected", "startedNewTurn") and now:
        await conn.session_update(session_id, update_agent_message_text(said_mid_turn(params)))
    return {"outcome": outcome}


def said_mid_turn(params: dict[str, Any]) -> str:
    """What the agent says of a steer it read mid-turn (at once, or at its next model call under
    `--message-ids`), with the idleBehavior the client asked for."""
    meta = params.get("_meta")
    steering = meta.get("steering") if isinstance(meta, dict) else None
    idle = steering.get("idleBehavior") if isinstance(steering, dict) else None
    return MID_TURN.format(idle=idle, text=steered_text(params["prompt"]))


def steered_text(prompt: list[Any]) -> str:
    """The words of a steer's `prompt` blocks."""
    return "".join(b.get("text", "") for b in prompt if isinstance(b, dict) and b.get("type") == "text")
