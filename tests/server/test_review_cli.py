"""Second review of the root ``switchboard`` group: ``call`` / ``sms`` load the app of the
profile named with ``--config-ref`` (its store is where opt-outs are), and an unknown command
is one line without loading the app."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from switchboard import callbacks
from switchboard.cli.group import _create_app, cli
from switchboard.cli.outbound import call_command, sms_command


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


def test_known_commands_are_still_found_and_a_named_apps_own_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 0, result.output
    assert "/voice/fallback" in result.output
    (tmp_path / "sb_review_named_app.py").write_text(
        "from flask import Flask\n"
        "app = Flask(__name__)\n"
        "@app.cli.command('greet')\n"
        "def greet():\n"
        "    print('hello')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(cli, ["--app", "sb_review_named_app", "greet"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello\n"
    result = CliRunner().invoke(cli, ["--app", "sb_review_named_app", "nosuch"])
    assert result.exit_code == 2
    assert "No such command 'nosuch'" in result.output
