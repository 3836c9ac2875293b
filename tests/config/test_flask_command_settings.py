"""Flask's own ``flask`` command loading Switchboard's app (``flask --app switchboard.callbacks
...``), or an app of its user's that calls ``init_app``: a setting the app cannot start with is
one line naming it, with exit status 2, never a traceback, and a Studio flow it cannot run is
one line per problem; any other failure keeps its traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.callbacks import create_app
from switchboard.callbacks.app import FlowsRefused, SettingsError
from switchboard.callbacks.studio.definition import FlowError
from switchboard.config import ConfigError

FLASK = Path(sys.executable).with_name("flask")
PASSWORD = "hunter2-not-for-stderr"


def flask(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLASK), *args],
        env={"PATH": "/usr/bin:/bin",
             "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"SWITCHBOARD_DATABASE_URL": "nonsense://"},
         "Error: SWITCHBOARD_DATABASE_URL: database 'nonsense' is not supported"
         " (use sqlite or postgresql)"),
        ({"SWITCHBOARD_DATABASE_URL": "postgresql://switchboard@db.example:99999/sb"},
         "Error: SWITCHBOARD_DATABASE_URL: port 99999 is not a TCP port (1 to 65535)"),
        ({"SWITCHBOARD_HANDLER_TIMEOUT": "soon"},
         "Error: SWITCHBOARD_HANDLER_TIMEOUT: 'soon' is not a number"),
    ],
)
def test_a_bad_setting_is_one_line(tmp_path: Path, env: dict[str, str], line: str) -> None:
    result = flask(tmp_path, "--app", "switchboard.callbacks", "routes", **env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_a_flow_that_cannot_run_is_one_line_per_problem(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "broken.json").write_text(json.dumps({
        "description": "broken", "initial_state": "Trigger", "flags": {},
        "states": [{"name": "Trigger", "type": "trigger", "properties": {},
                    "transitions": [{"event": "incomingCall", "next": "nowhere"}]}],
    }))
    result = flask(tmp_path, "--app", "switchboard.callbacks", "routes",
                   TWILIO_AUTH_TOKEN="a-token-for-the-test")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: flows/broken.json: state 'Trigger': property 'next': no state named 'nowhere'"
        " (transition #1, on 'incomingCall')"]
    assert result.stdout == ""


def test_flows_refused_are_still_a_flow_error() -> None:
    error = FlowsRefused(FlowError(["a.json: state 'x': property 'y': missing", "b.json: bad"]))
    assert isinstance(error, FlowError)
    assert error.lines == ["a.json: state 'x': property 'y': missing", "b.json: bad"]
    assert str(error) == "a.json: state 'x': property 'y': missing\nb.json: bad"


def test_a_bad_database_url_does_not_show_its_password(tmp_path: Path) -> None:
    result = flask(tmp_path, "--app", "switchboard.callbacks", "routes",
                   SWITCHBOARD_DATABASE_URL=f"mysql://sb:{PASSWORD}@127.0.0.1/sb")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Error: SWITCHBOARD_DATABASE_URL: ")
    assert PASSWORD not in result.stderr


def test_a_users_app_with_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "users_app.py").write_text(
        "from flask import Flask\n"
        "from switchboard import TwilioBlueprint\n"
        "app = Flask(__name__)\n"
        "app.register_blueprint(TwilioBlueprint('mine', __name__))\n"
    )
    result = flask(tmp_path, "--app", "users_app", "routes",
                   SWITCHBOARD_HANDLER_TIMEOUT="soon")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: SWITCHBOARD_HANDLER_TIMEOUT: 'soon' is not a number"]


def test_a_failure_that_is_not_a_setting_keeps_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        "import switchboard.callbacks.app as app\n"
        "def install(*args):\n"
        "    raise RuntimeError('a bug, not a setting')\n"
        "app._install = install\n"
        "from flask.cli import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "broken.py", "--app", "switchboard.callbacks", "routes"],
        env={"PATH": "/usr/bin:/bin",
             "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert "RuntimeError: a bug, not a setting" in result.stderr


def test_to_python_the_error_is_still_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        create_app({"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    "SWITCHBOARD_HANDLER_TIMEOUT": "soon"})
    assert isinstance(raised.value, SettingsError)
    assert str(raised.value) == "SWITCHBOARD_HANDLER_TIMEOUT: 'soon' is not a number"
