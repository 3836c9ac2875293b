"""The development server's request log leaves query strings out."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests
from flask import Flask

from switchboard.callbacks.devlog import HideQueryStrings, _without_query
from tests.conftest import serving
from tests.server.conftest import make_app


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ("POST /voice?token=s3cret HTTP/1.1", "POST /voice?… HTTP/1.1"),
        ("GET /voice/a%20b?x=1&y=%C3%A9 HTTP/1.0", "GET /voice/a%20b?… HTTP/1.0"),
        ("GET /healthz HTTP/1.1", "GET /healthz HTTP/1.1"),
        (
            "\x1b[31m\x1b[1mPOST /sms?k=v HTTP/1.1\x1b[0m",
            "\x1b[31m\x1b[1mPOST /sms?… HTTP/1.1\x1b[0m",
        ),
        ("GARBAGE /x?secret", "GARBAGE /x?…"),
    ],
)
def test_request_lines_lose_their_query(line: str, logged: str) -> None:
    assert _without_query(line) == logged


def test_other_records_are_left_alone() -> None:
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s?%s", ("a", "b"), None)
    assert HideQueryStrings().filter(record)
    assert record.args == ("a", "b")


@pytest.fixture
def dev_server(sqlite_url: str) -> Iterator[str]:
    app: Flask = make_app(sqlite_url)
    with serving(app) as url:
        yield url


def test_the_dev_server_logs_no_query_string(
    dev_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    assert requests.get(f"{dev_server}/healthz?token=s3cret", timeout=5).status_code == 200
    assert requests.post(f"{dev_server}/voice?token=s3cret", timeout=5).status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any('"GET /healthz?… HTTP/1.1" 200' in line for line in lines), lines
    assert any("POST /voice?… HTTP/1.1" in line for line in lines), lines
    assert not any("s3cret" in line for line in lines), lines
