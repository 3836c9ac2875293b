"""Recording media in parts: the emulator's answers to a Range header, and the REST client's
``recordings.media(byte_range=...)`` against them, on real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from switchboard.api import RangeNotSatisfiable, TwilioClient, TwilioHTTPError
from switchboard.emulator import Emulator, media
from tests.emulator_rest.conftest import TIMEOUT, Api, assert_error

SECONDS = 9
MP3 = b"".join(media.mp3_stream(SECONDS))
WAV = b"".join(media.wav_stream(SECONDS))


@pytest.fixture
def recording(api: Api) -> dict:
    call = api.emu.state.create_call(api.emu.account_sid, to="+14155550111",
                                     from_="+14155550100", status="completed")
    return api.emu.state.create_recording(api.emu.account_sid, call["sid"], duration=SECONDS)


def fetch(api: Api, recording: dict, ext: str, range_: str | None = None) -> requests.Response:
    headers = {"Range": range_} if range_ is not None else {}
    return requests.get(api.url(f"/Recordings/{recording['sid']}.{ext}"), headers=headers,
                        timeout=TIMEOUT)


@pytest.mark.parametrize(("ext", "full"), [("mp3", MP3), ("wav", WAV)])
@pytest.mark.parametrize(("range_", "part"), [
    ("bytes=0-1", slice(0, 2)),                  # what Safari asks first
    ("bytes=0-0", slice(0, 1)),
    ("bytes=40-47", slice(40, 48)),              # across the WAV header's end
    ("bytes=15980-16100", slice(15980, 16101)),  # across a chunk of the generated stream
    ("bytes=1000-", slice(1000, None)),
    ("bytes=-500", slice(-500, None)),
])
def test_one_range_is_a_206_with_exactly_those_bytes(
    api: Api, recording: dict, ext: str, full: bytes, range_: str, part: slice
) -> None:
    response = fetch(api, recording, ext, range_)
    assert response.status_code == 206, response.text
    expected = full[part]
    assert response.content == expected
    first, last = part.indices(len(full))[0], part.indices(len(full))[1] - 1
    assert response.headers["Content-Range"] == f"bytes {first}-{last}/{len(full)}"
    assert int(response.headers["Content-Length"]) == len(expected)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == ("audio/mpeg" if ext == "mp3" else "audio/x-wav")


def test_a_range_running_past_the_end_stops_at_the_end(api: Api, recording: dict) -> None:
    response = fetch(api, recording, "mp3", f"bytes=100-{len(MP3) + 5000}")
    assert response.status_code == 206
    assert response.content == MP3[100:]
    assert response.headers["Content-Range"] == f"bytes 100-{len(MP3) - 1}/{len(MP3)}"


@pytest.mark.parametrize("start", [len(MP3), len(MP3) + 1, 10**12])
def test_a_range_starting_past_the_end_is_a_416_with_the_size(
    api: Api, recording: dict, start: int
) -> None:
    response = fetch(api, recording, "mp3", f"bytes={start}-")
    assert_error(response, 416, 20001, mentions=f"{len(MP3)} bytes")
    assert response.headers["Content-Range"] == f"bytes */{len(MP3)}"
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("range_", [
    "bytes=5-2",            # last before first
    "bytes=abc",
    "bytes=-0",
    "bytes",
    "items=0-1",            # a unit other than bytes
    "bytes=0-1,4-5",        # several ranges
    "bytes=0-1, -10",
    f"bytes=-{len(MP3) + 1}",  # a suffix longer than the file
])
def test_any_other_range_gets_the_whole_file(api: Api, recording: dict, range_: str) -> None:
    response = fetch(api, recording, "mp3", range_)
    assert response.status_code == 200
    assert response.content == MP3
    assert int(response.headers["Content-Length"]) == len(MP3)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in response.headers


def test_the_whole_file_says_ranges_are_accepted(api: Api, recording: dict) -> None:
    for ext, full in (("mp3", MP3), ("wav", WAV)):
        response = fetch(api, recording, ext)
        assert response.status_code == 200
        assert response.content == full
        assert response.headers["Accept-Ranges"] == "bytes"
    bare = requests.get(api.url(f"/Recordings/{recording['sid']}"), timeout=TIMEOUT,
                        headers={"Range": "bytes=0-43"})
    assert bare.status_code == 206
    assert bare.content == WAV[:44]  # no extension: the WAV, its header


def test_a_range_of_a_recording_that_is_gone_is_a_404(api: Api, recording: dict) -> None:
    api.emu.state.delete("recordings", recording["sid"])
    assert_error(fetch(api, recording, "mp3", "bytes=0-1"), 404, 20404)


# -- the REST client ---------------------------------------------------------------------------


@pytest.fixture
def client(emu: Emulator) -> Iterator[TwilioClient]:
    with TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url, timeout=(2, 5),
                      retries=0) as twilio:
        yield twilio


@pytest.mark.parametrize(("byte_range", "part"), [
    ((0, 2), slice(0, 2)),
    ((100, 16_500), slice(100, 16_500)),
    ((1000, None), slice(1000, None)),
    ((-300, None), slice(-300, None)),
    ((50, 10**9), slice(50, None)),
])
def test_the_client_s_ranged_media_is_that_part(
    client: TwilioClient, recording: dict, byte_range: tuple[int, int | None], part: slice
) -> None:
    with client.recordings.media(recording["sid"], "mp3", byte_range=byte_range) as stream:
        assert stream.status == 206
        expected = MP3[part]
        first = part.indices(len(MP3))[0]
        assert stream.content_range == f"bytes {first}-{first + len(expected) - 1}/{len(MP3)}"
        assert stream.content_length == len(expected)
        assert b"".join(stream) == expected


def test_the_client_s_whole_media_is_a_200(client: TwilioClient, recording: dict,
                                          tmp_path: Path) -> None:
    stream = client.recordings.media(recording["sid"], "wav")
    assert (stream.status, stream.content_range, stream.content_length) == (200, None, len(WAV))
    assert b"".join(stream) == WAV
    target = client.recordings.download(recording["sid"], tmp_path / "vm.mp3")
    assert target.read_bytes() == MP3


def test_a_range_past_the_end_raises_range_not_satisfiable(
    emu: Emulator, client: TwilioClient, recording: dict
) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        client.recordings.media(recording["sid"], "mp3", byte_range=(len(MP3), None))
    error = raised.value
    assert isinstance(error, TwilioHTTPError)
    assert (error.status, error.complete_length) == (416, len(MP3))
    assert str(error) == (
        f"HTTP 416 from GET /2010-04-01/Accounts/{recording['account_sid']}/Recordings/"
        f"{recording['sid']}.mp3: the byte range asked for is not within the media of "
        f"{len(MP3)} bytes"
    )
    assert emu.auth_token not in str(error) + repr(error)
