"""Export and import in-process: JSON round trips exactly; Markdown folds tool I/O into details."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lfgtui.events import ErrorInfo, ErrorKind
from lfgtui.history.database import StoreError
from lfgtui.history.export import from_json, import_record, to_json, to_markdown
from lfgtui.history.store import Selection, Store
from tests.support.recording import ANSWER, record, sample_attempt, without_imported_at


def recorded(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, sample_attempt())
    recorder.finish()
    return db, recorder.run_id


def imported_again(store: Store, run_id: str, document: dict[str, Any]) -> bool:
    """Whether the run imported into `store` exports as `document` did (a run recorded here), but
    for the time it was imported."""
    again, imported_at = without_imported_at(to_json(store.load(Selection(run_id))))
    original, was = without_imported_at(document)
    return was is None and isinstance(imported_at, float) and again == original


def test_json_survives_export_import_export(tmp_path: Path) -> None:
    db, run_id = recorded(tmp_path)
    with Store.open(db) as store:
        document = to_json(store.load(Selection(run_id)))
    text = json.dumps(document)
    with Store.open(tmp_path / "copy.sqlite3") as copy:
        assert import_record(copy, from_json(json.loads(text))) == 1
        assert imported_again(copy, run_id, document)
        assert copy.search("dashboards")[0].run_id == run_id, "imported parts are indexed"
        (attempt,) = copy.load(Selection(run_id)).tickets[0].attempts
        assert len(copy.attempt_events(attempt.row.id)) == 21
        with pytest.raises(StoreError, match="already in the history"):
            import_record(copy, from_json(document))


def as_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """An export as version 1 wrote it: `turns`, a part's `turn`, `max_turns` and its error kind."""
    old = copy.deepcopy(document) | {"version": 1}
    for ticket in old["run"]["tickets"]:
        ticket["max_turns"] = ticket.pop("max_calls")
        for attempt in ticket["attempts"]:
            attempt["turns"] = attempt.pop("requests")
            for part in attempt["parts"]:
                part["turn"] = part.pop("request")
            if attempt["error_kind"] == "max_calls":
                attempt["error_kind"] = "max_turns"
    return old


def test_an_export_of_version_1_imports_as_it_was_recorded(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite3"
    stopped = ErrorInfo(ErrorKind.MAX_CALLS, "stopped after 2 model calls (max_turns)")
    recorder = record(db, tmp_path, sample_attempt(), sample_attempt(attempt=2, error=stopped))
    recorder.finish()
    with Store.open(db) as store:
        document = to_json(store.load(Selection(recorder.run_id)))
    assert document["version"] == 2
    old = as_version_1(document)
    assert "turns" in old["run"]["tickets"][0]["attempts"][1] and "requests" not in json.dumps(old)
    with Store.open(tmp_path / "copy.sqlite3") as copied:
        assert import_record(copied, from_json(json.loads(json.dumps(old)))) == 2
        assert imported_again(copied, recorder.run_id, document)
    newer_names = copy.deepcopy(old)
    attempt = newer_names["run"]["tickets"][0]["attempts"][0]
    attempt["requests"] = attempt.pop("turns")
    with pytest.raises(StoreError, match=r"attempts\[0\] \(attempt [0-9a-f]+\)\.turns: must be a list"):
        from_json(newer_names)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "not an lfg history export"),
        ({"format": "other"}, "not an lfg history export"),
        ({"format": "lfgtui-history", "version": 99}, "version 99"),
        ({"format": "lfgtui-history", "version": True}, "version True"),
        ({"format": "lfgtui-history", "version": 1, "run": {"id": "x"}}, "not a valid"),
    ],
)
def test_documents_that_are_not_exports_are_refused(document: object, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        from_json(document)


def test_markdown_has_a_metrics_table_and_details_for_tool_io(tmp_path: Path) -> None:
    db, run_id = recorded(tmp_path)
    with Store.open(db) as store:
        run = store.load(Selection(run_id))
    markdown = to_markdown(run)
    assert markdown.startswith(f"# Run {run_id}\n")
    table = markdown.split("| ticket |")[1].splitlines()
    assert table[2].startswith("| explore | 1 | `") and "| completed | sim/agent-demo | 299 ms |" in table[2]
    assert "> What is this project?" in markdown
    assert "<details><summary>Reasoning</summary>\n\nLook at the files.\n\n</details>" in markdown
    assert '<details><summary>Tool call: list_dir</summary>\n\n```json\n{"path": "."}\n```' in markdown
    assert "*Result:*\n\n```\nREADME.md\nsrc/\n```\n\n</details>" in markdown
    assert ANSWER in markdown
    shown = to_markdown(run, details=False)
    assert "<details>" not in shown and "**→ list_dir**" in shown


def test_fences_outgrow_backticks_in_the_content(tmp_path: Path) -> None:
    db, run_id = recorded(tmp_path)
    with Store.open(db) as store:
        store.conn.execute("UPDATE parts SET text = 'has ```` inside' WHERE kind = 'tool_result'")
        markdown = to_markdown(store.load(Selection(run_id)))
    assert "`````\nhas ```` inside\n`````" in markdown
