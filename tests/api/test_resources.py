"""Resource groups: argument checks before any request, paging, media streaming, retired
resources, lookups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from switchboard.api import TwilioClient, TwilioHTTPError, ValidationError
from switchboard.api.operations import OPERATIONS
from switchboard.api.resources import MediaStream, ResourceNotFound, RetiredResource
from tests.api.conftest import ACCOUNT_SID, MEDIA, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
TO, FROM = "+14155550100", "+14155550199"

BAD_CALLS: list[tuple[str, Callable[[TwilioClient], Any]]] = [
    ("to", lambda c: c.calls.create("4155550100", FROM, url="https://e.com/v")),
    ("from_", lambda c: c.calls.create(TO, "415-555-0199", url="https://e.com/v")),
    ("url", lambda c: c.calls.create(TO, FROM)),
    ("url", lambda c: c.calls.create(TO, FROM, url="https://e.com/v", twiml="<Response/>")),
    ("url", lambda c: c.calls.create(TO, FROM, url="ftp://e.com/v")),
    ("application_sid", lambda c: c.calls.create(TO, FROM, application_sid=sid("CA"))),
    ("method", lambda c: c.calls.create(TO, FROM, url="https://e.com", method="PUT")),
    (
        "status_callback_event",
        lambda c: c.calls.create(TO, FROM, url="https://e.com", status_callback_event=["rung"]),
    ),
    ("send_digits", lambda c: c.calls.create(TO, FROM, url="https://e.com", send_digits="12a")),
    ("timeout", lambda c: c.calls.create(TO, FROM, url="https://e.com", timeout=0)),
    ("if_machine", lambda c: c.calls.create(TO, FROM, url="https://e.com", if_machine="maybe")),
    ("record", lambda c: c.calls.create(TO, FROM, url="https://e.com", record="perhaps")),
    ("sid", lambda c: c.calls.get(sid("SM"))),
    ("status", lambda c: c.calls.update(sid("CA"), status="in-progress")),
    ("status", lambda c: c.calls.list(status="lost")),
    ("start_time_after", lambda c: c.calls.list(start_time_after="2024-13-01")),
    ("account_sid", lambda c: c.calls.list(account_sid="XX" + "0" * 32)),
    ("limit", lambda c: c.calls.list(limit=0)),
    ("from_", lambda c: c.messages.create(TO, body="hi")),
    ("body", lambda c: c.messages.create(TO, from_=FROM)),
    ("media_url", lambda c: c.messages.create(TO, from_=FROM, media_url=["not a url"])),
    (
        "media_url",
        lambda c: c.messages.create(
            TO, from_=FROM, media_url=[f"https://example.com/{n}.png" for n in range(11)]),
    ),
    ("body", lambda c: c.messages.create(TO, from_=FROM, body="x" * 1601)),
    (
        "messaging_service_sid",
        lambda c: c.messages.create(TO, messaging_service_sid=sid("AP"), body="x"),
    ),
    ("sid", lambda c: c.messages.get(sid("CA"))),
    ("country_code", lambda c: list(c.available_phone_numbers.local("USA"))),
    ("area_code", lambda c: c.available_phone_numbers.local("US", area_code="41")),
    ("in_rate_center", lambda c: c.available_phone_numbers.local("US", in_rate_center="X")),
    ("phone_number", lambda c: c.incoming_phone_numbers.create()),
    ("voice_url", lambda c: c.incoming_phone_numbers.update(sid("PN"), voice_url="nope")),
    ("sms_method", lambda c: c.applications.update(sid("AP"), sms_method="PATCH")),
    (
        "destination_account_sid",
        lambda c: c.incoming_phone_numbers.update(sid("PN"), destination_account_sid=sid("PN")),
    ),
    ("call_delay", lambda c: c.outgoing_caller_ids.create(TO, call_delay=61)),
    ("status", lambda c: c.accounts.update(status="deleted")),
    ("conference_sid", lambda c: c.conferences.participants.get(sid("CA"), sid("CA"))),
    ("call_sid", lambda c: c.conferences.participants.get(sid("CF"), sid("CF"))),
    ("format", lambda c: c.recordings.media(sid("RE"), "ogg")),
    ("log", lambda c: c.notifications.list(log=2)),
    ("message_date", lambda c: c.notifications.list(message_date="yesterday")),
    ("voice_method", lambda c: c.sandbox.update(voice_method="PUT")),
    ("recording_sid", lambda c: c.transcriptions.list(recording_sid=sid("TR"))),
]


@pytest.mark.parametrize(("argument", "call"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_argument_is_named_and_nothing_is_sent(
    client: TwilioClient, stub: TwilioStub, argument: str, call: Callable[[TwilioClient], Any]
) -> None:
    with pytest.raises(ValidationError) as raised:
        call(client)
    assert raised.value.argument == argument
    assert str(raised.value).startswith(f"{argument}: ")
    assert stub.requests == []


def test_operations_check_required_attributes_before_sending(
    client: TwilioClient, stub: TwilioStub
) -> None:
    with pytest.raises(ValidationError, match="--call-sid"):
        OPERATIONS["get-call"](client)
    with pytest.raises(TypeError, match="colour"):
        OPERATIONS["get-call"](client, call_sid=sid("CA"), colour="blue")
    assert stub.requests == []


def test_unknown_keyword_is_a_type_error(client: TwilioClient) -> None:
    with pytest.raises(TypeError, match="voice_uri"):
        client.incoming_phone_numbers.update(sid("PN"), voice_uri="https://e.com")


def test_lists_are_lazy_and_follow_every_page(client: TwilioClient, stub: TwilioStub) -> None:
    pages = 4
    for page in range(pages):
        nxt = f"{A}/Calls.json?PageSize=2&Page={page + 1}&PageToken=PT{page}"
        stub.answer(
            "GET",
            f"{A}/Calls.json",
            {
                "calls": [{"sid": sid("CA", 2 * page + i)} for i in range(2)],
                "next_page_uri": nxt if page < pages - 1 else None,
            },
        )
    calls = client.calls.list(status="completed", page_size=2)
    assert stub.requests == []
    sids = [call["sid"] for call in calls]
    assert sids == [sid("CA", n) for n in range(8)]
    assert len(stub.requests) == pages
    assert stub.requests[0].query == {"Status": ["completed"], "PageSize": ["2"]}
    assert stub.requests[2].query == {"PageSize": ["2"], "Page": ["2"], "PageToken": ["PT1"]}


def test_limit_stops_paging(client: TwilioClient, stub: TwilioStub) -> None:
    stub.answer(
        "GET",
        f"{A}/Messages.json",
        {"messages": [{"sid": sid("SM", n)} for n in range(3)], "next_page_uri": f"{A}/x"},
    )
    assert len(list(client.messages.list(limit=3))) == 3
    assert len(stub.requests) == 1
    assert stub.last.query == {"PageSize": ["3"]}


def test_dates_and_datetimes_are_sent_as_twilio_expects(
    client: TwilioClient, stub: TwilioStub
) -> None:
    """Filters Twilio declares ``format: date-time`` are sent as twilio-python sends them (a
    day is its midnight, UTC); those it declares ``format: date`` stay days."""
    list(
        client.calls.list(
            start_time_after=dt.date(2024, 5, 1),
            start_time_before=dt.datetime(2024, 5, 2, 12, 30, tzinfo=dt.UTC),
            end_time="2024-05-03",
        )
    )
    assert stub.last.query == {
        "StartTime>": ["2024-05-01T00:00:00Z"],
        "StartTime<": ["2024-05-02T12:30:00Z"],
        "EndTime": ["2024-05-03T00:00:00Z"],
    }
    eastern = dt.timezone(dt.timedelta(hours=-5))
    list(client.messages.list(date_sent_after=dt.datetime(2024, 5, 1, 21, 0, tzinfo=eastern)))
    assert stub.last.query == {"DateSent>": ["2024-05-02T02:00:00Z"]}
    list(client.recordings.list(date_created="2024-05-01"))
    assert stub.last.query == {"DateCreated": ["2024-05-01T00:00:00Z"]}
    list(client.conferences.list(date_created_after="2024-05-01", date_updated=dt.date(2024, 5, 2)))
    assert stub.last.query == {"DateCreated>": ["2024-05-01"], "DateUpdated": ["2024-05-02"]}
    list(client.notifications.list(message_date_after="2024-05-01"))
    assert stub.last.query == {"MessageDate>": ["2024-05-01"]}


def test_recording_media_streams_to_a_file(
    client: TwilioClient, stub: TwilioStub, tmp_path: Path
) -> None:
    target = tmp_path / "voicemail.mp3"
    path = client.recordings.download(sid("RE"), target)
    assert path == target
    assert target.read_bytes() == MEDIA
    assert not (tmp_path / "voicemail.mp3.part").exists()
    assert stub.last.path == f"{A}/Recordings/{sid('RE')}.mp3"


def test_recording_media_is_an_iterator_of_chunks(client: TwilioClient) -> None:
    stream = client.recordings.media(sid("RE"), "WAV")
    assert isinstance(stream, MediaStream)
    assert stream.content_type == "audio/x-wav"
    assert stream.content_length == len(MEDIA)
    chunks = list(stream)
    assert len(chunks) > 1
    assert max(map(len, chunks)) <= stream.chunk_size
    assert b"".join(chunks) == MEDIA


def test_media_error_is_raised_before_any_file_is_written(
    client: TwilioClient, stub: TwilioStub, tmp_path: Path
) -> None:
    stub.answer(
        "GET",
        rf"{A}/Recordings/RE\w+\.mp3",
        {"code": 20404, "message": "The requested resource was not found", "status": 404},
        status=404,
    )
    with pytest.raises(TwilioHTTPError) as raised:
        client.recordings.download(sid("RE"), tmp_path / "x.mp3")
    assert raised.value.status == 404
    assert list(tmp_path.iterdir()) == []


def test_transcription_text(client: TwilioClient, stub: TwilioStub) -> None:
    assert client.transcriptions.text(sid("TR")) == "Hello from the transcription."
    assert stub.last.path == f"{A}/Transcriptions/{sid('TR')}.txt"


@pytest.mark.parametrize(
    ("method", "path", "call"),
    [
        ("GET", f"{A}/Sandbox.json", lambda c: c.sandbox.get()),
        ("POST", f"{A}/Sandbox.json", lambda c: c.sandbox.update(voice_url="https://e.com/v")),
        (
            "DELETE",
            rf"{A}/Notifications/NO\w+\.json",
            lambda c: c.notifications.delete(sid("NO")),
        ),
    ],
)
def test_retired_resources_say_so(
    client: TwilioClient, stub: TwilioStub, method: str, path: str, call: Any
) -> None:
    stub.answer(
        method,
        path,
        {"code": 20404, "message": "The requested resource was not found", "status": 404},
        status=404,
    )
    with pytest.raises(RetiredResource) as raised:
        call(client)
    assert raised.value.status == 404
    assert raised.value.code == 20404
    assert "retired by Twilio" in str(raised.value)
    assert isinstance(raised.value, TwilioHTTPError)


def test_other_errors_of_retired_resources_pass_through(
    client: TwilioClient, stub: TwilioStub
) -> None:
    stub.answer("GET", f"{A}/Sandbox.json", {"code": 20003, "message": "Authenticate"}, status=401)
    with pytest.raises(TwilioHTTPError) as raised:
        client.sandbox.get()
    assert not isinstance(raised.value, RetiredResource)


def test_find_a_number_by_e164(client: TwilioClient, stub: TwilioStub) -> None:
    number = {"sid": sid("PN"), "phone_number": TO}
    stub.answer("GET", f"{A}/IncomingPhoneNumbers.json", {"incoming_phone_numbers": [number]})
    assert client.incoming_phone_numbers.find(TO) == number
    assert stub.last.query == {"PhoneNumber": [TO]}
    with pytest.raises(ResourceNotFound, match=r"\+14155550199 is not one of"):
        client.incoming_phone_numbers.find(FROM)


def test_transfer_posts_to_the_source_account(client: TwilioClient, stub: TwilioStub) -> None:
    source, target = sid("AC", 1), sid("AC", 2)
    client.incoming_phone_numbers.transfer(sid("PN"), target, from_account_sid=source)
    assert stub.last.path == f"/2010-04-01/Accounts/{source}/IncomingPhoneNumbers/{sid('PN')}.json"
    assert stub.last.form == {"AccountSid": [target]}


def test_groups_are_made_once_per_client(client: TwilioClient) -> None:
    assert client.calls is client.calls
    assert client.conferences.participants is client.conferences.participants
    assert "token" not in repr(client.calls)
