"""``--config-ref NAME`` on ``flows run`` and ``run``, as on the other commands that read the
settings: the profile's flows folder, database and account (``flows run``), the app of that
profile (``run``, served as ``SWITCHBOARD_PROFILE=NAME`` would serve it); an unknown or empty
name is one line, exit status 2, before anything is sent or served; the same help text
everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from switchboard.callbacks.store import Store
from switchboard.callbacks.studio import executions
from switchboard.cli import cli
from switchboard.cli.common import CONFIG_REF
from switchboard.emulator import Emulator
from tests.studio_timers import NUMBER, ask_definition, contact


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(caller=False) as emu:
        yield emu


@pytest.fixture
def acme(tmp_path: Path, emulator: Emulator, database_url: str,
         monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A profile ``acme`` with the emulator's account, a flows folder holding ``ask`` and the
    suite's database; the environment (the default profile) has none of them."""
    flows = tmp_path / "acme_flows"
    flows.mkdir()
    (flows / "ask.json").write_text(json.dumps(ask_definition(3600)))
    profile = {
        "account_sid": emulator.account_sid, "auth_token": emulator.auth_token,
        "api_base_url": emulator.url, "flows_dir": str(flows), "database_url": database_url,
    }
    path = tmp_path / "switchboard.toml"
    path.write_text("[profiles.acme]\n" + "".join(f'{key} = "{value}"\n'
                                                  for key, value in profile.items()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_PROFILES_FILE", str(path))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'default.sqlite3'}")
    monkeypatch.delenv("SWITCHBOARD_PROFILE", raising=False)
    return profile


def switchboard(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    return result.output.rstrip("\n")


def test_flows_run_starts_the_flow_of_the_profile(acme: dict[str, str],
                                                  emulator: Emulator) -> None:
    number = contact()
    done = switchboard("flows", "run", "ask", "--to", number, "--from", NUMBER,
                       "--parameters", '{"name": "Ada"}', "--config-ref", "acme")
    assert done.exit_code == 0, done.output
    printed = json.loads(done.stdout)
    sent = emulator.state.list("messages", where=lambda message: message["to"] == number)
    assert [message["body"] for message in sent] == ["Hello Ada, reply YES."]
    store = Store(acme["database_url"])
    try:
        [execution] = [e for e in executions.list_executions(store)
                       if e.contact_channel_address == number]
    finally:
        store.close()
    assert execution.sid == printed["sid"]


def test_flows_run_without_it_reads_the_environment(acme: dict[str, str]) -> None:
    line = one_line_error(switchboard("flows", "run", "ask", "--to", contact(), "--from", NUMBER))
    assert line.startswith("Error: flows run: no flows folder: ")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The apps ``run`` would serve: the server itself is not started."""
    apps: list[Any] = []

    def run_simple(host: str, port: int, app: Any, **options: Any) -> None:
        apps.append(app)

    monkeypatch.setattr("flask.cli.run_simple", run_simple)
    return apps


def test_run_serves_the_app_of_the_profile(acme: dict[str, str], served: list[Any]) -> None:
    done = switchboard("run", "--port", "0", "--config-ref", "acme")
    assert done.exit_code == 0, done.output
    [app] = served
    settings = app.extensions["switchboard"].settings
    assert settings.profile == "acme"
    assert (settings.database_url, settings.account_sid) == (acme["database_url"],
                                                             acme["account_sid"])
    assert app.config.get("QUIET_START") is None  # a server says what it says at start-up
    app.extensions["switchboard"].store.close()


def test_run_without_it_serves_the_environments(acme: dict[str, str], served: list[Any]) -> None:
    assert switchboard("run", "--port", "0").exit_code == 0
    [app] = served
    assert app.extensions["switchboard"].settings.profile == "default"
    app.extensions["switchboard"].store.close()


@pytest.mark.parametrize("command", [
    ["run", "--port", "0"],
    ["flows", "run", "ask", "--to", "+14155550123", "--from", NUMBER],
])
def test_an_unknown_or_empty_profile_is_one_line_before_anything(
    acme: dict[str, str], emulator: Emulator, served: list[Any], command: list[str]
) -> None:
    typed = " ".join(command[:2]) if command[0] == "flows" else command[0]
    line = one_line_error(switchboard(*command, "--config-ref", "acne"))
    assert line == (f"Error: {typed}: profile 'acne' is not defined (switchboard.toml); "
                    "known profiles: default, acme")
    for name in ("", " acme"):
        line = one_line_error(switchboard(*command, "--config-ref", name))
        assert line == (f"Error: {typed}: Invalid value for '--config-ref': {name!r} is not a "
                        "profile name (a [profiles.NAME] table); leave the option out for the "
                        "environment's settings")
    assert served == []
    assert emulator.state.list("messages", where=lambda m: m["to"] == "+14155550123") == []


def config_ref_help(*path: str) -> str | None:
    context = click.Context(cli)
    command: Any = cli
    for name in path:
        command = command.get_command(context, name)
    [option] = [param for param in command.params if "--config-ref" in param.opts]
    return option.help


@pytest.mark.parametrize("path", [
    ["run"], ["flows", "run"], ["call"], ["sms"], ["provision"], ["api", "get-call"],
    ["simulate", "call"], ["simulate", "sms"],
])
def test_the_help_is_the_same(path: list[str]) -> None:
    assert config_ref_help(*path) == CONFIG_REF["help"]
