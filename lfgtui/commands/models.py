"""`lfg models`: the models lfg knows per model-API provider: price, context window, max output,
thinking and lifecycle.

A provider lists its `default_model` and `ask_model`, then every model of the vendor whose API it
talks to (`providers/models.py`: the table, and the anthropic SDK's end-of-life dates). Prices are
those a run would use (`cost/prices.py`: the provider's own `prices`, else genai-prices); a model
with none reads `$?`, and the footnote says how to give one. `--refresh` reads a public catalogue
(`providers/model_catalogue.py`) and adds the models the table lacks; the last line says where the
list came from and of which date (on stderr with `--json`). Coding agents pick their own models
(`lfg agents --check` lists them). `lfg` imports this module for every command, so the table and
the price database are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from lfgtui.commands.common import EXIT_USAGE, add_config
from lfgtui.commands.subcommands import Subcommands

if TYPE_CHECKING:
    from lfgtui.cost.prices import PriceBook
    from lfgtui.providers.base import ProviderConfig
    from lfgtui.providers.model_catalogue import Catalogue, Listed
    from lfgtui.providers.model_list import ModelList


def add_models_command(commands: Subcommands) -> None:
    """Register `lfg models` on the top-level subcommands."""
    commands.add_command(
        "models",
        "the models lfg knows per provider: price, context window, max output, thinking, lifecycle",
        _arguments,
        run_models_command,
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _arguments(models: argparse.ArgumentParser) -> None:
    models.add_argument(
        "names", nargs="*", metavar="PROVIDER", help="only these providers (default: every model API)"
    )
    models.add_argument(
        "--json", action="store_true", help="one JSON array: an object per provider and model"
    )
    models.add_argument(
        "--on",
        type=_day,
        metavar="DATE",
        help="judge each lifecycle on this day, YYYY-MM-DD (default: today): what a run would refuse then",
    )
    models.add_argument(
        "--refresh",
        action="store_true",
        help="read the public model catalogue (models.dev) now and keep it: models lfg's table lacks are "
        "listed with its figures; offline, the cached copy or lfg's own table, with its date. And read each "
        "provider's own list (GET /v1/models, with its key): which of its models lfg knows, infers or "
        "knows nothing of, and which lfg lists that it does not offer",
    )
    models.add_argument(
        "--catalogue",
        metavar="URL",
        default=None,
        help="the catalogue to read, in models.dev's api.json format (default: $LFG_MODEL_CATALOGUE, "
        "else [run] model_catalogue, else https://models.dev/api.json)",
    )
    add_config(models)


@dataclass(frozen=True)
class Row:
    """One model of one provider, as listed."""

    provider: str
    model: str
    default: bool
    input_per_mtok: float | None
    output_per_mtok: float | None
    price_source: str | None
    context_window: int | None
    max_output_tokens: int | None
    thinking: str | None
    inferred: bool
    """Window, limit and thinking are the model's family's: lfg's table does not list it."""
    catalogue: str | None
    """The catalogue the row's figures come from (a model lfg's table lacks), with its date."""
    offered: bool | None
    """Whether the provider's own list (`--refresh`) has it; None when that list was not read."""
    status: str
    shutdown: str | None
    replacement: str | None
    lifecycle_source: str | None


def run_models_command(args: argparse.Namespace) -> int:
    """List the models: 0, or 2 for an unknown provider name or a bad config."""
    from lfgtui.config.load import load_config
    from lfgtui.config.validation import ValidationError, unknown
    from lfgtui.cost.prices import PriceBook
    from lfgtui.inert import inert, json_text
    from lfgtui.providers.kinds import kind_of

    try:
        config = load_config(args.config)
    except ValidationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    apis = {name: c for name, c in sorted(config.providers.items()) if not kind_of(c).coding_agent}
    for name in args.names:
        if name not in apis:
            print(f"lfg: {unknown('model API provider', name, apis)}", file=sys.stderr)
            return EXIT_USAGE
    chosen = {name: apis[name] for name in args.names} if args.names else apis
    from lfgtui.providers.model_catalogue import CATALOGUE_URL, OFF, describe, read_catalogue, setting

    url = args.catalogue or setting(config.run.model_catalogue, os.environ)
    catalogue = read_catalogue(CATALOGUE_URL if url == OFF else url, refresh=args.refresh)
    book = PriceBook(chosen)
    today = args.on or date.today()
    lists = _provider_lists(chosen) if args.refresh else {}
    rows = [
        row for name, c in chosen.items() for row in _rows(name, c, book, today, catalogue, lists.get(name))
    ]
    said = [_list_line(name, lists[name], rows) for name in lists]
    if args.json:
        print(json_text([asdict(row) for row in rows], indent=2))
        for line in [describe(catalogue), *said]:
            print(f"lfg models: {inert(line.strip())}", file=sys.stderr)
    else:
        print(_text(rows, "\n".join([*said, describe(catalogue)])))
    return 0


