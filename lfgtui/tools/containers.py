"""A ticket's container box (`sandbox = "docker"` or `"podman"`): the bubblewrap box's rule
(tools/sandbox.py) kept by a container engine.

Inside: an image lfg makes itself, with no registry (`IMAGE`: a merged-`/usr` skeleton whose `/usr`
is the host's, bound read-only); the ticket's folders bound as the `Sandbox` says (writable ones
read-write, its repository and toolchains read-only, the home read-only but for what `sandbox_home`
hides, each hidden path an empty folder or file); the interpreter and toolchains it runs bound
read-only; a private `/tmp`. Every capability dropped, no new privileges, the person's uid and gid,
`--network none` unless `sandbox_network` is on (then the host's network). Nothing else of the host
shows: neither the rest of the disk nor its processes.

Killing the engine's client does not stop its container, so each is named and labelled with the lfg
that started it (`OWNER_LABEL`) and tethered to its client (tools/container_client.py): a command's
by its stdin, an agent's (whose stdin is its protocol, and which may ignore its end and SIGTERM) by a
FIFO bound in (`LEASH`), which the container's first process watches (tools/box_init.py: one the
agent can neither kill nor stop); when the client dies, however it dies, everything in the container
is killed. At each attempt's end the ticket's containers whose client is gone are removed (`removed`),
and at lfg's first use of an engine the containers of an lfg that is gone (`_sweep`).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import itertools
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lfgtui
from lfgtui.inert import inert
from lfgtui.tickets.ticket import Ticket
from lfgtui.tools import box_init, container_client
from lfgtui.tools.box_limits import Limits, engine_said
from lfgtui.tools.sandbox import PRIVATE_TMP, Sandbox, engine_stores
from lfgtui.tools.sandbox_sockets import unix_sockets
from lfgtui.tools.scripts import stdlib_script

ENGINES = ("docker", "podman")
IMAGE = "lfgtui-box:3"
"""The image every box runs: made by lfg (`_image`), its version bumped when the skeleton changes."""
LABEL = "lfgtui"
OWNER_LABEL = "lfgtui.owner"
TICKET_LABEL = "lfgtui.ticket"
COMMAND_LABEL = "lfgtui.command"
"""On a command's container (not an agent's, which may outlive its attempt for a follow-up)."""
CLIENT_LABEL = container_client.CLIENT_LABEL
SETTINGS = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "XDG_RUNTIME_DIR",
    "HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
)
"""The engine's own settings, lfg's own, passed to its client (into the container only what the
command's own environment holds): rootless podman (lfg run as a normal user) keeps its images and
reads its configuration under the person's `HOME` or `XDG_DATA_HOME` and `XDG_CONFIG_HOME`, which a
command's environment may lack; without them its client found another store, without lfg's image."""
PROBE_TIMEOUT_S = 60.0
NPROC = 4096
SKELETON_FOLDERS = ("etc", "proc", "sys", "dev", "tmp", "root", "usr", "work", "sbin", "run", "lfg")
"""A real `sbin` for `--init` to mount docker-init on; `lfg` for the agent's leash."""
SKELETON_LINKS = {"bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64"}
SKELETON_ETC = ("passwd", "group", "nsswitch.conf", "hosts", "alternatives", "ssl")
TETHER = 'exec 2>&1 3<&0 0</dev/null; { cat <&3 >/dev/null; kill -KILL -1; } & exec 3<&-; "$@"'
"""A command's container: its stdin (the client's tether) read to the end, then every process of
the container killed; the command itself runs with none, its stderr on its stdout (as lfg reads a
command's output: the engine would carry them apart, and their order would be lost)."""
LEASH = "/lfg/leash"
"""Where an agent's container sees its client's FIFO, read-only: read to its end (the client gone)
by the container's first process (tools/box_init.py, which the agent can neither kill nor stop),
which exits, and every process of the container dies with it, the agent's too, whatever it ignores."""
REMOVE_TRIES = 5
PODMAN_INIT = Path("/usr/libexec/podman/catatonit")
"""Where podman's `--init` finds its init by default: catatonit's package puts it there."""
INITS = ("catatonit", "tini-static", "tini")
"""An init for podman's `--init` where catatonit is not at `PODMAN_INIT`: tini comes with docker.io."""
_NAMES = itertools.count(1)
_PROBING = threading.Lock()


@dataclass(frozen=True, slots=True)
class ContainerBox(Sandbox):
    """A `Sandbox` kept by a container engine: its folders bound into an image of lfg's making."""

    engine: str = "docker"
    ticket: str = ""
    home_path: Path | None = None
    """The person's home, bound read-only unless `sandbox_home` hides it all."""
    tethered: bool = True
    """A command's container ends with its client; an agent's reads its protocol on stdin instead."""

    def wrap(self, argv: Sequence[str], cwd: Path) -> list[str]:
        """`argv` as it runs inside a container of its own, in `cwd`: the client started by
        container_client.py, with this box's options."""
        name = f"lfg-{os.getpid()}-{re.sub(r'[^A-Za-z0-9_.-]', '_', self.ticket)[:40]}-{next(_NAMES)}"
        options = [
            *(["--runtime", "runc"] if self.engine == "podman" and shutil.which("runc") else []),
            "run",
            *_limits(self.engine),
            *_bounds(self.limits),
            *("--rm", "-i", "--pull", "never", "--name", name),  # never an image from a registry
            *(("--init", *_init_path(self.engine)) if self.tethered else ()),  # an agent's: box_init.py
            *(
                "--label",
                f"{LABEL}=1",
                "--label",
                f"{OWNER_LABEL}={_owner()}",
                "--label",
                f"{TICKET_LABEL}={self.ticket}",
            ),
            *(("--label", f"{COMMAND_LABEL}=1") if self.tethered else ()),
            *("--network", "host" if self.network else "none"),
            *("--cap-drop", "ALL", "--security-opt", "no-new-privileges"),
            *("--user", f"{os.getuid()}:{os.getgid()}"),
            *_own_ids(self.engine),
            *self._mounts_args(argv),
            *("-w", str(cwd)),
        ]
        leash = None if self.tethered else _leash()
        if leash is not None:
            options += _bind(leash, Path(LEASH), "ro")
        if leash is None:
            command = [IMAGE, "/bin/sh", "-c", TETHER, "sh", *argv]
        else:  # its own first process watches the leash, which the agent cannot kill (box_init.py)
            command = [IMAGE, *stdlib_script(Path(box_init.__file__)), LEASH, *argv]
        covers = {str(path): spec for path in unix_sockets() if (spec := _cover(path)) in options}
        request = {
            "engine": _program(self.engine),
            "options": options,
            "command": command,
            "settings": {key: os.environ[key] for key in SETTINGS if key in os.environ},
            "inside": {"TMPDIR": str(PRIVATE_TMP)},  # the person's TMPDIR is not in the box
            "tether": self.tethered,
            "leash": None if leash is None else str(leash),
            "covers": covers,
        }
        return [*stdlib_script(Path(container_client.__file__)), json.dumps(request)]

    def _mounts_args(self, argv: Sequence[str]) -> list[str]:
        """The binds, one per path (at one path the later kind wins, as in bwrap's box: hidden,
        read-only, writable, protected, the agent's state copies, the engine's store); hidden paths
        only where a bind would show them, and a Unix socket a bind shows covered, as bwrap's box
        covers it. The engine's store (rootless podman's, in the home) holds every box's root and
        configuration, each container's environment among them: another ticket's API keys."""
        kinds: dict[Path, str] = {path: "ro" for path in _runs_from(argv)}
        if self.home_path not in (None, Path("/"), *self.hidden):
            kinds[self.home_path] = "ro"
        shown = (*kinds, *self.readable, *self.writable)
        for kind, paths in (
            ("hidden", self.hidden),
            ("ro", self.readable),
            ("rw", self.writable),
            ("ro", self.protected),
        ):
            for path in paths:
                if kind != "hidden" or any(path.is_relative_to(root) for root in shown):
                    kinds[path] = kind
        sources = {real: copy for copy, real in self.bound}  # the ticket's copy at the person's path
        kinds |= dict.fromkeys(sources, "rw")
        stores = tuple(store.resolve() for store in _storage(self.engine))
        for store in (*stores, *engine_stores()):  # every box's root and configuration: never shown
            if any(store.is_relative_to(root) for root in (*shown, *sources)):
                kinds[store] = "hidden"
        for socket_file in unix_sockets():
            if socket_file not in kinds and any(socket_file.is_relative_to(root) for root in shown):
                kinds[socket_file] = "hidden"
        ordered = sorted(kinds, key=lambda path: len(path.parts))
        around = {
            path: next((o for o in reversed(ordered[:i]) if path.is_relative_to(o)), None)
            for i, path in enumerate(ordered)
        }
        kept = [
            path
            for path in ordered
            if kinds[path] != "hidden" or (outer := around[path]) is None or kinds[outer] != "hidden"
        ]
        tmp = f"{PRIVATE_TMP}:rw,exec,mode=1777,size={self.limits.tmp_mb}m"
        args = [] if PRIVATE_TMP in kinds else ["--tmpfs", tmp]
        for path in kept:
            if kinds[path] != "hidden":
                args += _bind(sources.get(path, path), path, kinds[path], stores)
                continue
            # hidden: an empty folder or file bound over it (podman mounts every tmpfs before any
            # bind), holding only the mount points of what is bound inside it
            inside = tuple((str(o.relative_to(path)), o.is_dir()) for o in kept if around[o] == path)
            args += _bind(_hollow(inside) if path.is_dir() else Path("/dev/null"), path, "ro")
        return args

    def allows(self) -> str:
        """What the box allows, in one line for the pane and `lfg agents --check`."""
        folders = ", ".join(str(folder) for folder in self.writable)
        network = (
            "the host's network (its loopback and abstract sockets too)"
            if self.network
            else "no network: no socket outside answers"
        )
        home = {
            "no-secrets": "your home read-only, its keys, tokens, lfg's own files and other projects hidden",
            "hidden": "your home hidden but its toolchains",
        }.get(self.home, "your home readable")
        return (
            f"sandbox {self.engine}: writes only in {folders} (and a private /tmp and its own "
            "throwaway root); /usr and the "
            f"ticket's toolchains read-only, the rest of the disk unseen; {home}; every capability "
            f"dropped, as uid {os.getuid()}; {network}; {engine_said(self.engine, self.limits)}; {KILLED}"
        )


KILLED = "the container killed with its agent or command, whatever they ignore"


def _bind(source: Path, target: Path, kind: str, stores: tuple[Path, ...] = ()) -> list[str]:
    """One bind as `--mount` options, each field quoted as the engines' CSV reads it: a path may hold
    any character but NUL (a colon, which `-v`'s spec cannot carry: a socket an agent named `a:b` in
    its worktree made every later box of that tree fail to start; a comma; a quote). A read-only
    bind carries none of the mounts beneath its folder (the engines make only its top mount
    read-only: a mount beneath, a drive or a network folder in the home, stayed writable), but over
    a folder holding one of the engine's `stores` (rootless podman's, in the home), whose mounts
    there the kernel keeps in any bind made in the engine's user namespace."""
    held = any(store.is_relative_to(source) for store in stores)
    read_only = ["readonly", *(() if held else ("bind-nonrecursive",))] if kind == "ro" else []
    fields = ["type=bind", f"source={source}", f"target={target}", *read_only]
    quoted = [
        f'"{field.replace(chr(34), chr(34) * 2)}"' if re.search(r'[",\s]', field) else field
        for field in fields
    ]
    return ["--mount", ",".join(quoted)]


def _cover(socket_file: Path) -> str:
    """The `--mount` spec that covers a Unix socket (as `_mounts_args` hides a file)."""
    return _bind(Path("/dev/null"), socket_file, "ro")[1]


def contained(sandbox: Sandbox | None, ticket: Ticket) -> Sandbox | None:
    """The ticket's box: `sandbox` as `sandbox_of` made it, kept by its engine where it asked for one."""
    if sandbox is None or ticket.sandbox not in ENGINES:
        return sandbox
    fields = {name: getattr(sandbox, name) for name in Sandbox.__dataclass_fields__}
    return ContainerBox(**fields, engine=ticket.sandbox, ticket=ticket.id, home_path=Path.home().resolve())


def store_in_home(engine: str) -> Path | None:
    """The engine's store where it lies in the person's home (rootless podman keeps it there): a box
    covers it, but unless `sandbox_home = "hidden"` the home's bind still carries the mounts of
    every box's root beneath that cover (the kernel keeps them in a bind made in the engine's user
    namespace), listed in the box's mount table."""
    home = Path.home().resolve()
    return next((path for path in _storage(engine) if path.resolve().is_relative_to(home)), None)


def _storage(engine: str) -> tuple[Path, ...]:
    """Where the engine keeps its images and its containers' roots (`podman info`'s GraphRoot and
    RunRoot, `docker info`'s DockerRootDir): asked once per engine and engine settings (a test's
    private dockerd is another), first off the loop by `_probe`."""
    return _stored(engine, tuple(os.environ.get(key) for key in SETTINGS))


@functools.cache
def _stored(engine: str, settings: tuple[str | None, ...]) -> tuple[Path, ...]:
    """`_storage`, cached by `settings` (the engine's settings, unread here: the cache's key)."""
    listed = "{{.Store.GraphRoot}}\n{{.Store.RunRoot}}" if engine == "podman" else "{{.DockerRootDir}}"
    try:
        said = _run(engine, "info", "--format", listed).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(Path(line) for line in said.splitlines() if os.path.isabs(line))


@functools.cache
def _hollows() -> Path:
    """This lfg's folder of `_hollow` folders, removed as it exits."""
    folder = Path(tempfile.mkdtemp(prefix="lfg-hidden-"))
    atexit.register(_unmake, folder)
    return folder


def _unmake(folder: Path) -> None:
    for inside, _, _ in os.walk(folder):
        os.chmod(inside, 0o755)  # each made unwritable, so that nothing could be made in it
    shutil.rmtree(folder, ignore_errors=True)


def _leash() -> Path:
    """A FIFO for one agent's container, in this lfg's folder (tools/container_client.py holds it)."""
    path = _hollows() / f"leash-{next(_NAMES)}"
    os.mkfifo(path, 0o600)
    return path


@functools.cache
def _hollow(inside: tuple[tuple[str, bool], ...]) -> Path:
    """A folder no one may write, shown where a folder is hidden: empty but for the mount points of
    what is bound inside it (`inside`: each one's path in it, and whether a folder), which a
    read-only folder cannot have made in it. One per set of mount points, per lfg."""
    root = Path(tempfile.mkdtemp(dir=_hollows()))
    for name, folder in inside:
        point = root / name
        point.parent.mkdir(parents=True, exist_ok=True)
        if folder:
            point.mkdir()
        else:
            point.touch(0o444)
    for folder, _, _ in os.walk(root):
        Path(folder).chmod(0o555)
    return root


def _program(engine: str) -> str:
    return shutil.which(engine) or engine


def _bounds(limits: Limits) -> list[str]:
    """The box's bounds (tools/box_limits.py), kept in the container's cgroup: its memory, with no
    swap beyond it (a tmpfs's pages are charged to it too), processes (docker sets none: a fork bomb
    inside, root's, whom no process limit holds, took every pid of the host) and CPUs."""
    memory = f"{limits.memory_mb}m"
    return [
        *("--memory", memory, "--memory-swap", memory),
        *("--pids-limit", str(limits.processes)),
        *("--cpus", f"{limits.cpus:g}"),
    ]


def _limits(engine: str) -> list[str]:
    """podman's file and process limits (its defaults ask more than root may here): the open files
    lfg may have, and `NPROC` processes (the most its runtime could set here; threads count). Its
    runtime is runc where that is installed: crun refuses these machines' hybrid cgroups."""
    if engine != "podman":
        return []
    files = resource.getrlimit(resource.RLIMIT_NOFILE)
    processes = [
        NPROC if limit == resource.RLIM_INFINITY else min(limit, NPROC)
        for limit in resource.getrlimit(resource.RLIMIT_NPROC)
    ]
    return [
        *("--ulimit", f"nofile={_limit(files[0])}:{_limit(files[1])}"),
        *("--ulimit", f"nproc={processes[0]}:{processes[1]}"),
    ]


def _own_ids(engine: str) -> list[str]:
    """Rootless podman (lfg run as a normal user) maps the person's own uid and gid into the
    container (`--userns keep-id`): by default its uid there is a subordinate id of theirs on the
    host, which may not write their worktree and whose files would not be theirs. Root's podman and
    docker's daemon map none: the uid given is the host's."""
    return ["--userns", "keep-id"] if engine == "podman" and os.geteuid() != 0 else []


@functools.cache
def _init_path(engine: str) -> list[str]:
    """podman's `--init` mounts catatonit from `PODMAN_INIT`, a package podman only recommends: where
    podman was installed without it, every command's box failed to start ("container-init binary
    not found"). There another init on the PATH serves (`INITS`: each forwards signals and reaps)."""
    if engine != "podman" or PODMAN_INIT.exists():
        return []
    found = next((path for name in INITS if (path := shutil.which(name)) is not None), None)
    return [] if found is None else ["--init-path", found]


def _limit(value: int) -> str:
    return "-1" if value == resource.RLIM_INFINITY else str(value)


def interpreter() -> list[Path]:
    """Where lfg's own interpreter lies: its virtualenv, its base install, the install its program
    links to."""
    return [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent.parent]


def _runs_from(argv: Sequence[str]) -> list[Path]:
    """What the boxed program runs from, outside `/usr`: lfg's own interpreter and its packages
    (the supervisor's and lfg's own programs), the PATH's folders and their prefixes (toolchains,
    a virtualenv, an npm `.bin`'s `node_modules`), and the program's install: each where it is
    named and where its links lead (a program found on the PATH through a link runs by that name)."""
    found = [*interpreter(), Path(lfgtui.__file__).parent]  # its package, where an editable install keeps it
    found += [Path(entry) for entry in sys.path if entry]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry):
            found += [Path(entry), *((Path(entry).parent,) if Path(entry).name in ("bin", ".bin") else ())]
    if argv and (program := shutil.which(argv[0])) is not None:
        real = Path(os.path.realpath(program))
        parts = real.parts
        if "node_modules" in parts:
            found.append(Path(*parts[: len(parts) - parts[::-1].index("node_modules")]))
        found.append(real.parent.parent)
    usr = Path("/usr")
    # a folder the person may not enter (a PATH kept from root's by `su`) is not theirs to run from
    named = [Path(os.path.normpath(path)) for path in found if path.is_absolute() and os.path.isdir(path)]
    # what is /usr's already (/bin, /sbin: links into it) is not bound again over the image's links
    kept = {
        where
        for path in named
        if path != Path("/") and not path.resolve().is_relative_to(usr) and not path.is_relative_to(usr)
        for where in (path, path.resolve())
    }
    return [usr, *sorted(kept)]


