"""The sim ACP agent's sessions on disk, so that a later agent process can `session/load` (or
`session/resume`) one, and a client can list them (`session/list`).

lfg resumes a recorded run in a new process and continues the agent's earlier session; the sim keeps
what a real agent would need for that: the cwd, how many prompts there were, and the conversation.
One JSON file per session, readable only by us (prompts can hold anything), replaced atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import acp
import platformdirs

from lfgtui.folders import private_folder

Role = Literal["user", "agent"]
SESSION_ID = re.compile(r"sess-[0-9a-f]{12}")  # the shape of `new_session_id`: a safe file name


def new_session_id() -> str:
    return f"sess-{uuid.uuid4().hex[:12]}"


def default_sessions_dir() -> Path:
    return Path(platformdirs.user_state_dir("lfgtui")) / "sim-acp-sessions"


@dataclass(frozen=True, slots=True)
class Message:
    """One side of a prompt: the user's text, or everything the agent said (not its thoughts)."""

    role: Role
    text: str


@dataclass(slots=True)
class SavedSession:
    cwd: str
    prompts: int
    messages: list[Message]


@dataclass(frozen=True, slots=True)
class Listed:
    """A saved session as `session/list` tells of it: its id, what it holds, when it last changed."""

    session_id: str
    saved: SavedSession
    updated: float  # the file's modification time, seconds since the epoch

    @property
    def title(self) -> str | None:
        """Its first prompt's first line, as agents title a session."""
        first = next((m.text for m in self.saved.messages if m.role == "user"), "")
        line = first.strip().splitlines()[0] if first.strip() else ""
        return line[:80] or None


class SessionStore:
    """A folder of `<session id>.json` files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, session_id: str, session: SavedSession) -> None:
        """Write through a temp file and `os.replace`, so a crash never leaves half a session."""
        path = self._path(session_id)
        private_folder(self.folder)
        fd, temp = tempfile.mkstemp(dir=self.folder, prefix=f".{session_id}.", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(asdict(session), file, ensure_ascii=False, indent=1)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def load(self, session_id: str) -> SavedSession:
        """The saved session, or the JSON-RPC error `session/load` answers with."""
        path = self._path(session_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return SavedSession(data["cwd"], data["prompts"], [_message(item) for item in data["messages"]])
        except FileNotFoundError:
            raise acp.RequestError.resource_not_found(session_id) from None
        except (ValueError, KeyError, TypeError) as exc:  # a file that is not one of ours, or is damaged
            raise acp.RequestError.internal_error({"sessionId": session_id, "reason": str(exc)}) from None

    def listed(self, cwd: str | None) -> list[Listed]:
        """Every saved session (of `cwd` when given), the latest first; a damaged file is left out."""
        found: list[Listed] = []
        for path in self.folder.glob("sess-*.json") if self.folder.is_dir() else ():
            session_id = path.stem
            if not SESSION_ID.fullmatch(session_id):
                continue
            try:
                saved, updated = self.load(session_id), path.stat().st_mtime
            except (acp.RequestError, OSError):
                continue
            if cwd is None or saved.cwd == cwd:
                found.append(Listed(session_id, saved, updated))
        return sorted(found, key=lambda listed: (-listed.updated, listed.session_id))

    def _path(self, session_id: str) -> Path:
        if not SESSION_ID.fullmatch(session_id):
            raise acp.RequestError.invalid_params({"sessionId": session_id, "reason": "not a sim session id"})
        return self.folder / f"{session_id}.json"


def _message(item: object) -> Message:
    match item:
        case {"role": "user" | "agent" as role, "text": str() as text}:
            return Message(role, text)
    raise ValueError("a message without a known role or a text")
