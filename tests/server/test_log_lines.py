"""Every log line one line of a sane length, with no secret, whatever a request carries: the
filter itself, the app behind the Flask test client, the app under a real gunicorn, and
every ``switchboard.*`` logger under ``switchboard run`` and under an app's own logging."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from switchboard.callbacks import logs
from switchboard.callbacks.devlog import HideQueryStrings
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.logs import (
    LOGGERS,
    MESSAGE_LIMIT,
    VALUE_LIMIT,
    OneLine,
    filter_switchboard_loggers,
    hide_in_logs,
    secrets_of,
)
from switchboard.callbacks.twilio_request import CallRequest
from switchboard.callbacks.twiml import VoiceResponse
from switchboard.config import load_settings
from tests.server.conftest import TOKEN, Twilio, call_params, make_app
from tests.server.test_gunicorn import Server, server, wait_for_log  # noqa: F401 - fixture

ESC = "\x1b[31m"
HOSTILE = f"a\r\nforged line{ESC}red\u2028next\u2029"


def shown(message: str, *args: object, exc_info: object = None) -> str:
    """What a handler with :class:`OneLine` writes for a record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OneLine())
    made = logging.LogRecord("switchboard.callbacks", logging.WARNING, __file__, 1, message,
                             args or None, exc_info)  # type: ignore[arg-type]
    handler.handle(made)
    return stream.getvalue()


def one_line(text: str) -> str:
    assert text.count("\n") == 1, text
    assert text.endswith("\n"), text
    for unwanted in ("\x1b", "\r", "\u2028"):
        assert unwanted not in text, text
    return text[:-1]


def test_a_long_value_is_cut_and_the_rest_of_the_message_kept() -> None:
    line = one_line(shown("flow %s, widget %s: failed", "f" * 50_000, "w"))
    assert len(line) < VALUE_LIMIT + 100
    assert f"{'f' * VALUE_LIMIT}…[{50_000 - VALUE_LIMIT} more characters], widget w" in line


def test_a_long_message_is_cut() -> None:
    line = one_line(shown("x" * 50_000))
    assert len(line) < MESSAGE_LIMIT + 100


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("postgresql://switchboard:db-pa55word@db.example/sb", "db-pa55word"),
        ("https://user:hunter2-pass@api.example/v1", "hunter2-pass"),
        ("https://api.example/hook?token=q-t0ken-value&x=1", "q-t0ken-value"),
        ("https://api.example/hook?x=1&api_key=ak-value-99", "ak-value-99"),
        ("GET /flows/x?AccessToken=at-value-77 HTTP/1.1", "at-value-77"),
        ("Authorization=basic-value-55", "basic-value-55"),
        (f"the token is {TOKEN}.", TOKEN),
        ("token=tk-value</cd-rest-42", "</cd-rest-42"),
        ("<Say>api_key=ak-value</b after</Say>", "</b after"),
    ],
)
def test_secrets_in_a_value_are_hidden(value: str, secret: str) -> None:
    hide_in_logs(TOKEN)
    line = one_line(shown("request failed: %s", value))
    assert secret not in line
    assert "***" in line


@pytest.mark.parametrize(
    ("twiml", "line"),
    [
        ("<Say>token=tk-value-42</Say><Pause/>", "<Say>token=***</Say><Pause/>"),
        ("<Say>token=tk-value-42</Say ><Pause/>", "<Say>token=***</Say ><Pause/>"),
        ("<Play>/hold.mp3?sig=ab</cd</Play>", "<Play>/hold.mp3?sig=***</Play>"),
        ("<Say>token=ab</cd and</Say>", "<Say>token=*** and</Say>"),
    ],
)
def test_a_credential_pair_s_value_ends_at_a_closing_tag_only(twiml: str, line: str) -> None:
    assert one_line(shown("answered %s", twiml)) == f"answered {line}"


def test_a_secret_setting_written_as_a_form_writes_it_is_hidden() -> None:
    settings = load_settings(environ={}, overrides={
        "TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_AUTH_TOKEN": "auth token 7f3a9c2e",
    })
    hide_in_logs(*secrets_of(settings))
    line = one_line(shown("posted %s", "Note=auth+token+7f3a9c2e&From=%2B15555550100"))
    assert line == "posted Note=***&From=%2B15555550100"


