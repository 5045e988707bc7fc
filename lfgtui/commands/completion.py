"""`lfg completion bash|zsh|fish`: a shell completion script generated from lfg's own parser.

The script is written from the argparse tree (every command, subcommand, option and choice, with
each command's arguments added as `Subcommands.parser_of` adds them), so it cannot drift from
`lfg --help`. It completes command names, options, an option's or argument's choices, and files
elsewhere. shtab would write bash and zsh, but not fish, so one small generator does all three
alike; zsh runs the bash script through its `bashcompinit`.
"""

from __future__ import annotations

import argparse
import functools
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lfgtui.commands.subcommands import Subcommands

SHELLS = ("bash", "zsh", "fish")


def add_completion_command(commands: Subcommands, parser: Callable[[], argparse.ArgumentParser]) -> None:
    """Register `lfg completion` on the top-level subcommands; `parser` makes lfg's whole parser,
    which the script is written from."""
    commands.add_command(
        "completion",
        "print a shell completion script (bash, zsh or fish)",
        _arguments,
        functools.partial(completion, parser),
    )


def _arguments(completion: argparse.ArgumentParser) -> None:
    completion.add_argument(
        "shell",
        choices=SHELLS,
        help='the shell: bash (eval "$(lfg completion bash)" in ~/.bashrc), zsh (the same in ~/.zshrc) '
        "or fish (lfg completion fish > ~/.config/fish/completions/lfg.fish)",
    )


@dataclass(frozen=True, slots=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command:
    """One command of the tree: `path` is its words after `lfg` (the top: empty)."""

    path: tuple[str, ...]
    help: str
    options: tuple[Option, ...]
    subcommands: tuple[Command, ...]
    choices: tuple[str, ...]
    """The choices of its positional arguments (`lfg completion SHELL`)."""

    def walk(self) -> Iterator[Command]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


def completion(parser: Callable[[], argparse.ArgumentParser], args: argparse.Namespace) -> int:
    tree = command_tree(parser())
    print({"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell](tree), end="")
    return 0


def command_tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help: str = "") -> Command:
    """The commands, options and choices of `parser` and every subcommand under it."""
    options: list[Option] = []
    subcommands: list[Command] = []
    choices: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name in action.choices:
                sub = action.parser_of(name) if isinstance(action, Subcommands) else action.choices[name]
                subcommands.append(command_tree(sub, (*path, name), helps.get(name, "")))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            options.append(
                Option(
                    tuple(action.option_strings),
                    _one_line(action.help or ""),
                    action.nargs != 0,
                    tuple(str(choice) for choice in action.choices or ()),
                )
            )
        elif action.choices:
            choices += [str(choice) for choice in action.choices]
    return Command(path, _one_line(help), tuple(options), tuple(subcommands), tuple(choices))


def _one_line(text: str) -> str:
    return " ".join(text.replace("%%", "%").split())


def bash_script(tree: Command) -> str:
    """A bash function completing `lfg`: the words typed so far name a command (`history show`);
    its options, subcommands, choices or files are offered."""
    cases = []
    for command in tree.walk():
        flags = [flag for option in command.options for flag in option.flags]
        words = [sub.path[-1] for sub in command.subcommands] + list(command.choices)
        cases.append(
            f"        {shlex.quote(' '.join(command.path))}) opts={shlex.quote(' '.join(flags))}; "
            f"words={shlex.quote(' '.join(words))}; subs={1 if command.subcommands else 0} ;;"
        )
    value_cases = [
        f"        {'|'.join(shlex.quote(' '.join(command.path) + '|' + flag) for flag in option.flags)}) "
        f"choices={shlex.quote(' '.join(option.choices))}; return 0 ;;"
        for command in tree.walk()
        for option in command.options
        if option.takes_value
    ]
    paths = [" ".join(command.path) for command in tree.walk() if command.path]
    return f"""# lfg completion for bash (lfg completion bash); generated from lfg's parser
_lfg_is_command() {{
    case "$1" in
        {"|".join(shlex.quote(path) for path in paths)}) return 0 ;;
    esac
    return 1
}}

_lfg_option_value() {{
    # $1: the command, $2: an option; true (and $choices set) if it takes a value
    case "$1|$2" in
{chr(10).join(value_cases)}
    esac
    return 1
}}

_lfg() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} path="" word next i opts words subs choices
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        next=${{path:+$path }}$word
        if [[ $word != -* ]] && _lfg_is_command "$next"; then
            path=$next
        fi
    done
    if ((COMP_CWORD > 1)) && _lfg_option_value "$path" "${{COMP_WORDS[COMP_CWORD - 1]}}"; then
        if [[ -n $choices ]]; then
            COMPREPLY=($(compgen -W "$choices" -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi
    case "$path" in
{chr(10).join(cases)}
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ -n $words ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    elif ((subs == 0)); then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}}
complete -o filenames -F _lfg lfg
"""


def zsh_script(tree: Command) -> str:
    """The bash script, run by zsh's bashcompinit."""
    return (
        "# lfg completion for zsh (lfg completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n"
        + bash_script(tree)
    )


def fish_script(tree: Command) -> str:
    """`complete` lines for fish, each under `__lfg_at PATH`: the words typed so far name that command."""
    paths = " ".join(_fish_quote(" ".join(command.path)) for command in tree.walk() if command.path)
    lines = [
        "# lfg completion for fish (lfg completion fish); generated from lfg's parser",
        f"set -g __lfg_commands {paths}",
        "function __lfg_at --description 'the lfg command typed so far is $argv'",
        "    set -l path",
        "    for word in (commandline -opc)[2..-1]",
        "        string match -q -- '-*' $word; and continue",
        "        if contains -- (string join ' ' $path $word) $__lfg_commands",
        "            set path $path $word",
        "        end",
        "    end",
        "    set -l typed (string join ' ' $path)",
        "    set -l wanted (string join ' ' $argv)",
        '    test "$typed" = "$wanted"',
        "end",
        "complete -c lfg -f",
    ]
    for command in tree.walk():
        at = _fish_quote(" ".join(["__lfg_at", *command.path]))
        for sub in command.subcommands:
            lines.append(f"complete -c lfg -n {at} -a {_fish_quote(sub.path[-1])} -d {_fish_quote(sub.help)}")
        if command.choices:
            lines.append(f"complete -c lfg -n {at} -a {_fish_quote(' '.join(command.choices))}")
        elif not command.subcommands:
            lines.append(f"complete -c lfg -n {at} -F")
        for option in command.options:
            flags = " ".join(
                f"-l {_fish_quote(flag[2:])}" if flag.startswith("--") else f"-s {_fish_quote(flag[1:])}"
                for flag in option.flags
            )
            value = ""
            if option.choices:
                value = f" -x -a {_fish_quote(' '.join(option.choices))}"
            elif option.takes_value:
                value = " -r -F"
            lines.append(f"complete -c lfg -n {at} {flags}{value} -d {_fish_quote(option.help)}")
    return "\n".join(lines) + "\n"


def _fish_quote(text: str) -> str:
    """`text` in fish's single quotes, where only `\\` and `'` are escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
