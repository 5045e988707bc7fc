"""The `lfg` command line: one module per command, each importing what it needs only when it runs.

- `main`: the parser, the handler each command registers, exit on a closed pipe;
- `subcommands`: argparse's subcommands, each one's arguments added only when it is chosen;
- `common`: exit codes, the options several commands share, a recorded run looked up;
- `compose`: how a run runs (`RunOptions`) and the TUI opened (`open_tui`);
- `ask`, `run`, `resume` (`resume` and `replay`), `history`, `remote` (`serve`, `attach`, `--serve`),
  `web`, `worktrees`, `agents`, `sim`: the commands;
- `headless`: what a run without the TUI prints (`lfg run --headless`, `--json`, `lfg attach --json`):
  progress lines and a closing table, or NDJSON.

Nothing outside this package imports it, except `lfgtui/__main__.py`.
"""
