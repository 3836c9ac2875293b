"""Errors as Twilio sends them: 401 for credentials, 404, 405, 400 naming the field."""

from __future__ import annotations

import re

import pytest
import requests

from tests.emulator_rest.conftest import TIMEOUT, Api, assert_error


def test_no_credentials_is_401_with_a_challenge(api: Api) -> None:
    response = requests.get(api.url(".json"), timeout=TIMEOUT)
    assert_error(response, 401, 20003)
    assert response.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("auth", [("AC" + "0" * 32, "x" * 32), ("", ""), ("nobody", "nothing")])
def test_wrong_credentials_are_401(api: Api, auth: tuple[str, str]) -> None:
    response = requests.get(api.url("/Calls.json"), auth=auth, timeout=TIMEOUT)
    assert_error(response, 401, 20003)


def test_wrong_token_for_the_right_account_is_401(api: Api) -> None:
    response = requests.get(api.url(".json"), auth=(api.emu.account_sid, "0" * 32), timeout=TIMEOUT)
    assert_error(response, 401, 20003)


def test_token_never_in_error_bodies(api: Api) -> None:
    response = requests.get(api.url(".json"), auth=(api.emu.account_sid, "wrong"), timeout=TIMEOUT)
    assert api.emu.auth_token not in response.text


def test_unknown_account_is_404(api: Api) -> None:
    other = api.as_account("AC" + "9" * 32)
    body = assert_error(other.get("/Calls.json"), 404, 20404)
    assert "/Calls.json" in body["message"]


@pytest.mark.parametrize(
    "suffix",
    [
        "/Calls/CA00000000000000000000000000000000.json",
        "/Messages/SM00000000000000000000000000000000.json",
        "/IncomingPhoneNumbers/PN00000000000000000000000000000000.json",
        "/Applications/AP00000000000000000000000000000000.json",
        "/Recordings/RE00000000000000000000000000000000.json",
        "/Recordings/RE00000000000000000000000000000000.mp3",
        "/Transcriptions/TR00000000000000000000000000000000.txt",
        "/Notifications/NO00000000000000000000000000000000.json",
        "/Conferences/CF00000000000000000000000000000000.json",
        "/OutgoingCallerIds/PN00000000000000000000000000000000.json",
        "/AvailablePhoneNumbers/ZZ/Local.json",
        "/NoSuchResource.json",
    ],
)
def test_unknown_resources_are_404(api: Api, suffix: str) -> None:
    body = assert_error(api.get(suffix), 404, 20404)
    assert suffix in body["message"]


def test_resources_of_another_account_are_404(api: Api) -> None:
    sub = api.post("/2010-04-01/Accounts.json", {}).json()
    number = api.buy()
    assert_error(
        api.as_account(sub["sid"]).get(f"/IncomingPhoneNumbers/{number['sid']}.json"), 404, 20404
    )


def test_method_not_allowed_is_405(api: Api) -> None:
    response = api.session.put(api.url("/Calls.json"), timeout=TIMEOUT)
    assert_error(response, 405, 20004)


