"""The referee of a run's tournaments: a sink that follows each contestant, runs its `check` once its
attempt completes, and decides the verdict once every contestant of a tournament is done.

The check runs on a snapshot of the contestant's work taken once its attempt ends
(worktrees/snapshot.py): its worktree frozen as a commit (on a broker's coordinator, whose checkout
has no worktree of it, the diff its worker reported applied onto the commit it started from), whose
diff is the one the verdict shows and landing lands, checked out fresh with the files the contestant
may not change for its own check (guard.py: its tests, the test runner's configuration, what the
command names) as the base has them, and removed after; pytest's own report on what ran is taken
over the output's (report.py). Nothing the contestant (or a sibling) does to
its worktree after that reaches the check or what lands. The check runs as the `run_command` tool
runs a model's command (tools/command.py, under the supervisor): with the same environment
allowlist (`command_env`, the ticket's `env_passthrough`), killed with all it started at the
ticket's `check_timeout_s`, the tail of its output kept. It runs after the attempt's end, so the
attempt's wall time is the contestant's own. A contestant run again (a follow-up) is checked again,
and the verdict decided again.

A tournament with a judge (the ticket `ID@judge`, held by the run until now) is decided by it: once
every contestant is done, the referee starts it with the contestants under shuffled labels
(judge.py), reads its ranking, asks it once more when the answer is not valid, and maps the ranking
back; a judge that fails leaves the rule's ranking, saying why. An attempt of the judge that the
referee did not start (the person retried the judge's ticket, or followed it up) is read the same
way once it ends, under the labels it was shown, and its verdict announced.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfgtui.contest import NOT_ASKED, CheckRan, CheckResult, Contestant, Diff, Verdict, VerdictDecided
from lfgtui.cost.metrics import Metrics
from lfgtui.events import (
    AgentDetails,
    AgentProgress,
    AgentStarted,
    ApprovalAnswered,
    ApprovalAsked,
    AttemptEnded,
    AttemptQueued,
    AttemptStarted,
    CallEnded,
    ContextUsed,
    DiffUpdated,
    ElicitationAnswered,
    ElicitationAsked,
    Event,
    Holding,
    PlanUpdated,
    PromptSent,
    Queued,
    QuotaSeen,
    ReasoningDelta,
    RequestSent,
    Retrying,
    RunFact,
    SessionOpened,
    Stalled,
    Status,
    Steered,
    SteerOffer,
    SubagentChanged,
    SubagentDelta,
    SubagentToolCall,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolCallUpdated,
    ToolOutputDelta,
    ToolResult,
    Translation,
    Usage,
    WorktreeReady,
)
from lfgtui.outcome import Outcome
from lfgtui.tickets.ticket import PromptTooLong, Ticket, render_prompt
from lfgtui.tools import command_env
from lfgtui.tools.base import ToolContext
from lfgtui.tools.command import RunCommand
from lfgtui.tournament.guard import Guarded, folders_of, guarded, named_paths
from lfgtui.tournament.judge import BadRanking, Ranked, ask_again, judge_prompt, labelled, read_ranking
from lfgtui.tournament.report import read_report, report_env
from lfgtui.tournament.verdict import rank, suite_counts
from lfgtui.worktrees.git import GitError
from lfgtui.worktrees.snapshot import Snapshot, applied, checkout, diff_of, folders_in_base, in_base, take

if TYPE_CHECKING:
    from lfgtui.run.scheduler import Run

logger = logging.getLogger(__name__)


@dataclass
class _Entry:
    """One contestant's latest attempt as the referee has followed it."""

    ticket: Ticket
    attempt: int = 0
    model: str = ""
    started: float | None = None
    ended: float | None = None
    outcome: Outcome | None = None
    diff: Diff | None = None
    worktree: WorktreeReady | None = None
    check: CheckResult | None = None
    snapshot: str | None = None
    """The commit of its work its check ran on."""
    done: bool = False
    task: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class _Asked:
    """A judging under way or done: the rule's verdict, and the labels the judge was shown."""

    verdict: Verdict
    labels: tuple[tuple[str, Contestant], ...]

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, contestant.ticket) for name, contestant in self.labels)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.labels]


class JudgeFailed(Exception):
    """The judge gave no ranking: its attempt did not complete, or its answer was not valid twice."""


