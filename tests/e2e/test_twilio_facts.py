"""The emulator against Twilio's documented facts (../shared/twilio-webhooks.md), as the real
server receives them: the published signature example through the emulator's signing path
and the server's check, the parameters of every webhook of a real call and conversation, the
order of the callbacks, GET webhooks and the fallback URL.

The emulator's own unit tests (tests/emulator_caller) check the same facts against a bare hook
server; here the receiving end is Switchboard itself, with its store."""

from __future__ import annotations

import math
import re
from email.utils import parsedate_to_datetime

import flask

from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.security import verify_flask_request
from switchboard.emulator.script import CallScript, RecordingTake
from switchboard.emulator.webhooks import WebhookClient, wsgi_session
from tests import twilio_signature_example as published
from tests.e2e.checks import assert_callbacks_stored_once
from tests.e2e.conftest import CALLER, OPERATOR, Pair

VOICE_FIELDS = ("CallSid", "AccountSid", "From", "To", "CallStatus", "ApiVersion", "Direction")
RECORDING_STATUS_FIELDS = (
    "RecordingSid", "RecordingUrl", "RecordingStatus", "RecordingDuration", "RecordingChannels",
    "RecordingStartTime", "RecordingSource", "RecordingTrack", "ErrorCode",
)
SMS_FIELDS = ("MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body",
              "NumMedia", "NumSegments", "ApiVersion")
MESSAGE_STATUS_FIELDS = ("MessageSid", "MessageStatus", "SmsStatus", "From", "To",
                         "AccountSid", "ApiVersion")
SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")


def test_the_published_signature_example_through_the_signing_path() -> None:
    """The emulator's webhook client signs the published example as Twilio does, the fragment
    stays out of what is signed and sent, and the server's check accepts the request."""
    seen: list[tuple[str, str, bool]] = []
    app = flask.Flask("mycompany")

    @app.post("/myapp.php")
    def myapp() -> flask.Response:
        request = flask.request
        seen.append((request.url, request.headers["X-Twilio-Signature"],
                     verify_flask_request(request, published.TOKEN)))
        return flask.Response("<Response/>", content_type="text/xml")

    client = WebhookClient(wsgi_session(app))
    for url in (published.URL, published.URL + "#rc=2&ct=1000"):
        answer = client.fetch(url, published.PARAMS, auth_token=published.TOKEN)
        assert answer.ok, answer.error_message
        [exchange] = answer.exchanges
        assert exchange.request_headers["X-Twilio-Signature"] == published.EXPECTED
    assert seen == [(published.URL, published.EXPECTED, True)] * 2
    other = client.fetch(published.URL, {**published.PARAMS, "Digits": "1235"},
                         auth_token=published.TOKEN)
    assert other.exchanges[0].request_headers["X-Twilio-Signature"] != published.EXPECTED
    assert seen[-1][2] is True  # signed for what it carries: still valid


def assert_voice_fields(params: dict[str, str], pair: Pair, call_sid: str, *,
                        status: str = "in-progress", direction: str = "inbound") -> None:
    assert set(params) >= set(VOICE_FIELDS)
    assert params["CallSid"] == call_sid
    assert params["AccountSid"] == pair.emulator.account_sid
    assert params["CallStatus"] == status
    assert params["ApiVersion"] == "2010-04-01"
    assert params["Direction"] == direction


