"""Themes are TOML files: the ones shipped in `lfgtui/themes/` plus any in the user's config folder.

A theme's name is its file's stem (`dark`, `light`, ...); its fields are Textual `Theme` fields.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

import platformdirs
from textual.theme import Theme

THEME_FIELDS = {f.name for f in fields(Theme)} - {"name"}


class ThemeError(ValueError):
    """A theme file that cannot be used, or an unknown theme name."""


def user_theme_dir() -> Path:
    return Path(platformdirs.user_config_dir("lfgtui")) / "themes"


def _theme_files(extra_dirs: tuple[Path, ...]) -> Iterator[tuple[str, str, str]]:
    for entry in resources.files("lfgtui").joinpath("themes").iterdir():
        if entry.name.endswith(".toml"):
            yield entry.name.removesuffix(".toml"), entry.read_text("utf-8"), f"built-in theme {entry.name}"
    for folder in extra_dirs:
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                yield path.stem, path.read_text("utf-8"), str(path)


def parse_theme(name: str, text: str, source: str) -> Theme:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{source}: {exc}") from None
    unknown = sorted(set(data) - THEME_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(THEME_FIELDS))
        raise ThemeError(f"{source}: unknown field {unknown[0]!r} (theme fields: {allowed})")
    if "primary" not in data:
        raise ThemeError(f"{source}: a theme needs at least a primary colour")
    try:
        return Theme(name=name, **data)
    except (TypeError, ValueError) as exc:
        raise ThemeError(f"{source}: {exc}") from None


def load_themes(extra_dirs: tuple[Path, ...] | None = None) -> dict[str, Theme]:
    """Every available theme by name; a user theme replaces a built-in one of the same name."""
    folders = (user_theme_dir(),) if extra_dirs is None else extra_dirs
    return {name: parse_theme(name, text, source) for name, text, source in _theme_files(folders)}


def check_theme(name: str) -> None:
    """Raise `ThemeError` when no theme has this name (or a theme file is broken)."""
    themes = load_themes()
    if name not in themes:
        raise ThemeError(f"unknown theme {name!r}; themes: {', '.join(sorted(themes))}")
