"""Which scenario answers a model name the sim does not know: real agents ask for their own models.

Claude Code asks for `claude-sonnet-…` and makes side calls with a `claude-haiku-…`, Codex for a
`gpt-…`, Gemini CLI for `gemini-…-pro` and `-flash`. A model map sends such names to scenarios
(`claude-*=agent-demo`); a name that is a scenario's own is always that scenario, so a ticket can
still pick `fault-500` through an agent. What neither matches goes to `unknown`, or is a 404 as the
real APIs answer a model they do not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from lfgtui.sim.scenario import ScenarioError

UNKNOWN_MODEL = "hello"
"""What `lfg sim serve` answers a model name it neither knows nor maps: a short plain answer, which
suits the side calls agents make (titles, summaries) and never calls a tool."""


@dataclass(frozen=True, slots=True)
class ModelRule:
    pattern: str  # a glob over the model name a request asks for (`*`, `?`, `[…]`), case-sensitive
    scenario: str  # the scenario's model name, options allowed (`agent-demo:tokens_per_s=80`)


def parse_rule(text: str) -> ModelRule:
    """`PATTERN=SCENARIO`, as `--model` takes it."""
    pattern, sep, scenario = text.partition("=")
    pattern, scenario = pattern.strip(), scenario.strip()
    if not sep or not pattern or not scenario:
        raise ScenarioError(f"model map {text!r}: expected PATTERN=SCENARIO, e.g. 'claude-*=agent-demo'")
    return ModelRule(pattern, scenario)


@dataclass(frozen=True, slots=True)
class ModelMap:
    """The rules in order (the first match wins), and the scenario for a name nothing matches."""

    rules: tuple[ModelRule, ...] = ()
    unknown: str | None = None  # None: an unknown name is refused with a 404

    def scenario_for(self, model: str, known: Iterable[str]) -> str:
        """The scenario model name that answers `model`: itself when its name (before any `:options`)
        is a scenario's, else the first rule's that matches, else `unknown`, else itself (refused)."""
        if model.partition(":")[0] in set(known):
            return model
        for rule in self.rules:
            if fnmatchcase(model, rule.pattern):
                return rule.scenario
        return self.unknown or model
