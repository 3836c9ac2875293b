"""The ``switchboard`` command and the app it loads: a wrong setting is one line saying which
and why, never a traceback; ``--help`` loads no app; ``--app`` names another one; ``call`` and
``sms`` load the app of the profile named with ``--config-ref`` (its store is where the
opt-outs are); an unknown command is one line, without loading the app."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from switchboard import callbacks
from switchboard.cli import cli
from switchboard.cli.group import _create_app
from switchboard.cli.outbound import call_command, sms_command

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
        "Error: routes: TWILIO_ACCOUNT_SID: 'ACnot-a-sid' is not an account SID"
        " (AC followed by 32 hexadecimal digits)"
    ]
    assert "Traceback" not in result.output


def test_help_lists_the_commands_without_loading_the_app(
    wrong_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_app() -> None:
        raise AssertionError("--help loaded the app (and opened its database)")

    monkeypatch.setattr(callbacks, "create_app", no_app)
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "Error:" not in result.output  # the settings are checked when a command runs
    for command in ("run", "routes", "shell", "api", "provision", "emulator", "simulate"):
        assert f"  {command} " in result.output


def test_help_of_a_named_app_lists_its_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "sb_cli_named_app.py").write_text(
        "from flask import Flask\n"
        "app = Flask(__name__)\n"
        "@app.cli.command('greet')\n"
        "def greet():\n"
        "    'Say hello.'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(cli, ["--app", "sb_cli_named_app", "--help"])
    assert result.exit_code == 0, result.output
    assert "  greet " in result.output


def test_a_wrong_database_url_does_not_show_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "SWITCHBOARD_DATABASE_URL", f"mysql://user:{PASSWORD}@127.0.0.1/switchboard"
    )
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 2
    assert ("Error: routes: SWITCHBOARD_DATABASE_URL: database 'mysql' is not supported"
            in result.output)
    assert PASSWORD not in result.output


def test_flask_app_in_the_environment_does_not_replace_switchboard(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "sb_cli_env_app.py").write_text("raise SystemExit('FLASK_APP was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FLASK_APP", "sb_cli_env_app")
    result = CliRunner().invoke(cli, ["routes"], auto_envvar_prefix="FLASK")
    assert result.exit_code == 0, result.output
    assert "/voice/status" in result.output


@pytest.fixture
def profiles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    urls = {
        "default": f"sqlite:///{tmp_path / 'default.sqlite3'}",
        "acme": f"sqlite:///{tmp_path / 'acme.sqlite3'}",
    }
    path = tmp_path / "switchboard.toml"
    path.write_text(f'[profiles.acme]\ndatabase_url = "{urls["acme"]}"\n')
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(path))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", urls["default"])
    monkeypatch.delenv("SWITCHBOARD_PROFILE", raising=False)
    return urls


@pytest.mark.parametrize("command", [call_command, sms_command])
def test_config_ref_picks_the_profile_of_the_app_that_call_and_sms_load(
    profiles: dict[str, str], command: click.Command
) -> None:
    with click.Context(command, info_name=command.name) as context:
        context.params["config_ref"] = "acme"
        app = _create_app()
    settings = app.extensions["switchboard"].settings
    assert settings.profile == "acme"
    assert settings.database_url == profiles["acme"]
    assert app.config["QUIET_START"] is True


@pytest.mark.parametrize("command", [call_command, sms_command])
def test_without_config_ref_call_and_sms_load_the_default_profile(
    profiles: dict[str, str], command: click.Command
) -> None:
    with click.Context(command, info_name=command.name) as context:
        context.params["config_ref"] = None
        app = _create_app()
    assert app.extensions["switchboard"].settings.database_url == profiles["default"]


def test_an_unknown_command_is_one_line_without_loading_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACnot-a-sid")

    def no_app() -> None:
        raise AssertionError("an unknown command loaded the app (and opened its database)")

    monkeypatch.setattr(callbacks, "create_app", no_app)
    result = CliRunner().invoke(cli, ["nosuch"])
    assert result.exit_code == 2
    assert result.output == "Error: No such command 'nosuch'.\n"


def test_an_unknown_command_with_a_wrong_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACnot-a-sid")
    result = CliRunner().invoke(cli, ["nosuch"])
    assert result.exit_code == 2
    assert result.output == "Error: No such command 'nosuch'.\n"


def test_known_commands_are_found_and_a_named_apps_own_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 0, result.output
    assert "/voice/fallback" in result.output
    (tmp_path / "sb_cli_greeting_app.py").write_text(
        "from flask import Flask\n"
        "app = Flask(__name__)\n"
        "@app.cli.command('greet')\n"
        "def greet():\n"
        "    print('hello')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(cli, ["--app", "sb_cli_greeting_app", "greet"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello\n"
    result = CliRunner().invoke(cli, ["--app", "sb_cli_greeting_app", "nosuch"])
    assert result.exit_code == 2
    assert "No such command 'nosuch'" in result.output
