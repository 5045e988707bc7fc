"""An ACP registry served for real on 127.0.0.1 (a folder with `registry.json` and the archives it
names), the npm and node an install finds on its PATH (stand-ins at the network boundary: npm would
reach the npm registry; `Registry.npm_package` serves one for the real npm instead), and
`lfg agents` run as a subprocess in its own data and cache folders."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.patience import PATIENCE

NODE_VERSION = "v20.20.2"
"""What the stand-in `node` says: the Node of the issue's machine, older than claude-agent-acp 0.101's."""


class _Served(SimpleHTTPRequestHandler):
    """The folder's files, and the servers an install must not trust: `/trickle/NAME` announces a
    MiB and sends a byte at a time, `/silent/NAME` sends its headers and nothing more (both until the
    client leaves or the registry stops), `/redirect/PATH?to=URL` answers 302 to URL."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", query.removeprefix("to="))
            self.end_headers()
        elif path.startswith(("/trickle/", "/silent/")):
            self.send_response(200)
            self.send_header("Content-Length", str(1024 * 1024))
            self.end_headers()
            self.wfile.flush()
            trickles = path.startswith("/trickle/")
            while not self.server.stopping.wait(0.05):
                if trickles:
                    try:
                        self.wfile.write(b"x")
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up
        else:
            super().do_GET()


class _Server(ThreadingHTTPServer):
    stopping: threading.Event


class Registry:
    """A folder served over HTTP: `registry.json` and the archives an agent's `binary` names."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_Served, directory=str(folder))
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.stopping = threading.Event()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def index(self) -> str:
        return f"{self.url}/registry.json"

    def publish(self, *agents: dict[str, Any]) -> None:
        (self.folder / "registry.json").write_text(json.dumps({"version": "1.0.0", "agents": list(agents)}))

    def archive(
        self,
        name: str,
        members: dict[str, bytes],
        links: dict[str, str] | None = None,
        hard_links: dict[str, str] | None = None,
    ) -> str:
        """A .tar.gz served as `name` holding `members` (executable), symbolic `links` and
        `hard_links`; its sha256."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for member, content in members.items():
                info = tarfile.TarInfo(member)
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
            for kind, named in ((tarfile.SYMTYPE, links), (tarfile.LNKTYPE, hard_links)):
                for member, target in (named or {}).items():
                    info = tarfile.TarInfo(member)
                    info.type, info.linkname = kind, target
                    tar.addfile(info)
        return self.file(name, buffer.getvalue())

    def file(self, name: str, content: bytes) -> str:
        """`content` served as `name`; its sha256 (an archive built by the test, byte for byte)."""
        (self.folder / name).write_bytes(content)
        return hashlib.sha256(content).hexdigest()

    def npm_package(self, name: str, version: str, files: dict[str, str]) -> None:
        """Serve `name`@`version` the way the npm registry does (its document at `/NAME`, its
        tarball under `/tarballs/`), holding `files` (`package.json` among them) under `package/`."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for member, text in files.items():
                info = tarfile.TarInfo(f"package/{member}")
                info.size, info.mode = len(text.encode()), 0o755
                tar.addfile(info, io.BytesIO(text.encode()))
        tarball = f"tarballs/{name}-{version}.tgz"
        (self.folder / "tarballs").mkdir(exist_ok=True)
        (self.folder / tarball).write_bytes(buffer.getvalue())
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(buffer.getvalue()).digest()).decode()
        manifest = json.loads(files["package.json"]) | {
            "dist": {"tarball": f"{self.url}/{tarball}", "integrity": integrity}
        }
        document = {"name": name, "dist-tags": {"latest": version}, "versions": {version: manifest}}
        (self.folder / name).write_text(json.dumps(document))

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def served(folder: Path) -> Iterator[Registry]:
    registry = Registry(folder)
    try:
        yield registry
    finally:
        registry.stop()


def npx_agent(agent_id: str, version: str, package: str, **more: Any) -> dict[str, Any]:
    return {
        "id": agent_id,
        "name": more.pop("name", agent_id.title()),
        "version": version,
        "description": more.pop("description", f"the {agent_id} agent"),
        "distribution": {"npx": {"package": package, **more}},
    }


def binary_agent(
    agent_id: str, version: str, platform: str, archive: str, sha256: str | None
) -> dict[str, Any]:
    target: dict[str, Any] = {"archive": archive, "cmd": "./bin/agent", "args": ["acp"]}
    if sha256 is not None:
        target["sha256"] = sha256
    return {
        "id": agent_id,
        "name": agent_id.title(),
        "version": version,
        "description": "an agent shipped as an archive",
        "distribution": {"binary": {platform: target}},
    }


FAKE_NPM = """#!{python}
import json, os, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
with open({env_log!r}, "a") as log:
    log.write(json.dumps(sorted(os.environ)) + "\\n")
