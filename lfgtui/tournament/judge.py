"""A tournament's judge: what it is shown and what it must answer.

The judge sees the task and, for each contestant under a shuffled neutral label (`A`, `B`, …), how
its attempt ended, its check's result and output, and its diff. No provider, model, agent, ticket
id, branch or worktree path reaches it: each is replaced (the worktree by `.`, the others by
`[withheld]`) wherever it appears in that text, since a judge prefers work it takes for its own.
It must answer only the JSON object `ANSWER_SHAPE` describes, which `read_ranking` checks strictly:
every label exactly once, best first, each with a reason. lfg keeps the labels' mapping and maps the
ranking back to the contestants' tickets.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from lfgtui.outcome import Outcome
from lfgtui.tournament.verdict import Contestant, Placing

WITHHELD = "[withheld]"
"""What stands in the judge's text where a contestant's provider, model, agent or ticket was."""
ANSWER_SHAPE = '{"ranking": [{"label": "B", "reason": "why B is best"}, {"label": "A", "reason": "…"}]}'
_FENCED = re.compile(r"\A```[A-Za-z]*\n(.*)\n```\Z", re.DOTALL)
_WORD = "A-Za-z0-9_"


class BadRanking(ValueError):
    """The judge's answer is not the ranking asked for; the message says what is wrong with it."""


def labelled(contestants: Sequence[Contestant]) -> tuple[tuple[str, Contestant], ...]:
    """Each contestant under a neutral label, A, B, … (after Z: AA, AB, …), in a shuffled order, so
    that neither the label nor the place in the prompt tells the file's order."""
    shuffled = secrets.SystemRandom().sample(list(contestants), len(contestants))
    return tuple((label(index), contestant) for index, contestant in enumerate(shuffled))


def label(index: int) -> str:
    """The `index`th label: A … Z, then AA, AB, …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def withheld(text: str, contestants: Sequence[Contestant]) -> str:
    """`text` with every contestant's worktree path made `.` and its ticket id, branch, provider and
    model (as whole words, any case) made `[withheld]`."""
    for contestant in contestants:
        if contestant.worktree:
            text = text.replace(contestant.worktree, ".")
    names = set()
    for contestant in contestants:
        provider, _, model = contestant.model.partition("/")
        names.update((contestant.ticket, contestant.model, provider, model, contestant.branch or ""))
    names = {name for name in names if len(name) >= 3}
    if not names:
        return text
    pattern = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.sub(rf"(?<![{_WORD}])(?:{pattern})(?![{_WORD}])", WITHHELD, text, flags=re.IGNORECASE)


def judge_prompt(task: str, labels: Sequence[tuple[str, Contestant]]) -> str:
    """What the judge is asked: how to answer, the task, then each contestant by its label."""
    contestants = [contestant for _, contestant in labels]
    names = ", ".join(name for name, _ in labels)
    parts = [
        "You are the judge of a tournament: several contestants were given the same task, each working "
        "in its own copy of the same git repository. Rank them, best first, by how well their change does "
        "the task: correct first, then the smaller, clearer change. A check command ran in each copy "
        "once the contestant was done; its result and output are below with each contestant's diff. "
        "The contestants are named only by labels; judge the work, not who might have done it.",
        f"Answer with only this JSON object, nothing before or after it:\n{ANSWER_SHAPE}\n"
        f"Rank every contestant ({names}) exactly once, best first, each with a reason: a non-empty string.",
        f"# The task\n\n{withheld(task, contestants)}",
    ]
    parts += [_section(name, contestant, contestants) for name, contestant in labels]
    return "\n\n".join(parts) + "\n"


def _section(name: str, contestant: Contestant, everyone: Sequence[Contestant]) -> str:
    """One contestant as the judge sees it: the first line says the check's result (the sim's judge
    reads it: `Check (COMMAND): passed (2 passed)`)."""
    lines = [f"# Contestant {name}", ""]
    check = contestant.check
    if contestant.outcome is not Outcome.COMPLETED or check is None:
        lines.append(f"Did not complete: {contestant.outcome.value}; nothing was checked.")
    else:
        lines.append(f"Check ({withheld(check.command, everyone)}): {check.label()}")
        lines += ["", "## Check output", "", _fenced(withheld(check.output, everyone), "text")]
    diff = contestant.diff
    if diff is None or not diff.text:
        lines += ["", "## Diff", "", "No change."]
    else:
        lines += ["", f"## Diff: {diff.label()}", "", _fenced(withheld(diff.text, everyone), "diff")]
    return "\n".join(lines)


def _fenced(text: str, language: str) -> str:
    """`text` in a code fence longer than any run of backticks in it, so it cannot close it early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip(chr(10))}\n{fence}"


@dataclass(frozen=True)
class Ranked:
    """A valid ranking: each label, best first, with the judge's reason."""

    places: tuple[tuple[str, str], ...]

    def placings(self, labels: Sequence[tuple[str, Contestant]]) -> tuple[Placing, ...]:
        """The ranking mapped back to the contestants' tickets."""
        tickets = {name: contestant.ticket for name, contestant in labels}
        return tuple(Placing(tickets[name], (reason,)) for name, reason in self.places)


def read_ranking(answer: str, labels: Sequence[str]) -> Ranked:
    """The judge's answer read strictly: only the JSON object (a code fence around it allowed),
    `ranking` its one key, each item exactly a `label` and a non-empty `reason`, every label once.
    Raises BadRanking saying what is wrong."""
    text = answer.strip()
    if (fenced := _FENCED.match(text)) is not None:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadRanking(f"the answer is not a JSON object: {exc}") from None
    if not isinstance(value, dict) or set(value) != {"ranking"}:
        raise BadRanking('the answer must be a JSON object with one key, "ranking"')
    items = value["ranking"]
    if not isinstance(items, list):
        raise BadRanking('"ranking" must be a list')
    places: list[tuple[str, str]] = []
    for place, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) != {"label", "reason"}:
            raise BadRanking(f'item {place} of "ranking" must be an object with exactly "label" and "reason"')
        name, reason = item["label"], item["reason"]
        if not isinstance(name, str) or name not in labels:
            raise BadRanking(f"item {place}: {name!r} is not a contestant's label ({', '.join(labels)})")
        if any(name == seen for seen, _ in places):
            raise BadRanking(f"item {place}: {name} is ranked twice")
        if not isinstance(reason, str) or not reason.strip():
            raise BadRanking(f"item {place}: the reason for {name} must be a non-empty string")
        places.append((name, reason.strip()))
    missing = [name for name in labels if name not in {seen for seen, _ in places}]
    if missing:
        raise BadRanking(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing from the ranking"
        )
    return Ranked(tuple(places))


def ask_again(error: str, labels: Sequence[str]) -> str:
    """The follow-up a malformed answer gets, once: what was wrong, and the shape again."""
    return (
        f"Your answer is not a valid ranking: {error}. Answer again with only the JSON object, nothing "
        f"before or after it:\n{ANSWER_SHAPE}\nEvery contestant ({', '.join(labels)}) exactly once, best "
        "first, each with a non-empty reason."
    )
