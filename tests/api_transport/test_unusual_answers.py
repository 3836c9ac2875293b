"""Answers the client does not expect become its own errors, and nothing goes anywhere but
``base_url``: odd error bodies, Twilio's message as one bounded line, a 429 with a bad
Retry-After, redirects (never followed for the API, bounded for media), media cut short, and
pages that lead elsewhere or back to the first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.api import (
    TwilioClient,
    TwilioConnectionError,
    TwilioHTTPError,
    TwilioInvalidResponse,
)
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer
from tests.cutting_server import CuttingServer

RE = "RE" + "0" * 32


def test_odd_error_bodies_are_reported(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(400, {"code": "21211", "message": {"x": 1}, "more_info": 5})
    with pytest.raises(TwilioHTTPError) as caught:
        client.request("GET", "/2010-04-01/x.json")
    assert caught.value.code == 21211
    assert caught.value.more_info is None
    assert str(caught.value) == (
        'HTTP 400 from GET /2010-04-01/x.json: {"x": 1} (Twilio error 21211)'
    )


def test_an_error_made_by_hand_with_any_more_info() -> None:
    error = TwilioHTTPError(400, 1, "bad", 5, "GET", "https://api.twilio.com/x")  # type: ignore[arg-type]
    assert str(error).endswith("bad (Twilio error 1, 5)")


def test_twilios_message_is_one_bounded_line(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(400, {"code": 1, "message": "line1\nline2\r\n\x1b[31m " + "m" * 5000})
    with pytest.raises(TwilioHTTPError) as caught:
        client.request("GET", "/2010-04-01/x.json")
    text = str(caught.value)
    assert text.isprintable()
    assert caught.value.message.startswith("line1 line2 [31m m")
    assert len(caught.value.message) == 500
    assert caught.value.message.endswith("...")


@pytest.mark.parametrize("retry_after", ["soon", "-5", "nan"])
def test_a_429_with_a_bad_retry_after_is_still_twilios_answer(
    client: TwilioClient, stub: StubServer, retry_after: str
) -> None:
    for _ in range(3):
        stub.reply(
            429,
            {"code": 20429, "message": "Too Many Requests"},
            headers={"Retry-After": retry_after},
        )
    with pytest.raises(TwilioHTTPError) as caught:
        client.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    assert caught.value.status == 429
    assert caught.value.code == 20429
    assert len(stub.received) == 3  # the two retries of fast_retries() were made


@pytest.fixture
def elsewhere() -> Iterator[StubServer]:
    other = StubServer().start()
    try:
        yield other
    finally:
        other.stop()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_api_requests_do_not_follow_redirects(
    client: TwilioClient, stub: StubServer, elsewhere: StubServer, status: int, method: str
) -> None:
    location = elsewhere.url.replace("127.0.0.1", "localhost") + "/2010-04-01/Calls.json"
    stub.reply(status, body=b"", headers={"Location": location})
    with pytest.raises(TwilioInvalidResponse) as caught:
        client.request(method, "/2010-04-01/Calls.json", data={"Body": "secret plans"})
    assert caught.value.status == status
    assert "redirects to localhost/2010-04-01/Calls.json" in str(caught.value)
    assert elsewhere.received == []
    assert len(stub.received) == 1


def test_a_redirect_loop_on_media_stops(client: TwilioClient, stub: StubServer) -> None:
    stub.responder = None
    for _ in range(10):
        stub.reply(302, body=b"", headers={"Location": "/2010-04-01/Recordings/RE1.mp3"})
    with pytest.raises(TwilioConnectionError) as caught:
        client.request("GET", "/2010-04-01/Recordings/RE1.mp3", stream=True)
    assert "TooManyRedirects" in str(caught.value)
    assert len(stub.received) == 6


@pytest.fixture
def cut_short() -> Iterator[str]:
    """A server on 127.0.0.1 that promises 100,000 bytes of audio and sends 30."""
    with CuttingServer(content_type="audio/mpeg", start=b"ID3" * 10, length=100_000) as server:
        yield server.url


def test_media_cut_short_is_a_connection_error(cut_short: str, tmp_path: Path) -> None:
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=cut_short, retries=0) as client:
        target = tmp_path / "message.mp3"
        with pytest.raises(TwilioConnectionError) as caught:
            client.recordings.download(RE, target)
        assert "was cut off" in str(caught.value)
        assert caught.value.cut
        assert caught.value.connected
        assert caught.value.__context__ is None
        assert list(tmp_path.iterdir()) == []
        with pytest.raises(TwilioConnectionError):
            for _chunk in client.recordings.media(RE):
                pass


@pytest.mark.parametrize(
    ("next_page", "problem"),
    [
        ({"a": 1}, "its next page is a dict, not a path"),
        (5, "its next page is a int, not a path"),
        ("http://localhost:1/2010-04-01/Calls.json", "is not under"),
    ],
)
def test_a_bad_next_page_is_an_answer_error(
    client: TwilioClient, stub: StubServer, next_page: object, problem: str
) -> None:
    stub.reply(200, {"calls": [{"n": 0}], "next_page_uri": next_page})
    pages = client.paginate("/2010-04-01/Calls.json", key="calls")
    assert next(pages) == {"n": 0}
    with pytest.raises(TwilioInvalidResponse) as caught:
        next(pages)
    assert problem in caught.value.message
    assert len(stub.received) == 1


def test_a_page_that_leads_back_to_the_first_ends_the_list(
    client: TwilioClient, stub: StubServer
) -> None:
    first = "/2010-04-01/Calls.json?Status=completed&PageSize=2"
    stub.reply(200, {"calls": [{"n": 0}, {"n": 1}], "next_page_uri": first + "&Page=1"})
    stub.reply(200, {"calls": [{"n": 2}], "next_page_uri": first})
    calls = client.paginate(
        "/2010-04-01/Calls.json", params={"Status": "completed"}, key="calls", page_size=2
    )
    assert [call["n"] for call in calls] == [0, 1, 2]
    assert len(stub.received) == 2