@pytest.mark.parametrize(
    ("suffix", "data", "code", "field"),
    [
        ("/Calls.json", {"From": "+14155550100", "Url": "http://example.com/x"}, 21201, "'To'"),
        ("/Calls.json", {"To": "+14155550100", "Url": "http://example.com/x"}, 21213, "'From'"),
        (
            "/Calls.json",
            {"To": "12", "From": "+14155550100", "Url": "http://e.com/"},
            21211,
            "'To'",
        ),
        (
            "/Calls.json",
            {"To": "+14155550101", "From": "nope", "Url": "http://e.com/"},
            21212,
            "'From'",
        ),
        ("/Calls.json", {"To": "+14155550101", "From": "+14155550100"}, 21205, "Url"),
        (
            "/Calls.json",
            {"To": "+14155550101", "From": "+14155550100", "Url": "not a url"},
            21205,
            "Url",
        ),
        (
            "/Calls.json",
            {
                "To": "+14155550101",
                "From": "+14155550100",
                "Url": "http://e.com/",
                "Twiml": "<Response/>",
            },
            21205,
            "Twiml",
        ),
        (
            "/Calls.json",
            {"To": "+14155550101", "From": "+14155550100", "Url": "http://e.com/", "Method": "PUT"},
            20001,
            "Method",
        ),
        (
            "/Calls.json",
            {
                "To": "+14155550101",
                "From": "+14155550100",
                "Url": "http://e.com/",
                "Timeout": "soon",
            },
            20001,
            "Timeout",
        ),
        (
            "/Calls.json",
            {
                "To": "+14155550101",
                "From": "+14155550100",
                "Url": "http://e.com/",
                "StatusCallbackEvent": "exploded",
            },
            21626,
            "StatusCallbackEvent",
        ),
        (
            "/Calls.json",
            {"To": "+14155550101", "From": "+14155550100", "ApplicationSid": "AP" + "0" * 32},
            21218,
            "ApplicationSid",
        ),
        ("/Messages.json", {"From": "+14155550100", "Body": "hi"}, 21604, "'To'"),
        ("/Messages.json", {"To": "+14155550100", "Body": "hi"}, 21603, "'From'"),
        ("/Messages.json", {"To": "+14155550100", "From": "+14155550101"}, 21602, "body"),
        (
            "/Messages.json",
            {"To": "+14155550100", "From": "+14155550101", "Body": "x" * 1601},
            21617,
            "1600",
        ),
        ("/Messages.json", {"To": "+1", "From": "+14155550101", "Body": "hi"}, 21211, "'To'"),
        (
            "/Messages.json",
            {
                "To": "+14155550100",
                "From": "+14155550101",
                "Body": "hi",
                "StatusCallback": "ftp://x",
            },
            21609,
            "StatusCallback",
        ),
        (
            "/Messages.json",
            {"To": "+14155550100", "From": "+14155550101", "MediaUrl": "nope"},
            21620,
            "MediaUrl",
        ),
        ("/IncomingPhoneNumbers.json", {}, 21421, "PhoneNumber"),
        ("/IncomingPhoneNumbers.json", {"PhoneNumber": "4155550100"}, 21421, "PhoneNumber"),
        ("/IncomingPhoneNumbers.json", {"AreaCode": "41"}, 21451, "AreaCode"),
        ("/IncomingPhoneNumbers.json", {"AreaCode": "999"}, 21452, "999"),
        ("/IncomingPhoneNumbers.json", {"AreaCode": "415", "VoiceUrl": "nope"}, 21502, "VoiceUrl"),
        (
            "/IncomingPhoneNumbers.json",
            {"AreaCode": "415", "SmsMethod": "PATCH"},
            20001,
            "SmsMethod",
        ),
        (
            "/IncomingPhoneNumbers.json",
            {"AreaCode": "415", "VoiceApplicationSid": "AP" + "1" * 32},
            21218,
            "VoiceApplicationSid",
        ),
        ("/OutgoingCallerIds.json", {}, 21421, "PhoneNumber"),
        ("/OutgoingCallerIds.json", {"PhoneNumber": "555"}, 21421, "PhoneNumber"),
        ("/Applications.json", {"VoiceUrl": "mailto:x"}, 21502, "VoiceUrl"),
        ("/Applications.json", {"VoiceCallerIdLookup": "maybe"}, 20001, "VoiceCallerIdLookup"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    api: Api, suffix: str, data: dict[str, str], code: int, field: str
) -> None:
    before = api.emu.state.created_count()
    assert_error(api.post(suffix, data), 400, code, field)
    assert api.emu.state.created_count() == before


@pytest.mark.parametrize(
    ("suffix", "params", "field"),
    [
        ("/Calls.json", {"Status": "exploded"}, "Status"),
        ("/Calls.json", {"StartTime>": "yesterday"}, "StartTime>"),
        ("/Messages.json", {"DateSent<": "2020-13-45"}, "DateSent<"),
        ("/Notifications.json", {"Log": "7"}, "Log"),
        ("/Calls.json", {"PageSize": "0"}, "PageSize"),
        ("/Calls.json", {"PageSize": "1001"}, "PageSize"),
        ("/Calls.json", {"PageToken": "garbage"}, "PageToken"),
        ("/AvailablePhoneNumbers/US/Local.json", {"Contains": "4-1"}, "Contains"),
        ("/AvailablePhoneNumbers/US/Local.json", {"NearLatLong": "north"}, "NearLatLong"),
    ],
)
def test_bad_query_parameters_are_400_naming_the_field(
    api: Api, suffix: str, params: dict[str, str], field: str
) -> None:
    response = api.get(suffix, **params)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


def test_every_answer_has_a_request_id(api: Api) -> None:
    ok = api.get(".json")
    missing = api.get("/Calls/CA00000000000000000000000000000000.json")
    api.emu.faults.add("503")
    fault = api.get(".json")
    ids = [r.headers["Twilio-Request-Id"] for r in (ok, missing, fault)]
    assert all(re.fullmatch(r"RQ[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 3


def test_an_emulator_bug_is_a_500_in_twilios_shape(api: Api, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(api.emu.state, "list", broken)
    assert_error(api.get("/Calls.json"), 500, 20500)
