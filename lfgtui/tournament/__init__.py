"""Tournaments: the contestants of one ticket that fans out (`attempts`, `models`, `agents`) with a
`check`, checked in their worktrees and ranked.

- `verdict`: what a contestant did (its check, diff, cost, times) and the ranking by the documented
  rule, as data the TUI, the headless summary and the NDJSON show (light to import);
- `referee`: the sink that follows the contestants, runs each one's check as `run_command` runs a
  command, and decides the verdict once all are done.
"""