def _provider_lists(chosen: dict[str, ProviderConfig]) -> dict[str, ModelList]:
    """The own lists of the providers that talk to a vendor lfg's table knows (a gateway's or a local
    server's names are its own: nothing to compare)."""
    import asyncio

    from lfgtui.providers.model_list import keep, read_lists
    from lfgtui.providers.models import serves

    vendors = {name: c for name, c in chosen.items() if serves(c) is not None}
    lists = asyncio.run(read_lists(vendors))
    keep(lists, vendors, date.today().isoformat())
    return lists


def _names(models: list[str], most: int = 8) -> str:
    shown = ", ".join(models[:most])
    return f"{shown}, … {len(models) - most} more" if len(models) > most else shown


def _list_line(name: str, listed: ModelList, rows: list[Row]) -> str:
    """What `name`'s own list says of lfg's: which of its models lfg knows, infers or knows nothing
    of, and which lfg lists that it does not offer."""
    if listed.why is not None:
        return f"{name}'s own model list (GET /v1/models) could not be read: {listed.why}"
    mine = [row for row in rows if row.provider == name]
    offered = [row for row in mine if row.offered]
    known = [row.model for row in offered if not row.inferred and row.context_window is not None]
    guessed = [row.model for row in offered if row.inferred]
    unknown = [row.model for row in offered if not row.inferred and row.context_window is None]
    missing = [row.model for row in mine if row.offered is False]
    parts = [f"lfg knows {len(known)}"]
    parts += [f"infers {len(guessed)} ({_names(guessed)})"] if guessed else []
    parts += [f"knows nothing of {len(unknown)} ({_names(unknown)})"] if unknown else []
    absent = f"; listed here but not offered: {_names(missing)}" if missing else ""
    return f"{name}'s own model list (GET /v1/models): {len(offered)} models, {', '.join(parts)}{absent}"


def _rows(
    name: str,
    config: ProviderConfig,
    book: PriceBook,
    today: date,
    catalogue: Catalogue,
    listed: ModelList | None = None,
) -> list[Row]:
    from lfgtui.providers.models import TABLE, facts, lifecycle, serves, vendor_models

    vendor = serves(config)
    own = [model for model in (config.default_model, config.ask_model) if model]
    tabled = [known.model for known in vendor_models(vendor)] if vendor is not None else []
    new = [model for (seller, model) in catalogue.value if seller == vendor and model not in TABLE]
    read = listed if listed is not None and listed.why is None else None
    offering = [offered.model for offered in read.models] if read is not None else []
    rows = []
    for model in dict.fromkeys([*own, *tabled, *new, *offering]):
        pricer = book.pricer(name, model)
        rates = pricer.written() if pricer is not None else None
        known = facts(model) if vendor is not None else None
        whole = model in TABLE and TABLE[model].context_window and TABLE[model].max_output_tokens
        entry = catalogue.value.get((vendor, model)) if vendor is not None and not whole else None
        life = known.lifecycle if known is not None else None
        status = lifecycle(model, today).status.value if vendor is not None else "ok"
        row = Row(
            provider=name,
            model=model,
            default=model == config.default_model,
            input_per_mtok=rates.prices.input_per_mtok if rates is not None else None,
            output_per_mtok=rates.prices.output_per_mtok if rates is not None else None,
            price_source=pricer.source if pricer is not None else None,
            context_window=known.context_window if known is not None else None,
            max_output_tokens=known.max_output_tokens if known is not None else None,
            thinking=known.thinking if known is not None else None,
            inferred=known is not None and known.inferred,
            catalogue=None,
            offered=None,
            status=status,
            shutdown=life.shutdown.isoformat() if life is not None else None,
            replacement=life.replacement if life is not None else None,
            lifecycle_source=life.source if life is not None else None,
        )
        row = row if entry is None else _catalogued(row, entry, catalogue, model in TABLE)
        rows.append(row if read is None else _offered(row, read, model in TABLE))
    return rows


