"""The scripted caller."""

from __future__ import annotations

import io

import pytest

from switchboard.emulator.script import CallScript, DialOutcome, parse_dial_outcome, parse_digits


def test_parse_digits() -> None:
    assert parse_digits("1,2#,,3") == ["1", "2#", "", "3"]
    assert parse_digits(None) == []


def test_parse_dial_outcome() -> None:
    assert parse_dial_outcome("busy") == DialOutcome("busy", 30)
    assert parse_dial_outcome("answered:45") == DialOutcome("answered", 45)
    with pytest.raises(ValueError, match="dial outcome"):
        parse_dial_outcome("maybe")


def test_gather_answers_in_order() -> None:
    script = CallScript("1,,2#", speech=["hello"])
    assert script.gather().digits == "1"
    assert not script.gather()
    assert script.gather(speech=True).digits == "2#"
    assert script.gather(dtmf=False, speech=True).speech == "hello"
    assert not script.gather(speech=True)


def test_dial_outcomes_by_number() -> None:
    script = CallScript(dial={"+15550001111": "busy"}, dial_outcome="no-answer")
    assert script.dial_for("+15550001111").status == "busy"
    assert script.dial_for("+15550002222").status == "no-answer"
    assert CallScript(dial={"*": "failed"}).dial_for("+1").status == "failed"


def test_interactive_reads_lines() -> None:
    stdin, stdout = io.StringIO("12#\n\nopening hours\n"), io.StringIO()
    script = CallScript(interactive=True, stdin=stdin, stdout=stdout)
    assert script.gather().digits == "12#"
    assert not script.gather()
    assert script.gather(speech=True).speech == "opening hours"
    assert not script.gather()  # end of input
    assert "Press keys" in stdout.getvalue()


def test_unknown_queue_outcome() -> None:
    with pytest.raises(ValueError, match="queue outcome"):
        CallScript(queue_outcome="teleported")
