"""``switchboard`` with a wrong setting: one line saying which and why, never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from callbacks.cli import cli

PASSWORD = "hunter2-not-for-logs"


@pytest.fixture
def wrong_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACnot-a-sid")
    monkeypatch.setenv(
        "SWITCHBOARD_DATABASE_URL", f"mysql://user:{PASSWORD}@127.0.0.1/switchboard"
    )


def test_a_flask_command_says_what_is_wrong_in_one_line(wrong_settings: None) -> None:
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: TWILIO_ACCOUNT_SID: 'ACnot-a-sid' is not an account SID"
        " (AC followed by 32 hexadecimal digits)"
    ]
    assert "Traceback" not in result.output


def test_help_still_lists_the_commands(wrong_settings: None) -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Traceback" not in result.output
    assert "Error: TWILIO_ACCOUNT_SID:" in result.output
    for command in ("run", "routes", "api", "provision", "emulator", "simulate"):
        assert f"  {command} " in result.output


def test_a_wrong_database_url_does_not_show_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SWITCHBOARD_DATABASE_URL", f"mysql://user:{PASSWORD}@127.0.0.1/switchboard"
    )
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 2
    assert "Error: SWITCHBOARD_DATABASE_URL: database 'mysql' is not supported" in result.output
    assert PASSWORD not in result.output
