"""The voice, language and voice-session settings reach the app, and a voice or language that
Twilio does not take stops it at start-up (every ``<Say>`` would be refused by the builder)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from switchboard.callbacks import create_app
from switchboard.config import ConfigError
from tests.server.conftest import Twilio, call_params, make_app, twiml


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("SWITCHBOARD_VOICE", "Robot"),
        ("SWITCHBOARD_VOICE", "Polly."),
        ("SWITCHBOARD_VOICE", "Google.english"),
        ("SWITCHBOARD_LANGUAGE", "english please"),
        ("SWITCHBOARD_LANGUAGE", "e"),
    ],
)
def test_a_voice_or_language_twilio_does_not_take_stops_the_app(
    tmp_path: Path, env: str, value: str
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    with pytest.raises(ConfigError, match=rf"^{env}: .* is not a <Say> \w+ Twilio takes; give "):
        create_app({"SWITCHBOARD_DATABASE_URL": url, env: value, "TESTING": True})


@pytest.mark.parametrize(
    ("voice", "language"),
    [
        ("man", "en-GB"),
        ("Polly.Joanna-Neural", "en-US"),
        ("Polly.Céline", "fr-FR"),
        ("Google.en-US-Neural2-A", "en-US"),
        ("alice", "cmn-Hans-CN"),
    ],
)
def test_the_voice_and_language_reach_every_say(tmp_path: Path, voice: str, language: str) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}",
                   SWITCHBOARD_VOICE=voice, SWITCHBOARD_LANGUAGE=language)
    root = twiml(Twilio(app.test_client()).post("/voice", call_params()))
    says = root.findall(".//Say")
    assert says
    assert {(say.get("voice"), say.get("language")) for say in says} == {(voice, language)}


def test_the_voice_session_idle_setting_reaches_the_store(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", SWITCHBOARD_VOICE_SESSION_IDLE="36")
    assert app.extensions["switchboard"].store.voice_session_idle == timedelta(hours=36)
    default = make_app(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert default.extensions["switchboard"].store.voice_session_idle == timedelta(hours=24)
    with pytest.raises(ConfigError, match="SWITCHBOARD_VOICE_SESSION_IDLE: 1 is below the minimum"):
        make_app(f"sqlite:///{tmp_path / 'db.sqlite3'}", SWITCHBOARD_VOICE_SESSION_IDLE="1")


def test_switchboard_run_says_which_setting_in_one_line(tmp_path: Path) -> None:
    switchboard = Path(sys.executable).with_name("switchboard")
    result = subprocess.run(
        [str(switchboard), "run", "--port", "1"],
        env={"PATH": "/usr/bin:/bin", "SWITCHBOARD_VOICE": "Robot",
             "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: run: SWITCHBOARD_VOICE: 'Robot' is not a <Say> voice")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
