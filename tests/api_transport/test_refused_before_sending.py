"""Arguments the client refuses before anything is sent, each error naming the argument:
missing or empty values, impossible dates and timeouts, client settings that would fail every
request, updates that change nothing, and URLs or credentials given wrong, whose passwords and
tokens the errors never repeat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from switchboard.api import TwilioClient, ValidationError
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer

N1 = "+14155550100"
N2 = "+14155550199"
CA = "CA" + "0" * 32
SM = "SM" + "0" * 32
PN = "PN" + "0" * 32
AP = "AP" + "0" * 32
CF = "CF" + "0" * 32
RE = "RE" + "0" * 32


def refused(stub: StubServer, argument: str, send: Callable[[], object]) -> ValidationError:
    """``send()`` raises ValidationError naming ``argument`` and no request reaches ``stub``."""

    def send_and_start() -> None:
        result = send()
        if isinstance(result, Iterator):
            next(result, None)

    with pytest.raises(ValidationError) as caught:
        send_and_start()
    assert caught.value.argument == argument, str(caught.value)
    assert stub.received == []
    return caught.value


@pytest.mark.parametrize(
    ("argument", "send"),
    [
        ("to", lambda c: c.calls.create(None, N2, url="https://example.com/voice")),
        ("from_", lambda c: c.calls.create(N1, None, url="https://example.com/voice")),
        ("to", lambda c: c.messages.create(None, from_=N2, body="hi")),
        ("phone_number", lambda c: c.outgoing_caller_ids.create(None)),
        ("friendly_name", lambda c: c.outgoing_caller_ids.update(PN, friendly_name=None)),
        ("friendly_name", lambda c: c.accounts.find_by_friendly_name(None)),
    ],
)
def test_none_for_a_required_argument_is_refused(
    client: TwilioClient, stub: StubServer, argument: str, send: Callable
) -> None:
    error = refused(stub, argument, lambda: send(client))
    assert error.problem == "is required"


@pytest.mark.parametrize(
    ("argument", "kwargs"),
    [
        ("body", {"body": ""}),
        ("media_url", {"media_url": []}),
        ("media_url", {"media_url": {"https://example.com/a.png": 1}}),
        ("media_url", {"body": "hi", "media_url": b"https://example.com/a.png"}),
    ],
)
def test_a_message_with_nothing_to_send_is_refused(
    client: TwilioClient, stub: StubServer, argument: str, kwargs: dict
) -> None:
    refused(stub, argument, lambda: client.messages.create(N1, from_=N2, **kwargs))


def test_media_from_any_iterable_is_sent(client: TwilioClient, stub: StubServer) -> None:
    client.messages.create(N1, from_=N2, media_url=(u for u in ["https://example.com/a.png"]))
    assert stub.received[0].form["MediaUrl"] == ["https://example.com/a.png"]
    assert "Body" not in stub.received[0].form


@pytest.mark.parametrize("value", ["2024-02-30T00:00:00Z", "2024-01-01T99:99:99Z"])
def test_impossible_date_times_are_refused(
    client: TwilioClient, stub: StubServer, value: str
) -> None:
    refused(stub, "start_time_after", lambda: client.calls.list(start_time_after=value))


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z"),
        ("2024-05-01T09:30:00+01:00", "2024-05-01T08:30:00Z"),
        ("2024-05-01T09:30:00.250", "2024-05-01T09:30:00Z"),
    ],
)
def test_real_date_times_are_sent_in_utc(
    client: TwilioClient, stub: StubServer, value: str, sent: str
) -> None:
    stub.reply(200, {"calls": [], "next_page_uri": None})
    assert list(client.calls.list(start_time_after=value)) == []
    assert stub.received[0].query["StartTime>"] == [sent]


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 10**30])
def test_a_call_timeout_that_is_no_number_of_seconds(
    client: TwilioClient, stub: StubServer, timeout: float
) -> None:
    refused(
        stub,
        "timeout",
        lambda: client.calls.create(N1, N2, url="https://example.com/v", timeout=timeout),
    )


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": (3, float("nan"))}, "timeout"),
        ({"timeout": 10**10}, "timeout"),
        ({"pool_maxsize": "x"}, "pool_maxsize"),
        ({"pool_maxsize": 0}, "pool_maxsize"),
        ({"pool_maxsize": -1}, "pool_maxsize"),
        ({"pool_maxsize": True}, "pool_maxsize"),
    ],
)
def test_client_settings_that_would_fail_every_request(
    stub: StubServer, kwargs: dict, argument: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, **kwargs)
    assert caught.value.argument == argument


@pytest.mark.parametrize(
    ("argument", "call"),
    [
        ("method", lambda c: c.request(None, "/2010-04-01/x.json")),
        ("method", lambda c: c.request("FOO", "/2010-04-01/x.json")),
        ("data", lambda c: c.request("POST", "/2010-04-01/x.json", data="abc")),
        ("data", lambda c: c.request("POST", "/2010-04-01/x.json", data=[("A",)])),
        ("params", lambda c: c.request("GET", "/2010-04-01/x.json", params="a=b")),
        ("Body", lambda c: c.request("POST", "/2010-04-01/x.json", data={"Body": {"a": 1}})),
        ("key", lambda c: c.paginate("/2010-04-01/x.json", key=None)),
    ],
)
def test_request_arguments_are_checked_first(
    client: TwilioClient, stub: StubServer, argument: str, call: Callable
) -> None:
    refused(stub, argument, lambda: call(client))


@pytest.mark.parametrize("path", [None, "", 5])
def test_download_checks_the_path_before_the_request(
    client: TwilioClient, stub: StubServer, path: object
) -> None:
    refused(stub, "path", lambda: client.recordings.download(RE, path))


def test_download_into_a_missing_folder_or_onto_a_folder(
    client: TwilioClient, stub: StubServer, tmp_path: Path
) -> None:
    refused(stub, "path", lambda: client.recordings.download(RE, tmp_path / "no" / "x.mp3"))
    refused(stub, "path", lambda: client.recordings.download(RE, tmp_path))


@pytest.mark.parametrize(
    ("argument", "send"),
    [
        ("status_callback_event", {"status_callback_event": {"initiated": 1}}),
        ("status_callback_event", {"status_callback_event": []}),
        ("to", {"to": "client:"}),
        ("to", {"to": "sip: "}),
    ],
)
def test_empty_or_incomplete_call_values_are_refused(
    client: TwilioClient, stub: StubServer, argument: str, send: dict
) -> None:
    kwargs = {"to": N1, "from_": N2, "url": "https://example.com/v", **send}
    refused(stub, argument, lambda: client.calls.create(**kwargs))


def test_a_bare_channel_prefix_is_refused(client: TwilioClient, stub: StubServer) -> None:
    refused(stub, "to", lambda: client.messages.create("messenger:", from_=N2, body="hi"))


@pytest.mark.parametrize(
    "update",
    [
        lambda c: c.calls.update(CA),
        lambda c: c.messages.update(SM),
        lambda c: c.accounts.update(),
        lambda c: c.incoming_phone_numbers.update(PN),
        lambda c: c.applications.update(AP),
        lambda c: c.conferences.update(CF),
        lambda c: c.conferences.participants.update(CF, CA),
        lambda c: c.sandbox.update(),
    ],
)
def test_an_update_that_changes_nothing_is_refused(
    client: TwilioClient, stub: StubServer, update: Callable
) -> None:
    error = refused(stub, "update", lambda: update(client))
    assert "nothing to change" in error.problem


def test_an_update_with_a_change_is_sent(client: TwilioClient, stub: StubServer) -> None:
    client.calls.update(CA, status="completed")
    assert stub.received[0].form == {"Status": ["completed"]}


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://user:hunter2@example.com",
        "https://user:hunter2@",
        "http://user:hunter2@[::1",
        "https://user:hunter2@example.com:port",
    ],
)
def test_a_password_in_a_bad_base_url_is_not_repeated(base_url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base_url)
    assert caught.value.argument == "base_url"
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["ftp://user:hunter2@example.com/a", "https://user:hunter2@example.com/ a"]
)
def test_a_password_in_a_bad_callback_url_is_not_repeated(
    client: TwilioClient, stub: StubServer, url: str
) -> None:
    error = refused(stub, "url", lambda: client.calls.create(N1, N2, url=url))
    assert "hunter2" not in str(error)


def test_arguments_the_wrong_way_round_do_not_show_the_token() -> None:
    with pytest.raises(ValidationError) as caught:
        TwilioClient(AUTH_TOKEN, ACCOUNT_SID)
    assert caught.value.argument == "account_sid"
    assert AUTH_TOKEN not in str(caught.value)
    assert AUTH_TOKEN not in repr(caught.value)


def test_credentials_in_the_api_base_url_setting_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, stub: StubServer
) -> None:
    from switchboard.config import ConfigError

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", stub.url.replace("http://", "http://u:hunter2@"))
    with pytest.raises(ConfigError) as caught:
        TwilioClient.from_settings()
    assert str(caught.value) == (
        "TWILIO_API_BASE_URL: must not hold credentials; set TWILIO_ACCOUNT_SID and "
        "TWILIO_AUTH_TOKEN"
    )
    assert stub.received == []
