"""A ticket's MCP servers reach its coding agent: in `session/new` through the real `lfg run`, in
`session/load` when a resumed run follows up, only as the agent says it takes them, and listed in the
pane. The sim agent records what each session request brought (`--mcp-record`)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from acp import schema

from lfgtui.config.load import load_config
from lfgtui.config.mcp import McpServer
from lfgtui.events import ErrorKind, EventFactory, Outcome, SessionOpened, Status
from lfgtui.history.store import Selection, Store
from lfgtui.history.writer import reopen_run_history
from lfgtui.providers.base import ProviderError
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.registry import Providers
from lfgtui.run import Run
from lfgtui.run.agents.attempt import run_acp
from lfgtui.run.agents.launch import MCP_START_MS, AgentLaunch
from lfgtui.run.agents.mcp import session_servers, taken
from lfgtui.run.approvals import Approvals
from lfgtui.run.seeds import earlier_of_each
from lfgtui.run.tool_loop import AttemptTask
from lfgtui.tickets.load import load_tickets
from lfgtui.tools import BUILTIN_TOOLS, ToolContext
from lfgtui.tools.toolbox import Toolbox
from tests.support.agents import FAST, ending, no_agent_left, of, sim_agent
from tests.support.agents import Approvals as Answer
from tests.support.agents import mcp_recording_agent as agent
from tests.support.agents import mcp_requests as requests
from tests.support.app import SIZE, until
from tests.support.compose import lfg_app
from tests.support.lfg import Lfg, text
from tests.support.lfg import of as of_ticket
from tests.support.recording import load_recorded
from tests.support.streams import ask

SECRET = "s3cret-value"
GIVEN_ENV = {"PATH": os.environ["PATH"], "DOCS_TOKEN": "d0cs"}
DOCS = McpServer("docs", "stdio", command="sh", args=("-c", "exit 0"), env=("DOCS_TOKEN",))
SEARCH = McpServer(
    "search",
    "http",
    url="https://mcp.example.com/mcp",
    headers=(("Authorization", "Bearer ${SEARCH_TOKEN}"),),
)


SERVERS = (
    '[mcp_servers.docs]\ncommand = "sh"\nargs = ["-c", "exit 0"]\nenv = ["DOCS_TOKEN"]\n'
    '[mcp_servers.search]\nurl = "https://mcp.example.com/mcp"\n'
    'headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }\n'
)
TICKETS = """
[[ticket]]
id = "both"
prompt = "What is this?"
provider = "wide"
mcp_servers = ["docs", "search"]

[[ticket]]
id = "http"
prompt = "What is this?"
provider = "narrow"
mcp_servers = ["search"]