if args[0] != "install":
    sys.exit(0)
prefix, spec = args[args.index("--prefix") + 1], args[-1]
name = spec[: spec.find("@", 1)] if spec.find("@", 1) > 0 else spec
package = os.path.join(prefix, "node_modules", name)
os.makedirs(package)
with open(os.path.join(package, "package.json"), "w") as out:
    engines = {{"node": open({engines!r}).read()}}
    json.dump({{"name": name, "bin": {{"fake-agent": "agent.js"}}, "engines": engines}}, out)
with open(os.path.join(package, "agent.js"), "w") as out:
    out.write("#!/bin/sh\\necho agent\\n")
os.chmod(os.path.join(package, "agent.js"), 0o755)
os.makedirs(os.path.join(prefix, "node_modules", ".bin"))
os.symlink(os.path.join("..", name, "agent.js"), os.path.join(prefix, "node_modules", ".bin", "fake-agent"))
"""


class Machine:
    """`lfg agents` in its own data and cache folders, with a PATH holding only a stand-in npm and node."""

    def __init__(self, tmp_path: Path) -> None:
        self.data = tmp_path / "data"
        self.cache = tmp_path / "cache"
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.npm_log = tmp_path / "npm.log"
        self.npm_log.write_text("")
        self.npm_env_log = tmp_path / "npm-env.log"
        self.npm_env_log.write_text("")
        self.engines = tmp_path / "engines"
        self.engines.write_text(">=18")
        self.config = tmp_path / "config.toml"
        self.config.write_text("")
        (self.bin / "npm").write_text(
            FAKE_NPM.format(
                python=sys.executable,
                log=str(self.npm_log),
                env_log=str(self.npm_env_log),
                engines=str(self.engines),
            )
        )
        (self.bin / "node").write_text(f"#!/bin/sh\necho {NODE_VERSION}\n")
        for program in ("npm", "node"):
            (self.bin / program).chmod(0o755)
        self.env = {
            "PATH": str(self.bin),
            "XDG_DATA_HOME": str(self.data),
            "XDG_CACHE_HOME": str(self.cache),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "HOME": str(tmp_path),
        }

    def use_real_npm(self, registry: Registry, cache: Path) -> None:
        """The npm and node installed on this machine instead of the stand-ins, reaching no registry
        but `registry` (npm's settings in the environment, as a person's would be)."""
        for program in ("npm", "node", "sh"):  # npm runs a package's scripts with the `sh` on the PATH
            found = shutil.which(program)
            if found is None:
                message = f"no {program} on this machine's PATH: install Node.js and npm"
                if os.environ.get("CI"):
                    pytest.fail(f"CI must run the real npm's install tests: {message}")
                pytest.skip(message)
            (self.bin / program).unlink(missing_ok=True)
            (self.bin / program).symlink_to(found)
        self.env |= {
            "npm_config_registry": f"{registry.url}/",
            "npm_config_cache": str(cache),
            "npm_config_audit": "false",
            "npm_config_fund": "false",
            "npm_config_update_notifier": "false",
        }

    @property
    def agents(self) -> Path:
        return self.data / "lfgtui" / "agents"

    def npm_calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.npm_log.read_text().splitlines()]

    def npm_environments(self) -> list[list[str]]:
        """The names of the variables each npm call was given."""
        return [json.loads(line) for line in self.npm_env_log.read_text().splitlines()]

    def installed(self) -> dict[str, Any]:
        path = self.agents / "installed.json"
        return json.loads(path.read_text())["agents"] if path.exists() else {}

    def lfg(self, url: str, *args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "lfgtui",
                "agents",
                "--config",
                str(self.config),
                "--registry-url",
                url,
                *args,
            ],
            env=self.env,
            input=answer,
            capture_output=True,
            text=True,
            timeout=60 * PATIENCE,
        )
