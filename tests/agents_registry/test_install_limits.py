"""`lfg agents install` within limits, against servers on 127.0.0.1 that try to exceed them: an
archive that unpacks far past its size, a download over the size cap, one that trickles a byte at a
time or says nothing, a redirect where it should not go, a `.zip` that is not one; and a plan that
shows plain http and bidirectional controls for what they are."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable
from email.message import Message
from pathlib import Path

import pytest

from lfgtui.agents_registry import unpack as unpacking
from lfgtui.agents_registry.index import this_platform
from lfgtui.network.download import DownloadFailed, Limits, _Redirects, download
from tests.support.acp_registry import Machine, binary_agent, served
from tests.support.patience import PATIENCE

MIB = 1024 * 1024


def _zeros_zip(size: int) -> bytes:
    """A zip of `bin/agent` holding `size` zero bytes: a few hundred KB for tens of MiB."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("bin/agent", "w") as member,
    ):
        for _ in range(size // MIB):
            member.write(bytes(MIB))
    return buffer.getvalue()


def _tar(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("bin/agent")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _refused(machine: Machine, done: subprocess.CompletedProcess[str], agent_id: str) -> str:
    """The one line lfg refused with, having checked it left nothing behind."""
    assert done.returncode == 1, done.stdout
    refusal = done.stderr.strip()
    assert "\n" not in refusal and "Traceback" not in refusal, refusal
    assert agent_id not in machine.installed() and not (machine.agents / agent_id).exists()
    return refusal


@pytest.mark.parametrize(
    ("name", "content", "options", "refusal"),
    [
        (
            "bomb.zip",
            lambda: _zeros_zip(80 * MIB),
            [],
            "lfg: the archive would unpack to 80.0 MiB from 0.1 MiB, over 100 times its size: "
            "refused as a zip bomb",
        ),
        (
            "big.tar.gz",
            lambda: _tar(bytes(2 * MIB)),
            ["--max-install-mb", "1"],
            "lfg: unpacked, the archive is 2.0 MiB, over the 1.0 MiB limit (--max-install-mb raises it)",
        ),
        (
            "agent",
            lambda: os.urandom(2 * MIB),
            ["--max-install-mb", "1"],
            "is 2.0 MiB, over the 1.0 MiB limit",
        ),
        ("broken.zip", lambda: b"not a zip at all", [], "lfg: 'broken.zip' is not a readable zip archive ("),
        (
            "broken.tar.gz",
            lambda: _tar(os.urandom(64 * 1024))[: 32 * 1024],
            [],
            "lfg: 'broken.tar.gz' is not a readable tar archive (",
        ),
    ],
    ids=["zip-bomb", "unpacked-over-cap", "download-over-cap", "not-a-zip", "truncated-tar"],
)
def test_an_archive_over_the_limits_or_not_what_its_name_says_is_refused_in_one_line(
    machine: Machine,
    tmp_path: Path,
    name: str,
    content: Callable[[], bytes],
    options: list[str],
    refusal: str,
) -> None:
    with served(tmp_path / "registry") as registry:
        digest = registry.file(name, content())
        registry.publish(binary_agent("heavy", "1.0.0", this_platform(), f"{registry.url}/{name}", digest))
        done = machine.lfg(registry.index, "install", "heavy", "--yes", *options)
    assert refusal in _refused(machine, done, "heavy")


@pytest.mark.parametrize("route", ["trickle", "silent"])
def test_a_download_that_never_ends_is_given_up_at_the_deadline(
    machine: Machine, tmp_path: Path, route: str
) -> None:
    with served(tmp_path / "registry") as registry:
        url = f"{registry.url}/{route}/slow.tar.gz"
        registry.publish(binary_agent("slow", "1.0.0", this_platform(), url, None))
        done = machine.lfg(registry.index, "install", "slow", "--yes", "--download-timeout", "0.5")
    assert "  limits: at most 1024.0 MiB downloaded and unpacked, within 0.5 s (" in done.stdout
    said = {
        "trickle": f"lfg: could not download {url}: not done within 0.5 s (",
        "silent": f"lfg: could not download {url}: it sent nothing for 0.5 s: given up; nothing installed",
    }[route]
    assert _refused(machine, done, "slow").startswith(said)


def test_a_download_slower_than_the_minimum_pace_is_given_up_before_its_deadline(tmp_path: Path) -> None:
    """A byte every 50 ms cannot bring 1 KiB in any 0.2 s window, on any machine."""
    limits = Limits(deadline_s=600 * PATIENCE, pace_window_s=0.2, pace_min_bytes=1024)
    with served(tmp_path / "registry") as registry, pytest.raises(DownloadFailed) as failed:
        download(f"{registry.url}/trickle/slow.tar.gz", io.BytesIO(), limits)
    assert failed.value.why.endswith(", under 1024 bytes per 0.2 s: given up")


def test_a_redirect_is_followed_to_http_from_http_and_said_but_never_elsewhere(
    machine: Machine, tmp_path: Path
) -> None:
    with served(tmp_path / "registry") as registry:
        digest = registry.archive("tiny.tar.gz", {"bin/agent": b"#!/bin/sh\necho tiny\n"})
        target = f"{registry.url}/tiny.tar.gz"
        moved = f"{registry.url}/redirect/tiny.tar.gz?to={target}"
        registry.publish(binary_agent("tiny", "1.0.0", this_platform(), moved, digest))
        done = machine.lfg(registry.index, "install", "tiny", "--yes")
        registry.publish(
            binary_agent("ftp", "1.0.0", this_platform(), f"{registry.url}/redirect/x.tgz?to=ftp://x/y", None)
        )
        refused = machine.lfg(registry.index, "install", "ftp", "--yes")
    assert done.returncode == 0, done.stderr
    assert f"  the download was redirected to: {target}\n" in done.stdout
    assert machine.installed()["tiny"]["redirects"] == [target]
    assert (
        f"{registry.url}/redirect/x.tgz?to=ftp://x/y: it redirected to ftp://x/y, which is not https: refused"
        in _refused(machine, refused, "ftp")
    )


def test_a_redirect_from_https_goes_only_to_https() -> None:
    request = urllib.request.Request("https://example.com/agent.tar.gz")
    to_plain = _Redirects(plain_allowed=False)
    with pytest.raises(
        DownloadFailed, match=r"it redirected to http://mirror/agent\.tar\.gz, which is not https"
    ):
        to_plain.redirect_request(
            request, io.BytesIO(), 302, "Found", Message(), "http://mirror/agent.tar.gz"
        )
    assert to_plain.hops == []
    to_tls = _Redirects(plain_allowed=False)
    assert to_tls.redirect_request(request, io.BytesIO(), 302, "Found", Message(), "https://m/a") is not None
    assert to_tls.hops == ["https://m/a"]


def test_the_plan_shows_plain_http_and_the_registrys_bidi_controls_for_what_they_are(
    machine: Machine, tmp_path: Path
) -> None:
    with served(tmp_path / "registry") as registry:
        agent = binary_agent("tiny", "1.0.0", this_platform(), f"{registry.url}/tiny\u202egz.tar.gz", None)
        agent["name"] = "Tiny \u202eevil\u202c"
        agent["distribution"]["binary"][this_platform()]["args"] = ["--x\u2066y"]
        registry.publish(agent)
        done = machine.lfg(registry.index, "install", "tiny", answer="n\n")
    assert done.returncode == 1 and "Nothing installed." in done.stdout
    plan = done.stdout
    assert "\u202e" not in plan and "\u2066" not in plan
    assert "Install Tiny <U+202E>evil<U+202C> (tiny) 1.0.0" in plan
    assert f"lfg will download: {registry.url}/tiny<U+202E>gz.tar.gz\n" in plan
    assert "--x<U+2066>y" in plan
    assert (
        "PLAIN HTTP: not encrypted, so anyone on the way can change what lfg downloads, and nothing checks it"
        in plan
    )
    assert json.dumps(machine.installed()) == "{}"


@pytest.mark.parametrize("name", ["many.tar.gz", "many.zip"])
def test_an_archive_of_more_files_than_the_limit_is_refused_before_any_is_written(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unpacking, "MAX_MEMBERS", 3)
    archive, folder = tmp_path / name, tmp_path / "agent"
    folder.mkdir()
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w") as written:
            for number in range(4):
                written.writestr(f"file{number}", b"x")
    else:
        with tarfile.open(archive, "w:gz") as written:
            for number in range(4):
                info = tarfile.TarInfo(f"file{number}")
                info.size = 1
                written.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(unpacking.UnsafeArchive, match="the archive holds more than 3 members: refused"):
        unpacking.unpack(archive, name, folder, Limits(max_bytes=MIB))
    assert list(folder.iterdir()) == []


def test_a_registry_that_trickles_its_index_is_given_up_at_the_registry_timeout(
    machine: Machine, tmp_path: Path
) -> None:
    """`lfg agents install` reads the index first: a registry sending a byte at a time must not
    hold it (nor `--registry`) for ever; the bundled snapshot serves instead, the reason said."""
    with served(tmp_path / "registry") as registry:
        url = f"{registry.url}/trickle/registry.json"
        done = machine.lfg(url, "--registry", "--registry-timeout", "0.5")
    assert done.returncode == 0, done.stderr
    assert (
        f"the snapshot bundled with lfg of 2026-02-07 (the registry at {url} could not be read: "
        "not done within 0.5 s (0.0 MiB so far; --registry-timeout gives it longer))" in done.stdout
    )
