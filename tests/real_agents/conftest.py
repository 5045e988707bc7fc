"""The real coding agents (installed from npm at the versions package-lock.json pins) against lfg's sim.

Each test gets its own world: a home folder the agents keep their settings and sessions in (never the
person's), a project folder, and an in-process `SimServer` on a free loopback port that answers the
agents' own model names with scenarios (the model map `lfg sim serve --model` takes). Every agent is
pointed at it with a made-up key, so nothing reaches the network and no real key is needed.

`npm ci --prefix tests/real_agents` installs the agents; without them the tests are skipped, except
under CI (the variable `CI` set), where a missing agent fails: CI must not pass by skipping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lfgtui.config.load import Config
from lfgtui.cost.metrics import MIN_STREAM_S
from lfgtui.events import LFG_CALL
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.sim.model_map import ModelMap, parse_rule
from lfgtui.sim.offline_agents import MODEL_MAP, agents_bin, offline_env, settle_agents_home
from lfgtui.sim.scenario import ScenarioLibrary
from lfgtui.sim.server import RequestRecord, SimServer
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS
from lfgtui.ui.app import LfgApp
from lfgtui.ui.screens.modals import FollowUpScreen
from lfgtui.ui.widgets.pane import PaneState, TicketPane
from tests.support import warm_lfg
from tests.support.app import keys, until
from tests.support.box import NOBODY, USERS, python_path, users_python
from tests.support.compose import lfg_app
from tests.support.engines import dockerd, engine  # noqa: F401 (fixtures: the container box's)
from tests.support.normal_user import UID, as_nobody, owned_by_nobody
from tests.support.patience import PATIENCE

AS_EACH_USER = pytest.mark.parametrize("world", list(USERS), indirect=True)
"""A test run in a world of each of `USERS`: as root, by root and by `nobody` (the whole run, its
agents and git as nobody, in a world of nobody's: tests/support/normal_user.py)."""

AGENTS_BIN = agents_bin(Path(__file__).resolve().parents[2])
"""The pinned agents' programs (`npm ci --prefix tests/real_agents`)."""

RUN_TIMEOUT_S = 240.0
"""How long one `lfg run` of real agents may take before the test fails (they start slowly: a
loaded two-core machine takes tens of seconds for Node to load an agent)."""

IDLE_TIMEOUT_S = 30
"""The `idle_timeout_s` a stall test gives the agent's provider (`AgentWorld.idle_timeout`)."""

STALL = """
    ttft_ms = 50
    tokens_per_s = 100
    [[call]]
    text = "Working on it, one moment please."
    [[fault]]
    kind = "stall"
    call = 0
    after_tokens = 4
    """
"""A scenario whose answer goes silent after its fourth token, its connection left open."""


def agent_program(provider: str) -> Path:
    """The installed program of a built-in agent provider (`claude-code`, `gemini`, `codex`); a missing
    one skips the test, or fails it under CI."""
    program = AGENTS_BIN / BUILTIN[provider].agent.command[0]
    if not program.exists():
        message = f"{program} is not installed: run npm ci --prefix tests/real_agents"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the real agents: {message}")
        pytest.skip(message)
    return program


@dataclass
class AgentWorld:
    """One test's folders, environment and sim, and `lfg` run in them."""

    root: Path
    sim: SimServer
    scenarios: Path  # the sim's folder of this test's own scenarios
    nobody: bool = False
    """Whether lfg, its git and its agents run as `nobody`, owning the world (`as_user`)."""
    groups: tuple[int, ...] = ()
    """The supplementary groups nobody runs with (the docker group, for its daemon's socket)."""
    bare_python: str | None = None
    """A Python nobody may run, where lfg must run as nobody with no bubblewrap around it
    (`use_engine`: rootless podman maps its ids with the setuid `newuidmap`, which `as_nobody`'s
    bubblewrap, setting no-new-privileges, disarms)."""
    home: Path = field(init=False)
    project: Path = field(init=False)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.project = self.root / "project"
        for folder in (self.home, self.project, self.root / "tmp"):
            folder.mkdir(parents=True)
        (self.project / "README.md").write_text("# Widget\nRenders widgets.\n")
        self.env = offline_env(os.environ, self.root, self.sim.url, AGENTS_BIN)
        if self.nobody:  # where its rootless podman keeps its state, of its own
            self.runtime.mkdir(mode=0o700)
            self.env["XDG_RUNTIME_DIR"] = str(self.runtime)
        settle_agents_home(self.home, self.sim.url)

    @property
    def runtime(self) -> Path:
        return self.root / "run"

    def use_engine(self, name: str) -> None:
        """A container box's engine, reached as a person reaches it: the private dockerd's socket
        (`DOCKER_HOST`) through its group; rootless podman's setuid id mappers left to work."""
        if name == "docker" and "DOCKER_HOST" in os.environ:
            self.env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
            self.groups = (grp.getgrnam("docker").gr_gid,)
        if name == "podman" and self.nobody:
            self.bare_python = users_python(NOBODY)
            if self.bare_python is None:
                why = f"nobody may run no Python {sys.version_info.major}.{sys.version_info.minor} here"
                if os.environ.get("CI"):
                    pytest.fail(f"{why}, and CI is set")
                pytest.skip(why)
            self.env["PYTHONPATH"] = python_path()  # lfg and its packages, from this checkout

    @property
    def db(self) -> Path:
        return self.root / "history.sqlite3"

    def config(self, toml: str) -> None:
        """lfg's config.toml (where `lfg` looks for it in this home)."""
        path = Path(self.env["XDG_CONFIG_HOME"]) / "lfgtui" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(toml))

    def idle_timeout(self, provider: str) -> None:
        """lfg's config: `provider` fails as `timeout` once its agent is silent mid-turn for
        `IDLE_TIMEOUT_S`, and is said to stall at half of that."""
        self.config(f"[providers.{provider}]\nidle_timeout_s = {IDLE_TIMEOUT_S}\n")

    def scenario(self, name: str, toml: str) -> str:
        """A scenario of this test's own (the sim picks it by its name); its name."""
        (self.scenarios / f"{name}.toml").write_text(textwrap.dedent(toml))
        return name

    def map_models(self, *rules: str) -> None:
        """The sim answers model names by these `PATTERN=SCENARIO` rules (the first match wins), and
        any other name with `hello`, as `lfg sim serve --model` does."""
        self.sim.models = ModelMap(tuple(parse_rule(rule) for rule in rules), unknown="hello")

    def tickets(self, toml: str) -> Path:
        path = self.root / "tickets.toml"
        path.write_text(textwrap.dedent(toml))
        return path

    def ticket(self, provider: str, prompt: str, **fields: Any) -> Path:
        """A tickets file of one ticket `t` run by `provider` in the project folder."""
        agent_program(provider)
        lines = ["[[ticket]]", 'id = "t"', f"prompt = {json.dumps(prompt)}", f'provider = "{provider}"']
        lines += [f"workdir = {json.dumps(str(self.project))}"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in fields.items()]
        return self.tickets("\n".join(lines) + "\n")

    @property
    def uid(self) -> int:
        """The user lfg runs as."""
        return UID if self.nobody else os.getuid()

    def as_user(self, argv: list[str]) -> list[str]:
        """`argv` as it runs in this world: as root, or as nobody (the world made nobody's first)."""
        if not self.nobody:
            return argv
        owned_by_nobody(self.root)
        if self.bare_python is not None:
            wrapped = [*NOBODY, *(self.bare_python if part == sys.executable else part for part in argv)]
        else:
            wrapped = as_nobody(argv, reach=(self.root, AGENTS_BIN))
        if self.groups:
            at = wrapped.index("--clear-groups")
            wrapped[at : at + 1] = ["--groups", ",".join(str(group) for group in self.groups)]
        return wrapped

    def close(self) -> None:
        """The pause process nobody's rootless podman left, if it ran one."""
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((self.runtime / "libpod" / "tmp" / "pause.pid").read_text()), signal.SIGKILL)

    def lfg_args(self, *args: str) -> list[str]:
        return self.as_user([sys.executable, "-m", "lfgtui", *args])

    async def lfg(self, *args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """`lfg ARGS` to its end, on this loop (the sim answers on it meanwhile)."""
        process = await warm_lfg.create_subprocess_exec(
            *self.lfg_args(*args),
            cwd=self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout * PATIENCE)
        except TimeoutError:
            process.kill()
            stdout, stderr = await process.communicate()
            pytest.fail(f"lfg {' '.join(args)} did not end: {stderr.decode()[-4000:]}")
        return subprocess.CompletedProcess(args, process.returncode or 0, stdout.decode(), stderr.decode())

    def app(self, tickets: Path) -> LfgApp:
        """The TUI running `tickets`, for `run_test` (in `in_world`, whose environment the agents get)."""
        loaded = load_tickets(tickets, Config(path=None), BUILTIN_TOOLS)
        return lfg_app(loaded.tickets, Providers())

    async def run(self, tickets: Path, *extra: str) -> Run:
        """`lfg run TICKETS --json` recorded into this world's history."""
        done = await self.lfg("run", str(tickets), "--json", "--db", str(self.db), *extra)
        return Run(done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr)


FIVES = ("quick", "brown", "foxes", "jumps", "above", "lazy.", "dogs,", "every", "night", "under")
"""Five-letter words: each a sim token of 6 characters with its space, as long as the pieces the sim
streams a tool call's arguments in, so an agent's tokens per character are the same in both."""


def prose(words: int, line: int = 12, start: int = 0) -> str:
    """`words` five-letter words from the `start`th, `line` a line, none the same (a letter of `FIVES`
    and a number): Gemini CLI ends a turn whose text repeats itself as a loop."""
    chosen = [f"{FIVES[i % len(FIVES)][0]}{i:04d}" for i in range(start, start + words)]
    return "\n".join(" ".join(chosen[i : i + line]) for i in range(0, words, line))


PLAIN_TURN = f"""
    ttft_ms = 300
    tokens_per_s = 60
    [[call]]
    text = "{prose(90, line=90, start=3000)}"
    """
"""A scenario: a paragraph at 60 tok/s, no tool: a count whose characters lfg knows all of."""


def tool_turn(tool_call: str, before: int = 8, after: int = 16) -> str:
    """A scenario: a line of `before` words, `tool_call` (a `[[call.tool_call]]` table), a line of
    `after`, at 60 tok/s. As it is, a short turn where the call's input is a good share of what the
    agent counts."""
    return f"""
        ttft_ms = 300
        tokens_per_s = 60
        [[call]]
        text = "{prose(before, line=before, start=4000)}"
        {textwrap.indent(textwrap.dedent(tool_call), "        ").strip()}
        [[call]]
        text = "{prose(after, line=after, start=5000)}"
        """


def bash_then_done(command: str) -> str:
    """A scenario: Claude Code's `Bash` runs `command`, then the turn ends saying so."""
    arguments = json.dumps({"command": command, "description": "Write the notes"})
    return f"""
    ttft_ms = 50
    tokens_per_s = 200
    [[call]]
    text = "I'll write the notes."
    [[call.tool_call]]
    name = "Bash"
    arguments_raw = '{arguments}'
    [[call]]
    text = "Done."
    """


async def after_a_plain_turn(
    world: AgentWorld, tickets: Path, answer: Callable[[str], None], tool_call: str
) -> Run:
    """Issue 33: a run of a plain turn, then one of a short turn around `tool_call` (the sim answering
    the agent's model names with each, through `answer`), both `--yes` into the world's history:
    the first teaches the history what a character of the model's output is worth, which the
    second's agent count, holding a call's input lfg may never have seen, is rated with."""
    answer(world.scenario("plain", PLAIN_TURN))
    plain = await world.run(tickets, "--yes")
    assert plain.code == 0, f"{plain.ending()['error']} {plain.statuses()}"
    answer(world.scenario("short", tool_turn(tool_call)))
    run = await world.run(tickets, "--yes")
    assert run.code == 0, f"{run.ending()['error']} {run.statuses()}"
    with sqlite3.connect(world.db) as conn:
        (per_char,) = conn.execute("SELECT tokens_per_char FROM requests ORDER BY rowid DESC").fetchone()
    assert per_char == pytest.approx(1 / 6, rel=0.02), "the first run's count, a token each 6 characters"
    return run


CALLS = ("tool_call", "tool_call_update")


def agent_turns(world: AgentWorld, scenario: str, tool: str) -> list[RequestRecord]:
    """The model calls of the agent's turn, answered by `scenario`: those offering its tool (Claude
    Code also asks its main model a side question, with no tools, that its count leaves out), or
    going on from a response whose request did (Codex, over the Responses API's WebSocket mode,
    sends its tools once, in a warm-up that generates nothing)."""
    return [
        r
        for r in world.sim.log
        if r.scenario == scenario
        and r.usage is not None
        and (f'"{tool}"' in json.dumps(r.body.get("tools")) or "previous_response_id" in r.body)
    ]


def received_pace(events: list[dict[str, Any]], tokens: list[int]) -> float:
    """The pace lfg received the turn's output at: model call i's `tokens[i]` (as the sim counted
    them) after its first, over the time from its first text chunk to the last update that gave
    more of its tool call's input (Claude Code sends a `Write`'s path as the model writes it, the
    content once it is whole) or, for a call lfg sees only the agent's account of (Codex's `exec`
    script), to its showing; to its last text chunk for a call with no tool; all from the NDJSON's
    own times. lfg's own rows for a write the agent asked of it are not the model's. As lfg counts
    (lfgtui/cost/metrics.py): input that came within `MIN_STREAM_S` of the text before it came at no
    time of its own, and a call whose output all came within it is a burst that counts for nothing
    (under load an agent's updates arrive bunched: a CI run got a 22 ms text and its input 20 ms
    later, which lfg rightly left out and this once counted)."""
    spans: list[tuple[float, int]] = []
    first = last = given = None
    inputs: dict[str, Any] = {}

    def span() -> tuple[float, int]:
        assert first is not None and last is not None
        end = given if given is not None and given - last >= MIN_STREAM_S else last
        return end - first, tokens[len(spans)] if len(spans) < len(tokens) else 0

    for event in [e for e in events if e["ticket"] == "t"]:
        if event["type"] == "text" and event["text"]:
            if given is not None:
                spans.append(span())
                first = given = None
            first = event["t"] if first is None else first
            last = event["t"]
        elif event["type"] in CALLS and first is not None and not event["id"].startswith(LFG_CALL):
            arguments = event.get("arguments")
            if event["id"] not in inputs or (arguments and arguments != inputs[event["id"]]):
                inputs[event["id"]] = arguments
                given = event["t"]
    if first is not None:
        spans.append(span())
    assert len(spans) == len(tokens), f"a span for each model call: {spans} {tokens}"
    streamed = [(time, count) for time, count in spans if time >= MIN_STREAM_S]
    assert streamed, f"some output streamed over time: {spans}"
    return sum(count - 1 for _, count in streamed) / sum(time for time, _ in streamed)


@dataclass
class Run:
    """One `lfg run --json`: its exit code, its NDJSON events and its stderr."""

    code: int
    events: list[dict[str, Any]]
    stderr: str

    def of(self, kind: str, ticket: str = "t") -> list[dict[str, Any]]:
        return [e for e in self.events if e["ticket"] == ticket and e["type"] == kind]

    def of_all(self, ticket: str = "t") -> list[dict[str, Any]]:
        """The ticket's events, for a failure message that must show when each came."""
        return [e for e in self.events if e["ticket"] == ticket]

    def text(self, ticket: str = "t", kind: str = "text") -> str:
        return "".join(e["text"] for e in self.of(kind, ticket))

    def ending(self, ticket: str = "t") -> dict[str, Any]:
        endings = self.of("attempt_ended", ticket)
        assert endings, f"no attempt ended: {self.stderr[-4000:]}"
        return endings[-1]

    def calls(self, ticket: str = "t") -> dict[str, dict[str, Any]]:
        """Each tool call as it finally reads (its `tool_call` with every `tool_call_update` merged),
        by id, with its result under `result`."""
        calls: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if event["ticket"] != ticket:
                continue
            if event["type"] in ("tool_call", "tool_call_update"):
                calls.setdefault(event["id"], {}).update(event)
            elif event["type"] == "tool_result":
                calls[event["id"]]["result"] = event
        return calls

    def statuses(self, ticket: str = "t") -> list[str]:
        return [e["message"] for e in self.of("status", ticket)]

    @property
    def run_id(self) -> str:
        """The id the run is recorded under in the history, as `lfg run` says."""
        return self.stderr.split("recorded as run ", 1)[1].split()[0]


def timed_out_keeping_what_arrived(run: Run) -> None:
    """Assert that the run of ticket `t`, whose agent went silent mid-answer (`STALL`), was said to
    stall, failed as `timeout` after `IDLE_TIMEOUT_S`, and kept the text that arrived."""
    assert run.code == 1
    end = run.ending()
    assert end["outcome"] == "failed" and end["error"]["kind"] == "timeout"
    said = f"sent nothing for {IDLE_TIMEOUT_S} s while its turn was under way (idle_timeout_s)"
    assert said in end["error"]["message"]
    [stalled] = run.of("stalled")
    assert stalled["message"].startswith(f"stalled: no update from the agent for {IDLE_TIMEOUT_S // 2} s")
    assert run.text() == "Working on it, one", "what arrived is kept"


@pytest.fixture
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AgentWorld]:
    """A world whose sim listens on a free port with examples/agents-offline.toml's model map; lfg
    runs in it as root, or as nobody where a test is marked `AS_EACH_USER`."""
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    async with SimServer(ScenarioLibrary(extra_dirs=(scenarios,))) as sim:
        world = AgentWorld(tmp_path / "world", sim, scenarios, getattr(request, "param", "") == "nobody")
        world.map_models(*MODEL_MAP)
        try:
            yield world
        finally:
            world.close()


