"""The documentation's generated reference (docs/hooks/reference.py, which the site's build runs) says
what the code does: each command's section reads as `lfg COMMAND --help` prints it, and every page
that asks for a generated part renders, so a field, key or event the words no longer match fails here
as it fails `mkdocs build --strict`."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from lfgtui.commands.main import main
from lfgtui.cost.prices import PriceBook
from lfgtui.providers.catalog import BUILTIN
from lfgtui.providers.models import facts

DOCS = Path(__file__).parents[1] / "docs"


def load_hook(name: str = "reference") -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = load_hook()
LAYERS = load_hook("layers")
COMMANDS = HOOK.commands()


def flat(text: str) -> str:
    return " ".join(text.replace("\\|", "|").split())


def sections() -> dict[str, str]:
    """The rendered commands page, by command: the text under each `lfg WORDS` heading."""
    page = HOOK.render((DOCS / "reference" / "commands.md").read_text(encoding="utf-8"))
    parts = re.split(r"^#{2,3} lfg ([a-z ]+)$", page, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


SECTIONS = sections()


def help_of(words: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*words.split(), "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def entries(help_text: str) -> dict[str, str]:
    """Each argument `--help` lists (its invocation, two spaces in) and its help, lines joined."""
    found: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        entry = re.match(r"^  (\S.*?)(?:\s{2,}(\S.*))?$", line)
        if entry:
            current = entry.group(1)
            found[current] = entry.group(2) or ""
        elif current is not None and line.startswith("   ") and line.strip():
            found[current] += " " + line.strip()
        else:
            current = None
    return found


def test_every_command_has_a_section() -> None:
    assert set(SECTIONS) == set(COMMANDS)


@pytest.mark.parametrize("words", sorted(COMMANDS))
def test_a_commands_section_reads_as_its_help(
    words: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    printed = help_of(words, capsys)
    section = flat(SECTIONS[words])
    usage = printed.split("\n\n", 1)[0].removeprefix("usage: ")
    assert flat(usage) in section
    listed = entries(printed.split("\n\n", 1)[1])
    assert listed, f"lfg {words} --help lists no argument"
    for invocation, help_line in listed.items():
        if invocation.startswith("{"):  # a group's subcommands: each has a section of its own
            continue
        for option in re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", invocation):
            assert f"`{option}" in section or f", {option}" in section, f"lfg {words}: {option} is missing"
        assert flat(help_line) in section, f"lfg {words} {invocation}: its help is not in the reference"


@pytest.mark.parametrize("page", sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")))
def test_every_page_renders_its_generated_parts(page: str) -> None:
    rendered = HOOK.render((DOCS / page).read_text(encoding="utf-8"))
    rendered = LAYERS.on_page_markdown(rendered, None, None, None)
    assert "<!-- lfg-" not in rendered


def test_the_fields_reference_lists_every_field_the_loaders_check() -> None:
    from lfgtui.config.load import PROVIDER_FIELDS
    from lfgtui.tickets.load import TICKET_FIELDS

    tickets = HOOK.render((DOCS / "reference" / "tickets.md").read_text(encoding="utf-8"))
    config = HOOK.render((DOCS / "reference" / "config.md").read_text(encoding="utf-8"))
    assert all(f"| `{name}` |" in tickets for name in TICKET_FIELDS)
    assert all(f"| `{name}` |" in config for name in PROVIDER_FIELDS)


def test_words_for_a_field_no_loader_knows_stop_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(HOOK.FIELD_HELP, "ticket.retired_field", "gone")
    with pytest.raises(HOOK.DocsDrift, match=r"ticket\.retired_field"):
        HOOK.render("<!-- lfg-fields ticket -->")


def test_the_architecture_is_a_map_a_newcomer_reads_in_twenty_minutes() -> None:
    """Under 4,000 words: the why of each part is on its design page (docs/design/), every dated
    measurement in bench/RESULTS.md; it was 10,400 words of both, a diary more than a map."""
    words = (DOCS / "architecture.md").read_text(encoding="utf-8").split()
    assert len(words) < 4000, f"docs/architecture.md has {len(words)} words: move detail to docs/design/"


def test_the_site_asks_no_third_party_for_its_fonts() -> None:
    """Material loads Google Fonts unless `theme.font` is false: a request to Google on every page
    view of a reader who never agreed to it. The system's fonts serve instead."""
    import yaml

    site = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8"))
    assert site["theme"].get("font", True) is False


def test_the_served_runs_example_names_a_current_model_at_its_price() -> None:
    """docs/watching.md's `GET /v1/run` shows a model with no announced retirement, priced as lfg
    prices it (it showed claude-sonnet-4-5, which retires 2026-11-30)."""
    page = (DOCS / "watching.md").read_text(encoding="utf-8")
    section = page.split("## `GET /v1/run`", 1)[1]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    book = PriceBook(dict(BUILTIN))
    for entry in example["prices"]:
        known = facts(entry["model"])
        assert known is not None and known.lifecycle is None, f"{entry['model']} retires"
        written = book.pricer("anthropic", entry["model"])
        assert written is not None
        card = written.written()
        assert card is not None and card.source == entry["price"]["source"] and not card.tiers
        rates = card.prices
        shown = entry["price"]
        assert (rates.input_per_mtok, rates.output_per_mtok) == (
            shown["input_per_mtok"],
            shown["output_per_mtok"],
        )
        assert (rates.cache_read_per_mtok, rates.cache_write_per_mtok) == (
            shown["cache_read_per_mtok"],
            shown["cache_write_per_mtok"],
        )
