"""Turn any exception a stream can raise into one `ErrorInfo` a user can act on.

Both SDKs raise their own `APIStatusError` / `APIConnectionError` / `APITimeoutError`; mid-stream the
Anthropic SDK lets raw `httpx2` transport errors through, and a broken chunk surfaces as a
`json.JSONDecodeError`. All of them are classified here, once. An SDK is only consulted if it is
already imported (an exception cannot come from one that is not), so a run that never uses the
Anthropic SDK never pays its two-second import.
"""

from __future__ import annotations

import json
import sys
from types import ModuleType
from typing import Any

import httpx2

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.providers.base import parse_retry_after, status_error_kind

SDKS = ("openai", "anthropic")


def _loaded_sdks() -> list[ModuleType]:
    return [sys.modules[name] for name in SDKS if name in sys.modules]


def _sdk_errors(name: str) -> tuple[type[BaseException], ...]:
    """The SDKs' exception classes called `name`, e.g. every loaded `APIStatusError`."""
    return tuple(getattr(sdk, name) for sdk in _loaded_sdks())


def body_message(body: Any, fallback: str) -> str:
    """The provider's own message from an error body of any of the common shapes."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
        if isinstance(body.get("message"), str):
            return body["message"]
    return fallback


def _body_type(body: Any) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("type") or inner.get("code") or "")
    return ""


IN_BAND_KINDS = {
    "overloaded_error": ErrorKind.OVERLOADED,
    "api_error": ErrorKind.SERVER,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "timeout_error": ErrorKind.TIMEOUT,
}


def classify_status(status: int, body: Any, message: str, retry_after: str | None) -> ErrorInfo:
    """An HTTP error response, or (status 200) an in-band error event inside a stream.

    In-band errors keep the meaning their type gives them, so an overload that arrives before the
    first token is retried like the same error sent as an HTTP status.
    """
    text = body_message(body, message)
    if status == 200:
        return ErrorInfo(IN_BAND_KINDS.get(_body_type(body), ErrorKind.STREAM_ERROR), text)
    return ErrorInfo(
        status_error_kind(status), text, status=status, retry_after=parse_retry_after(retry_after)
    )


def classify(exc: BaseException) -> ErrorInfo:
    """Classify an exception raised while requesting or reading a stream."""
    if isinstance(exc, _sdk_errors("APIStatusError")):
        return classify_status(
            exc.status_code, exc.body, exc.message, exc.response.headers.get("retry-after")
        )
    if isinstance(exc, httpx2.SSEError):  # a TransportError subclass, so it must come first
        return ErrorInfo(ErrorKind.MALFORMED, str(exc))
    if isinstance(exc, (*_sdk_errors("APITimeoutError"), httpx2.TimeoutException)):
        return ErrorInfo(ErrorKind.TIMEOUT, "no data from the provider within the idle timeout")
    if isinstance(exc, (*_sdk_errors("APIConnectionError"), httpx2.TransportError)):
        return ErrorInfo(ErrorKind.CONNECTION, _connection_message(exc))
    if isinstance(exc, _sdk_errors("APIError")):  # openai: an in-band {"error": ...} chunk in a 200 stream
        return ErrorInfo(ErrorKind.STREAM_ERROR, body_message(exc.body, exc.message))
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return ErrorInfo(ErrorKind.MALFORMED, f"the provider sent a chunk that is not valid JSON ({exc})")
    raise exc


def _connection_message(exc: BaseException) -> str:
    """The innermost cause reads best: 'connection refused', 'peer closed connection ...'."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc) or type(exc).__name__
    return f"connection failed: {text}"
