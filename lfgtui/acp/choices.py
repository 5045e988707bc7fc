"""A ticket's model and mode, brought to a coding agent's session.

A session says what may be chosen in it: config options (`session/set_config_option`, with the
categories `model` and `mode`), or the older `modes` (`session/set_mode`). Where the agent offers
no model option, the model may still have reached it at start: in its command line (`{model}`) or
its own variable (`model_env`, e.g. `ANTHROPIC_MODEL`); otherwise the pane says it did not reach
the agent. A model or mode the agent's own list lacks (and nothing else passed) fails the ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import acp
from acp import schema

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.inert import inert
from lfgtui.providers.base import ProviderConfig, ProviderError

AGENT_DEFAULT = "default"
"""The model of a built-in agent's ticket that names none: the agent's own choice, nothing to set."""


@dataclass(frozen=True)
class Offered:
    """What a session lets a client choose, as `session/new` or `session/load` answered."""

    config_options: Sequence[Any]
    modes: schema.SessionModeState | None


@dataclass(frozen=True)
class Wanted:
    """What the ticket asks for: its model (None: the agent's own) and mode (None: the agent's)."""

    model: str | None
    mode: str | None


def wanted(config: ProviderConfig, model: str, mode: str | None) -> Wanted:
    """The provider's own `default_model` is what its agent runs unasked (a built-in's `default`
    leaves it to the agent): only another model has to be brought to the agent."""
    return Wanted(None if model in ("", AGENT_DEFAULT, config.default_model) else model, mode)


def passed_at_start(config: ProviderConfig) -> str | None:
    """How the model reached the agent before its session: its command line or its variable."""
    if any("{model}" in part for part in config.command):
        return "the agent's command line"
    return config.model_env


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


async def choose(
    conn: acp.ClientSideConnection,
    session_id: str,
    offered: Offered,
    want: Wanted,
    config: ProviderConfig,
) -> tuple[list[str], list[Any]]:
    """Set the ticket's mode, then its model, in the session; returns what the pane is told (the
    model and mode the agent reports it runs) and the session's config options as they now stand.
    Raises `ProviderError` when one cannot be set."""
    said: list[str] = []
    options = list(offered.config_options)
    if want.mode is not None:
        options, line = await _mode(conn, session_id, options, offered.modes, want.mode)
        said.append(line)
    if want.model is not None:
        options, line = await _model(conn, session_id, options, want.model, config)
        said.append(line)
    return said, options


async def _mode(
    conn: acp.ClientSideConnection,
    session_id: str,
    options: list[Any],
    modes: schema.SessionModeState | None,
    asked: str,
) -> tuple[list[Any], str]:
    option = _select(options, "mode")
    if option is not None:
        value = _match(_values(option), asked)
        if value is None:
            offers = ", ".join(inert(v.value) for v in _values(option))
            raise _refused(f"the agent offers no mode {asked!r} (it offers {offers})")
        if value != option.current_value:
            options = list((await conn.set_config_option(option.id, session_id, value)).config_options)
            option = _select(options, "mode") or option
        return options, f"the agent runs in mode {_named(option)} (session/set_config_option)"
    if modes is None:
        raise _refused(f"the agent offers no modes to choose, so mode {asked!r} cannot be set")
    folded = asked.casefold()
    available = modes.available_modes
    found = next((m.id for m in available if folded in (m.id.casefold(), m.name.casefold())), None)
    if found is None:
        offers = ", ".join(inert(m.id) for m in modes.available_modes)
        raise _refused(f"the agent offers no mode {asked!r} (it offers {offers})")
    if found != modes.current_mode_id:
        await conn.set_session_mode(session_id=session_id, mode_id=found)
    return options, f"the agent runs in mode {inert(found)} (session/set_mode)"


async def _model(
    conn: acp.ClientSideConnection, session_id: str, options: list[Any], asked: str, config: ProviderConfig
) -> tuple[list[Any], str]:
    option = _select(options, "model")
    passed = passed_at_start(config)
    if option is None:
        if passed is None:
            return options, (
                f"model {asked!r} did not reach the agent: it offers no model to choose, and provider "
                f"{config.name!r} passes none at start (no {{model}} in its command, no model_env); "
                "it runs a model of its own choosing"
            )
        said = f"model {asked} was passed in {passed}; the agent offers no model option to confirm it"
        return options, said
    value = _match(_values(option), asked)
    if value is None:
        offers = ", ".join(inert(v.value) for v in _values(option))
        if passed is None:
            raise _refused(f"the agent offers no model {asked!r} (it offers {offers})")
        return options, (
            f"the agent's model list has no {asked!r} (it offers {offers}); it was passed in {passed}, "
            f"and the agent reports model {_named(option)}"
        )
    if value != option.current_value:
        options = list((await conn.set_config_option(option.id, session_id, value)).config_options)
        option = _select(options, "model") or option
    return options, f"the agent runs model {_named(option)} (session/set_config_option)"


@dataclass(frozen=True)
class Choosable:
    """What a session offers for one category (model or mode): each value's id and name, and the
    current one (None: the agent does not say)."""

    values: tuple[tuple[str, str], ...]
    current: str | None


def choosable(offered: Offered, category: str) -> Choosable:
    """The values of the session's `category` config option, else (for modes) its modes."""
    option = _select(offered.config_options, category)
    if option is not None:
        values = tuple((v.value, v.name) for v in _values(option))
        return Choosable(values, option.current_value or None)
    if category == "mode" and offered.modes is not None:
        modes = offered.modes
        return Choosable(tuple((m.id, m.name) for m in modes.available_modes), modes.current_mode_id)
    return Choosable((), None)
