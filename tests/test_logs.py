"""lfg's own log: library records go there inert during a run, and nothing of them reaches stderr."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lfgtui.commands.logs import PrivateLogHandler, library_logs

ESCAPES = "\x1b]0;PWNED\x07\x1b[2J"


def test_within_library_logs_records_go_inert_to_a_private_file_and_the_root_is_left_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    before = list(logging.getLogger().handlers)
    with library_logs() as path:
        logging.getLogger("acp").error("Unhandled error while handling notification method=%s", ESCAPES)
    assert logging.getLogger().handlers == before
    assert path == tmp_path / "state" / "lfgtui" / "log" / "lfg.log"
    assert path.stat().st_mode & 0o777 == 0o600
    logged = path.read_text()
    assert logged.endswith(" ERROR acp: Unhandled error while handling notification method=␛]0;PWNED␇␛[2J\n")


def test_a_record_that_cannot_be_written_is_dropped_not_printed_raw(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Python's logging reports a failed write on stderr with the record's arguments as they are."""
    handler = PrivateLogHandler(Path("/dev/full"))  # every write fails with ENOSPC
    record = logging.LogRecord("acp", logging.ERROR, __file__, 1, "method=%s", (ESCAPES,), None)
    handler.handle(record)
    handler.close()
    assert capfd.readouterr().err == ""
