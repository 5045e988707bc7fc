"""`lfg run --otel` as a subprocess against a real OTLP/HTTP receiver (tests/support/otlp_receiver.py),
decoding the protobuf it was sent: the spans' names, parents and attributes for an API ticket with
tools, a coding agent, a failed ticket and a retried request; the metrics; content only when captured; a
receiver that is down or slow never holding up the run; and a base install that never imports
OpenTelemetry."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.instruments import TABLE
from tests.support.lfg import CLONE, Lfg, of, recorded_run
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.support.patience import PATIENCE

INTERNAL, CLIENT = 1, 3
UNSET, ERROR = 0, 2
CONTENT = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
)
EXPLORE = """
[[ticket]]
id = "explore"
prompt = "What is this project?"
model = "agent-demo"
tools = ["list_dir", "read_file"]
"""
PRICED = "[providers.sim]\nprices = { input_per_mtok = 1, output_per_mtok = 4 }\n"


@pytest.fixture
def lfg(tmp_path: Path) -> Lfg:
    return Lfg(tmp_path)


def exported(
    lfg: Lfg, receiver_url: str | None, tickets: str, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]], str]:
    """`lfg run --json` to its end, `$OTEL_EXPORTER_OTLP_ENDPOINT` pointing at `receiver_url` if given."""
    endpoint = {} if receiver_url is None else {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url}
    done = subprocess.run(
        lfg.args(lfg.tickets(tickets), "--json", *extra),
        env=lfg.env | endpoint | (env or {}),
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def named(spans: list[ReceivedSpan], prefix: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def root_of(spans: list[ReceivedSpan], ticket: str) -> ReceivedSpan:
    (root,) = [s for s in named(spans, "invoke_agent ") if s.attributes.get("lfg.ticket.id") == ticket]
    return root


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return sorted((s for s in spans if s.parent_id == parent.span_id), key=lambda s: s.start_ns)


def test_an_api_ticket_with_tools_is_one_trace_of_its_requests_and_tool_calls(
    lfg: Lfg, receiver: OtlpReceiver
) -> None:
    lfg.config.write_text(PRICED)
    code, events, stderr = exported(lfg, receiver.url, EXPLORE, "--otel")
    assert code == 0, stderr
    spans = receiver.spans()
    root = root_of(spans, "explore")
    assert root.name == "invoke_agent explore" and root.parent_id == "" and root.kind == INTERNAL
    assert root.status == UNSET and root.service == "lfg"
    assert root.attributes | {"lfg.ttft_s": 0, "lfg.tokens_per_s": 0, "lfg.cost_usd": 0} == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",  # the conventions' name, by the sim provider's wire
        "lfg.provider": "sim",
        "gen_ai.request.model": "agent-demo",
        "gen_ai.agent.name": "explore",
        "lfg.run.id": recorded_run(stderr),
        "lfg.ticket.id": "explore",
        "lfg.attempt": 1,
        "lfg.outcome": "completed",
        "lfg.ttft_s": 0,
        "lfg.tokens_per_s": 0,
        "lfg.cost_usd": 0,
        "gen_ai.usage.input_tokens": root.attributes["gen_ai.usage.input_tokens"],
        "gen_ai.usage.output_tokens": root.attributes["gen_ai.usage.output_tokens"],
    }
    end = of(events, "explore", "attempt_ended")[0]
    assert root.attributes["gen_ai.usage.output_tokens"] == end["output_tokens"] > 0
    assert root.attributes["lfg.ttft_s"] > 0 and root.attributes["lfg.tokens_per_s"] > 0
    assert root.attributes["lfg.cost_usd"] == pytest.approx(end["cost_usd"]) and end["cost_usd"] > 0
    assert {span.trace_id for span in spans} == {root.trace_id} and len(spans) == 6

    below = children(spans, root)
    assert [span.name for span in below] == [
        "chat agent-demo",
        "execute_tool list_dir",
        "chat agent-demo",
        "execute_tool read_file",
        "chat agent-demo",
    ]
    chats = named(below, "chat ")
    assert [chat.attributes["lfg.call"] for chat in chats] == [0, 1, 2]
    assert [chat.attributes["gen_ai.response.finish_reasons"] for chat in chats] == [
        ["tool_calls"],
        ["tool_calls"],
        ["stop"],
    ]
    assert all(chat.kind == CLIENT and chat.attributes["gen_ai.operation.name"] == "chat" for chat in chats)
    assert all(chat.attributes["gen_ai.usage.input_tokens"] > 0 for chat in chats)
    assert sum(c.attributes["gen_ai.usage.output_tokens"] for c in chats) == end["output_tokens"]
    tools = named(below, "execute_tool ")
    calls = of(events, "explore", "tool_call")
    assert [(t.attributes["gen_ai.tool.name"], t.attributes["gen_ai.tool.call.id"]) for t in tools] == [
        (call["name"], call["id"]) for call in calls
    ]
    assert all(t.kind == INTERNAL and t.attributes["gen_ai.operation.name"] == "execute_tool" for t in tools)
    assert all(root.start_ns <= span.start_ns <= span.end_ns <= root.end_ns for span in below)
    assert not [name for span in spans for name in CONTENT if name in span.attributes]

    attributes = {
        "gen_ai.provider.name": "openai",
        "lfg.provider": "sim",
        "gen_ai.request.model": "agent-demo",
        "lfg.outcome": "completed",
    }
    assert [point.value for point in receiver.metrics("lfg.attempts")] == [1]
    assert receiver.metrics("lfg.attempts")[0].attributes == attributes
    (cost,) = receiver.metrics("lfg.cost")
    assert cost.value == pytest.approx(end["cost_usd"])
    tokens = {p.attributes["gen_ai.token.type"]: p.value for p in receiver.metrics("lfg.tokens")}
    assert tokens["output"] == end["output_tokens"] and tokens["input"] > 0
    assert [(p.count, p.value) for p in receiver.metrics("lfg.ttft")] == [(1, root.attributes["lfg.ttft_s"])]
    assert [p.count for p in receiver.metrics("gen_ai.client.operation.duration")] == [3]
    for gauge in ("lfg.tickets.running", "lfg.tickets.queued", "lfg.tickets.waiting"):
        assert [point.value for point in receiver.metrics(gauge)] == [0]


def test_the_config_enables_names_the_receiver_and_its_headers_and_captures_content(
    lfg: Lfg, receiver: OtlpReceiver
) -> None:
    lfg.config.write_text(
        f'[telemetry]\nenabled = true\nendpoint = "{receiver.url}"\ncapture_content = true\n'
        'service_name = "lfg-ci"\nheaders = { "x-team" = "TEAM_KEY" }\n'
    )
    code, _, stderr = exported(lfg, None, EXPLORE, env={"TEAM_KEY": "s3cret"})  # no --otel
    assert code == 0, stderr
    assert {sent.get("x-team") for sent in receiver.headers} == {"s3cret"} and len(receiver.headers) >= 2
    spans = receiver.spans()
    root = root_of(spans, "explore")
    assert root.service == "lfg-ci"
    (asked,) = json.loads(root.attributes["gen_ai.input.messages"])
    assert asked == {"role": "user", "parts": [{"type": "text", "content": "What is this project?"}]}
    (answer,) = json.loads(root.attributes["gen_ai.output.messages"])
    assert "## What this project is" in answer["parts"][0]["content"]
    read = named(spans, "execute_tool read_file")[0].attributes
    assert json.loads(read["gen_ai.tool.call.arguments"]) == {"path": "README.md"}
    assert "A tiny service that renders widgets." in read["gen_ai.tool.call.result"]
    last = named(spans, "chat ")[-1].attributes
    (said,) = json.loads(last["gen_ai.output.messages"])
    assert said["finish_reason"] == "stop" and "## What this project is" in said["parts"][0]["content"]


def test_a_coding_agents_turn_and_tool_calls_are_spans_of_its_attempt(
    lfg: Lfg, receiver: OtlpReceiver
) -> None:
    tickets = '[[ticket]]\nid = "agent"\nprompt = "What is this project?"\nprovider = "sim-acp"\n'
    code, events, stderr = exported(lfg, receiver.url, tickets, "--otel")
    assert code == 0, stderr
    spans = receiver.spans()
    root = root_of(spans, "agent")
    assert root.attributes["gen_ai.provider.name"] == root.attributes["lfg.provider"] == "sim-acp", (
        "a coding agent has no well-known name: lfg's is the provider's"
    )
    assert root.attributes["lfg.outcome"] == "completed"
    (session,) = [
        e["message"] for e in of(events, "agent", "status") if e["message"].startswith("agent session ")
    ]
    assert root.attributes["gen_ai.conversation.id"] == session.removeprefix("agent session ")
    assert root.events == ("lfg.plan",) * len(of(events, "agent", "plan")) and root.events
    below = children(spans, root)
    (turn,) = named(below, "chat ")
    assert turn.attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    calls = of(events, "agent", "tool_call")
    tools = named(below, "execute_tool ")
    assert len(calls) >= 2 and [t.attributes["gen_ai.tool.call.id"] for t in tools] == [
        c["id"] for c in calls
    ]
    assert {span.trace_id for span in spans} == {root.trace_id}
    (started,) = [
        e["message"] for e in of(events, "agent", "status") if e["message"].startswith("agent started")
    ]
    log = Path(started.rpartition("its log: ")[2]).read_text()
    traced = f"prompt 1 traceparent 00-{root.trace_id}-{turn.span_id}-"  # then its flags
    assert traced in log, f"the prompt's _meta carries its chat span (issue 53): {log}"


def test_a_coding_agents_sub_agent_is_a_child_span_of_its_attempt(lfg: Lfg, receiver: OtlpReceiver) -> None:
    """The sim agent's sub-agent (`--subagent`) is an `invoke_agent` span under the ticket's, ended
    `done` with its tokens and the cost its own session reported."""
    command = [
        sys.executable,
        "-m",
        "lfgtui.sim.acp_agent",
        "--subagent",
        "Read the notes",
        "--scenario",
        "{model}",
    ]
    lfg.config.write_text(f'[providers.delegating]\nkind = "acp"\ncommand = {json.dumps(command)}\n')
    tickets = '[[ticket]]\nid = "p"\nprompt = "go"\nprovider = "delegating"\nmodel = "hello:ttft_ms=0"\n'
    code, events, stderr = exported(lfg, receiver.url, tickets, "--otel")
    assert code == 0, stderr
    spans = receiver.spans()
    root = root_of(spans, "p")
    [child] = [s for s in children(spans, root) if s.name == "invoke_agent Read the notes"]
    [finished] = [e for e in of(events, "p", "subagent") if e["state"] == "done"]
    assert child.attributes["lfg.subagent.session_id"] == finished["child"]
    assert child.attributes["lfg.subagent.state"] == "done" and child.status == UNSET
    assert child.attributes["gen_ai.usage.output_tokens"] == finished["output_tokens"] > 0
    assert child.attributes["lfg.cost_usd"] == 0.0042


def test_a_failed_ticket_and_a_retried_request_say_what_went_wrong(lfg: Lfg, receiver: OtlpReceiver) -> None:
    lfg.scenario(
        "flaky",
        'ttft_ms = 1\n[[call]]\ntext = "ok"\n'
        '[[fault]]\nkind = "http"\nstatus = 503\nretry_after = 0\ntimes = 1\n',
    )
    tickets = (
        '[[ticket]]\nid = "denied"\nprompt = "x"\nmodel = "fault-401"\n'
        '[[ticket]]\nid = "after"\nprompt = "x"\nmodel = "hello"\ndepends_on = ["denied"]\n'
        '[[ticket]]\nid = "flaky"\nprompt = "x"\nmodel = "flaky"\n'
    )
    code, events, stderr = exported(lfg, receiver.url, tickets, "--otel")
    assert code == 1, stderr
    spans = receiver.spans()

    denied = root_of(spans, "denied")
    assert denied.status == ERROR and denied.attributes["error.type"] == "auth"
    assert denied.attributes["lfg.outcome"] == "failed"
    (request,) = children(spans, denied)
    assert request.status == ERROR and request.attributes["error.type"] == "auth"
    assert not named(spans, "invoke_agent after")  # skipped: it never started

    flaky = root_of(spans, "flaky")
    assert flaky.status == UNSET and flaky.attributes["lfg.outcome"] == "completed"
    first, second = children(spans, flaky)
    assert first.name == second.name == "chat flaky"
    assert first.attributes["lfg.call"] == second.attributes["lfg.call"] == 0
    assert first.status == ERROR and first.attributes["error.type"] == "server"
    assert second.status == UNSET and second.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert len([e for e in of(events, "flaky", "status") if "retrying in" in e["message"]]) == 1

    outcomes = {
        p.attributes.get("gen_ai.request.model", "-"): (p.attributes["lfg.outcome"], p.value)
        for p in receiver.metrics("lfg.attempts")
    }
    assert outcomes == {"fault-401": ("failed", 1), "-": ("skipped", 1), "flaky": ("completed", 1)}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("receiver_is", ["down", "slow"])
def test_a_receiver_down_or_slow_never_holds_up_the_run_and_what_it_lost_is_counted(
    lfg: Lfg, start_receiver: Callable[..., OtlpReceiver], receiver_is: str
) -> None:
    url = closed_port_url() if receiver_is == "down" else start_receiver(delay_s=3.0).url
    code, events, stderr = exported(lfg, url, EXPLORE, "--otel", env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1"})
    assert code == 0, stderr
    assert of(events, "explore", "attempt_ended")[0]["outcome"] == "completed"
    lost = re.search(r"telemetry: (\d+) of (\d+) spans and (\d+) metric exports did not reach (\S+)", stderr)
    assert lost is not None, stderr
    assert lost.group(1) == lost.group(2) == "6" and int(lost.group(3)) >= 1 and lost.group(4) == url
    assert "Traceback" not in stderr


BLOCKED = (
    "import sys\n"
    "class Blocked:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] == 'opentelemetry':\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, Blocked())\n"
    "from lfgtui.commands.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_without_the_extra_the_run_stops_before_it_starts_saying_what_to_install(lfg: Lfg) -> None:
    """The base install, as far as Python can tell: no module of OpenTelemetry can be imported."""
    tickets = lfg.tickets(EXPLORE)
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, *lfg.args(tickets, "--json", "--otel")[3:]],
        env=lfg.env,
        capture_output=True,
        text=True,
        timeout=60 * PATIENCE,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert (
        f"lfg: telemetry needs OpenTelemetry, which is not installed: pip install -e '{CLONE}[otel]'"
        in done.stderr
    )
    assert "Traceback" not in done.stderr


IMPORTED = (
    "import sys\nfrom lfgtui.commands.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n"
    "    pass\nfinally:\n"
    "    print('otel:', *sorted(m for m in sys.modules if m.startswith('opentelemetry')), file=sys.stderr)"
)


def test_lfg_help_and_a_run_without_otel_never_import_opentelemetry(lfg: Lfg) -> None:
    tickets = lfg.tickets(EXPLORE)
    for args in (["--help"], lfg.args(tickets, "--json")[3:]):
        done = subprocess.run(
            [sys.executable, "-c", IMPORTED, *args],
            env=lfg.env,
            capture_output=True,
            text=True,
            timeout=60 * PATIENCE,
        )
        assert done.stderr.splitlines()[-1] == "otel:", done.stderr


def test_a_quota_and_an_agents_context_are_ndjson_lines_and_gauges(lfg: Lfg, receiver: OtlpReceiver) -> None:
    model = "hello:ttft_ms=1,ratelimit_requests=10,ratelimit_tokens=5000"
    tickets = f'[[ticket]]\nid = "q"\nprompt = "go"\nmodel = "{model}"\n'
    tickets += '[[ticket]]\nid = "agent"\nprompt = "go"\nprovider = "sim-acp"\nmodel = "hello:ttft_ms=0"\n'
    code, events, stderr = exported(lfg, receiver.url, tickets, "--otel")
    assert code == 0, stderr
    (line,) = of(events, "q", "quota")
    assert line["provider"] == "sim"
    assert line["requests"]["limit"] == 10 and line["requests"]["remaining"] == 9
    assert 0 < line["requests"]["reset_s"] <= 60
    assert line["tokens"]["limit"] == 5000 and 0 < line["tokens"]["remaining"] < 5000
    remaining = {p.attributes["lfg.quota"]: p.value for p in receiver.metrics("lfg.quota.remaining")}
    assert remaining == {"requests": 9, "tokens": line["tokens"]["remaining"]}
    assert {p.attributes["lfg.provider"] for p in receiver.metrics("lfg.quota.limit")} == {"sim"}
    reset = {p.attributes["lfg.quota"]: p.value for p in receiver.metrics("lfg.quota.reset")}
    assert reset.keys() == {"requests", "tokens"} and all(0 <= left <= 60 for left in reset.values())
    (context,) = of(events, "agent", "context")
    used = {p.attributes["lfg.provider"]: p.value for p in receiver.metrics("lfg.context.used")}
    size = {p.attributes["lfg.provider"]: p.value for p in receiver.metrics("lfg.context.size")}
    assert (used, size) == ({"sim-acp": context["used"]}, {"sim-acp": 200_000}), "as the agent reported it"
    assert {point.metric for point in receiver.points} <= {instrument.name for instrument in TABLE}


def test_an_attempts_span_says_its_prompt_cache_hit_rate_as_ndjson_does(
    lfg: Lfg, receiver: OtlpReceiver
) -> None:
    """The sim caching as the real APIs do: the tool loop's later requests read the prefix the first
    wrote, and the attempt's span has the same hit rate as its `attempt_ended`."""
    cached = EXPLORE.replace('model = "agent-demo"', 'model = "agent-demo:prompt_caching=1"')
    code, events, stderr = exported(lfg, receiver.url, cached, "--otel")
    assert code == 0, stderr
    end = of(events, "explore", "attempt_ended")[0]
    assert end["cache_hit"] > 0
    root = root_of(receiver.spans(), "explore")
    assert root.attributes["lfg.cache_hit"] == pytest.approx(end["cache_hit"], abs=1e-4)
