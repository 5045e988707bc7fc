"""Loading a tickets file a test writes, on a fixed day and with every vendor's key set: what the
load-time checks of tickets (lifecycle, reasoning settings) share."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from lfgtui.config.load import Config
from lfgtui.config.validation import ValidationError
from lfgtui.tickets.load import load_tickets
from lfgtui.tickets.ticket import TicketFile

TOOLS = ("read_file",)
KEYS = {"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "sk-ant", "XAI_API_KEY": "xai-test"}
TODAY = date(2026, 11, 26)


def load(tmp_path: Path, toml: str, config: Config | None = None) -> TicketFile:
    path = tmp_path / "tickets.toml"
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return load_tickets(path, config or Config(path=None), TOOLS, env=KEYS, today=TODAY)


def refused(tmp_path: Path, toml: str, config: Config | None = None) -> list[str]:
    """Each problem the load raises, a line each (`FILE:LINE: …`)."""
    with pytest.raises(ValidationError) as caught:
        load(tmp_path, toml, config)
    return str(caught.value).splitlines()
