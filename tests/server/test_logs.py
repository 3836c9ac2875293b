"""Log records made one line each, and request targets without their query string."""

from __future__ import annotations

import logging
import sys

import pytest
from flask import Flask

from switchboard.callbacks.logs import NoQueryStrings, OneLine, escape_controls, one_line_logs


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("callbacks", logging.WARNING, __file__, 1, msg, args or None, None)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain text, unchanged", "plain text, unchanged"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("nul\x00 bell\x07 del\x7f c1\x85", "nul\\x00 bell\\x07 del\\x7f c1\\x85"),
        ("line\u2028separator\u2029", "line\\u2028separator\\u2029"),
        ("é, 😀 and CJK 中 stay", "é, 😀 and CJK 中 stay"),
    ],
)
def test_escape_controls(text: str, escaped: str) -> None:
    assert escape_controls(text) == escaped


def test_one_line_escapes_the_formatted_message_and_keeps_the_rest() -> None:
    made = record("refused %s %s", "POST", "/voice/x\nforged")
    assert OneLine().filter(made)
    assert made.getMessage() == "refused POST /voice/x\\nforged"
    plain = record("%(h)s %(s)s", {"h": "127.0.0.1", "s": "200"})
    assert OneLine().filter(plain)
    assert plain.getMessage() == "127.0.0.1 200"


def test_a_traceback_stays_as_the_formatter_writes_it() -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        made = logging.LogRecord("callbacks", logging.ERROR, __file__, 1, "failed: %s",
                                 ("x\ny",), sys.exc_info())
    OneLine().filter(made)
    text = logging.Formatter().format(made)
    assert text.startswith("failed: x\\ny\nTraceback")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Invalid request from ip=127.0.0.1: Invalid HTTP request line: "
         "'POST /voice?token=secret HTTP/1.1'",
         "Invalid request from ip=127.0.0.1: Invalid HTTP request line: "
         "'POST /voice?… HTTP/1.1'"),
        ("Error handling request POST /sms?a=1&b=2", "Error handling request POST /sms?…"),
        ("Error handling request GET http://h.example:8000/voice?k=v",
         "Error handling request GET http://h.example:8000/voice?…"),
        ("what? no path here", "what? no path here"),
        ("Booting worker with pid: 42", "Booting worker with pid: 42"),
    ],
)
def test_no_query_strings(message: str, expected: str) -> None:
    made = record(message)
    assert NoQueryStrings().filter(made)
    assert made.getMessage() == expected


def test_the_development_servers_log_handler_gets_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """With logging not configured, Flask gives the app's logger its own handler; one_line_logs
    gives that handler OneLine (pytest's handlers on the root logger are set aside here)."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    app = Flask("one_line_test_app")
    one_line_logs(app)
    handlers = app.logger.handlers  # Flask's default_handler, shared by every app
    try:
        assert handlers
        one_line_logs(app)  # not twice
        assert all(sum(isinstance(f, OneLine) for f in h.filters) == 1 for h in handlers)
    finally:
        for handler in handlers:
            for made in [f for f in handler.filters if isinstance(f, OneLine)]:
                handler.removeFilter(made)
