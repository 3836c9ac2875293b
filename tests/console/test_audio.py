"""A voicemail's audio: fetched from the emulator by the server with the account's credentials
and streamed on, on a real socket; the browser never sees the credentials."""

from __future__ import annotations

from typing import Any

import requests

from switchboard.emulator import media
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from tests.console.conftest import CALLER, NUMBER, PASSWORD, csrf_of


def logged_in(stack: SwitchboardStack) -> requests.Session:
    session = requests.Session()
    page = session.get(stack.url + "/console/login", timeout=10)
    response = session.post(stack.url + "/console/login", timeout=10, allow_redirects=False,
                            data={"csrf_token": csrf_of(page.text), "password": PASSWORD})
    assert response.status_code == 303
    return session


def voicemail(stack: SwitchboardStack, seconds: int = 9) -> dict[str, Any]:
    call = stack.emulator.phone.inbound_call(
        NUMBER, CALLER, script=CallScript("2", recording=RecordingTake(seconds)))
    assert stack.wait_idle(20)
    [recording] = stack.emulator.state.list("recordings")
    assert recording["call_sid"] == call.sid
    assert stack.store.get_recording(recording["sid"]) is not None
    return recording


def test_the_audio_is_the_emulator_s_recording_streamed_through_the_server(
    stack: SwitchboardStack,
) -> None:
    recording = voicemail(stack)
    session = logged_in(stack)
    with session.get(f"{stack.url}/console/recordings/{recording['sid']}/audio", timeout=10,
                     stream=True) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert int(response.headers["Content-Length"]) == media.mp3_size(9)
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = b"".join(response.iter_content(4096))
    assert body == b"".join(media.mp3_stream(9))
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    assert stack.emulator.auth_token not in headers
    assert "Authorization" not in response.headers
    page = session.get(f"{stack.url}/console/calls/{recording['call_sid']}", timeout=10).text
    assert f"/console/recordings/{recording['sid']}/audio" in page
    assert stack.emulator.auth_token not in page
    assert stack.emulator.url not in page  # the browser asks the console, never Twilio


def test_a_recording_twilio_no_longer_has_is_a_404_and_one_never_stored_too(
    stack: SwitchboardStack,
) -> None:
    recording = voicemail(stack, 3)
    session = logged_in(stack)
    stack.emulator.state.delete("recordings", recording["sid"])
    gone = session.get(f"{stack.url}/console/recordings/{recording['sid']}/audio", timeout=10)
    assert gone.status_code == 404
    assert gone.json()["detail"] == "Twilio no longer has this recording."
    unknown = session.get(f"{stack.url}/console/recordings/RE{'0' * 32}/audio", timeout=10)
    assert unknown.status_code == 404


def test_twilio_out_of_reach_is_a_502_and_no_credentials_a_503(
    stack: SwitchboardStack,
) -> None:
    recording = voicemail(stack, 3)
    session = logged_in(stack)
    url = f"{stack.url}/console/recordings/{recording['sid']}/audio"
    switchboard = stack.app.extensions["switchboard"]  # type: ignore[union-attr]
    settings = switchboard.settings
    try:
        switchboard.settings = settings.replace(api_base_url="http://127.0.0.1:9")
        assert session.get(url, timeout=30).status_code == 502
        switchboard.settings = settings.replace(account_sid=None)
        response = session.get(url, timeout=10)
        assert response.status_code == 503
        assert "credentials" in response.json()["detail"]
    finally:
        switchboard.settings = settings
