"""`lfg completion` (scripts generated from the parser, run in the real shells) and `lfg paths`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lfgtui.commands.main import main
from tests.support.patience import PATIENCE

BASH_ASKS = """
source {script}
ask() {{
    COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMPREPLY=(); _lfg; echo "${{COMPREPLY[*]}}"
}}
ask lfg hi
ask lfg history s
ask lfg history show --j
ask lfg completion ''
ask lfg history export --format ''
ask lfg ru
"""


def script(shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["completion", shell]) == 0
    path = tmp_path / f"lfg.{shell}"
    path.write_text(capsys.readouterr().out)
    return path


def test_bash_completes_commands_subcommands_options_and_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bash = tmp_path / "asks.sh"
    bash.write_text(BASH_ASKS.format(script=script("bash", tmp_path, capsys)))
    done = subprocess.run(["bash", str(bash)], capture_output=True, text=True, timeout=30 * PATIENCE)
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "history",
        "search show stats",
        "--json",
        "bash zsh fish",
        "md json",
        "run runs",
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_from_the_same_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = 'complete -C"lfg history sh"; complete -C"lfg completion "; complete -C"lfg history show --j"'
    done = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script('fish', tmp_path, capsys)}; {lines}"],
        capture_output=True,
        text=True,
        timeout=30 * PATIENCE,
    )
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "show\ta run, a ticket (RUN/TICKET) or an attempt",
        "bash",
        "fish",
        "zsh",
        "--json\tprint JSON instead of text",
    ]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script_through_bashcompinit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script("zsh", tmp_path, capsys)
    done = subprocess.run(
        ["zsh", "-f", "-c", f"autoload -U compinit && compinit -u -D && source {path} && complete -p lfg"],
        capture_output=True,
        text=True,
        timeout=30 * PATIENCE,
    )
    assert done.returncode == 0, done.stderr
    assert "-F _lfg lfg" in done.stdout


def test_paths_says_where_each_place_is_and_what_moved_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LFG_CONFIG", "LFG_WORKTREES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("LFG_DB", str(tmp_path / "h.sqlite3"))
    assert main(["paths", "--json"]) == 0
    places = json.loads(capsys.readouterr().out)
    assert set(places) == {"config", "history", "logs", "worktrees", "themes", "scenarios"}
    assert places["config"] == {
        "path": str(tmp_path / "config" / "lfgtui" / "config.toml"),
        "chosen_by": "default",
        "moved_by": ["--config", "$LFG_CONFIG", "$XDG_CONFIG_HOME"],
    }
    assert places["history"]["path"] == str(tmp_path / "h.sqlite3")
    assert places["history"]["chosen_by"] == "$LFG_DB"
    assert places["themes"]["path"] == str(tmp_path / "config" / "lfgtui" / "themes")
    assert main(["paths"]) == 0
    shown = capsys.readouterr().out
    assert f"history    {tmp_path / 'h.sqlite3'}  (from $LFG_DB)" in shown


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "--bogus", "x"], "lfg run: unrecognized arguments: --bogus (see lfg run --help)"),
        (["history", "show", "r1", "--nope"], "lfg history show: unrecognized arguments: --nope"),
    ],
)
def test_an_unknown_option_is_said_with_its_commands_usage(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