@pytest.fixture
def var_tmp_path() -> Iterator[Path]:
    """A test's folder under `/var/tmp`, for a module's `tmp_path`: nobody may reach it without
    `as_nobody`'s bubblewrap (pytest's is root's only), which a rootless podman needs; and it is not
    under the box's `/tmp` (Codex refuses a home there)."""
    folder = Path("/var/tmp") / f"lfg-agents-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def in_world(world: AgentWorld, monkeypatch: pytest.MonkeyPatch) -> AgentWorld:
    """`world`, whose environment is this process's too: for the app run in the test (`run_test`),
    which starts the agents with it."""
    for name in list(os.environ):
        if name not in world.env:
            monkeypatch.delenv(name)
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(world.project)
    return world


def agent_processes(world: AgentWorld, program: str) -> list[int]:
    """The live processes working in this world's folders whose program (or the script Node runs) is
    named `program` or starts with it: `codex` finds codex-acp, Codex's app server and its helpers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                cwd = (entry / "cwd").readlink()
            except OSError:
                continue
            named = any(Path(part.decode(errors="replace")).name.startswith(program) for part in cmdline[:2])
            if named and state != "Z" and cwd.is_relative_to(world.root.resolve()):
                found.append(int(entry.name))
    return found


async def no_agent_left(world: AgentWorld, program: str) -> bool:
    """Whether the agent (every process `agent_processes` finds) is gone, allowing it the moment its
    death takes (bounded)."""
    for _ in range(round(400 * PATIENCE)):
        if not agent_processes(world, program):
            return True
        await asyncio.sleep(0.025)
    return False


async def follow_up(
    app: LfgApp, pilot: Any, pane: TicketPane, words: str, attempt: int, timeout: float
) -> None:
    """A follow-up to the pane's ticket, typed as a person does, until it has completed as `attempt`."""
    pane.shown.focus()
    await pilot.press("i")
    assert isinstance(app.screen, FollowUpScreen)
    await pilot.press(*keys(words), "enter")
    await until(pilot, lambda: pane.attempt == attempt and pane.state is PaneState.COMPLETED, timeout)


def git(world: AgentWorld, *args: str) -> str:
    """`git -C PROJECT ARGS` as the world's user; a failure says what git (or the wrapper that makes
    it nobody) printed (a CI run failed `config user.name` as nobody with exit 1 and no word)."""
    done = subprocess.run(
        world.as_user(["git", "-C", str(world.project), *args]), env=world.env, capture_output=True, text=True
    )
    assert done.returncode == 0, f"git {' '.join(args)}: exit {done.returncode}: {done.stderr}{done.stdout}"
    return done.stdout.strip()


def project_repository(world: AgentWorld) -> str:
    """The project folder made a git repository of one commit, whose worktrees lfg keeps in the
    world; its commit."""
    world.env |= {"LFG_WORKTREES": str(world.root / "trees"), "GIT_CONFIG_NOSYSTEM": "1"}
    world.env["GIT_CEILING_DIRECTORIES"] = str(world.root)
    git(world, "init", "-q", "-b", "main")
    git(world, "config", "user.name", "Test")
    git(world, "config", "user.email", "test@example.com")
    git(world, "add", "README.md")
    git(world, "commit", "-q", "-m", "first")
    return git(world, "rev-parse", "HEAD")
