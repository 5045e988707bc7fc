"""Issue 78: a boxed ticket cannot drive lfg's own served API. A real `lfg run --serve --control
--token-file` whose token file lies outside lfg's folders and outside `/tmp` (which the box replaces
anyway); a boxed ticket's `run_command` (bwrap, docker and podman) reads that file and POSTs a
queued turn to `/v1/requests` over loopback (the network on, as by default): it never gets a 200."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.support import warm_lfg
from tests.support.lfg import Lfg, free_port, of
from tests.support.patience import PATIENCE
from tests.support.serving import API_PROBE, TOKEN


@pytest.mark.timeout(120)
async def test_a_boxed_command_gets_no_200_from_the_served_api_with_the_runs_token(
    box: str, tmp_path: Path
) -> None:
    lfg = Lfg(tmp_path)
    lfg.env["XDG_STATE_HOME"] = str(lfg.home / "state")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token_file = Path("/var/tmp") / f"lfg-token-{secrets.token_hex(6)}"
    token_file.write_text(TOKEN)
    (lfg.workdir / "probe.py").write_text(API_PROBE)
    command = json.dumps(f"python3 probe.py {token_file} {url} boxed")
    scenario = lfg.scenario(
        "prober",
        'ttft_ms = 1\ntokens_per_s = 1000\n[[call]]\ntext = "probing"\n[[call.tool_call]]\n'
        f'name = "run_command"\narguments = {{ command = {command} }}\n[[call]]\ntext = "done"\n',
    )
    tickets = lfg.tickets(
        f"""
        [[ticket]]
        id = "boxed"
        provider = "sim"
        model = "{scenario}"
        prompt = "Probe the served API."
        tools = ["run_command"]
        sandbox = "{box}"
        workdir = "{lfg.workdir}"
        """
    )
    args = ["--json", "--yes", "--serve", str(port), "--control", "--token-file", str(token_file)]
    process = await warm_lfg.create_subprocess_exec(
        *lfg.args(tickets, *args), env=lfg.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 90 * PATIENCE)
    except TimeoutError:
        process.kill()
        raise
    finally:
        token_file.unlink()
    stdout, stderr = out.decode(), err.decode()
    assert re.search(rf"serving this run at {url}", stderr), stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    [result] = of(events, "boxed", "tool_result")
    assert "answered" in result["output"], result["output"]
    assert "token chars 0" in result["output"], "the token file is unreadable inside the box"
    assert "answered 200" not in result["output"], "the served API refused the boxed command"
    assert not [e for e in of(events, "boxed") if "planted" in json.dumps(e)], "no turn was queued"
    assert process.returncode == 0, stderr