def test_a_tracebacks_exception_message_is_one_line_without_secrets() -> None:
    try:
        try:
            raise OSError(f"connect to https://u:inner-secret@db.example failed{ESC}")
        except OSError as inner:
            raise ValueError(f"bad\nforged line {'v' * 5000}") from inner
    except ValueError:
        text = shown("handler failed: %s", "ValueError", exc_info=sys.exc_info())
    lines = text.splitlines()
    assert lines[0] == "handler failed: ValueError"
    assert "ValueError: bad\\nforged line vvv" in text
    assert not [line for line in lines if line.startswith("forged")]
    assert "inner-secret" not in text
    assert "\x1b" not in text
    assert len(text) < 3 * VALUE_LIMIT + 2000


def test_a_bad_format_is_left_to_loggings_own_report() -> None:
    made = logging.LogRecord("x", logging.WARNING, __file__, 1, "count %d", ("many",), None)
    assert OneLine().filter(made)  # no exception from the filter itself


@pytest.fixture
def app_log(module_database_url: str) -> Iterator[tuple[Flask, io.StringIO]]:
    """The app, with Switchboard's loggers writing to a handler with :class:`OneLine` (as
    gunicorn's error log has it)."""
    app = make_app(module_database_url)
    bp = TwilioBlueprint("hostile", __name__, url_prefix="/hostile")

    @bp.voice("/raise")
    def raises(call: CallRequest) -> VoiceResponse:
        raise RuntimeError(f"{call.params.get('Digits')} {TOKEN}")

    app.register_blueprint(bp)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OneLine())
    logger = logging.getLogger("switchboard")
    logger.addHandler(handler)
    try:
        yield app, stream
    finally:
        logger.removeHandler(handler)
        app.extensions["switchboard"].store.close()


def test_the_apps_lines_from_hostile_requests(app_log: tuple[Flask, io.StringIO]) -> None:
    app, stream = app_log
    twilio = Twilio(app.test_client())
    long = "L" * 20_000
    twilio.post("/voice/fallback", call_params(
        ErrorCode=f"11200{HOSTILE}{long}",
        ErrorUrl=f"https://owner:url-pa55@hooks.example/voice{HOSTILE}?token=q-secret",
    ))
    twilio.post("/hostile/raise", call_params(Digits=HOSTILE))
    twilio.post(f"/voice/x{HOSTILE}", call_params())
    text = stream.getvalue()
    assert "ErrorCode 11200a\\r\\nforged line\\x1b[31m" in text
    assert "RuntimeError: a\\r\\nforged line" in text
    assert not [line for line in text.splitlines() if line.startswith("forged")]
    for hidden in ("url-pa55", "q-secret", TOKEN, "\x1b", "\r", "\u2028", "L" * (VALUE_LIMIT + 1)):
        assert hidden not in text, hidden


def test_gunicorns_lines_from_hostile_requests(server: Server) -> None:  # noqa: F811
    server.session.get(f"{server.base}/nothing%1B[31m/{TOKEN}/{'p' * 3000}", timeout=10)
    server.request("/broken/raise", call_params(Digits=HOSTILE))
    text = wait_for_log(server, "/nothing")
    assert "/nothing\\x1b[31m/***/ppp" in text
    for unwanted in (TOKEN, "\x1b", "\u2028"):
        assert unwanted not in text
    assert not [line for line in text.splitlines() if line.startswith("forged")]


def test_the_development_servers_request_line_hides_the_auth_token() -> None:
    hide_in_logs(TOKEN)
    made = logging.LogRecord("werkzeug", logging.INFO, __file__, 1,
                             '127.0.0.1 - - [date] "%s" %s %s\n',
                             (f"GET /x/{TOKEN} HTTP/1.1", "404", "-"), None)
    assert HideQueryStrings().filter(made)
    assert made.getMessage() == '127.0.0.1 - - [date] "GET /x/*** HTTP/1.1" 404 -\n'


