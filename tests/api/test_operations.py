"""Each of the connector's 50 operations sends the right method, path and wire parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.api import TwilioClient
from switchboard.api.operations import OPERATIONS
from switchboard.api.resources import MediaStream
from tests.api.conftest import ACCOUNT_SID, OTHER_ACCOUNT, TwilioStub, sid

A = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
B = f"/2010-04-01/Accounts/{OTHER_ACCOUNT}"
PN, AP, CA, CF, SM, RE, TR, NO = (sid(p) for p in ("PN", "AP", "CA", "CF", "SM", "RE", "TR", "NO"))
URL = "https://example.com/voice"

NUMBER_SETTINGS = {
    "friendly_name": "front desk",
    "voice_url": URL,
    "voice_method": "GET",
    "voice_fallback_url": URL + "/fallback",
    "voice_fallback_method": "POST",
    "status_callback": URL + "/status",
    "status_callback_method": "POST",
    "voice_caller_id_lookup": False,
    "voice_application_sid": AP,
    "sms_url": "https://example.com/sms",
    "sms_method": "POST",
    "sms_fallback_url": "https://example.com/sms/fallback",
    "sms_fallback_method": "GET",
    "sms_application_sid": AP,
}
NUMBER_WIRE = {
    "FriendlyName": ["front desk"],
    "VoiceUrl": [URL],
    "VoiceMethod": ["GET"],
    "VoiceFallbackUrl": [URL + "/fallback"],
    "VoiceFallbackMethod": ["POST"],
    "StatusCallback": [URL + "/status"],
    "StatusCallbackMethod": ["POST"],
    "VoiceCallerIdLookup": ["false"],
    "VoiceApplicationSid": [AP],
    "SmsUrl": ["https://example.com/sms"],
    "SmsMethod": ["POST"],
    "SmsFallbackUrl": ["https://example.com/sms/fallback"],
    "SmsFallbackMethod": ["GET"],
    "SmsApplicationSid": [AP],
}
APP_SETTINGS = {
    k: v
    for k, v in NUMBER_SETTINGS.items()
    if k not in ("voice_application_sid", "sms_application_sid", "friendly_name")
}
APP_SETTINGS |= {
    "api_version": "2010-04-01",
    "sms_status_callback": "https://example.com/sms/status",
}
APP_WIRE = {
    k: v
    for k, v in NUMBER_WIRE.items()
    if k not in ("VoiceApplicationSid", "SmsApplicationSid", "FriendlyName")
}
APP_WIRE |= {"ApiVersion": ["2010-04-01"], "SmsStatusCallback": ["https://example.com/sms/status"]}

# (operation, arguments, method, path, wire parameters)
CASES: list[tuple[str, dict[str, Any], str, str, dict[str, list[str]]]] = [
    ("get-account-details", {}, "GET", f"{A}.json", {}),
    ("get-account-details", {"account_sid": OTHER_ACCOUNT}, "GET", f"{B}.json", {}),
    (
        "get-all-accounts-details",
        {"account_status": "SUSPENDED", "friendly_name": "coco"},
        "GET",
        "/2010-04-01/Accounts.json",
        {"Status": ["suspended"], "FriendlyName": ["coco"]},
    ),
    (
        "update-account",
        {"account_status": "CLOSED", "friendly_name": "juan"},
        "POST",
        f"{A}.json",
        {"Status": ["closed"], "FriendlyName": ["juan"]},
    ),
    (
        "create-sub-account",
        {"friendly_name": "raul"},
        "POST",
        "/2010-04-01/Accounts.json",
        {"FriendlyName": ["raul"]},
    ),
    ("get-sub-account-by-account-sid", {"account_sid": OTHER_ACCOUNT}, "GET", f"{B}.json", {}),
    (
        "exchange-phone-numbers-between-subaccounts",
        {
            "account_sid_from": OTHER_ACCOUNT,
            "incoming_phone_number_sid": PN,
            "account_sid_to": ACCOUNT_SID,
        },
        "POST",
        f"{B}/IncomingPhoneNumbers/{PN}.json",
        {"AccountSid": [ACCOUNT_SID]},
    ),
    (
        "get-available-phone-numbers",
        {
            "iso_country_code": "US",
            "area_code": "415",
            "contains": "555*",
            "in_region": "CA",
            "in_postal_code": "94103",
        },
        "GET",
        f"{A}/AvailablePhoneNumbers/US/Local.json",
        {"AreaCode": ["415"], "Contains": ["555*"], "InRegion": ["CA"], "InPostalCode": ["94103"]},
    ),
    (
        "get-available-phone-numbers-advanced-seach",
        {
            "iso_country_code": "us",
            "near_lat_long": "37.77,-122.41",
            "distance": 10,
            "near_phone_number": "+14155550100",
            "in_lata": "722",
            "in_rate_center": "SNFC",
            "area_code": "415",
            "contains": "*55",
            "in_region": "CA",
            "in_postal_code": "94103",
        },
        "GET",
        f"{A}/AvailablePhoneNumbers/US/Local.json",
        {
            "NearLatLong": ["37.77,-122.41"],
            "Distance": ["10"],
            "NearNumber": ["+14155550100"],
            "AreaCode": ["415"],
            "Contains": ["*55"],
            "InRegion": ["CA"],
            "InPostalCode": ["94103"],
            "InLata": ["722"],
            "InRateCenter": ["SNFC"],
        },
    ),
    (
        "get-available-toll-free-numbers",
        {"iso_country_code": "US", "contains": "800"},
        "GET",
        f"{A}/AvailablePhoneNumbers/US/TollFree.json",
        {"Contains": ["800"]},
    ),
    (
        "get-outgoing-caller-id-by-outgoing-caller-id-sid",
        {"outgoing_caller_id_sid": PN},
        "GET",
        f"{A}/OutgoingCallerIds/{PN}.json",
        {},
    ),
    (
        "update-outgoing-caller-id-by-outgoing-caller-id-sid",
        {"outgoing_caller_id_sid": PN, "friendly_name": "mobile"},
        "POST",
        f"{A}/OutgoingCallerIds/{PN}.json",
        {"FriendlyName": ["mobile"]},
    ),
    (
        "get-all-outgoing-caller-ids",
        {"phone_number": "+14155550100", "friendly_name": "mobile"},
        "GET",
        f"{A}/OutgoingCallerIds.json",
        {"PhoneNumber": ["+14155550100"], "FriendlyName": ["mobile"]},
    ),
    (
        "add-new-caller-id",
        {
            "phone_number": "+14155550100",
            "friendly_name": "mobile",
            "call_delay": 5,
            "extension": "12#",
        },
        "POST",
        f"{A}/OutgoingCallerIds.json",
        {
            "PhoneNumber": ["+14155550100"],
            "FriendlyName": ["mobile"],
            "CallDelay": ["5"],
            "Extension": ["12#"],
        },
    ),
    (
        "delete-outgoing-caller-id",
        {"outgoing_caller_id_sid": PN},
        "DELETE",
        f"{A}/OutgoingCallerIds/{PN}.json",
        {},
    ),
    (
        "get-incoming-phone-numbers-by-incoming-phone-number-sid",
        {"incoming_phone_number_sid": PN},
        "GET",
        f"{A}/IncomingPhoneNumbers/{PN}.json",
        {},
    ),
    (
        "update-incoming-phone-numbers",
        {
            "incoming_phone_number_sid": PN,
            "api_version": "2010-04-01",
            "account_sid_destination": OTHER_ACCOUNT,
            **NUMBER_SETTINGS,
        },
        "POST",
        f"{A}/IncomingPhoneNumbers/{PN}.json",
        {**NUMBER_WIRE, "ApiVersion": ["2010-04-01"], "AccountSid": [OTHER_ACCOUNT]},
    ),
    (
        "delete-incoming-phone-number",
        {"incoming_phone_number_sid": PN},
        "DELETE",
        f"{A}/IncomingPhoneNumbers/{PN}.json",
        {},
    ),
    (
        "get-incoming-phone-numbers",
        {"phone_number": "+1415*", "friendly_name": "front desk"},
        "GET",
        f"{A}/IncomingPhoneNumbers.json",
        {"PhoneNumber": ["+1415*"], "FriendlyName": ["front desk"]},
    ),
    (
        "add-incoming-phone-number-by-phone-number",
        {"phone_number": "+15105555555", **NUMBER_SETTINGS},
        "POST",
        f"{A}/IncomingPhoneNumbers.json",
        {"PhoneNumber": ["+15105555555"], **NUMBER_WIRE},
    ),
    (
        "add-incoming-phone-number-by-area-code",
        {"area_code": "510", **NUMBER_SETTINGS},
        "POST",
        f"{A}/IncomingPhoneNumbers.json",
        {"AreaCode": ["510"], **NUMBER_WIRE},
    ),
    ("get-application", {"application_sid": AP}, "GET", f"{A}/Applications/{AP}.json", {}),
    (
        "update-application",
        {"application_sid": AP, "friendly_name": "ivr", **APP_SETTINGS},
        "POST",
        f"{A}/Applications/{AP}.json",
        {"FriendlyName": ["ivr"], **APP_WIRE},
    ),
    ("delete-application", {"application_sid": AP}, "DELETE", f"{A}/Applications/{AP}.json", {}),
    (
        "get-all-applications",
        {"friendly_name": "ivr"},
        "GET",
        f"{A}/Applications.json",
        {"FriendlyName": ["ivr"]},
    ),
    (
        "create-application",
        {"friendly_name": "ivr", **APP_SETTINGS},
        "POST",
        f"{A}/Applications.json",
        {"FriendlyName": ["ivr"], **APP_WIRE},
    ),
    ("get-call", {"call_sid": CA}, "GET", f"{A}/Calls/{CA}.json", {}),
    (
        "get-calls",
        {
            "to": "+14155550100",
            "from_": "+14155550199",
            "status": "no-answer",
            "start_time": ">=2024-05-01",
        },
        "GET",
        f"{A}/Calls.json",
        {
            "To": ["+14155550100"],
            "From": ["+14155550199"],
            "Status": ["no-answer"],
            "StartTime>": ["2024-05-01T00:00:00Z"],
        },
    ),
    (
        "get-calls",
        {"start_time": "<=2024-05-31"},
        "GET",
        f"{A}/Calls.json",
        {"StartTime<": ["2024-05-31T00:00:00Z"]},
    ),
    (
        "make-call",
        {
            "from_": "+14155550199",
            "to": "+14155550100",
            "url": URL,
            "method": "GET",
            "fallback_url": URL + "/fallback",
            "fallback_method": "POST",
            "status_callback": URL + "/status",
            "status_callback_method": "POST",
            "send_digits": "1234#",
            "if_machine": "Continue",
            "timeout": 15,
        },
        "POST",
        f"{A}/Calls.json",
        {
            "From": ["+14155550199"],
            "To": ["+14155550100"],
            "Url": [URL],
            "Method": ["GET"],
            "FallbackUrl": [URL + "/fallback"],
            "FallbackMethod": ["POST"],
            "StatusCallback": [URL + "/status"],
            "StatusCallbackMethod": ["POST"],
            "SendDigits": ["1234#"],
            "MachineDetection": ["Enable"],
            "Timeout": ["15"],
        },
    ),
    (
        "make-call",
        {"from_": "+14155550199", "to": "+14155550100", "application_sid": AP},
        "POST",
        f"{A}/Calls.json",
        {"From": ["+14155550199"], "To": ["+14155550100"], "ApplicationSid": [AP]},
    ),
    (
        "make-call",
        {
            "from_": "+14155550199",
            "to": "+14155550100",
            "twiml": "<Response/>",
            "status_callback": URL + "/status",
            "status_callback_event": ("initiated", "completed"),
            "record": True,
        },
        "POST",
        f"{A}/Calls.json",
        {
            "From": ["+14155550199"],
            "To": ["+14155550100"],
            "Twiml": ["<Response/>"],
            "StatusCallback": [URL + "/status"],
            "StatusCallbackEvent": ["initiated", "completed"],
            "Record": ["true"],
        },
    ),
    (
        "change-call-state",
        {"call_sid": CA, "url": URL, "method": "POST", "status": "completed"},
        "POST",
        f"{A}/Calls/{CA}.json",
        {"Url": [URL], "Method": ["POST"], "Status": ["completed"]},
    ),
    ("get-conference", {"conference_sid": CF}, "GET", f"{A}/Conferences/{CF}.json", {}),
    (
        "get-conferences",
        {
            "status": "in-progress",
            "friendly_name": "standup",
            "date_created": "2024-05-01",
            "date_updated": "<=2024-05-02",
        },
        "GET",
        f"{A}/Conferences.json",
        {
            "Status": ["in-progress"],
            "FriendlyName": ["standup"],
            "DateCreated": ["2024-05-01"],
            "DateUpdated<": ["2024-05-02"],
        },
    ),
    (
        "get-participant",
        {"conference_sid": CF, "call_sid": CA},
        "GET",
        f"{A}/Conferences/{CF}/Participants/{CA}.json",
        {},
    ),
    (
        "update-participant-status",
        {"conference_sid": CF, "call_sid": CA, "muted": True},
        "POST",
        f"{A}/Conferences/{CF}/Participants/{CA}.json",
        {"Muted": ["true"]},
    ),
    (
        "delete-participant",
        {"conference_sid": CF, "call_sid": CA},
        "DELETE",
        f"{A}/Conferences/{CF}/Participants/{CA}.json",
        {},
    ),
    (
        "get-participants",
        {"conference_sid": CF, "muted": False},
        "GET",
        f"{A}/Conferences/{CF}/Participants.json",
        {"Muted": ["false"]},
    ),
    ("get-sms-message", {"sms_message_sid": SM}, "GET", f"{A}/Messages/{SM}.json", {}),
    (
        "get-all-sms-messages",
        {"to": "+14155550100", "from_": "+14155550199", "date_sent": "2024-05-01"},
        "GET",
        f"{A}/Messages.json",
        {"To": ["+14155550100"], "From": ["+14155550199"], "DateSent": ["2024-05-01T00:00:00Z"]},
    ),
    (
        "send-sms-message",
        {
            "from_": "+14155550199",
            "to": "+14155550100",
            "body": "hi",
            "status_callback": "https://example.com/sms/status",
            "application_sid": AP,
        },
        "POST",
        f"{A}/Messages.json",
        {
            "From": ["+14155550199"],
            "To": ["+14155550100"],
            "Body": ["hi"],
            "StatusCallback": ["https://example.com/sms/status"],
            "ApplicationSid": [AP],
        },
    ),
    (
        "send-sms-message",
        {
            "messaging_service_sid": sid("MG"),
            "to": "+14155550100",
            "media_url": ("https://example.com/a.png", "https://example.com/b.png"),
        },
        "POST",
        f"{A}/Messages.json",
        {
            "MessagingServiceSid": [sid("MG")],
            "To": ["+14155550100"],
            "MediaUrl": ["https://example.com/a.png", "https://example.com/b.png"],
        },
    ),
    ("get-recording", {"recording_sid": RE}, "GET", f"{A}/Recordings/{RE}.json", {}),
    (
        "get-recording",
        {"recording_sid": RE, "recording_type": "XML"},
        "GET",
        f"{A}/Recordings/{RE}.json",
        {},
    ),
    (
        "get-recording",
        {"recording_sid": RE, "recording_type": "MP3"},
        "GET",
        f"{A}/Recordings/{RE}.mp3",
        {},
    ),
    (
        "get-recording",
        {"recording_sid": RE, "recording_type": "wav"},
        "GET",
        f"{A}/Recordings/{RE}.wav",
        {},
    ),
    ("delete-recording", {"recording_sid": RE}, "DELETE", f"{A}/Recordings/{RE}.json", {}),
    (
        "get-recordings",
        {"call_sid": CA, "date_created": ">=2024-05-01"},
        "GET",
        f"{A}/Recordings.json",
        {"CallSid": [CA], "DateCreated>": ["2024-05-01T00:00:00Z"]},
    ),
    (
        "get-transcription-by-transcription-sid",
        {"transcription_sid": TR},
        "GET",
        f"{A}/Transcriptions/{TR}.json",
        {},
    ),
    (
        "get-transcription-by-transcription-sid",
        {"transcription_sid": TR, "transcription_format": "TXT"},
        "GET",
        f"{A}/Transcriptions/{TR}.txt",
        {},
    ),
    (
        "get-transcriptions",
        {"recording_sid": RE, "transcription_format": "XML"},
        "GET",
        f"{A}/Recordings/{RE}/Transcriptions.json",
        {},
    ),
    ("get-transcriptions", {}, "GET", f"{A}/Transcriptions.json", {}),
    ("get-notification", {"notification_sid": NO}, "GET", f"{A}/Notifications/{NO}.json", {}),
    ("delete-notification", {"notification_sid": NO}, "DELETE", f"{A}/Notifications/{NO}.json", {}),
    (
        "get-all-notifications",
        {"log": 1, "message_date": "<2024-05-01"},
        "GET",
        f"{A}/Notifications.json",
        {"Log": ["1"], "MessageDate<": ["2024-05-01"]},
    ),
    (
        "get-notifications-by-call-sid",
        {"call_sid": CA, "log": 0, "message_date": "2024-05-01"},
        "GET",
        f"{A}/Calls/{CA}/Notifications.json",
        {"Log": ["0"], "MessageDate": ["2024-05-01"]},
    ),
    ("get-sandbox", {}, "GET", f"{A}/Sandbox.json", {}),
    (
        "update-sandbox",
        {
            "voice_url": URL,
            "voice_method": "GET",
            "sms_url": "https://example.com/sms",
            "sms_method": "POST",
        },
        "POST",
        f"{A}/Sandbox.json",
        {
            "VoiceUrl": [URL],
            "VoiceMethod": ["GET"],
            "SmsUrl": ["https://example.com/sms"],
            "SmsMethod": ["POST"],
        },
    ),
]


def run(client: TwilioClient, name: str, arguments: dict[str, Any]) -> Any:
    """Run an operation to completion: drain lists and media streams."""
    result = OPERATIONS[name](client, **arguments)
    if isinstance(result, MediaStream):
        return b"".join(result)
    if isinstance(result, Iterator):
        return list(result)
    return result


def test_every_operation_has_a_case() -> None:
    assert len({name for name in OPERATIONS if not name.endswith("-search")}) == 50
    assert {case[0] for case in CASES} | {"get-sub-account-by-friendly-name"} == {
        name for name in OPERATIONS if not name.endswith("-search")
    }


@pytest.mark.parametrize(
    ("name", "arguments", "method", "path", "wire"),
    CASES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
def test_operation_sends_the_request(
    client: TwilioClient,
    stub: TwilioStub,
    name: str,
    arguments: dict[str, Any],
    method: str,
    path: str,
    wire: dict[str, list[str]],
) -> None:
    run(client, name, arguments)
    assert len(stub.requests) == 1
    sent = stub.last
    assert (sent.method, sent.path) == (method, path)
    assert sent.params == wire
    if method == "GET":
        assert sent.form == {}


def test_get_sub_account_by_friendly_name_returns_the_first_match(
    client: TwilioClient, stub: TwilioStub
) -> None:
    first = {"sid": OTHER_ACCOUNT, "friendly_name": "fede"}
    stub.answer(
        "GET",
        "/2010-04-01/Accounts.json",
        {"accounts": [first, {"sid": sid("AC", 9)}], "next_page_uri": None},
    )
    assert run(client, "get-sub-account-by-friendly-name", {"friendly_name": "fede"}) == first
    assert stub.last.query == {"FriendlyName": ["fede"], "PageSize": ["1"]}


def test_get_sub_account_by_friendly_name_says_when_none_matches(
    client: TwilioClient, stub: TwilioStub
) -> None:
    from switchboard.api.resources import ResourceNotFound

    with pytest.raises(ResourceNotFound, match="no account has the friendly name 'nobody'"):
        run(client, "get-sub-account-by-friendly-name", {"friendly_name": "nobody"})


def test_correctly_spelt_alias_is_the_same_operation() -> None:
    assert (
        OPERATIONS["get-available-phone-numbers-advanced-search"]
        is OPERATIONS["get-available-phone-numbers-advanced-seach"]
    )


def test_every_attribute_of_the_seed_is_declared() -> None:
    """The connector reference's attributes, operation by operation (config-ref is the CLI's)."""
    expected = {
        "exchange-phone-numbers-between-subaccounts": [
            "accountSidFrom",
            "incomingPhoneNumberSid",
            "accountSidTo",
        ],
        "make-call": [
            "accountSid",
            "from",
            "to",
            "url",
            "applicationSid",
            "method",
            "fallbackUrl",
            "fallbackMethod",
            "statusCallback",
            "statusCallbackMethod",
            "sendDigits",
            "ifMachine",
            "timeout",
        ],
        "update-sandbox": ["accountSid", "voiceUrl", "voiceMethod", "smsUrl", "smsMethod"],
        "get-recording": ["accountSid", "recordingSid", "recordingType"],
    }
    for name, attributes in expected.items():
        declared = [a.name for a in OPERATIONS[name].attributes if not a.extra]
        assert declared == attributes, name


def test_help_comes_from_the_seed() -> None:
    op = OPERATIONS["get-calls"]
    assert op.attribute("start_time").help.startswith(
        "Only show calls that started on this date, given as YYYY-MM-DD."
    )
    assert op.attribute("start_time_before") is op.attribute("start_time")
    assert op.attribute("from_").option == "--from"
    assert OPERATIONS["get-available-phone-numbers"].attribute("iso_country_code").option == (
        "--iso-country-code"
    )


def test_cases_cover_every_attribute_on_the_wire() -> None:
    """Every attribute with a wire name is sent, under that name, by at least one case."""
    sent: dict[str, set[str]] = {}
    for name, _arguments, _method, _path, wire in CASES:
        sent.setdefault(name, set()).update(wire)
    missing = {
        f"{name}.{attribute.name}"
        for name, operation in OPERATIONS.items()
        if name in sent
        for attribute in operation.attributes
        if attribute.wire and not any(w.rstrip("<>") == attribute.wire for w in sent[name])
    }
    assert not missing
