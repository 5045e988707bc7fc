"""`AgentSession`, one running coding agent and its one session, which may serve several attempts
(follow-ups): the session's rooms (`session/`) composed into the class the engine holds."""

from __future__ import annotations

from lfgtui.run.agents.session.lifecycle import SessionLifecycle
from lfgtui.run.agents.session.prompts import SessionPrompts


class AgentSession(SessionPrompts, SessionLifecycle):
    """One running agent and its one session, which may serve several attempts (follow-ups)."""
