"""The emulator's size limits: each of Twilio's documented limits answered with Twilio's error
code and status (a value one over refused and nothing stored; a value exactly at the limit
accepted and echoed whole), and the whole request body capped (413 in Twilio's error shape)."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from switchboard.emulator.params import (
    BODY_LIMIT,
    FRIENDLY_NAME_LIMIT,
    MAX_REQUEST_BYTES,
    MEDIA_LIMIT,
    SEND_DIGITS_LIMIT,
    TWIML_LIMIT,
    URL_LIMIT,
)
from tests.emulator_rest.conftest import TIMEOUT, Api, assert_error

TO, FROM = "+14155550101", "+14155550100"
CALL = {"To": TO, "From": FROM, "Url": "https://example.com/voice"}
MESSAGE = {"To": TO, "From": FROM, "Body": "hi"}


def text(length: int) -> str:
    """``length`` characters, not all ASCII (the limits count characters, not bytes)."""
    return ("é" + "x" * 9) * (length // 10) + "y" * (length % 10)


def url(length: int, base: str = "https://example.com/") -> str:
    return base + "p" * (length - len(base))


def test_the_documented_values() -> None:
    """The figures Twilio publishes (the API 2010-04-01 OpenAPI description and its error
    reference); a change here is a change of what the emulator claims Twilio does."""
    assert FRIENDLY_NAME_LIMIT == 64
    assert BODY_LIMIT == 1600
    assert MEDIA_LIMIT == 10
    assert TWIML_LIMIT == 4000
    assert SEND_DIGITS_LIMIT == 32


# -- FriendlyName: 64 characters, 20002 -----------------------------------------------------------


def _sub_account(api: Api) -> str:
    return api.post("/2010-04-01/Accounts.json").json()["sid"]


def _number(api: Api) -> str:
    return api.buy()["sid"]


def _application(api: Api) -> str:
    return api.post("/Applications.json", {"FriendlyName": "app"}).json()["sid"]


def _caller_id(api: Api) -> str:
    api.post("/OutgoingCallerIds.json", {"PhoneNumber": "+14155550177"})
    return api.get("/OutgoingCallerIds.json").json()["outgoing_caller_ids"][0]["sid"]


#: (name, path of the request given the api, extra form fields, status when accepted)
NAMED: list[tuple[str, Callable[[Api], str], dict[str, str], int]] = [
    ("create account", lambda api: "/2010-04-01/Accounts.json", {}, 201),
    ("update account", lambda api: f"/2010-04-01/Accounts/{_sub_account(api)}.json", {}, 200),
    ("buy number", lambda api: "/IncomingPhoneNumbers.json", {"AreaCode": "415"}, 201),
    ("update number", lambda api: f"/IncomingPhoneNumbers/{_number(api)}.json", {}, 200),
    ("create application", lambda api: "/Applications.json", {}, 201),
    ("update application", lambda api: f"/Applications/{_application(api)}.json", {}, 200),
    ("add caller id", lambda api: "/OutgoingCallerIds.json", {"PhoneNumber": "+14155550166"},
     200),
    ("update caller id", lambda api: f"/OutgoingCallerIds/{_caller_id(api)}.json", {}, 200),
]


@pytest.mark.parametrize(("path_of", "extra", "accepted"), [n[1:] for n in NAMED],
                         ids=[n[0] for n in NAMED])
def test_friendly_name_is_64_characters_at_most(
    api: Api, path_of: Callable[[Api], str], extra: dict[str, str], accepted: int
) -> None:
    path = path_of(api)
    before = api.emu.state.created_count()
    refused = api.post(path, {**extra, "FriendlyName": text(FRIENDLY_NAME_LIMIT + 1)})
    body = assert_error(refused, 400, 20002, "FriendlyName")
    assert "64" in body["message"]
    assert api.emu.state.created_count() == before
    name = text(FRIENDLY_NAME_LIMIT)
    ok = api.post(path, {**extra, "FriendlyName": name})
    assert ok.status_code == accepted, ok.text
    assert ok.json()["friendly_name"] == name


# -- messages: Body 1,600 characters (21617), at most 10 media (21623) -----------------------------


def test_a_message_body_is_1600_characters_at_most(api: Api) -> None:
    assert_error(api.post("/Messages.json", {**MESSAGE, "Body": text(BODY_LIMIT + 1)}),
                 400, 21617, "1600")
    assert api.emu.state.created_count("messages") == 0
    body = text(BODY_LIMIT)
    sent = api.post("/Messages.json", {**MESSAGE, "Body": body})
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == body


def test_a_message_takes_10_media_at_most(api: Api) -> None:
    media = [f"https://example.com/{n}.jpg" for n in range(MEDIA_LIMIT + 1)]
    assert_error(api.post("/Messages.json", {**MESSAGE, "MediaUrl": media}), 400, 21623,
                 "MediaUrl")
    sent = api.post("/Messages.json", {**MESSAGE, "MediaUrl": media[:MEDIA_LIMIT]})
    assert sent.status_code == 201, sent.text
    assert sent.json()["num_media"] == str(MEDIA_LIMIT)


# -- calls: Twiml 4,000 characters, SendDigits 32 keys (21206) ------------------------------------


def test_twiml_is_4000_characters_at_most(api: Api) -> None:
    def twiml(length: int) -> str:
        start, end = "<Response><Say>", "</Say></Response>"
        return start + text(length - len(start) - len(end)) + end

    call = {"To": TO, "From": FROM}
    assert_error(api.post("/Calls.json", {**call, "Twiml": twiml(TWIML_LIMIT + 1)}), 400, 21205,
                 "4000")
    assert api.emu.state.created_count("calls") == 0
    placed = api.post("/Calls.json", {**call, "Twiml": twiml(TWIML_LIMIT)})
    assert placed.status_code == 201, placed.text


def test_send_digits_is_32_keys_at_most(api: Api) -> None:
    assert_error(api.post("/Calls.json", {**CALL, "SendDigits": "1" * (SEND_DIGITS_LIMIT + 1)}),
                 400, 21206, "SendDigits")
    assert api.emu.state.created_count("calls") == 0
    digits = "0123456789ABCD#*wW" + "1" * (SEND_DIGITS_LIMIT - 18)
    assert len(digits) == SEND_DIGITS_LIMIT
    placed = api.post("/Calls.json", {**CALL, "SendDigits": digits})
    assert placed.status_code == 201, placed.text
    assert api.emu.phone.calls[-1]["send_digits"] == digits


def test_send_digits_other_than_keys_and_pauses_are_21206(api: Api) -> None:
    assert_error(api.post("/Calls.json", {**CALL, "SendDigits": "12x"}), 400, 21206, "SendDigits")


# -- URLs: 4,096 characters, each parameter's invalid-URL code ------------------------------------


def _participant(api: Api) -> str:
    state = api.emu.state
    conference = state.create_conference(api.emu.account_sid, "limits")
    call = state.create_call(api.emu.account_sid, to=TO, from_=FROM, status="in-progress")
    state.add_participant(conference["sid"], call["sid"])
    return f"/Conferences/{conference['sid']}/Participants/{call['sid']}.json"


#: (parameter, path of the request, other fields, code, status when accepted, answer's field)
URLS: list[tuple[str, Callable[[Api], str], dict[str, Any], int, int, str | None]] = [
    ("VoiceUrl", lambda api: "/IncomingPhoneNumbers.json", {"AreaCode": "415"}, 21502, 201,
     "voice_url"),
    ("SmsFallbackUrl", lambda api: f"/IncomingPhoneNumbers/{_number(api)}.json", {}, 21502, 200,
     "sms_fallback_url"),
    ("StatusCallback", lambda api: "/Applications.json", {}, 21502, 201, "status_callback"),
    ("SmsUrl", lambda api: "/Sandbox.json", {}, 21502, 200, "sms_url"),
    ("Url", lambda api: "/Calls.json", {"To": TO, "From": FROM}, 21205, 201, None),
    ("StatusCallback", lambda api: "/Messages.json", MESSAGE, 21609, 201, None),
    ("MediaUrl", lambda api: "/Messages.json", MESSAGE, 21620, 201, None),
    ("HoldUrl", _participant, {}, 21502, 200, None),
]


@pytest.mark.parametrize(("name", "path_of", "extra", "code", "accepted", "field"), URLS,
                         ids=[f"{u[0]}-{u[3]}-{u[4]}" for u in URLS])
def test_a_url_is_4096_characters_at_most(
    api: Api, name: str, path_of: Callable[[Api], str], extra: dict[str, Any], code: int,
    accepted: int, field: str | None,
) -> None:
    path = path_of(api)
    before = api.emu.state.created_count()
    body = assert_error(api.post(path, {**extra, name: url(URL_LIMIT + 1)}), 400, code, name)
    assert len(body["message"]) < 200
    assert api.emu.state.created_count() == before
    longest = url(URL_LIMIT)
    ok = api.post(path, {**extra, name: longest})
    assert ok.status_code == accepted, ok.text
    if field is not None:
        assert ok.json()[field] == longest


# -- SIDs: the OpenAPI description's 34 characters and pattern ------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "extra", "code", "prefix"),
    [
        ("TrunkSid", "/IncomingPhoneNumbers.json", {"AreaCode": "415"}, 20001, "TK"),
        ("BundleSid", "/IncomingPhoneNumbers.json", {"AreaCode": "415"}, 20001, "BU"),
        ("VoiceApplicationSid", "/IncomingPhoneNumbers.json", {"AreaCode": "415"}, 21218, "AP"),
        ("ApplicationSid", "/Calls.json", {"To": TO, "From": FROM}, 21218, "AP"),
        ("ApplicationSid", "/Messages.json", MESSAGE, 21218, "AP"),
    ],
)
def test_a_sid_parameter_is_two_letters_and_32_hex_digits(
    api: Api, name: str, path: str, extra: dict[str, str], code: int, prefix: str
) -> None:
    before = api.emu.state.created_count()
    for wrong in (prefix + "0" * 33, prefix + "0" * 31, "XX" + "0" * 32, prefix + "z" * 32):
        assert_error(api.post(path, {**extra, name: wrong}), 400, code, name)
    assert api.emu.state.created_count() == before
    # exactly 34 characters; an application SID must also be one of the account's
    good = _application(api) if prefix == "AP" else prefix + "a" * 32
    ok = api.post(path, {**extra, name: good})
    assert ok.status_code == 201, ok.text


def test_call_sid_to_coach_is_a_call_sid(api: Api) -> None:
    path = _participant(api)
    assert_error(api.post(path, {"CallSidToCoach": "CA" + "0" * 33}), 400, 20001,
                 "CallSidToCoach")
    coach = "CA" + "c" * 32
    ok = api.post(path, {"CallSidToCoach": coach})
    assert ok.status_code == 200, ok.text
    assert ok.json()["call_sid_to_coach"] == coach


def test_a_trunk_sid_can_still_be_cleared(api: Api) -> None:
    number = api.buy(TrunkSid="TK" + "a" * 32)
    cleared = api.post(f"/IncomingPhoneNumbers/{number['sid']}.json", {"TrunkSid": ""})
    assert cleared.status_code == 200, cleared.text
    assert not cleared.json()["trunk_sid"]


# -- error messages quote a long value cut short --------------------------------------------------


def test_an_error_never_echoes_a_long_value_whole(api: Api) -> None:
    huge = "z" * 100_000
    for path, data, code in [
        ("/Messages.json", {**MESSAGE, "To": huge}, 21211),
        ("/IncomingPhoneNumbers.json", {"AreaCode": "415", "VoiceMethod": huge}, 20001),
        ("/Calls.json", {**CALL, "Timeout": huge}, 20001),
        ("/Calls.json", {**CALL, "StatusCallbackEvent": huge}, 21626),
        ("/Messages.json", {**MESSAGE, "MediaUrl": huge}, 21620),
    ]:
        body = assert_error(api.post(path, data), 400, code)
        assert len(body["message"]) < 300, (path, data.keys(), len(body["message"]))


# -- the whole request body: 256 KiB, 413 -------------------------------------------------------


def _raw_post(api: Api, path: str, body: bytes | Iterator[bytes], *,
              chunked: bool = False) -> tuple[int, dict[str, Any]]:
    """POST ``body`` with http.client (exact bytes; chunked when asked)."""
    import base64
    import json

    target = urlsplit(api.url(path))
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=TIMEOUT)
    credentials = base64.b64encode(f"{api.emu.account_sid}:{api.emu.auth_token}".encode())
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Authorization": f"Basic {credentials.decode()}"}
    try:
        conn.request("POST", target.path, body=body, headers=headers, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def _form_of_size(size: int, **fields: str) -> bytes:
    """A form of exactly ``size`` bytes: ``fields`` and a parameter the API does not know
    (ignored, as Twilio ignores it) padding it out."""
    start = urlencode(fields).encode() + b"&Padding="
    return start + b"p" * (size - len(start))


def test_a_body_over_256_kib_is_413_in_twilio_shape(api: Api) -> None:
    assert MAX_REQUEST_BYTES == 256 * 1024
    over = _form_of_size(MAX_REQUEST_BYTES + 1, FriendlyName="too big")
    status, body = _raw_post(api, "/Applications.json", over)
    assert status == 413
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["status"] == 413
    assert body["code"] == 20001
    assert "262,144 bytes" in body["message"]
    assert api.emu.state.created_count("applications") == 0
    status, body = _raw_post(api, "/Applications.json",
                             _form_of_size(MAX_REQUEST_BYTES, FriendlyName="just fits"))
    assert status == 201, body
    assert body["friendly_name"] == "just fits"


def test_a_chunked_body_over_256_kib_is_413_not_cut_short(api: Api) -> None:
    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 16 * 1024):
            yield data[start:start + 16 * 1024]

    over = _form_of_size(MAX_REQUEST_BYTES + 100, FriendlyName="too big")
    status, body = _raw_post(api, "/Applications.json", chunks(over), chunked=True)
    assert (status, body["code"]) == (413, 20001), body
    exact = _form_of_size(MAX_REQUEST_BYTES, FriendlyName="just fits")
    status, body = _raw_post(api, "/Applications.json", chunks(exact), chunked=True)
    assert status == 201, body


def test_ten_megabytes_of_friendly_name_are_neither_stored_nor_echoed(api: Api) -> None:
    response = api.post("/IncomingPhoneNumbers.json",
                        {"AreaCode": "415", "FriendlyName": "x" * 10 * 1024 * 1024})
    assert_error(response, 413, 20001)
    assert len(response.content) < 1000
    assert api.emu.state.created_count("incoming_phone_numbers") == 0