[[ticket]]
id = "stdio"
prompt = "What is this?"
provider = "narrow"
mcp_servers = ["docs"]
"""


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    isolated = Lfg(tmp_path)
    isolated.env |= {
        "XDG_STATE_HOME": str(isolated.home / "state"),
        "DOCS_TOKEN": "d0cs",
        "SEARCH_TOKEN": SECRET,
    }
    sessions = tmp_path / "sessions"
    wide = agent("wide", tmp_path / "wide.jsonl", sessions, "--mcp", "http")
    narrow = agent("narrow", tmp_path / "narrow.jsonl", sessions)
    isolated.config.write_text(wide + narrow + SERVERS)
    return isolated


def test_the_tickets_servers_reach_the_agent_in_session_new_only_as_it_takes_them(
    lfg: Lfg, tmp_path: Path
) -> None:
    db = tmp_path / "history.sqlite3"
    code, events, stderr = lfg.run(lfg.tickets(TICKETS), "--db", str(db))
    assert code == 1, stderr
    sh = shutil.which("sh")
    assert sh is not None
    [wide] = requests(tmp_path / "wide.jsonl")
    assert wide == {
        "method": "session/new",
        "mcpServers": [
            {
                "name": "docs",
                "command": sh,
                "args": ["-c", "exit 0"],
                "env": [{"name": "DOCS_TOKEN", "value": "d0cs"}],
            },
            {
                "type": "http",
                "name": "search",
                "url": "https://mcp.example.com/mcp",
                "headers": [{"name": "Authorization", "value": f"Bearer {SECRET}"}],
            },
        ],
    }, "the program as an absolute path, each value from lfg's own environment"
    assert of_ticket(events, "both", "attempt_ended")[0]["outcome"] == "completed"
    notes = [e["message"] for e in of_ticket(events, "both", "status")]
    assert "MCP servers given to the agent (session/new): docs (stdio), search (http)" in notes
    assert text(events, "both").startswith(
        f"(the sim agent has MCP servers docs (stdio {sh} -c exit 0; env DOCS_TOKEN), "
        "search (http https://mcp.example.com/mcp; headers Authorization))"
    )

    [refused] = of_ticket(events, "http", "attempt_ended")
    assert (refused["outcome"], refused["error"]["kind"]) == ("failed", "bad_request")
    assert refused["error"]["message"].startswith(
        "the agent cannot take MCP server 'search' (http): it takes stdio servers only (the mcpCapabilities "
        "of its initialize answer)"
    )
    assert not of_ticket(events, "http", "text"), "refused before any prompt"
    [narrow] = requests(tmp_path / "narrow.jsonl")
    assert [s["name"] for s in narrow["mcpServers"]] == ["docs"], (
        "stdio is always taken; no session for 'http'"
    )
    assert of_ticket(events, "stdio", "attempt_ended")[0]["outcome"] == "completed"

    with Store.open(db) as store:
        [run] = store.list_runs(1)
        record = store.load(Selection(run.id))
    tickets = {t.row.ticket: t for t in record.tickets}
    assert json.loads(tickets["both"].row.mcp_servers)[1]["headers"] == [
        ["Authorization", "Bearer ${SEARCH_TOKEN}"]
    ]
    assert SECRET.encode() not in db.read_bytes(), "the history keeps a variable's name, never its value"


async def test_a_resumed_follow_up_gives_the_servers_to_session_load(
    lfg: Lfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lfg resume` runs the ticket with the servers it recorded: a new agent loads the session with them."""
    db = tmp_path / "history.sqlite3"
    one = TICKETS.split("[[ticket]]")[1]
    code, events, stderr = lfg.run(lfg.tickets("[[ticket]]" + one), "--db", str(db))
    assert code == 0, stderr
    [opened] = [e for e in of_ticket(events, "both", "status") if e["message"].startswith("agent session ")]
    with Store.open(db) as store:
        [run] = store.list_runs(1)
    recorded = load_recorded(db, run.id)
    [ticket] = recorded.as_tickets
    assert [server.name for server in ticket.mcp_servers] == ["docs", "search"]
    monkeypatch.setenv("DOCS_TOKEN", "d0cs-later")
    monkeypatch.setenv("SEARCH_TOKEN", SECRET)
    config = load_config(lfg.config, env={})
    async with (
        reopen_run_history(db, run.id, pytest.fail) as history,
        Providers(config.providers) as providers,
    ):
        assert history is not None
        resumed = Run(
            recorded.as_tickets, providers, Approvals(yes=True), [], earlier=earlier_of_each(recorded.tickets)
        )
        resumed.record(history)
        assert resumed.continue_with("both", "and then?")
        assert (await resumed.wait())["both"] is Outcome.COMPLETED
    new, load = requests(tmp_path / "wide.jsonl")
    assert (new["method"], load["method"]) == ("session/new", "session/load")
    assert load["mcpServers"][0]["env"] == [{"name": "DOCS_TOKEN", "value": "d0cs-later"}], (
        "values as they are now"
    )
    assert [s["name"] for s in load["mcpServers"]] == ["docs", "search"]
    [attempt] = [a for a in load_recorded(db, run.id).tickets[0].attempts if a.number == 2]
    [reopened] = [e for e in attempt.events if isinstance(e, SessionOpened)]
    assert reopened.loaded and opened["message"].endswith(reopened.session_id)
    notes = [e.message for e in attempt.events if isinstance(e, Status)]
    assert "MCP servers given to the agent (session/load): docs (stdio), search (http)" in notes