def test_every_request_of_a_voicemail_call(loop: Pair) -> None:
    transcript = loop.call(CallScript("2", recording=RecordingTake(duration=65, digits="#")))
    purposes = [r.purpose for r in transcript.requests]
    assert purposes == ["voice", "gather", "record", "recording-status", "status"]
    voice, gather, record, recording_status, status = transcript.requests
    sid = transcript.sid
    assert SID.match(sid)
    assert sid.startswith("CA")

    assert voice.url == loop.url + "/voice"
    assert_voice_fields(voice.params, loop, sid, status="ringing")
    assert (voice.params["From"], voice.params["To"]) == (CALLER, loop.number)
    for request in transcript.requests:  # the same call, the same caller, every time
        assert request.method == "POST"
        assert request.params["AccountSid"] == loop.emulator.account_sid
        assert request.params["CallSid"] == sid
        if request.purpose != "recording-status":  # which carries no caller fields
            assert (request.params["From"], request.params["To"]) == (CALLER, loop.number)

    assert gather.url == loop.url + "/voice/menu"
    assert_voice_fields(gather.params, loop, sid)
    assert gather.params["Digits"] == "2"

    assert record.url == loop.url + "/voice/voicemail/saved"
    assert_voice_fields(record.params, loop, sid)
    assert record.params["Digits"] == "#"
    assert record.params["RecordingDuration"] == "65"
    assert record.params["RecordingSid"].startswith("RE")
    assert record.params["RecordingUrl"].startswith(loop.emulator.url + "/2010-04-01/Accounts/")

    assert recording_status.url == loop.url + "/voice/recording-status"
    assert set(recording_status.params) >= set(RECORDING_STATUS_FIELDS)
    assert recording_status.params["RecordingSid"] == record.params["RecordingSid"]
    assert recording_status.params["RecordingStatus"] == "completed"
    assert recording_status.params["CallSid"] == sid
    parsedate_to_datetime(recording_status.params["RecordingStartTime"])

    assert status.url == loop.url + "/voice/status"
    assert_voice_fields(status.params, loop, sid, status="completed")
    assert status.params["CallbackSource"] == "call-progress-events"
    assert status.params["SequenceNumber"] == "0"
    seconds = int(status.params["CallDuration"])
    assert seconds >= 65
    assert status.params["Duration"] == str(math.ceil(seconds / 60))
    assert parsedate_to_datetime(status.params["Timestamp"]).utcoffset().total_seconds() == 0
    assert loop.store.get_call(sid)["duration"] == seconds
    assert_callbacks_stored_once(loop.store, transcript)  # what the server kept is what was sent


def test_the_dial_action(loop: Pair) -> None:
    transcript = loop.call(CallScript("3", dial={OPERATOR: "answered:42"}))
    [dial] = transcript.requests_for("dial")
    assert dial.url == loop.url + "/voice/dial-result"
    assert_voice_fields(dial.params, loop, transcript.sid)
    assert dial.params["DialCallStatus"] == "completed"
    assert dial.params["DialCallSid"].startswith("CA")
    assert dial.params["DialCallSid"] != transcript.sid
    assert dial.params["DialCallDuration"] == "42"
    assert transcript.said[-1] == "Thank you for calling Acme Plumbing. Goodbye."
    child = loop.client.calls.get(dial.params["DialCallSid"])
    assert (child["parent_call_sid"], child["to"], child["direction"]) == (
        transcript.sid, OPERATOR, "outbound-dial")


