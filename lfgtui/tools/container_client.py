"""Start one container's engine client (`docker run` or `podman run`), run as a script (stdlib
only, `python -I -S container_client.py REQUEST`) in place of the boxed command.

A container sees none of the client's environment unless named: this passes each variable of its
own environment (the command's or the agent's, exactly as lfg built it) by name (`-e NAME`, so no
value shows on a command line), but the engine's own settings (`DOCKER_HOST`, `CONTAINERS_CONF`,
`XDG_RUNTIME_DIR`), which lfg adds for the client alone, and what the box sets itself (`inside`:
`TMPDIR`, its own `/tmp`).

Killing the client does not stop its container: the engine's daemon or monitor runs it. A command's
container is tethered to its client (`tether`): the client's stdin is a pipe only the client holds
open, so the container's stdin ends when the client dies however it dies (SIGKILL included), and the
tether script inside (tools/containers.py) then kills everything there. An agent keeps its stdin,
its protocol, whose end it answers by exiting.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    request = json.loads(sys.argv[1])
    settings: dict[str, str] = request["settings"]
    env = dict(os.environ)
    inside: dict[str, str] = request["inside"]
    passed = [
        part for name in sorted(env) if name not in settings and name not in inside for part in ("-e", name)
    ]
    passed += [part for name, value in inside.items() for part in ("-e", f"{name}={value}")]
    env.update(settings)
    if request["tether"]:
        read, write = os.pipe()
        os.dup2(read, 0)
        os.close(read)
        os.set_inheritable(write, True)  # held by the client only: closed when it dies
    engine = request["engine"]
    os.execve(engine, [engine, *request["options"], *passed, *request["command"]], env)


if __name__ == "__main__":
    main()
