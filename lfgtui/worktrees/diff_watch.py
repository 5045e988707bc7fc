"""Keeps the diff size of a ticket that works in its own git worktree current while it works.

The size is measured by `git` (see tree.py), which costs tens of milliseconds on a large
repository, so it is measured after a tool may have changed files (a poke), at most once a
second, and every few seconds besides (a coding agent can write files with tools lfg never sees);
an event goes out only when the numbers change. At the end of an attempt the final size and the
whole diff are taken once more, so the history keeps what the ticket left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from lfgtui.worktrees.git import GitError
from lfgtui.worktrees.tree import DiffStat, Worktree, diff_stat, diff_text

Report = Callable[[DiffStat, str | None], None]
"""Receives a new size, and with the final one the whole unified diff."""

logger = logging.getLogger(__name__)


class DiffWatch:
    def __init__(self, tree: Worktree, report: Report, every_s: float = 5.0, gap_s: float = 1.0) -> None:
        self.tree = tree
        self.report = report
        self.every_s = every_s
        self.gap_s = gap_s
        self._poked = asyncio.Event()
        self._last: DiffStat | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name=f"diff {self.tree.ticket_id}")

    def poke(self) -> None:
        """Files may have changed (a tool ran): measure again soon."""
        self._poked.set()

    async def finish(self) -> None:
        """Stop watching and report the final size with the whole diff (nothing when git fails)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            stat, text = await diff_stat(self.tree), await diff_text(self.tree)
        except GitError as exc:
            logger.warning("the final diff of %s could not be taken: %s", self.tree.ticket_id, exc)
            return
        self._last = stat
        self.report(stat, text)

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self.every_s)
            self._poked.clear()
            try:
                stat = await diff_stat(self.tree)
            except GitError as exc:
                logger.warning("the diff of %s could not be measured: %s", self.tree.ticket_id, exc)
            else:
                if stat != self._last:
                    self._last = stat
                    self.report(stat, None)
            await asyncio.sleep(self.gap_s)
