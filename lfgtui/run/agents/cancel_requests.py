"""ACP's `$/cancel_request`, both ways: either side asks the other to cancel one of its outstanding
requests, by id. Optional, and the other side MUST still answer that request: with a result, or
the error `-32800` (Request Cancelled).

Written from ACP's schema v1 as @agentclientprotocol/sdk 2.4.0 bundles it (`CancelRequestNotification`:
`requestId`, `_meta`; `ErrorCode` -32800) and agentclientprotocol.com/protocol/v1/cancellation
(stable since 2026-06-29), read 2026-11-27; the SDK on the package index (0.12.1) routes neither
way. No capability says an implementation takes it.

From an agent, lfg takes it for the requests that wait for the person (`session/request_permission`,
`elicitation/create`): the question leaves the pane, said withdrawn by the agent (run/approvals.py
`WITHDRAWN`), nothing is answered later, and the request is answered -32800. Any other request (a
file read or write, a terminal, even one whose approval waits) lfg finishes and answers as usual,
as the spec allows; an id lfg is not answering is ignored, as the official SDK ignores it. The
pipe (transport.py) routes the notification here, and tells each of the SDK's handler tasks which
request it serves (`AGENT_REQUEST`, a context variable its task copies when the SDK creates it).

lfg sends it for each of its own requests the agent has not answered when it gives up on the
agent (it stops it: a timeout, a cancel, quitting while `session/list` or `session/load` waits),
`session/prompt` aside: `session/cancel`, ACP's own way to end a turn, was sent for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from acp import RequestError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lfgtui.inert import inert
from lfgtui.run.approvals import WITHDRAWN

log = logging.getLogger(__name__)

CANCEL_REQUEST = "$/cancel_request"
REQUEST_CANCELLED = -32800
"""ACP's error code for a request answered as cancelled (LSP's `RequestCancelled`)."""
NOT_CANCELLED = frozenset({"session/prompt"})
"""lfg's requests it never cancels this way: `session/cancel` ends a turn."""

T = TypeVar("T")

AGENT_REQUEST: ContextVar[int | str | None] = ContextVar("agent_request", default=None)
"""The id of the agent's request the current task answers (None: none): set by the pipe as it hands
a request to the SDK, so the handler task the SDK then creates holds it."""


class CancelRequest(BaseModel):
    """`$/cancel_request`'s params: the id of the request to cancel (`_meta` and more allowed)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)
    request_id: int | str | None = Field(alias="requestId")
    meta: dict[str, Any] | None = Field(default=None, alias="_meta")


def cancel_request(request_id: int | str) -> dict[str, Any]:
    """The notification that asks the agent to cancel lfg's request `request_id`."""
    return {"jsonrpc": "2.0", "method": CANCEL_REQUEST, "params": {"requestId": request_id}}


def cancelled(request_id: int | str | None) -> RequestError:
    """The answer to a request its sender cancelled."""
    return RequestError(REQUEST_CANCELLED, "Request cancelled", {"requestId": request_id})


class Asking:
    """One of the agent's requests that waits for the person, which the agent may withdraw."""

    def __init__(self, request_id: int | str | None) -> None:
        self.request_id = request_id
        self.withdrawn = False
        self._task: asyncio.Future[Any] | None = None

    async def ask(self, asking: Awaitable[T]) -> T:
        """The person's answer (`asking`), unless the agent withdraws the request first: then the
        ask is cancelled with `WITHDRAWN` (its asker says so in the pane) and -32800 raised."""
        if self.withdrawn:
            if asyncio.iscoroutine(asking):
                asking.close()
            raise cancelled(self.request_id)
        task = self._task = asyncio.ensure_future(asking)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.withdrawn and task.cancelled() and (current is None or not current.cancelling()):
                raise cancelled(self.request_id) from None
            raise
        finally:
            self._task = None

    def withdraw(self) -> None:
        self.withdrawn = True
        if self._task is not None and not self._task.done():
            self._task.cancel(WITHDRAWN)


class Withdrawals:
    """The agent's requests that wait for the person, by id, as `$/cancel_request` names them."""

    def __init__(self) -> None:
        self._asking: dict[int | str, Asking] = {}

    @contextlib.contextmanager
    def asking(self) -> Iterator[Asking]:
        """The request the current handler task answers, withdrawable while this lasts."""
        request_id = AGENT_REQUEST.get()
        asking = Asking(request_id)
        if request_id is not None:
            self._asking[request_id] = asking
        try:
            yield asking
        finally:
            if request_id is not None and self._asking.get(request_id) is asking:
                del self._asking[request_id]

    @property
    def open(self) -> bool:
        """Whether one of the agent's requests waits for the person now (a permission, a question)."""
        return bool(self._asking)

    def take(self, params: Any) -> None:
        """A `$/cancel_request`'s params: withdraw that request if lfg is asking the person it; a
        malformed one, or one for a request lfg is not asking, is logged and ignored."""
        try:
            request_id = CancelRequest.model_validate(params).request_id
        except ValidationError as exc:
            log.info("the agent sent a malformed $/cancel_request: %s", inert(str(exc))[:300])
            return
        asking = self._asking.get(request_id) if request_id is not None else None
        if asking is None:
            shown = inert(repr(request_id))
            log.info("the agent cancelled request %s, which lfg does not wait on: ignored", shown)
            return
        asking.withdraw()
