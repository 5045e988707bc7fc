"""`attention` lines of `lfg run --json`: each ticket's attention state as it changes (alerts/states.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.lfg import Lfg, of


def test_ndjson_says_each_attention_state_as_it_changes(tmp_path: Path) -> None:
    lfg = Lfg(tmp_path)
    tickets = lfg.tickets(
        """
        [defaults]
        provider = "sim"

        [[ticket]]
        id = "ask"
        prompt = "Fix the parser."
        model = "asks"

        [[ticket]]
        id = "later"
        prompt = "Say hello."
        model = "hello"
        depends_on = ["ask"]
        """
    )
    code, events, stderr = lfg.run(tickets)
    assert code == 0, stderr
    asked = [(e["previous"], e["state"], e["needs_you"]) for e in of(events, "ask", "attention")]
    assert asked == [("waiting", "working", False), ("working", "asked", True)]
    question = of(events, "ask", "attention")[-1]
    assert question["detail"] == "Which one do you want me to do?" and question["unread"]
    ended = of(events, "ask", "attempt_ended")[0]
    assert events.index(ended) + 1 == events.index(question), "right after the event that made it"
    later = of(events, "later", "attention")
    assert [(e["state"], e["detail"]) for e in later] == [("waiting", ""), ("working", ""), ("unread", "")]
    assert later[0]["t"] == question["t"], "its dependency's end releases it"