def test_the_order_of_outbound_call_callbacks(loop: Pair) -> None:
    loop.emulator.phone.outbound_scripts["+15556667777"] = CallScript("1,0")
    call = loop.client.calls.create(
        "+15556667777", loop.number, url=loop.url + "/voice",
        status_callback=loop.url + "/voice/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    assert loop.stack.wait_idle(20)
    transcript = loop.emulator.phone.transcript(call["sid"])
    sent = transcript.requests_for("status")
    assert [(r.params["CallStatus"], r.params["SequenceNumber"]) for r in sent] == [
        ("initiated", "0"), ("ringing", "1"), ("in-progress", "2"), ("completed", "3")]
    times = [parsedate_to_datetime(r.params["Timestamp"]) for r in sent]
    assert times == sorted(times)
    assert "CallDuration" not in sent[2].params
    assert "CallDuration" in sent[3].params
    [voice] = transcript.requests_for("voice")
    assert_voice_fields(voice.params, loop, call["sid"], direction="outbound-api")
    assert (voice.params["From"], voice.params["To"]) == (loop.number, "+15556667777")
    stored = loop.store.status_callbacks(call["sid"])
    assert [row["sequence_number"] for row in stored] == [0, 1, 2, 3]  # as they arrived
    assert [row["params"] for row in stored] == [r.params for r in sent]


def test_the_fields_of_a_conversation(loop: Pair) -> None:
    transcript = loop.sms("HELP")
    [webhook] = transcript.requests_for("sms")
    params = webhook.params
    assert set(params) >= set(SMS_FIELDS)
    assert params["MessageSid"] == params["SmsSid"] == params["SmsMessageSid"] == transcript.sid
    assert params["AccountSid"] == loop.emulator.account_sid
    assert (params["From"], params["To"], params["Body"]) == (CALLER, loop.number, "HELP")
    assert (params["NumMedia"], params["NumSegments"], params["ApiVersion"]) == (
        "0", "1", "2010-04-01")
    assert "Reply STOP to unsubscribe." in transcript.messages[0]["body"]

    message = loop.client.messages.create(
        CALLER, from_=loop.number, body="Your table is ready",
        status_callback=loop.url + "/sms/status")
    assert loop.stack.wait_idle(20)
    sent = loop.emulator.phone.transcript(message["sid"]).requests_for("message-status")
    assert [r.params["MessageStatus"] for r in sent] == ["sent", "delivered"]  # never queued
    for request in sent:
        assert set(request.params) >= set(MESSAGE_STATUS_FIELDS)
        assert request.params["SmsStatus"] == request.params["MessageStatus"]
        assert (request.params["From"], request.params["To"]) == (loop.number, CALLER)
        assert "ErrorCode" not in request.params
    stored = loop.store.status_callbacks(message["sid"])
    assert [row["params"] for row in stored] == [r.params for r in sent]


def test_get_webhooks(loop: Pair) -> None:
    """A number whose voice URL is requested with GET: fields in the query, the URL signed."""
    [number] = loop.client.incoming_phone_numbers.list(phone_number=loop.number)
    loop.client.incoming_phone_numbers.update(number["sid"], voice_method="GET")
    transcript = loop.call(CallScript("1,0"))
    voice = transcript.requests[0]
    assert voice.method == "GET"
    [exchange] = voice.exchanges
    assert exchange.url.startswith(loop.url + "/voice?")
    assert f"CallSid={transcript.sid}" in exchange.url
    assert voice.response.status_code == 200
    assert "Acme Plumbing is open weekdays 9 to 5." in transcript.said[2]
    assert transcript.status == "completed"


def test_the_fallback_url_gets_the_error(loop: Pair) -> None:
    """The voice URL answers 404: the emulator requests the fallback URL with ErrorCode and
    ErrorUrl, and the server's fallback route answers with its apology."""
    [number] = loop.client.incoming_phone_numbers.list(phone_number=loop.number)
    loop.client.incoming_phone_numbers.update(number["sid"], voice_url=loop.url + "/nowhere")
    transcript = loop.call(CallScript())
    voice, fallback = transcript.requests[:2]
    assert (voice.purpose, voice.response.status_code) == ("voice", 404)
    assert fallback.purpose == "fallback"
    assert fallback.url == loop.url + "/voice/fallback"
    assert fallback.params["ErrorCode"] == "11217"  # a 4xx/5xx answer
    assert fallback.params["ErrorUrl"] == loop.url + "/nowhere"
    assert transcript.said == [VOICE_APOLOGY]
    assert transcript.status == "completed"
    assert_callbacks_stored_once(loop.store, transcript)


def test_webhooks_signed_with_another_token_are_refused(pair: Pair) -> None:
    """A subaccount's number signs with the subaccount's token, which this server does not
    know: every webhook is refused (403), nothing is stored, and the caller hears Twilio's
    application error."""
    sub = pair.client.accounts.create(friendly_name="elsewhere")
    assert sub["auth_token"] != pair.emulator.auth_token
    number = pair.client.incoming_phone_numbers.create(
        area_code="415", account_sid=sub["sid"], voice_url=pair.url + "/voice",
        voice_fallback_url=pair.url + "/voice/fallback", status_callback=pair.url + "/voice/status")
    pair.number = number["phone_number"]
    transcript = pair.call(CallScript("1"))
    assert [(r.purpose, r.response.status_code) for r in transcript.requests] == [
        ("voice", 403), ("fallback", 403), ("status", 403)]
    assert transcript.requests[0].params["AccountSid"] == sub["sid"]
    assert "application error" in transcript.text
    assert pair.store.get_call(transcript.sid) is None
    assert pair.store.status_callbacks(transcript.sid) == []