def _offered(row: Row, listed: ModelList, tabled: bool) -> Row:
    """`row` marked offered or not by the provider's own list, with the list's window and output
    limit for a model lfg's table lacks (Anthropic's list gives them): they beat a family's."""
    offered = listed.find(row.model)
    if offered is None or tabled or not (offered.context_window or offered.max_output_tokens):
        return replace(row, offered=offered is not None)
    return replace(
        row,
        offered=True,
        context_window=offered.context_window or row.context_window,
        max_output_tokens=offered.max_output_tokens or row.max_output_tokens,
        inferred=False,
    )


def _catalogued(row: Row, listed: Listed, catalogue: Catalogue, tabled: bool) -> Row:
    """`row` with the catalogue's figures: they beat a family's inference, and fill those lfg's
    table lacks (`claude-opus-4-7`'s limits; a model the table gives both is not looked up); a
    price lfg has (config, genai-prices, the vendor's page) beats the catalogue's. The run ranks
    them so too (models.py `catalogued`)."""
    said = f"{catalogue.url} ({catalogue.source} {catalogue.date})"
    priced = row.input_per_mtok is not None
    thinking = row.thinking if listed.reasons is not False or tabled else "none"
    first, then = (row, listed) if tabled else (listed, row)
    return replace(
        row,
        context_window=first.context_window or then.context_window,
        max_output_tokens=first.max_output_tokens or then.max_output_tokens,
        thinking=thinking,
        inferred=row.inferred and not (listed.context_window or listed.max_output_tokens),
        catalogue=said,
        input_per_mtok=row.input_per_mtok if priced else listed.input_per_mtok,
        output_per_mtok=row.output_per_mtok if priced else listed.output_per_mtok,
        price_source=row.price_source if priced or listed.input_per_mtok is None else said,
    )


HEADERS = ("MODEL", "$ IN/OUT PER MTOK", "CONTEXT", "MAX OUT", "THINKING", "LIFECYCLE")


def _tokens(count: int | None) -> str:
    """`1.05M`, `128K`, `32,768`; `-` when not known."""
    if count is None:
        return "-"
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    return f"{count // 1000}K" if count % 1000 == 0 else f"{count:,}"


def _figure(row: Row, text: str) -> str:
    """`text`, marked `~` when the row's figures are inferred from its family."""
    return f"~{text}" if row.inferred and text != "-" else text


def _price(row: Row) -> str:
    if row.input_per_mtok is None or row.output_per_mtok is None:
        return "$?"
    return f"${row.input_per_mtok:g} / ${row.output_per_mtok:g}"


def _lifecycle(row: Row) -> str:
    if row.shutdown is None:
        return row.status
    instead = f" -> {row.replacement}" if row.replacement else ""
    said = {"retired": "retired", "retiring": "retires", "ok": "shuts down"}[row.status]
    return f"{said} {row.shutdown}{instead}"


def _text(rows: list[Row], source: str) -> str:
    """A table per provider (`*` marks its default model), where the list came from (`source`),
    then how to price a `$?`."""
    from lfgtui.inert import inert

    lines: list[str] = []
    for provider in dict.fromkeys(row.provider for row in rows):
        mine = [row for row in rows if row.provider == provider]
        cells = [HEADERS] + [
            (
                ("* " if row.default else "  ") + row.model,
                _price(row),
                _figure(row, _tokens(row.context_window)),
                _figure(row, _tokens(row.max_output_tokens)),
                _figure(row, row.thinking or "-"),
                _lifecycle(row),
            )
            for row in mine
        ]
        widths = [max(len(cell[i]) for cell in cells) for i in range(len(HEADERS))]
        lines.append(f"{provider}")
        lines += [
            "  " + "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells
        ]
        lines.append("")
    guessed = list(dict.fromkeys(row.model for row in rows if row.inferred))
    if guessed:
        lines.append(
            f"~: inferred from the model's family ({', '.join(guessed)}): lfg's table does not list it yet"
        )
    lines.append(source)
    unpriced = list(dict.fromkeys(row.provider for row in rows if _price(row) == "$?"))
    if unpriced:
        names = ", ".join(unpriced)
        lines.append(
            f"$?: no price is known ({names}); give a provider its own in config.toml: "
            "[providers.NAME] prices = { input_per_mtok = 2.0, output_per_mtok = 10.0, "
            "cache_read_per_mtok = 0.2 } (cache reads not given a rate are priced as input)"
        )
    return inert("\n".join(lines).rstrip("\n"))
