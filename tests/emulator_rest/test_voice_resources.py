"""Conferences and participants, recordings and their media, transcriptions, notifications."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime

import requests

from switchboard.emulator import media
from switchboard.emulator.resources import rfc2822
from tests.emulator_rest.conftest import TIMEOUT, Api, assert_error


def a_call(api: Api) -> dict:
    return api.emu.state.create_call(api.emu.account_sid, to="+14155550111",
                                     from_="+14155550100", status="in-progress")


def test_conference_and_participants(api: Api) -> None:
    state = api.emu.state
    conference = state.create_conference(api.emu.account_sid, "standup")
    one, two = a_call(api), a_call(api)
    state.add_participant(conference["sid"], one["sid"])
    state.add_participant(conference["sid"], two["sid"], muted=True)

    got = api.get(f"/Conferences/{conference['sid']}.json").json()
    assert got["status"] == "in-progress"
    assert got["friendly_name"] == "standup"
    listed = api.get("/Conferences.json", FriendlyName="standup", Status="in-progress").json()
    assert [c["sid"] for c in listed["conferences"]] == [conference["sid"]]
    today = datetime.now(UTC).date().isoformat()
    assert api.get("/Conferences.json", DateCreated=today).json()["conferences"]
    assert api.get("/Conferences.json", **{"DateCreated<": "2001-01-01"}).json()[
        "conferences"] == []

    base = f"/Conferences/{conference['sid']}/Participants"
    everyone = api.get(f"{base}.json").json()["participants"]
    assert {p["call_sid"] for p in everyone} == {one["sid"], two["sid"]}
    muted = api.get(f"{base}.json", Muted="true").json()["participants"]
    assert [p["call_sid"] for p in muted] == [two["sid"]]

    participant = api.get(f"{base}/{one['sid']}.json").json()
    assert participant["muted"] is False
    assert participant["uri"] == (f"/2010-04-01/Accounts/{api.emu.account_sid}/Conferences/"
                                  f"{conference['sid']}/Participants/{one['sid']}.json")
    updated = api.post(f"{base}/{one['sid']}.json", {"Muted": "true", "Hold": "true"}).json()
    assert updated["muted"] is True
    assert updated["hold"] is True
    assert state.get_participant(conference["sid"], one["sid"])["muted"] is True

    assert api.delete(f"{base}/{one['sid']}.json").status_code == 204
    assert_error(api.get(f"{base}/{one['sid']}.json"), 404, 20404)
    assert api.delete(f"{base}/{two['sid']}.json").status_code == 204
    ended = api.get(f"/Conferences/{conference['sid']}.json").json()
    assert ended["status"] == "completed"
    assert ended["reason_conference_ended"] == "last-participant-kicked"


def test_end_conference_through_the_api(api: Api) -> None:
    state = api.emu.state
    conference = state.create_conference(api.emu.account_sid, "all-hands")
    state.add_participant(conference["sid"], a_call(api)["sid"])
    ended = api.post(f"/Conferences/{conference['sid']}.json", {"Status": "completed"}).json()
    assert ended["status"] == "completed"
    assert ended["reason_conference_ended"] == "conference-ended-via-api"
    assert state.list_participants(conference["sid"]) == []


def test_recordings_json_and_filters(api: Api) -> None:
    state = api.emu.state
    call = a_call(api)
    other = a_call(api)
    recording = state.create_recording(api.emu.account_sid, call["sid"], duration=3)
    state.create_recording(api.emu.account_sid, other["sid"], duration=1,
                           date_created=rfc2822(datetime(2020, 1, 1, tzinfo=UTC)))
    got = api.get(f"/Recordings/{recording['sid']}.json").json()
    assert got["call_sid"] == call["sid"]
    assert got["duration"] == "3"
    assert got["media_url"] == api.url(f"/Recordings/{recording['sid']}")
    by_call = api.get("/Recordings.json", CallSid=call["sid"]).json()["recordings"]
    assert [r["sid"] for r in by_call] == [recording["sid"]]
    under_call = api.get(f"/Calls/{call['sid']}/Recordings.json").json()["recordings"]
    assert [r["sid"] for r in under_call] == [recording["sid"]]
    old = api.get("/Recordings.json", **{"DateCreated<": "2021-01-01"}).json()["recordings"]
    assert [r["call_sid"] for r in old] == [other["sid"]]


def test_recordings_under_calls_and_conferences(api: Api) -> None:
    state = api.emu.state
    call = a_call(api)
    conference = state.create_conference(api.emu.account_sid, "room")
    plain = state.create_recording(api.emu.account_sid, call["sid"], duration=1)
    in_room = state.create_recording(api.emu.account_sid, call["sid"], duration=1,
                                     conference_sid=conference["sid"], source="Conference")
    under_call = api.get(f"/Calls/{call['sid']}/Recordings/{plain['sid']}.json").json()
    assert under_call["uri"].endswith(f"/Calls/{call['sid']}/Recordings/{plain['sid']}.json")
    assert under_call["track"] == "both"
    room = api.get(f"/Conferences/{conference['sid']}/Recordings.json").json()["recordings"]
    assert [r["sid"] for r in room] == [in_room["sid"]]
    assert_error(api.get(f"/Conferences/{conference['sid']}/Recordings/{plain['sid']}.json"),
                 404, 20404)
    other_call = a_call(api)
    assert_error(api.get(f"/Calls/{other_call['sid']}/Recordings/{plain['sid']}.json"),
                 404, 20404)
    path = f"/Conferences/{conference['sid']}/Recordings/{in_room['sid']}.json"
    assert api.delete(path).status_code == 204
    assert state.get("recordings", in_room["sid"]) is None


def test_recording_media_is_valid_audio_without_credentials(api: Api) -> None:
    recording = api.emu.state.create_recording(api.emu.account_sid, a_call(api)["sid"],
                                               duration=2)
    wav = requests.get(api.url(f"/Recordings/{recording['sid']}.wav"), timeout=TIMEOUT)
    assert wav.status_code == 200
    assert wav.headers["Content-Type"] == "audio/x-wav"
    with wave.open(io.BytesIO(wav.content)) as audio:
        assert audio.getnchannels() == 1
        assert audio.getframerate() == 8000
        assert audio.getnframes() == 2 * 8000
    bare = requests.get(api.url(f"/Recordings/{recording['sid']}"), timeout=TIMEOUT)
    assert bare.content == wav.content  # no extension: WAV, as Twilio
    mp3 = requests.get(api.url(f"/Recordings/{recording['sid']}.mp3"), timeout=TIMEOUT)
    assert mp3.headers["Content-Type"] == "audio/mpeg"
    assert int(mp3.headers["Content-Length"]) == len(mp3.content) == media.mp3_size(2)
    frame = media.MP3_FRAME
    assert len(mp3.content) % len(frame) == 0
    for offset in range(0, len(mp3.content), len(frame)):
        assert mp3.content[offset:offset + 2] == b"\xff\xfb"  # an MPEG-1 Layer III sync word


def test_recording_media_is_streamed(api: Api) -> None:
    recording = api.emu.state.create_recording(api.emu.account_sid, a_call(api)["sid"],
                                               duration=600)
    with requests.get(api.url(f"/Recordings/{recording['sid']}.wav"), stream=True,
                      timeout=TIMEOUT) as response:
        assert int(response.headers["Content-Length"]) == media.wav_size(600)
        total = sum(len(chunk) for chunk in response.iter_content(65536))
    assert total == media.wav_size(600)


def test_delete_recording(api: Api) -> None:
    state = api.emu.state
    recording = state.create_recording(api.emu.account_sid, a_call(api)["sid"], duration=1)
    transcription = state.create_transcription(api.emu.account_sid, recording["sid"],
                                               transcription_text="hi")
    assert api.delete(f"/Recordings/{recording['sid']}.json").status_code == 204
    assert_error(api.get(f"/Recordings/{recording['sid']}.json"), 404, 20404)
    assert_error(api.get(f"/Recordings/{recording['sid']}.wav"), 404, 20404)
    assert state.get("transcriptions", transcription["sid"]) is None


def test_transcriptions(api: Api) -> None:
    state = api.emu.state
    recording = state.create_recording(api.emu.account_sid, a_call(api)["sid"], duration=4)
    other = state.create_recording(api.emu.account_sid, a_call(api)["sid"], duration=4)
    transcription = state.create_transcription(
        api.emu.account_sid, recording["sid"], transcription_text="Please call me back.",
        duration="4")
    state.create_transcription(api.emu.account_sid, other["sid"], transcription_text="Other")
    got = api.get(f"/Transcriptions/{transcription['sid']}.json").json()
    assert got["transcription_text"] == "Please call me back."
    assert got["recording_sid"] == recording["sid"]
    text = api.get(f"/Transcriptions/{transcription['sid']}.txt")
    assert text.headers["Content-Type"].startswith("text/plain")
    assert text.text == "Please call me back."
    assert len(api.get("/Transcriptions.json").json()["transcriptions"]) == 2
    under = api.get(f"/Recordings/{recording['sid']}/Transcriptions.json").json()
    assert [t["sid"] for t in under["transcriptions"]] == [transcription["sid"]]
    nested = api.get(f"/Recordings/{recording['sid']}/Transcriptions/"
                     f"{transcription['sid']}.json")
    assert nested.json()["sid"] == transcription["sid"]
    assert_error(api.get(f"/Recordings/{other['sid']}/Transcriptions/"
                         f"{transcription['sid']}.json"), 404, 20404)
    assert api.delete(f"/Transcriptions/{transcription['sid']}.json").status_code == 204
    assert_error(api.get(f"/Transcriptions/{transcription['sid']}.txt"), 404, 20404)


def test_notifications(api: Api) -> None:
    state = api.emu.state
    call = a_call(api)
    error = state.create_notification(
        api.emu.account_sid, call["sid"], error_code="11200", log="0",
        message_text="Msg=HTTP+retrieval+failure", request_url="https://e.com/voice",
        response_body="oops", message_date=rfc2822(datetime(2024, 3, 1, tzinfo=UTC)))
    warning = state.create_notification(api.emu.account_sid, None, error_code=12200, log="1")
    everything = api.get("/Notifications.json").json()["notifications"]
    assert [n["sid"] for n in everything] == [warning["sid"], error["sid"]]
    assert "response_body" not in everything[0]  # only the instance shows request details
    errors = api.get("/Notifications.json", Log="0").json()["notifications"]
    assert [n["sid"] for n in errors] == [error["sid"]]
    by_date = api.get("/Notifications.json", **{"MessageDate<": "2024-03-01"}).json()
    assert [n["sid"] for n in by_date["notifications"]] == [error["sid"]]
    by_call = api.get(f"/Calls/{call['sid']}/Notifications.json").json()["notifications"]
    assert [n["sid"] for n in by_call] == [error["sid"]]
    one = api.get(f"/Notifications/{error['sid']}.json").json()
    assert one["error_code"] == "11200"
    assert one["more_info"] == "https://www.twilio.com/docs/errors/11200"
    assert one["response_body"] == "oops"
    under_call = api.get(f"/Calls/{call['sid']}/Notifications/{error['sid']}.json")
    assert under_call.json()["sid"] == error["sid"]
    assert api.get(f"/Notifications/{warning['sid']}.json").json()["error_code"] == "12200"


def test_deleting_a_notification_is_405_as_today(api: Api) -> None:
    notification = api.emu.state.create_notification(api.emu.account_sid, None)
    response = api.delete(f"/Notifications/{notification['sid']}.json")
    assert_error(response, 405, 20004, "notifications")
    assert response.headers["Allow"] == "GET"
    assert api.get(f"/Notifications/{notification['sid']}.json").status_code == 200