def test_a_record_made_safe_on_its_logger_is_not_cut_again_by_a_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logs, "_hidden", ())  # no secret an earlier test's app hid
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OneLine())
    on_logger = OneLine()
    logger = logging.getLogger("tests.one_line_twice")
    logger.addFilter(on_logger)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("x" * 50_000)
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(on_logger)
        logger.propagate = True
    assert one_line(stream.getvalue()).endswith(f"…[{50_000 - MESSAGE_LIMIT} more characters]")


ROOT = Path(__file__).resolve().parents[2]
_NAMED_LOGGER = re.compile(r"""getLogger\(\s*(__name__|["'](switchboard[\w.]*)["'])""")


def test_every_logger_switchboard_writes_to_is_filtered() -> None:
    """The loggers the package's modules name are :data:`LOGGERS` (a module logging to a new
    one must add it there), and each has :class:`OneLine` once the loggers are filtered."""
    named = set()
    for folder in ("api", "callbacks", "config", "emulator", "switchboard"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in _NAMED_LOGGER.finditer(path.read_text(encoding="utf-8")):
                named.add(match.group(2) or f"__name__ in {path.relative_to(ROOT)}")
    assert named <= set(LOGGERS), named - set(LOGGERS)
    filter_switchboard_loggers()
    for name in LOGGERS:
        assert any(isinstance(f, OneLine) for f in logging.getLogger(name).filters), name


PASSWORD = "url-pa55word-for-logs"

#: Under ``switchboard run``: Switchboard's loggers write through logging's last resort (no
#: handler of their own); the server itself is replaced by lines logged where it would start.
SWITCHBOARD_RUN = f"""
import logging, os
import flask.cli

def serve(*args, **kwargs):
    token = os.environ["TWILIO_AUTH_TOKEN"]
    logging.getLogger("switchboard.api").warning("GET /Calls.json failed for %s", token)
    try:
        raise OSError("cannot post to https://owner:{PASSWORD}@hooks.example/voice")
    except OSError:
        logging.getLogger("switchboard.emulator").exception(
            "emulator: the webhook failed%s", "\\nforged line")

flask.cli.run_simple = serve
from switchboard.cli import main
main()
"""

#: A user's own app, with its own logging set up: a root handler Switchboard leaves alone.
USERS_APP = f"""
import logging, os, sys
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
from flask import Flask
from switchboard import TwilioBlueprint, create_app

if sys.argv[1] == "create_app":
    create_app()
else:
    app = Flask("users_app")
    app.register_blueprint(TwilioBlueprint("mine", __name__))
token = os.environ["TWILIO_AUTH_TOKEN"]
logging.getLogger("switchboard.api").info("POST /Calls.json with %s", token)
logging.getLogger("switchboard.emulator").warning(
    "the webhook to https://owner:{PASSWORD}@hooks.example failed%s", "\\nforged line")
logging.getLogger("users_app").info("their own line%s", "\\nkept as they wrote it")
"""


def _run(tmp_path: Path, script: str, *args: str) -> str:
    (tmp_path / "script.py").write_text(script)
    result = subprocess.run(
        [sys.executable, "script.py", *args],
        env={"PATH": "/usr/bin:/bin", "TWILIO_AUTH_TOKEN": TOKEN,
             "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def _no_secret(text: str) -> None:
    for unwanted in (TOKEN, PASSWORD):
        assert unwanted not in text, text
    assert not [line for line in text.splitlines() if line.startswith("forged")], text


def test_switchboard_run_filters_the_rest_clients_and_the_emulators_lines(
    tmp_path: Path,
) -> None:
    text = _run(tmp_path, SWITCHBOARD_RUN, "run", "--port", "0")
    _no_secret(text)
    assert "GET /Calls.json failed for ***" in text
    assert "emulator: the webhook failed\\nforged line" in text
    assert "OSError: cannot post to https://owner:***@hooks.example/voice" in text


@pytest.mark.parametrize("made_by", ["create_app", "init_app"])
def test_under_the_users_own_logging_switchboards_lines_are_filtered(
    tmp_path: Path, made_by: str
) -> None:
    text = _run(tmp_path, USERS_APP, made_by)
    _no_secret(text)
    assert "switchboard.api: POST /Calls.json with ***" in text
    assert "switchboard.emulator: the webhook to https://owner:***@hooks.example failed" in text
    assert "users_app: their own line\nkept as they wrote it" in text
