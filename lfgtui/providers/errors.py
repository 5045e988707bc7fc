"""Turn any exception a stream can raise into one `ErrorInfo` a user can act on.

Both SDKs raise their own `APIStatusError` / `APIConnectionError` / `APITimeoutError`; mid-stream the
Anthropic SDK lets raw `httpx2` transport errors through, and a broken chunk surfaces as a
`json.JSONDecodeError`. All of them are classified here, once. An SDK is only consulted if it is
already imported (an exception cannot come from one that is not), so a run that never uses the
Anthropic SDK never pays its two-second import.

`for_user` is the last step before an error is shown or recorded anywhere: it takes the provider's
key (and anything that looks like a credential header) out of the message, and says which variable
an authentication failure's key came from.
"""

from __future__ import annotations

import json
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from types import ModuleType
from typing import Any

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.providers.base import ProviderConfig, stated_wait, status_error_kind
from lfgtui.providers.kinds import KINDS, ErrorMapping
from lfgtui.providers.models import Status, lifecycle

SDKS = tuple(
    dict.fromkeys(kind.sdk for kind in KINDS.values() if kind.errors is ErrorMapping.SDK and kind.sdk)
)
"""The SDKs whose exceptions `classify` maps: those of the kinds that leave their errors to it."""


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


def classify_status(status: int, body: Any, message: str, headers: Mapping[str, str] | None) -> ErrorInfo:
    """An HTTP error response, or (status 200) an in-band error event inside a stream.

    In-band errors keep the meaning their type gives them, so an overload that arrives before the
    first token is retried like the same error sent as an HTTP status. The wait it asks for is read
    from its headers as the provider or a gateway spelled them (`base.stated_wait`).
    """
    text = body_message(body, message)
    if status == 200:
        return ErrorInfo(IN_BAND_KINDS.get(_body_type(body), ErrorKind.STREAM_ERROR), text)
    return ErrorInfo(status_error_kind(status), text, status=status, retry_after=stated_wait(headers))


def classify(exc: BaseException, model: str | None = None) -> ErrorInfo:
    """Classify an exception raised while requesting or reading a stream of `model`."""
    import httpx2  # here, not at the top: the TUI's process imports this module but reads no stream

    if isinstance(exc, _sdk_errors("APIStatusError")):
        info = classify_status(exc.status_code, exc.body, exc.message, exc.response.headers)
        return info if model is None else shut_down(info, model, date.today())
    if isinstance(exc, httpx2.SSEError):  # a TransportError subclass, so it must come first
        return ErrorInfo(ErrorKind.MALFORMED, str(exc))
    if isinstance(exc, (*_sdk_errors("APITimeoutError"), httpx2.TimeoutException)):
        chain = _chain(exc)
        if any(isinstance(e, httpx2.ConnectTimeout) for e in chain):
            host = next((h for h in map(_host, chain) if h), "the provider")
            return ErrorInfo(ErrorKind.TIMEOUT, f"no connection to {host} within the connect timeout")
        return ErrorInfo(ErrorKind.TIMEOUT, "no data from the provider within the idle timeout")
    if isinstance(exc, (*_sdk_errors("APIConnectionError"), httpx2.TransportError)):
        return ErrorInfo(ErrorKind.CONNECTION, _connection_message(exc))
    if isinstance(exc, _sdk_errors("APIError")):  # openai: an in-band {"error": ...} chunk in a 200 stream
        return ErrorInfo(ErrorKind.STREAM_ERROR, body_message(exc.body, exc.message))
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return ErrorInfo(ErrorKind.MALFORMED, f"the provider sent a chunk that is not valid JSON ({exc})")
    raise exc


def shut_down(info: ErrorInfo, model: str, today: date) -> ErrorInfo:
    """A 404 for a model lfg's table says its provider has shut down, with the date and the
    replacement: the API words a shutdown as an unknown model (`model_not_found`). A model still
    served (retiring later) is not why a request was not found, so nothing is added for it."""
    status, said = lifecycle(model, today)
    if info.status != 404 or status is not Status.RETIRED:
        return info
    return replace(info, message=f"{info.message} ({said})")


def _connection_message(exc: BaseException) -> str:
    """What failed, in the user's terms: an unknown host, a refused connection, or the innermost cause
    ('peer closed connection ...'), which reads best."""
    chain = _chain(exc)
    host = next((h for h in map(_host, chain) if h), "the provider")
    if unresolved := next((e for e in chain if isinstance(e, socket.gaierror)), None):
        return f"connection failed: cannot resolve host {host} ({unresolved.strerror or unresolved})"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection failed: connection refused by {host}"
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc) or type(exc).__name__
    return f"connection failed: {text}"


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything behind it: causes, and the exceptions they arose from even when a
    library hid them (`raise ... from None`), since that is where the socket error is."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _host(exc: BaseException) -> str | None:
    """host:port of the request an httpx2 or SDK exception is about, if it says."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx2 raises RuntimeError for an exception without one
        return None
    return f"{url.host}:{url.port}" if url.port else str(url.host)


REDACTED = "[redacted]"
_CREDENTIALS = re.compile(
    r"(?P<name>\b(?:authorization|proxy-authorization|x-api-key|api-key)\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic)\s+)?[^\s\"',;]+"
    r"|(?P<scheme>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}",
    re.IGNORECASE,
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` without any of `secrets`, and without the value of anything shaped like a credential
    header (`Authorization: Bearer ...`, `x-api-key: ...`) or a bearer token."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _CREDENTIALS.sub(lambda m: (m["name"] or m["scheme"]) + REDACTED, text)


UPSTREAM_REFUSED = re.compile(r"\blitellm\.(?:AuthenticationError|PermissionDeniedError)\b")
"""How a LiteLLM proxy words a 401/403 it relays from its upstream provider (`litellm.AuthenticationError:
AuthenticationError: OpenAIException - Incorrect API key provided ...`): the upstream refused the
gateway's own key. Its refusals of the key it was sent read otherwise (`Authentication Error, Invalid
proxy server token passed`)."""


def for_user(info: ErrorInfo, config: ProviderConfig) -> ErrorInfo:
    """The error as it may be shown and stored: no key in it, and for an authentication failure the
    variable the key came from, which is what the user has to fix; or, when a gateway relays its
    upstream's refusal of the gateway's own key, that the gateway's configuration is to fix."""
    message = redact(info.message, (config.api_key or "",))
    if info.kind is ErrorKind.AUTH and UPSTREAM_REFUSED.search(message):
        gateway = f"the gateway at {config.base_url}" if config.base_url else "the gateway"
        message += (
            f" ({gateway} accepted lfg's key; its upstream provider refused the gateway's own key: "
            "fix that key in the gateway's configuration)"
        )
    elif info.kind is ErrorKind.AUTH:
        if config.api_key_env:
            message += f" (the key comes from the environment variable {config.api_key_env})"
        else:
            message += (
                f" (provider {config.name!r} sends no key: set api_key_env in [providers.{config.name}] "
                "to the environment variable that holds one)"
            )
    return replace(info, message=message)