def _owner(pid: int | None = None) -> str:
    """Who started a container: this host, lfg's pid and that process's start time (a pid reused
    by another process is not the owner)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{container_client.started(pid)}"


def _run(engine: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ}
    return subprocess.run(
        [_program(engine), *args],
        input=stdin,
        capture_output=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
        env=env,
    )


def _said(done: subprocess.CompletedProcess[bytes]) -> str:
    return inert(" ".join(done.stderr.decode(errors="replace").split())[:300])


def _skeleton() -> bytes:
    """The image's root as a tar: empty folders, `bin` `lib` `lib64` linked into `/usr`, and the
    host's `/etc` files a program needs to name users and find certificates."""
    with tempfile.TemporaryDirectory(prefix="lfg-box-") as folder:
        tar_path = Path(folder) / "skeleton.tar"
        with tarfile.open(tar_path, "w") as tar:
            for name in SKELETON_FOLDERS:
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
                tar.addfile(info)
            for name, target in SKELETON_LINKS.items():
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            for name in SKELETON_ETC:
                if (Path("/etc") / name).exists():
                    tar.add(Path("/etc") / name, f"etc/{name}", filter=_public)
        return tar_path.read_bytes()


def _public(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """What everyone on the host may read (a folder with what is in it): no root-only file, such as
    a key in /etc/ssl/private, goes into the image."""
    return member if member.issym() or member.mode & 0o004 else None


def _image(engine: str) -> str | None:
    """Make lfg's image where the engine lacks it; why not, in one line."""
    if _run(engine, "image", "inspect", IMAGE).returncode == 0:
        return None
    made = _run(engine, "import", "-", IMAGE, stdin=_skeleton())
    return None if made.returncode == 0 else f"{engine} could not make lfg's image: {_said(made)}"


def _remove(engine: str, *names: str) -> None:
    """Kill and remove containers at once (podman would give each 10 s to end on SIGTERM)."""
    _run(engine, "rm", "-f", *(("--time", "0") if engine == "podman" else ()), *names)


def _sweep(engine: str) -> None:
    """Remove the containers an lfg on this host started and did not see to the end (it died)."""
    listed = _run(engine, "ps", "-a", "--filter", f"label={LABEL}=1", "--format", "{{.Names}}")
    here = socket.gethostname()
    for name in listed.stdout.decode(errors="replace").split():
        label = '{{index .Config.Labels "' + OWNER_LABEL + '"}}'
        owner = _run(engine, "inspect", "--format", label, name).stdout.decode(errors="replace").strip()
        host, _, rest = owner.partition("/")
        pid, _, started = rest.partition("/")
        if host == here and _gone(pid, started):
            _remove(engine, name)


def _gone(pid: str, started: str) -> bool:
    """Whether the process `pid` that started at `started` has ended (its pid free or reused)."""
    return pid.isdigit() and container_client.started(int(pid)) != started


def _probed(engine: str) -> str | None:
    """`_probe`, once at a time: tickets starting together wait for the first to make the image."""
    with _PROBING:
        return _probe(engine)


@functools.cache
def _probe(engine: str) -> str | None:
    """Why `engine` cannot make a box here, found by making lfg's image and starting one box (once
    per lfg); containers left by an lfg that died are removed on the way."""
    if shutil.which(engine) is None:
        package = "docker.io" if engine == "docker" else "podman runc"
        return f'sandbox = "{engine}" needs {engine}, which is not installed (apt install {package})'
    try:
        answered = _run(engine, "version")
        if answered.returncode != 0:
            daemon = "a running docker daemon" if engine == "docker" else "a working podman"
            return f'sandbox = "{engine}" needs {daemon}: {_said(answered)}'
        if (why := _image(engine)) is not None:
            return f'sandbox = "{engine}": {why}'
        _sweep(engine)
        _storage(engine)
        box = ContainerBox((), engine=engine, ticket="probe")
        tried = subprocess.run(
            box.wrap(["true"], Path("/")), capture_output=True, timeout=PROBE_TIMEOUT_S, check=False
        )
        if tried.returncode != 0 and _own_namespace(engine):
            return f'sandbox = "{engine}": {OWN_NAMESPACE}'
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f'sandbox = "{engine}": {engine} does not answer ({inert(str(exc))})'
    if tried.returncode != 0:
        lacking = engine == "podman" and not PODMAN_INIT.exists() and not _init_path(engine)
        wanted = f" (its --init needs catatonit: {NO_INIT})" if lacking else ""
        return f'sandbox = "{engine}": {engine} cannot start a box here: {_said(tried)}{wanted}'
    return None


OWN_NAMESPACE = (
    "root's podman runs each container in a user namespace of its own here (PODMAN_USERNS, or userns in "
    "containers.conf), where it cannot mount lfg's image (that would take --rootfs) and a box's root is not "
    'yours: set userns = "host" for lfg (PODMAN_USERNS=host), or use sandbox = "bwrap"'
)


NO_INIT = f"apt install catatonit, or put one of {', '.join(INITS[1:])} on the PATH"


def _own_namespace(engine: str) -> bool:
    """Whether root's podman puts its containers in a user namespace of their own (PODMAN_USERNS, or
    `userns` in containers.conf): the plainest box of lfg's image starts with `--userns host` and not
    without. Both asked: a box that failed for another reason (podman without its init) was said to
    be in a namespace of its own, naming a setting nobody had made."""
    if engine != "podman" or os.geteuid() != 0:
        return False
    runtime = ["--runtime", "runc"] if shutil.which("runc") else []
    plain = [
        *runtime,
        "run",
        "--rm",
        "--pull",
        "never",
        *_limits(engine),
        *_bind(Path("/usr"), Path("/usr"), "ro"),
    ]
    started = [
        _run(engine, *plain, *userns, IMAGE, "/usr/bin/true").returncode == 0
        for userns in ((), ("--userns", "host"))
    ]
    return started == [False, True]


async def removed(ticket: Ticket) -> None:
    """Remove what is left of the ticket's containers at the end of its attempt: its commands', and
    its agent's once that agent's client has ended (an agent kept for a follow-up stays). podman's
    monitor, reparented to the agent's or command's supervisor, dies with its tree, so podman no
    longer sees its container end (nor removes it); and an agent that killed its leash's watcher
    would live on. Removed again while any is left (`REMOVE_TRIES`): a removal podman's own cleanup
    had begun, and that died with the tree, leaves its container "Removing"."""
    if ticket.sandbox not in ENGINES:
        return
    try:
        for _ in range(REMOVE_TRIES):
            if not (ended := await asyncio.to_thread(_left, ticket)):
                return
            await asyncio.to_thread(_remove, ticket.sandbox, *ended)
    except (OSError, subprocess.TimeoutExpired):
        return  # the engine is gone: lfg's next start removes them


def _left(ticket: Ticket) -> list[str]:
    """The ticket's containers that `removed` removes: all but an agent's whose client lives (one
    the engine lists but cannot inspect, half removed, too)."""
    labels = (f"{OWNER_LABEL}={_owner()}", f"{TICKET_LABEL}={ticket.id}")
    filters = [part for label in labels for part in ("--filter", f"label={label}")]
    listed = (
        _run(ticket.sandbox, "ps", "-a", "-q", "--no-trunc", *filters).stdout.decode(errors="replace").split()
    )
    if not listed:
        return []
    labelled = " ".join(
        "{{index .Config.Labels " + f'"{label}"' + "}}" for label in (COMMAND_LABEL, CLIENT_LABEL)
    )
    seen = _run(ticket.sandbox, "inspect", "--format", "{{.Id}} " + labelled, *listed)
    lines = seen.stdout.decode(errors="replace").splitlines()
    kept = {line.split(" ", 1)[0] for line in lines if _ended(line) is None}
    return [found for found in listed if found not in kept]


def _ended(line: str) -> str | None:
    """The container's id in `inspect`'s line (id, command label, client label) where it is a
    command's, or an agent's whose client has ended; else None."""
    name, command, client = [*line.strip("\n").split(" ", 2), "", ""][:3]
    pid, _, started = client.strip().partition("/")
    return name if name and (command == "1" or _gone(pid, started)) else None


async def unavailable(engine: str) -> str | None:
    """Why `engine` cannot make a box here, in one line; None when it can."""
    return await asyncio.to_thread(_probed, engine)


def described(engine: str) -> str:
    """What `sandbox = ENGINE` allows here, or why it cannot run: `lfg agents --check`'s line."""
    why = _probed(engine)
    if why is not None:
        never = "a ticket that asks for it fails, never runs without it"
        return f'sandbox = "{engine}": not available here ({why}); {never}'
    return (
        f"sandbox = \"{engine}\": available; a boxed ticket's commands and agent run in a container of lfg's "
        "image, writing only in its worktree, its git folder, its additional_directories and the agent's own "
        "state (a private /tmp); /usr, the toolchains it runs and your home read-only, the rest of the disk "
        "unseen; your home's keys, tokens and lfg's own files hidden; every capability dropped, no new "
        f"privileges, as your uid; {engine_said(engine, Limits())} by default; network the host's, its "
        "loopback and abstract sockets too "
        "(sandbox_network = false: none; a coding agent needs it for its provider)"
    )
