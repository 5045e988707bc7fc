"""An agent's archive (or the registry's index) downloaded within limits, so no server can make an
install fill the disk or never end: a size cap, an overall deadline, and a minimum pace (a server
sending a byte a second keeps a socket's own timeout from ever firing). Redirects are followed only
to https (or, from a plain http URL, to http), each one kept so the person is told where the bytes
came from.

The defaults leave room for real agents: their archives are tens to a couple of hundred MB.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import IO

MAX_INSTALL_MB = 1024
"""The most an install may download, and unpack, in MiB (`--max-install-mb`): five times the
largest agent archive in the registry, unpacked."""
DOWNLOAD_DEADLINE_S = 1200.0
"""How long a download may take in all (`--download-timeout`): a couple of hundred MB at 200 KB/s."""
PACE_WINDOW_S = 30.0
"""A download must bring `PACE_MIN_BYTES` in every window of this many seconds (and a silent
server is given up after as long)."""
PACE_MIN_BYTES = 64 * 1024


class DownloadFailed(Exception):
    """Why the download of `url` stopped (`why`), said plainly."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"could not download {url}: {why}")
        self.url, self.why = url, why


@dataclass(frozen=True)
class Limits:
    """What a download, and the archive it unpacks, may take."""

    max_bytes: int = MAX_INSTALL_MB * 1024 * 1024
    deadline_s: float = DOWNLOAD_DEADLINE_S
    pace_window_s: float = PACE_WINDOW_S
    pace_min_bytes: int = PACE_MIN_BYTES
    size_option: str | None = "--max-install-mb"
    """The option that raises `max_bytes`, named when a download is over it; None when none does."""
    time_option: str | None = "--download-timeout"


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    size: int
    redirects: tuple[str, ...]
    """Each URL the download was redirected to, in order: the last is where the bytes came from."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to https (or to http from a plain http URL), keeping each hop."""

    def __init__(self, plain_allowed: bool) -> None:
        self.plain_allowed = plain_allowed
        self.hops: list[str] = []

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Message, newurl: str
    ) -> urllib.request.Request | None:
        allowed = ("https://", "http://") if self.plain_allowed else ("https://",)
        if not newurl.startswith(allowed):
            raise DownloadFailed(req.full_url, f"it redirected to {newurl}, which is not https: refused")
        self.hops.append(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def too_big(what: str, size: int, limits: Limits) -> str:
    raised = f" ({limits.size_option} raises it)" if limits.size_option else ""
    return f"{what} is {mib(size)}, over the {mib(limits.max_bytes)} limit{raised}"


def download(url: str, out: IO[bytes], limits: Limits) -> Downloaded:
    """Download `url` into `out` within `limits`; its sha256, size and redirects."""
    redirects = _Redirects(plain_allowed=url.startswith("http://"))
    opener = urllib.request.build_opener(redirects)
    digest, size = hashlib.sha256(), 0
    silence_s = min(limits.pace_window_s, limits.deadline_s)
    started = paced_from = time.monotonic()
    paced = 0
    try:
        with opener.open(url, timeout=silence_s) as answer:
            length = answer.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > limits.max_bytes:
                raise DownloadFailed(url, too_big("it", int(length), limits))
            while chunk := answer.read1(1 << 16):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise DownloadFailed(url, too_big("it (still downloading)", size, limits))
                digest.update(chunk)
                out.write(chunk)
                now, paced = time.monotonic(), paced + len(chunk)
                if now - started > limits.deadline_s:
                    longer = f"; {limits.time_option} gives it longer" if limits.time_option else ""
                    raise DownloadFailed(
                        url, f"not done within {limits.deadline_s:g} s ({mib(size)} so far{longer})"
                    )
                if now - paced_from >= limits.pace_window_s:
                    if paced < limits.pace_min_bytes:
                        raise DownloadFailed(
                            url,
                            f"it sent {paced} bytes in {now - paced_from:.1f} s, under "
                            f"{limits.pace_min_bytes} bytes per {limits.pace_window_s:g} s: given up",
                        )
                    paced_from, paced = now, 0
    except TimeoutError:
        raise DownloadFailed(url, f"it sent nothing for {silence_s:g} s: given up") from None
    except OSError as exc:  # URLError, a refused connection, a reset
        raise DownloadFailed(url, str(getattr(exc, "reason", exc))) from None
    return Downloaded(digest.hexdigest(), size, tuple(redirects.hops))
