"""What the ``switchboard`` command makes of some arguments: ``--output -`` is standard output,
and ``--app`` names the app of every command that runs one (``simulate --in-process`` too),
an app module that raises when it is loaded being one line, not a traceback.

``--output`` runs against an emulator on 127.0.0.1; ``--app`` as subprocesses of the installed
console script, in a folder holding the app's module, as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from switchboard.cli import cli
from switchboard.emulator import Emulator, media
from tests.e2e.conftest import SWITCHBOARD, subprocess_env

NUMBER = "+14155550100"
CALLER = "+15555550100"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """An emulator on a free port of 127.0.0.1, the settings naming it, in an empty folder."""
    monkeypatch.chdir(tmp_path)
    with Emulator(caller=False) as emu:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.account_sid)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.auth_token)
        monkeypatch.setenv("TWILIO_API_BASE_URL", emu.url)
        yield emu


def api(*args: str) -> Result:
    return CliRunner().invoke(cli, ["api", *args], catch_exceptions=False)


# -- --output - -------------------------------------------------------------------------------


def test_output_dash_is_standard_output(emulator: Emulator, tmp_path: Path) -> None:
    result = api("get-account-details", "-o", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sid"] == emulator.account_sid
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_output_dash_prints_a_recording(emulator: Emulator) -> None:
    """Audio too: ``--output -`` asks for it on stdout, whatever stdout is."""
    call = emulator.state.create_call(emulator.account_sid, to=NUMBER, from_=CALLER)
    recording = emulator.state.create_recording(emulator.account_sid, call["sid"], duration=2)
    result = api("get-recording", "--recording-sid", recording["sid"], "--recording-type",
                 "mp3", "--output", "-")
    assert result.exit_code == 0, result.output
    assert len(result.stdout_bytes) == media.mp3_size(2)
    assert result.stderr == ""


def test_a_file_named_dash_is_dot_slash_dash(emulator: Emulator, tmp_path: Path) -> None:
    result = api("get-account-details", "--output", "./-")
    assert result.exit_code == 0, result.output
    assert (result.stdout, result.stderr) == ("", "Wrote -\n")
    assert json.loads((tmp_path / "-").read_text())["sid"] == emulator.account_sid


# -- --app --------------------------------------------------------------------------------------


def switchboard(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``switchboard ARGS`` run in ``folder``, on a database of its own there."""
    env = subprocess_env({"SWITCHBOARD_DATABASE_URL": f"sqlite:///{folder / 'sb.sqlite3'}",
                          "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                          "TWILIO_AUTH_TOKEN": "app-token-0123456789abcdef"})
    return subprocess.run([str(SWITCHBOARD), *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


BROKEN = {
    "raises_at_import": ('raise RuntimeError("the DATABASE setting is missing")\n',
                         "RuntimeError: the DATABASE setting is missing"),
    "imports_what_is_missing": ("import sb_no_such_module\n",
                                "ModuleNotFoundError: No module named 'sb_no_such_module'"),
    "not_python": ("def app(:\n", "SyntaxError: "),
    "factory_raises": ("def create_app():\n    raise KeyError('SECRET_KEY')\n",
                       "KeyError: 'SECRET_KEY'"),
}

COMMANDS = {
    "routes": ["routes"],
    "call": ["call", "--to", NUMBER, "--from", CALLER, "--allow-insecure",
             "--public-url", "http://127.0.0.1:5000"],
    "flows run": ["flows", "run", "ask", "--from", CALLER, "--to", NUMBER],
    "simulate sms": ["simulate", "sms", "--to", NUMBER, "--body", "hi", "--in-process"],
    "simulate call": ["simulate", "call", "--to", NUMBER, "--in-process"],
    "an app's own command": ["seed-db"],
}


@pytest.mark.parametrize(("module", "command"), [
    *[(module, "simulate sms") for module in sorted(BROKEN)],
    *[("raises_at_import", command) for command in sorted(COMMANDS) if command != "simulate sms"],
])
def test_an_app_that_cannot_be_loaded_is_one_line(tmp_path: Path, module: str,
                                                   command: str) -> None:
    """Every kind of failure, and every kind of command that loads the app: one line naming
    the module and the exception, the usage exit status."""
    source, raised = BROKEN[module]
    (tmp_path / f"{module}.py").write_text(source)
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "ask.json").write_text(json.dumps(ASK_FLOW))
    done = switchboard(tmp_path, "--app", module, *COMMANDS[command])
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"Error: --app {module!r} could not be loaded: {raised}")


#: A flow started by the REST API (flows run), which says one thing and ends.
ASK_FLOW = {
    "description": "ask",
    "initial_state": "Trigger",
    "states": [
        {"name": "Trigger", "type": "trigger", "properties": {},
         "transitions": [{"event": "incomingRequest", "next": "say"}]},
        {"name": "say", "type": "send-message", "transitions": [],
         "properties": {"body": "hello", "from": "{{flow.channel.address}}",
                        "to": "{{contact.channel.address}}"}},
    ],
}

SWITCHBOARD_APP = """\
from switchboard import create_app

app = create_app({"SWITCHBOARD_BUSINESS_NAME": "Named App Co"})
"""

FLASK_APP = """\
from flask import Flask

app = Flask(__name__)


@app.post("/sms")
def sms():
    return "<Response><Message>a plain Flask app</Message></Response>", {
        "Content-Type": "text/xml"}
"""


@pytest.mark.parametrize(("kind", "args", "heard"), [
    ("sms", ["--body", "HELP"], f"  Message sent: to {CALLER}: Named App Co: reply HOURS for "
                                "our opening hours and address. Reply STOP to unsubscribe."),
    ("call", ["--digits", "1"], "  Say: Thank you for calling Named App Co."),
])
def test_simulate_in_process_runs_the_app_named(tmp_path: Path, kind: str, args: list[str],
                                                heard: str) -> None:
    """The named app, signed with its own token (its settings'), answers, not Switchboard's
    default app."""
    (tmp_path / "named_app.py").write_text(SWITCHBOARD_APP)
    done = switchboard(tmp_path, "--app", "named_app", "simulate", kind, "--to", NUMBER,
                       "--in-process", *args)
    assert done.returncode == 0, done.stderr
    assert heard in done.stdout.splitlines(), done.stdout
    assert "Switchboard" not in done.stdout


def test_simulate_in_process_runs_a_plain_flask_app(tmp_path: Path) -> None:
    (tmp_path / "plain_app.py").write_text(FLASK_APP)
    done = switchboard(tmp_path, "--app", "plain_app", "simulate", "sms", "--to", NUMBER,
                       "--body", "hi", "--in-process")
    assert done.returncode == 0, done.stderr
    assert f"  Message sent: to {CALLER}: a plain Flask app" in done.stdout.splitlines()


# -- --app with --config-ref --------------------------------------------------------------------

PROFILES = """\
[profiles.acme]
business_name = "Acme Profile Co"
database_url = "sqlite:///{database}"
"""

#: An app whose factory Flask calls with no arguments, as ``--app profiled_app:build``.
FACTORY_APP = """\
from switchboard import create_app


def build():
    return create_app()
"""


#: The same app built at import, or by a factory: the ``--app`` that names each.
PROFILED_APPS = {
    "profiled_app": "from switchboard import create_app\n\napp = create_app()\n",
    "profiled_app:build": FACTORY_APP,
}


@pytest.mark.parametrize("app", sorted(PROFILED_APPS))
@pytest.mark.parametrize("kind", ["sms", "call"])
def test_config_ref_selects_the_named_apps_profile(tmp_path: Path, app: str, kind: str) -> None:
    """``--config-ref`` reaches an ``--app`` app, built at import or by a factory, as
    ``SWITCHBOARD_PROFILE``: it answers with the profile's settings, as Switchboard's app
    would; without the option, with the environment's."""
    (tmp_path / "profiled_app.py").write_text(PROFILED_APPS[app])
    (tmp_path / "switchboard.toml").write_text(
        PROFILES.format(database=(tmp_path / "acme.sqlite3").as_posix()))
    args = ["--body", "HELP"] if kind == "sms" else ["--digits", "1"]
    simulate = ["--app", app, "simulate", kind, "--to", NUMBER, "--in-process", *args]
    done = switchboard(tmp_path, *simulate, "--config-ref", "acme")
    assert done.returncode == 0, done.stderr
    assert "Acme Profile Co" in done.stdout, done.stdout
    assert (tmp_path / "acme.sqlite3").exists()
    done = switchboard(tmp_path, *simulate)
    assert done.returncode == 0, done.stderr
    assert "Acme Profile Co" not in done.stdout, done.stdout


def test_config_ref_selects_the_named_apps_database_for_sms(tmp_path: Path) -> None:
    """``sms --config-ref`` checks opt-outs in the profile's database when ``--app`` names the
    app: a number that opted out there is refused, and nothing reaches the emulator."""
    from switchboard.callbacks.store import Store

    database = tmp_path / "acme.sqlite3"
    store = Store(f"sqlite:///{database}")
    try:
        store.opt_out(NUMBER, sender=CALLER)
    finally:
        store.close()
    (tmp_path / "profiled_app.py").write_text(FACTORY_APP)
    (tmp_path / "switchboard.toml").write_text(PROFILES.format(database=database.as_posix()))
    with Emulator(caller=False) as emu:
        env = subprocess_env({"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.sqlite3'}",
                              "TWILIO_ACCOUNT_SID": emu.account_sid,
                              "TWILIO_AUTH_TOKEN": emu.auth_token,
                              "TWILIO_API_BASE_URL": emu.url})
        done = subprocess.run(
            [str(SWITCHBOARD), "--app", "profiled_app:build", "sms", "--to", NUMBER, "--from",
             CALLER, "--body", "hi", "--public-url", "http://127.0.0.1:5000", "--allow-insecure",
             "--config-ref", "acme"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert done.stderr == (f"Error: {NUMBER} has opted out (replied STOP to {CALLER}): not "
                               "sending. They can reply START to opt back in.\n")
        assert emu.state.created_count() == 0
