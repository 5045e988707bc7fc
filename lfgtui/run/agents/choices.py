"""A ticket's model and mode, brought to a coding agent's session.

A session says what may be chosen in it: config options (`session/set_config_option`, with the
categories `model` and `mode`), or the older `modes` (`session/set_mode`) and `models`
(`session/set_model`, unstable: Gemini CLI's way, which the SDK no longer knows, so it is sent as
plain JSON-RPC). Where the agent offers no model to choose, the model may still have reached it at
start: in its command line (`{model}`) or its own variable (`model_env`, e.g. `ANTHROPIC_MODEL`);
otherwise the pane says it did not reach the agent. A model or mode the agent's own list lacks (and
nothing else passed) fails the ticket.

The mode is the person's approval mode, so lfg always sets it, never trusting the agent's own start
(today's Claude Code starts in `auto`, where its own checker, not the person, approves): the
ticket's `mode`, else with `--yes` the provider's `yes_mode` where it names one, else the provider's
`mode` (the built-in agents' mode that asks the person), else `default` where the agent offers a
mode of that id. It then reads back the mode the agent reports (the answer's config options, or a
`current_mode_update` sent meanwhile) and fails the attempt, before any prompt, when the agent
refuses the mode or reports another. An agent that offers modes but none of id `default` (opencode
offers `build` and `plan`, and asks nothing in `build`), when neither the ticket nor its provider
names one, is refused before any prompt unless the run is `--yes`: lfg cannot tell which of its
modes asks, and going on in the agent's own would let it act unasked. Only an agent that offers no
modes at all, and whose provider names none, goes on in its own way, which the pane says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import acp
from acp import schema

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.inert import inert
from lfgtui.providers.base import ProviderConfig, ProviderError

AGENT_DEFAULT = "default"
"""The model of a built-in agent's ticket that names none: the agent's own choice, nothing to set."""
ASKING_MODE = "default"
"""The mode lfg sets in an agent whose provider names none, where the agent offers it: ACP agents'
(Claude Code's, Gemini CLI's) id for the mode that asks before editing or running anything."""


SET_MODEL = "session/set_model"


@dataclass(frozen=True)
class SessionModels:
    """A session's models the older way (ACP's unstable `models`, chosen with `session/set_model`):
    each model's id and name, and the current one's id (None: the agent does not say)."""

    available: tuple[tuple[str, str], ...]
    current: str | None

    def name(self, model_id: str) -> str:
        """The model as the agent names it: `Name (id)`, or its id alone."""
        name = next((name for value, name in self.available if value == model_id), model_id)
        return model_id if name == model_id else f"{name} ({model_id})"


def session_models(result: dict[str, Any] | None) -> SessionModels | None:
    """The `models` of a raw `session/new` or `session/load` result, or None when it has none (or
    they are not well formed: an entry without a string `modelId` is left out)."""
    models = (result or {}).get("models")
    listed = models.get("availableModels") if isinstance(models, dict) else None
    if not isinstance(models, dict) or not isinstance(listed, list):
        return None
    available = tuple(
        (entry["modelId"], entry["name"] if isinstance(entry.get("name"), str) else entry["modelId"])
        for entry in listed
        if isinstance(entry, dict) and isinstance(entry.get("modelId"), str)
    )
    current = models.get("currentModelId")
    return SessionModels(available, current if isinstance(current, str) and current else None)


@dataclass(frozen=True)
class Offered:
    """What a session lets a client choose, as `session/new` or `session/load` answered (and lfg's
    choices since left it)."""

    config_options: Sequence[Any]
    modes: schema.SessionModeState | None
    models: SessionModels | None = None


@dataclass(frozen=True)
class Wanted:
    """What the ticket asks for: its model (None: the agent's own) and mode (None: none named, so
    `ASKING_MODE` where the agent offers it), and who named the mode (`why`, for the pane)."""

    model: str | None
    mode: str | None
    why: str = ""
    yes: bool = False  # the run's `--yes`: the person lets every request through


def wanted(config: ProviderConfig, model: str, mode: str | None, yes: bool = False) -> Wanted:
    """What has to be brought to the agent: the ticket's model, which is its provider's
    `default_model` when the ticket names none, like any other (its command line, `model_env`, the
    session's model option; where none can carry it the pane says so at start). Only `default` (a
    built-in agent's `default_model`) leaves the model to the agent. The mode: the ticket's, else
    with `yes` (`--yes`) the provider's `yes_mode`, else the provider's `mode`."""
    chosen = None if model in ("", AGENT_DEFAULT) else model
    agent, name = config.agent, config.name
    if mode is not None:
        return Wanted(chosen, mode, "the ticket's mode")
    if yes and agent.yes_mode is not None:
        return Wanted(chosen, agent.yes_mode, f"provider {name}'s yes_mode, with --yes")
    if agent.mode is not None:
        return Wanted(chosen, agent.mode, f"provider {name}'s mode")
    return Wanted(chosen, None, f"provider {name} names no mode", yes)


def passed_at_start(config: ProviderConfig) -> str | None:
    """How the model reached the agent before its session: its command line or its variable."""
    if any("{model}" in part for part in config.agent.command):
        return "the agent's command line"
    return config.agent.model_env


def _select(options: Sequence[Any], category: str) -> schema.SessionConfigOptionSelect | None:
    return next(
        (o for o in options if isinstance(o, schema.SessionConfigOptionSelect) and o.category == category),
        None,
    )


def _values(option: schema.SessionConfigOptionSelect) -> list[schema.SessionConfigSelectOption]:
    """An option's values, its groups flattened."""
    values: list[schema.SessionConfigSelectOption] = []
    for item in option.options:
        values += item.options if isinstance(item, schema.SessionConfigSelectGroup) else [item]
    return values


def _match(values: list[schema.SessionConfigSelectOption], asked: str) -> str | None:
    """The value the agent calls `asked`: its id exactly, else its id or name in any case."""
    if any(v.value == asked for v in values):
        return asked
    folded = asked.casefold()
    return next((v.value for v in values if folded in (v.value.casefold(), v.name.casefold())), None)


def current_name(option: schema.SessionConfigOptionSelect) -> str:
    """The option's current value as the agent names it (raw: make it inert to show it)."""
    value = option.current_value
    name = next((v.name for v in _values(option) if v.value == value), value)
    return value if name == value else f"{name} ({value})"


def _named(option: schema.SessionConfigOptionSelect) -> str:
    return inert(current_name(option))


def _refused(message: str) -> ProviderError:
    return ProviderError(ErrorInfo(ErrorKind.NOT_FOUND, message))


def said(exc: acp.RequestError) -> str:
    """The agent's error message with the detail it gave (`details` or `reason`, or a text), inert."""
    data = exc.data
    detail = data if isinstance(data, str) else None
    if isinstance(data, dict):
        detail = data.get("details") or data.get("reason")
    return inert(f"{exc} ({detail})" if detail else str(exc))


ModeSaid = Callable[[], "str | None"]
"""Takes the mode the agent last reported of itself (`current_mode_update`, or a mode config option
in a `config_option_update`) as its updates arrive, since the last call; None: it reported none."""


async def choose(
    conn: acp.ClientSideConnection,
    session_id: str,
    offered: Offered,
    want: Wanted,
    config: ProviderConfig,
    agent: str = "the agent",
    mode_said: ModeSaid | None = None,
) -> tuple[list[str], Offered]:
    """Set the mode (always: see the module), then the ticket's model, in the session; returns what
    the pane is told (the model and mode the agent reports it runs) and what the session offers now.
    Raises `ProviderError` when one cannot be set, or the agent does not take the mode. `agent`
    names the agent in those messages; `mode_said` reads back what it reported meanwhile."""
    said: list[str] = []
    offered, line = await _mode(conn, session_id, offered, want, agent, mode_said or (lambda: None))
    said.append(line)
    if want.model is not None:
        offered, line = await _model(conn, session_id, offered, want.model, config)
        said.append(line)
    return said, offered


async def _mode(
    conn: acp.ClientSideConnection,
    session_id: str,
    offered: Offered,
    want: Wanted,
    agent: str,
    mode_said: ModeSaid,
) -> tuple[Offered, str]:
    """Set the wanted mode (see the module) and read back the one the agent reports it runs."""
    option, modes = _select(offered.config_options, "mode"), offered.modes
    listed = choosable(offered, "mode")
    offers = ", ".join(inert(value) for value, _ in listed.values)
    asked = want.mode
    if not listed.values:
        if asked is None:
            unset = "lfg sets none, and what it does without asking is its own"
            return offered, f"{agent} offers no modes: {unset}"
        raise _refused(f"{agent} offers no modes, so mode {asked!r} ({want.why}) cannot be set")
    if asked is None:
        if not any(value == ASKING_MODE for value, _ in listed.values):
            current = inert(listed.current or "none")
            if not want.yes:
                raise _refused(
                    f"{agent} offers no mode that asks you (it offers {offers}, no {ASKING_MODE!r}) and "
                    f"{want.why}, so it would act unasked in its own mode {current}; name the mode it "
                    "should run in with the ticket's mode (or the provider's mode), or run with --yes"
                )
            return offered, (
                f"{agent} runs in its own mode {current} under --yes: {want.why} and it offers no "
                f"{ASKING_MODE!r} (it offers {offers}); set the ticket's mode, or the provider's mode"
            )
        asked, want = ASKING_MODE, replace(want, why=f"{want.why}: {ASKING_MODE!r}, which asks you")
    found = _match([schema.SessionConfigSelectOption(value=v, name=n) for v, n in listed.values], asked)
    if found is None:
        raise _refused(f"{agent} offers no mode {asked!r} ({want.why}); it offers {offers}")
    mode_said()  # what it said before lfg asks is not its answer
    try:
        if option is not None:
            options = (await conn.set_config_option(option.id, session_id, found)).config_options
            answered = _select(options, "mode")
            if answered is not None:
                offered, option = replace(offered, config_options=list(options)), answered
            reported = mode_said() or (answered.current_value if answered is not None else found)
            how = "session/set_config_option"
        else:
            assert modes is not None
            await conn.set_session_mode(session_id=session_id, mode_id=found)
            reported, how = mode_said() or found, "session/set_mode"
    except acp.RequestError as exc:
        raise _refused(
            f"{agent} refused mode {found!r} ({want.why}): {said(exc)}; it offers {offers}"
        ) from None
    if reported != found:
        raise _refused(
            f"{agent} did not take mode {found!r} ({want.why}): it reports mode {inert(reported)!r}; "
            f"it offers {offers}"
        )
    if option is not None:
        option = option.model_copy(update={"current_value": found})
        options = [option if _is(o, option) else o for o in offered.config_options]
        offered = replace(offered, config_options=options)
    if modes is not None:
        offered = replace(offered, modes=modes.model_copy(update={"current_mode_id": found}))
    name = next((n for v, n in listed.values if v == found), found)
    shown = inert(found if name == found else f"{name} ({found})")
    return offered, f"the agent runs in mode {shown}, {want.why} ({how})"


def _is(option: Any, mode: schema.SessionConfigOptionSelect) -> bool:
    return isinstance(option, schema.SessionConfigOptionSelect) and option.id == mode.id


async def _model(
    conn: acp.ClientSideConnection, session_id: str, offered: Offered, asked: str, config: ProviderConfig
) -> tuple[Offered, str]:
    option, models = _select(offered.config_options, "model"), offered.models
    passed = passed_at_start(config)
    if option is None and models is None:
        if passed is None:
            return offered, (
                f"model {asked!r} did not reach the agent: it offers no model to choose, and provider "
                f"{config.name!r} passes none at start (no {{model}} in its command, no model_env); "
                "it runs a model of its own choosing"
            )
        confirm = "the agent offers no model option to confirm it"
        return offered, f"model {asked} was passed in {passed}; {confirm}"
    values = _values(option) if option is not None else _listed(models)
    value = _match(values, asked)
    if value is None:
        offers = ", ".join(inert(v.value) for v in values)
        if passed is None:
            raise _refused(f"the agent offers no model {asked!r} (it offers {offers})")
        current = _reported_name(offered) or "none"
        return offered, (
            f"the agent's model list has no {asked!r} (it offers {offers}); it was passed in {passed}, "
            f"and the agent reports model {current}"
        )
    if option is None:
        assert models is not None
        if value != models.current:
            await set_model(conn, session_id, value)
            offered = replace(offered, models=replace(models, current=value))
        return offered, f"the agent runs model {_reported_name(offered)} ({SET_MODEL})"
    if value != option.current_value:
        options = list((await conn.set_config_option(option.id, session_id, value)).config_options)
        if _select(options, "model") is not None:  # else what it had said stands
            offered = replace(offered, config_options=options)
    return offered, f"the agent runs model {_reported_name(offered)} (session/set_config_option)"


async def set_model(conn: acp.ClientSideConnection, session_id: str, model_id: str) -> None:
    """ACP's older `session/set_model`: the SDK has dropped it, so it goes as a plain request on the
    SDK's connection (its one private name lfg uses: tests/test_private_names.py checks it)."""
    await conn._conn.send_request(SET_MODEL, {"sessionId": session_id, "modelId": model_id})


def _listed(models: SessionModels | None) -> list[schema.SessionConfigSelectOption]:
    """A session's models as the values of a model option, to match a ticket's model the same way."""
    listed = models.available if models is not None else ()
    return [schema.SessionConfigSelectOption(value=value, name=name) for value, name in listed]


def _reported_name(offered: Offered) -> str | None:
    """The model the session runs as the agent names it, inert, or None."""
    option = _select(offered.config_options, "model")
    if option is not None:
        return _named(option)
    models = offered.models
    return inert(models.name(models.current)) if models is not None and models.current else None


@dataclass(frozen=True)
class Choosable:
    """What a session offers for one category (model or mode): each value's id and name, and the
    current one (None: the agent does not say)."""

    values: tuple[tuple[str, str], ...]
    current: str | None


def choosable(offered: Offered, category: str) -> Choosable:
    """The values of the session's `category` config option, else its modes or its models."""
    option = _select(offered.config_options, category)
    if option is not None:
        values = tuple((v.value, v.name) for v in _values(option))
        return Choosable(values, option.current_value or None)
    if category == "mode" and offered.modes is not None:
        modes = offered.modes
        return Choosable(tuple((m.id, m.name) for m in modes.available_modes), modes.current_mode_id)
    if category == "model" and offered.models is not None:
        return Choosable(offered.models.available, offered.models.current)
    return Choosable((), None)
