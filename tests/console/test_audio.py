"""A voicemail's audio: fetched from the emulator by the server with the account's credentials
and streamed on, on a real socket; the browser never sees the credentials. A browser's Range
is passed on, and the part, or the 416, relayed."""

from __future__ import annotations

from typing import Any

from switchboard.emulator import media
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.stack import SwitchboardStack
from tests.api_transport.conftest import StubServer
from tests.console.conftest import CALLER, NUMBER, logged_in_session


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
    session = logged_in_session(stack)
    with session.get(f"{stack.url}/console/recordings/{recording['sid']}/audio", timeout=10,
                     stream=True) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert int(response.headers["Content-Length"]) == media.mp3_size(9)
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Accept-Ranges"] == "bytes"
        assert "Content-Range" not in response.headers
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
    session = logged_in_session(stack)
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
    session = logged_in_session(stack)
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


def audio_url(stack: SwitchboardStack, recording: dict[str, Any]) -> str:
    return f"{stack.url}/console/recordings/{recording['sid']}/audio"


def test_one_range_is_passed_on_and_twilio_s_206_relayed_with_exactly_those_bytes(
    stack: SwitchboardStack,
) -> None:
    recording = voicemail(stack)
    session = logged_in_session(stack)
    full = b"".join(media.mp3_stream(9))
    size = len(full)
    for header, part in [
        ("bytes=0-1", slice(0, 2)),                  # what Safari asks before it plays
        ("bytes=15980-16100", slice(15980, 16101)),  # across a chunk of the stream
        (f"bytes={size - 1000}-", slice(size - 1000, None)),
        ("bytes=-144", slice(-144, None)),
        (f"bytes=100-{size + 10}", slice(100, None)),
    ]:
        response = session.get(audio_url(stack, recording), headers={"Range": header},
                               timeout=10)
        expected = full[part]
        first = part.indices(size)[0]
        assert response.status_code == 206, header
        assert response.content == expected, header
        assert response.headers["Content-Range"] == (
            f"bytes {first}-{first + len(expected) - 1}/{size}")
        assert int(response.headers["Content-Length"]) == len(expected)
        assert response.headers["Accept-Ranges"] == "bytes"
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert response.headers["Cache-Control"] == "private, no-store"
        headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        assert stack.emulator.auth_token not in headers
        assert stack.emulator.url not in headers


def test_a_range_past_the_end_is_relayed_as_a_416_with_the_size(
    stack: SwitchboardStack,
) -> None:
    recording = voicemail(stack, 3)
    session = logged_in_session(stack)
    size = media.mp3_size(3)
    response = session.get(audio_url(stack, recording), headers={"Range": f"bytes={size}-"},
                           timeout=10)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.json()["detail"] == "The part of the recording asked for is past its end."
    assert stack.emulator.auth_token not in response.text


def test_any_other_range_gets_the_whole_audio_with_a_200(stack: SwitchboardStack) -> None:
    recording = voicemail(stack, 3)
    session = logged_in_session(stack)
    full = b"".join(media.mp3_stream(3))
    for headers in [
        {"Range": "bytes=5-2"},                         # does not parse
        {"Range": "bytes=abc"},
        {"Range": "items=0-1"},
        {"Range": "bytes=0-1,10-20"},                   # several ranges
        {"Range": f"bytes=-{len(full) + 1}"},           # Twilio answers the whole file
        {"Range": "bytes=0-1", "If-Range": '"an-etag-the-console-never-gave"'},
    ]:
        response = session.get(audio_url(stack, recording), headers=headers, timeout=10)
        assert response.status_code == 200, headers
        assert response.content == full, headers
        assert int(response.headers["Content-Length"]) == len(full)
        assert response.headers["Accept-Ranges"] == "bytes"
        assert "Content-Range" not in response.headers


def test_twilio_s_416_without_a_size_and_a_206_without_its_range(
    stack: SwitchboardStack,
) -> None:
    recording = voicemail(stack, 3)
    session = logged_in_session(stack)
    twilio = StubServer().start()
    switchboard = stack.app.extensions["switchboard"]  # type: ignore[union-attr]
    settings = switchboard.settings
    try:
        switchboard.settings = settings.replace(api_base_url=twilio.url)
        twilio.reply(416, body=b"Requested Range Not Satisfiable",
                     headers={"Content-Type": "text/plain"})
        unsatisfiable = session.get(audio_url(stack, recording),
                                    headers={"Range": "bytes=999999-"}, timeout=10)
        assert unsatisfiable.status_code == 416
        assert "Content-Range" not in unsatisfiable.headers
        assert twilio.received[0].headers["Range"] == "bytes=999999-"
        twilio.reply(206, body=b"\xff\xfb", headers={"Content-Type": "audio/mpeg"})
        unsaid = session.get(audio_url(stack, recording), headers={"Range": "bytes=0-1"},
                             timeout=10)
        assert unsaid.status_code == 502
        assert "Content-Range" not in unsaid.headers
    finally:
        switchboard.settings = settings
        twilio.stop()