def test_an_agent_given_mcp_servers_gives_them_a_minute_to_start_unless_the_person_said() -> None:
    """Claude Code gives an MCP server 30 s to start, then goes on without its tools: lfg's own door
    took longer than that on a busy CI machine (tests/real_agents/test_claude_lead.py reads what the
    real one took)."""
    claude = BUILTIN["claude-code"]
    assert AgentLaunch(claude, {"PATH": "/bin"}, mcp_servers=(DOCS,)).environment("default")[
        "MCP_TIMEOUT"
    ] == str(MCP_START_MS)
    assert "MCP_TIMEOUT" not in AgentLaunch(claude, {"PATH": "/bin"}).environment(
        "default"
    )  # nothing to start
    own = AgentLaunch(claude, {"MCP_TIMEOUT": "90000"}, mcp_servers=(DOCS,)).environment("default")
    assert own["MCP_TIMEOUT"] == "90000", "the person's own value is theirs"
    assert "MCP_TIMEOUT" in claude.agent.env, "and it reaches the agent"
    codex = AgentLaunch(BUILTIN["codex"], {}, mcp_servers=(DOCS,)).environment("default")
    assert "MCP_TIMEOUT" not in codex, "an agent that reads no such variable is given none"


def test_stdio_is_always_taken_http_and_sse_as_the_agent_says() -> None:
    assert taken(None) == taken(schema.McpCapabilities()) == ("stdio",)
    assert taken(schema.McpCapabilities(http=True, sse=True)) == ("stdio", "http", "sse")
    with pytest.raises(ProviderError) as refused:
        session_servers(
            [DOCS, McpServer("old", "sse", url="https://x/sse")], schema.McpCapabilities(http=True), GIVEN_ENV
        )
    assert refused.value.info.message.startswith(
        "the agent cannot take MCP server 'old' (sse): it takes stdio and http servers only"
    )


async def test_a_server_that_cannot_be_given_when_the_session_opens_fails_the_attempt(
    project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A resumed ticket is not checked as a tickets file is: its server's variable may be unset now."""
    monkeypatch.delenv("DOCS_TOKEN", raising=False)
    record = tmp_path / "record.jsonl"
    launch = sim_agent("--mcp-record", str(record))
    toolbox = Toolbox({}, ToolContext(workdir=project, env={}), Answer())
    events = [
        e
        async for e in run_acp(
            AgentLaunch(launch.config, launch.env, None, (DOCS,)),
            AttemptTask(ask(f"hello:{FAST}")),
            EventFactory("t", 1),
            toolbox,
        )
    ]
    ended = ending(events)
    assert ended.outcome is Outcome.FAILED and ended.error is not None
    assert (ended.error.kind, ended.error.message) == (
        ErrorKind.BAD_REQUEST,
        "MCP server 'docs' cannot be given to the agent: it needs DOCS_TOKEN set in lfg's environment",
    )
    assert not of(events, SessionOpened) and requests(record) == []
    assert await no_agent_left(project)


async def test_the_pane_lists_the_tickets_mcp_servers_in_the_agent_detail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCS_TOKEN", "d0cs")
    path = tmp_path / "config.toml"
    path.write_text(SERVERS)
    config = load_config(path, env={})
    tickets = tmp_path / "tickets.toml"
    ticket = f'id = "h"\nprompt = "x"\nprovider = "sim-acp"\nmodel = "hello:{FAST}"\nmcp_servers = ["docs"]\n'
    tickets.write_text("[[ticket]]\n" + ticket)
    loaded = load_tickets(tickets, config, BUILTIN_TOOLS, env=GIVEN_ENV)
    app = lfg_app(loaded.tickets, Providers({"sim-acp": BUILTIN["sim-acp"]}))
    async with app.run_test(size=SIZE) as pilot:
        h = app.controller.panes["h"]
        assert h.agent.display and str(h.agent.title) == "agent: 1 MCP server", (
            "shown before the agent says any"
        )
        await until(
            pilot, lambda: h.state.value == "completed" and "command" in str(h.agent.title), timeout=20
        )
        assert str(h.agent.title) == "agent: mode default · 1 command · 1 MCP server"
        body = str(h.agent.content.render())
        assert "MCP docs  stdio: sh -c exit 0 (env DOCS_TOKEN)" in body
        assert "/scenario" in body
    assert await no_agent_left(tmp_path)
