"""Export and import in-process: JSON round trips exactly; Markdown folds tool I/O into details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfgtui.history.database import StoreError
from lfgtui.history.export import from_json, import_record, to_json, to_markdown
from lfgtui.history.store import Selection, Store
from tests.history.recording import ANSWER, record, sample_attempt


def recorded(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "h.sqlite3"
    recorder = record(db, tmp_path, sample_attempt())
    recorder.finish()
    return db, recorder.run_id


def test_json_survives_export_import_export(tmp_path: Path) -> None:
    db, run_id = recorded(tmp_path)
    with Store.open(db) as store:
        document = to_json(store.load(Selection(run_id)))
    text = json.dumps(document)
    with Store.open(tmp_path / "copy.sqlite3") as copy:
        assert import_record(copy, from_json(json.loads(text))) == 1
        assert to_json(copy.load(Selection(run_id))) == document
        assert copy.search("dashboards")[0].run_id == run_id, "imported parts are indexed"
        (attempt,) = copy.load(Selection(run_id)).tickets[0].attempts
        assert len(copy.attempt_events(attempt.row.id)) == 21
        with pytest.raises(StoreError, match="already in the history"):
            import_record(copy, from_json(document))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "not an lfg history export"),
        ({"format": "other"}, "not an lfg history export"),
        ({"format": "lfgtui-history", "version": 99}, "version 99"),
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
