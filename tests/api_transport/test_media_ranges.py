"""``recordings.media(byte_range=...)`` on the wire: the Range header sent, the answers a media
host may give (206, 200 ignoring the range, 416 with or without the size, a 206 that does not
say which part) and a redirect to a storage host."""

from __future__ import annotations

import pytest

from switchboard.api import (
    RangeNotSatisfiable,
    TwilioClient,
    TwilioHTTPError,
    TwilioInvalidResponse,
    ValidationError,
)
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer

RE = "RE" + "1" * 32
MEDIA_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RE}.mp3"
AUDIO = bytes(range(256)) * 64


@pytest.mark.parametrize(("byte_range", "header"), [
    ((0, 2), "bytes=0-1"),
    ((0, 1), "bytes=0-0"),
    ((1024, 2048), "bytes=1024-2047"),
    ((1024, None), "bytes=1024-"),
    ([7, None], "bytes=7-"),
    ((-500, None), "bytes=-500"),
])
def test_the_range_is_sent_as_a_range_header(
    client: TwilioClient, stub: StubServer, byte_range: tuple[int, int | None], header: str
) -> None:
    stub.reply(206, body=AUDIO[:2], headers={"Content-Type": "audio/mpeg",
                                              "Content-Range": f"bytes 0-1/{len(AUDIO)}"})
    with client.recordings.media(RE, byte_range=byte_range):
        pass
    [received] = stub.received
    assert received.path == MEDIA_PATH
    assert received.headers["Range"] == header
    assert received.headers["Accept-Encoding"] == "identity"


def test_no_range_sends_no_range_header(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(200, body=AUDIO, headers={"Content-Type": "audio/mpeg"})
    stream = client.recordings.media(RE)
    assert b"".join(stream) == AUDIO
    assert (stream.status, stream.content_range, stream.content_length) == (200, None, len(AUDIO))
    assert "Range" not in stub.received[0].headers


def test_a_partial_answer_exposes_its_status_range_and_length(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(206, body=AUDIO[100:300], headers={
        "Content-Type": "audio/mpeg", "Content-Range": f"bytes 100-299/{len(AUDIO)}"})
    with client.recordings.media(RE, byte_range=(100, 300)) as stream:
        assert stream.status == 206
        assert stream.content_range == f"bytes 100-299/{len(AUDIO)}"
        assert stream.content_length == 200
        assert stream.content_type == "audio/mpeg"
        assert b"".join(stream) == AUDIO[100:300]


def test_a_host_that_ignores_the_range_gives_the_whole_file(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(200, body=AUDIO, headers={"Content-Type": "audio/mpeg"})
    stream = client.recordings.media(RE, byte_range=(100, 300))
    assert (stream.status, stream.content_range) == (200, None)
    assert b"".join(stream) == AUDIO


def test_a_416_from_a_storage_host_is_range_not_satisfiable_with_the_size(
    client: TwilioClient, stub: StubServer
) -> None:
    xml = b"<?xml version='1.0'?><Error><Code>InvalidRange</Code></Error>"
    stub.reply(416, body=xml, headers={"Content-Type": "application/xml",
                                       "Content-Range": f"bytes */{len(AUDIO)}"})
    with pytest.raises(RangeNotSatisfiable) as raised:
        client.recordings.media(RE, byte_range=(len(AUDIO), None))
    error = raised.value
    assert isinstance(error, TwilioHTTPError)
    assert (error.status, error.code, error.complete_length) == (416, None, len(AUDIO))
    assert str(error) == (f"HTTP 416 from GET {MEDIA_PATH}: the byte range asked for is not "
                          f"within the media of {len(AUDIO)} bytes")
    assert AUTH_TOKEN not in str(error) + repr(error)


@pytest.mark.parametrize("content_range", [None, "bytes */*", "bytes */x", "items */10",
                                           "bytes */" + "9" * 5000])
def test_a_416_without_a_usable_size_has_none(
    client: TwilioClient, stub: StubServer, content_range: str | None
) -> None:
    headers = {"Content-Type": "text/plain"}
    if content_range is not None:
        headers["Content-Range"] = content_range
    stub.reply(416, body=b"Requested Range Not Satisfiable", headers=headers)
    with pytest.raises(RangeNotSatisfiable) as raised:
        client.recordings.media(RE, byte_range=(10**9, None))
    assert raised.value.complete_length is None
    assert str(raised.value).endswith("the byte range asked for is not within the media")


def test_a_206_that_does_not_say_which_part_is_an_invalid_response(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(206, body=AUDIO[:2], headers={"Content-Type": "audio/mpeg"})
    with pytest.raises(TwilioInvalidResponse) as raised:
        client.recordings.media(RE, byte_range=(0, 2))
    assert raised.value.status == 206
    assert "Content-Range" in str(raised.value)


@pytest.mark.parametrize("byte_range", [
    (5, 5), (5, 2), (-5, 10), (None, 5), (1.0, 2), (True, None), (0,), (0, 1, 2), "bytes=0-1",
    {0: 1}, 0,
])
def test_a_range_that_names_no_bytes_is_refused_before_sending(
    client: TwilioClient, stub: StubServer, byte_range: object
) -> None:
    with pytest.raises(ValidationError) as raised:
        client.recordings.media(RE, byte_range=byte_range)  # type: ignore[arg-type]
    assert raised.value.argument == "byte_range"
    assert stub.received == []


def test_the_range_follows_a_redirect_to_the_storage_host_without_the_credentials(
    client: TwilioClient, stub: StubServer
) -> None:
    storage = StubServer().start()
    try:
        storage_url = storage.url.replace("127.0.0.1", "localhost")  # another host
        stub.reply(302, body=b"", headers={"Location": f"{storage_url}/media/{RE}"})
        storage.reply(206, body=AUDIO[-10:], headers={
            "Content-Type": "audio/mpeg",
            "Content-Range": f"bytes {len(AUDIO) - 10}-{len(AUDIO) - 1}/{len(AUDIO)}"})
        with client.recordings.media(RE, byte_range=(-10, None)) as stream:
            assert stream.status == 206
            assert b"".join(stream) == AUDIO[-10:]
        [asked] = storage.received
        assert asked.headers["Range"] == "bytes=-10"
        assert "Authorization" not in asked.headers
    finally:
        storage.stop()