class Referee:
    """The sink that follows the contestants; it says each check's result and each verdict as facts
    of the run (contest.py `CheckRan`, `VerdictDecided`), which every sink hears (`Run.tell`)."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.entries: dict[str, _Entry] = {}
        self.groups: dict[str, list[str]] = {}
        for state in run.states.values():
            ticket = state.ticket
            if ticket.check is not None and ticket.group is not None:
                self.entries[ticket.id] = _Entry(ticket)
                self.groups.setdefault(ticket.group, []).append(ticket.id)
        self.judges = {
            s.ticket.judges: s.ticket.id for s in run.states.values() if s.ticket.judges is not None
        }
        """Each judged tournament's judge ticket."""
        self.judged = {judge: tournament for tournament, judge in self.judges.items()}
        """Each judge ticket's tournament."""
        self.judging: dict[str, asyncio.Task[None]] = {}
        self.asked: dict[str, _Asked] = {}
        """What each tournament's judge was last asked to rank: read again when it answers again."""
        self.verdicts: dict[str, Verdict] = {}

    def __call__(self, event: Event) -> None:
        entry = self.entries.get(event.ticket)
        if entry is not None:
            if (handle := REFEREE.handlers.get(type(event))) is not None:
                handle(self, entry, event)
        elif type(event) is AttemptEnded and event.ticket in self.judged:
            self._judge_ended(self.judged[event.ticket])

    async def settled(self) -> None:
        """Wait for the checks and judges under way (and any they lead to) to end."""
        while pending := [task for task in self._tasks() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def cancel(self) -> None:
        """Stop every check and judging under way (the run is stopping): no verdict is decided."""
        for task in self._tasks():
            task.cancel()

    def _tasks(self) -> list[asyncio.Task[None]]:
        return [e.task for e in self.entries.values() if e.task is not None] + list(self.judging.values())

    def _started(self, entry: _Entry, event: AttemptStarted) -> None:
        if entry.task is not None:
            entry.task.cancel()
        ticket = entry.ticket
        self.entries[ticket.id] = _Entry(
            ticket, event.attempt, f"{event.provider}/{event.model}", event.t, worktree=entry.worktree
        )

    def _worktree(self, entry: _Entry, event: WorktreeReady) -> None:
        entry.worktree = event

    def _diff(self, entry: _Entry, event: DiffUpdated) -> None:
        entry.diff = Diff.of(event.added, event.removed, event.files, event.text)

    def _ended(self, entry: _Entry, event: AttemptEnded) -> None:
        entry.attempt, entry.ended, entry.outcome = event.attempt, event.t, event.outcome
        if event.outcome is Outcome.COMPLETED:
            entry.task = asyncio.create_task(self._check(entry), name=f"check {entry.ticket.id}")
        else:
            entry.done = True
            self._decide(entry.ticket)

    async def _check(self, entry: _Entry) -> None:
        ticket = entry.ticket
        assert ticket.check is not None  # only tickets with a check are entries
        try:
            result = await self._checked(entry, ticket.check)
        except Exception as exc:  # a bug of ours fails this check, not the run or its verdict
            logger.exception("the check of %s failed inside lfg", ticket.id)
            result = CheckResult(ticket.check, False, f"lfg failed: {type(exc).__name__}: {exc}", None)
        entry.check, entry.done = result, True
        self.run.tell(CheckRan, ticket.id, entry.attempt, result=result)
        self._decide(ticket)

    async def _checked(self, entry: _Entry, command: str) -> CheckResult:
        """`command` on a snapshot of the contestant's work (worktrees/snapshot.py), in a fresh
        worktree with the files it may not change for its own check as the base has them; the
        snapshot's diff becomes the contestant's, so what is shown is what was checked and lands."""
        try:
            snapshot = await self._snapshot(entry)
            if snapshot is None:  # isolation = "worktree" is required; its failure ends the attempt
                return CheckResult(command, False, "no worktree to run the check in", None)
            entry.snapshot = snapshot.commit
            diff = await diff_of(snapshot)
            entry.diff = Diff(diff.added, diff.removed, diff.paths, len(diff.paths), diff.text)
            guard = await self._guard(snapshot, command, diff.paths)
            async with checkout(snapshot, guard.restored, guard.left_out) as workdir:
                result = await self._run_check(entry.ticket, command, workdir)
        except GitError as exc:
            return CheckResult(command, False, f"the contestant's work could not be checked: {exc}", None)
        return replace(result, restored=guard.restored, left_out=guard.left_out)

    @staticmethod
    async def _guard(snapshot: Snapshot, command: str, changed: tuple[str, ...]) -> Guarded:
        """Of the files the contestant changed, those of the person's check (guard.py)."""
        named = named_paths(command, snapshot.subdir)
        folders = {folder for path in changed for folder in folders_of(path)} & named
        return guarded(
            changed, named, await in_base(snapshot, changed), await folders_in_base(snapshot, folders)
        )

    async def _snapshot(self, entry: _Entry) -> Snapshot | None:
        """The contestant's work frozen as a commit: its worktree as it is now, here; on a broker's
        coordinator (the worktree is on a worker), the diff the worker reported applied onto the commit
        its worktree started from, in this checkout. None when it has no worktree."""
        ticket = entry.ticket
        if (tree := self.run.states[ticket.id].worktree) is not None:
            return await take(tree)
        if entry.worktree is None or entry.diff is None:
            return None
        return await applied(ticket.workdir, entry.worktree.base, entry.diff.text, self.run.run_id, ticket.id)

    async def _run_check(self, ticket: Ticket, command: str, workdir: Path) -> CheckResult:
        """`command` in `workdir`, as `run_command` runs a model's command, with pytest writing its
        report outside the checkout (report.py): its word on what ran is taken over the output's."""
        with tempfile.TemporaryDirectory(prefix="lfg-report-") as reports:
            env = command_env(self.run.tool_env, ticket.env_passthrough, workdir)
            ctx = ToolContext(
                workdir=workdir,
                env=report_env(env, Path(reports)),
                command_timeout_s=ticket.check_timeout_s,
            )
            try:
                outcome = await RunCommand().run({"command": command}, ctx)
            except OSError as exc:  # the shell could not be started
                return CheckResult(command, False, f"the check could not start: {exc}", None)
            evidence = await asyncio.to_thread(read_report, Path(reports), command)
        output = outcome.output
        real = await asyncio.to_thread(os.path.realpath, workdir)
        for path in sorted({str(workdir), real}, key=len, reverse=True):
            output = output.replace(path, ".")  # a throwaway checkout's path says nothing, and may name names
        exited = not outcome.is_error
        if evidence is None:
            return CheckResult(command, exited, output, suite_counts(output))
        refused = evidence.refused if exited else ""
        return CheckResult(command, exited and not evidence.refused, output, evidence.tests, refused=refused)

    def _decide(self, ticket: Ticket) -> None:
        assert ticket.group is not None
        entries = [self.entries[ticket_id] for ticket_id in self.groups[ticket.group]]
        if not all(entry.done for entry in entries):
            return
        verdict = rank(ticket.group, tuple(self._contestant(entry) for entry in entries))
        judging = self.judging.get(ticket.group)
        idle = judging is None or judging.done()
        if ticket.group in self.judges and idle and not any(e.outcome is Outcome.COMPLETED for e in entries):
            self._announce(verdict.judge_failed(self.judges[ticket.group], (), NOT_ASKED))
            return  # nothing to rank: the judge's (paid) call is not made
        if ticket.group in self.judges:
            earlier = self.judging.get(ticket.group)
            self.judging[ticket.group] = asyncio.create_task(
                self._judged(verdict, entries[0].ticket, earlier), name=f"judge {ticket.group}"
            )
        else:
            self._announce(verdict)

    def _announce(self, verdict: Verdict) -> None:
        if self.run.recording is not None:  # landed from the history: `lfg land RUN TICKET`
            verdict = replace(verdict, run_id=self.run.run_id)
        self.verdicts[verdict.tournament] = verdict
        self.run.tell(VerdictDecided, verdict.tournament, 0, verdict=verdict)

    async def _judged(self, verdict: Verdict, contestant: Ticket, earlier: asyncio.Task[None] | None) -> None:
        """Start the judge on the contestants under shuffled labels and announce its verdict (the
        rule's, saying why, when it fails). A judging still under way for an earlier verdict (a
        contestant ran again) is stopped first."""
        judge = self.judges[verdict.tournament]
        state = self.run.states[judge]
        if earlier is not None and not earlier.done():
            earlier.cancel()
            self.run.cancel(judge, "a contestant ran again: the judge starts over")
            await asyncio.gather(earlier, return_exceptions=True)
        if state.running:
            await state.finished.wait()
        asked = self.asked[verdict.tournament] = _Asked(verdict, labelled(verdict.contestants))
        prompt = judge_prompt(self._task(contestant), asked.labels, contestant.judge_max_chars)
        await self._rank(judge, asked, self._ranking(judge, prompt, asked.names))

    def _judge_ended(self, tournament: str) -> None:
        """An attempt of the judge ended: read it, unless a judging under way waits for it (or the
        judge was never asked)."""
        judging, asked = self.judging.get(tournament), self.asked.get(tournament)
        if asked is None or (judging is not None and not judging.done()):
            return
        judge = self.judges[tournament]
        self.judging[tournament] = asyncio.create_task(
            self._rank(judge, asked, self._read(judge, asked.names)), name=f"judge {tournament} again"
        )

    async def _rank(self, judge: str, asked: _Asked, ranking: Coroutine[Any, Any, Ranked]) -> None:
        """Announce the verdict the judge's `ranking` makes of `asked` (the rule's, saying why, when it
        fails)."""
        verdict = asked.verdict
        try:
            decided = verdict.by_judge(judge, asked.pairs, (await ranking).placings(asked.labels))
        except JudgeFailed as exc:
            decided = verdict.judge_failed(judge, asked.pairs, str(exc))
        except Exception as exc:  # a bug of ours fails the judging, not the run or the rule's verdict
            logger.exception("judging %s failed inside lfg", verdict.tournament)
            decided = verdict.judge_failed(judge, asked.pairs, f"lfg failed: {type(exc).__name__}: {exc}")
        self._announce(decided)

    def _task(self, contestant: Ticket) -> str:
        """What the contestants were asked: the ticket's prompt with its dependencies' answers."""
        try:
            return render_prompt(contestant, self.run.answers(contestant))
        except PromptTooLong:  # the contestants' own attempts said so; the judge sees the prompt as written
            return contestant.prompt

    async def _ranking(self, judge: str, prompt: str, labels: list[str]) -> Ranked:
        """The judge's valid ranking: asked once, and once again (told what was wrong) when its answer
        is not one; JudgeFailed when there is none."""
        if not self.run.release(judge, prompt):
            raise JudgeFailed("it was still running")
        return await self._read(judge, labels)

    async def _read(self, judge: str, labels: list[str]) -> Ranked:
        """The valid ranking of the judge's attempt under way (or just ended), asking once again when
        its answer is not one; JudgeFailed when there is none."""
        try:
            return read_ranking(await self._answer(judge), labels)
        except BadRanking as first:
            if not self.run.continue_with(judge, ask_again(str(first), labels)):
                raise JudgeFailed(f"{first}; it could not be asked again") from None
        try:
            return read_ranking(await self._answer(judge), labels)
        except BadRanking as second:
            raise JudgeFailed(f"no valid ranking, asked twice: {second}") from None

    async def _answer(self, judge: str) -> str:
        """The judge's answer once its attempt ends; JudgeFailed when it did not complete."""
        state = self.run.states[judge]
        await state.finished.wait()
        if state.outcome is not Outcome.COMPLETED:
            outcome = (state.outcome or Outcome.CANCELLED).value
            why = "" if state.error is None else f": {state.error.message}"
            raise JudgeFailed(f"its attempt ended {outcome}{why}")
        return state.answer

    def _contestant(self, entry: _Entry) -> Contestant:
        assert entry.outcome is not None  # done
        metrics = self.run.book.attempts.get((entry.ticket.id, entry.attempt), Metrics())
        started, ended = entry.started, entry.ended
        tree = self.run.states[entry.ticket.id].worktree
        return Contestant(
            ticket=entry.ticket.id,
            attempt=entry.attempt,
            model=entry.model,
            outcome=entry.outcome,
            metrics=metrics,
            wall_s=None if started is None or ended is None else ended - started,
            check=entry.check,
            diff=entry.diff,
            branch=None if tree is None else tree.branch,
            worktree=None if tree is None else str(tree.path),
            repo=None if tree is None else str(tree.repo),
            snapshot=entry.snapshot,
        )


Handler = Callable[[Referee, _Entry, Any], None]

REFEREE: Translation[Handler] = Translation(
    "tournament referee",
    {
        AttemptStarted: Referee._started,
        WorktreeReady: Referee._worktree,
        DiffUpdated: Referee._diff,
        AttemptEnded: Referee._ended,
    },
    {
        RunFact: "the run's facts are the referee's own: it says them",
        **dict.fromkeys(
            (PromptSent, RequestSent, TextDelta, ReasoningDelta, Usage, CallEnded, ContextUsed, QuotaSeen),
            "the metrics book counts them; the table reads it",
        ),
        **dict.fromkeys(
            (Steered, Holding),
            "the person's words on the way: the contestant's diff and check say what came of them",
        ),
        **dict.fromkeys(
            (ToolCallStarted, ToolCallArgsDelta, ToolCallReady, ToolCallUpdated, ToolOutputDelta, ToolResult),
            "what the contestant did shows in its diff and its check, not its calls",
        ),
        **dict.fromkeys(
            (SubagentChanged, SubagentDelta, SubagentToolCall),
            "a sub-agent's work is the contestant's: its diff and its check say what came of it",
        ),
        **dict.fromkeys(
            (
                Status,
                AttemptQueued,
                Retrying,
                Queued,
                AgentStarted,
                SessionOpened,
                AgentProgress,
                Stalled,
                ApprovalAsked,
                ApprovalAnswered,
                ElicitationAsked,
                ElicitationAnswered,
                PlanUpdated,
                AgentDetails,
                SteerOffer,
            ),
            "a note on the way: the table is about the result",
        ),
    },
)
"""What the referee takes of each event type."""
