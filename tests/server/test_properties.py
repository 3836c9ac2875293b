"""Property tests: arbitrary fields and bodies, signed, never a 5xx, always well-formed TwiML."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks.security import signed_headers, url_with_body_sha256
from tests.server.conftest import TOKEN, Twilio, call_params, message_params, sid, twiml

# Form fields survive the trip as UTF-8: anything but lone surrogates.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
NAMES = st.one_of(
    st.sampled_from(["Digits", "Body", "CallSid", "From", "To", "NumMedia", "MediaUrl0",
                     "Confidence", "DialCallStatus", "SpeechResult", "MessageSid", "ErrorCode",
                     "SequenceNumber", "RecordingDuration", "CallStatus"]),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20),
).filter(lambda name: name != "bodySHA256")  # that one means "JSON body, check its hash"
FIELDS = st.dictionaries(NAMES, TEXT, max_size=12)
VOICE = ["/voice", "/voice/menu", "/voice/voicemail", "/voice/voicemail/saved",
         "/voice/dial-result", "/voice/fallback"]
SMS = ["/sms", "/sms/fallback"]
def header_safe(value: str | None) -> bool:
    return bool(value) and value.isascii() and value.isprintable()  # type: ignore[union-attr]


CHECKS = settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


@CHECKS
@given(path=st.sampled_from(VOICE + SMS), fields=FIELDS, use_get=st.booleans(),
       base=st.booleans())
def test_arbitrary_signed_fields_get_well_formed_twiml(
    shared_app: Flask, path: str, fields: dict[str, str], use_get: bool, base: bool
) -> None:
    params = (call_params() if path.startswith("/voice") else message_params()) if base else {}
    params.update(fields)
    twilio = Twilio(shared_app.test_client())
    response = twilio.request(path, params, method="GET" if use_get else "POST")
    twiml(response)


@CHECKS
@given(path=st.sampled_from(["/voice/status", "/sms/status", "/voice/recording-status"]),
       fields=FIELDS, token=st.none() | TEXT)
def test_status_callbacks_with_arbitrary_extras_are_stored(
    shared_app: Flask, path: str, fields: dict[str, str], token: str | None
) -> None:
    params = dict(fields)
    if path == "/voice/status":
        params.update(CallSid=sid("CA"), CallStatus="completed")
    elif path == "/sms/status":
        params.update(MessageSid=sid("SM"), MessageStatus="delivered")
        params.pop("SmsSid", None)
    else:
        params.update(RecordingSid=sid("RE"), RecordingStatus="completed")
    headers = {"I-Twilio-Idempotency-Token": token} if header_safe(token) else None
    response = Twilio(shared_app.test_client()).post(path, params, headers=headers)
    assert response.status_code == 204, response.data


@CHECKS
@given(path=st.sampled_from(VOICE + SMS), body=st.binary(max_size=300),
       content_type=st.sampled_from(["application/octet-stream", "application/json",
                                     "text/plain", "application/xml"]))
def test_arbitrary_raw_bodies_signed_on_the_url(
    shared_app: Flask, path: str, body: bytes, content_type: str
) -> None:
    """Signed on the URL alone, a body is covered by nothing: refused unless empty. Signed
    with ``bodySHA256``, any body is answered with TwiML."""
    query = urlencode(call_params() if path.startswith("/voice") else message_params())
    url = f"http://localhost{path}?{query}"
    client = shared_app.test_client()
    response = client.post(
        url, data=body, content_type=content_type, headers=signed_headers(TOKEN, url)
    )
    if body:
        assert response.status_code == 403
    else:
        twiml(response)
    url = url_with_body_sha256(url, body)
    response = client.post(
        url, data=body, content_type=content_type, headers=signed_headers(TOKEN, url)
    )
    twiml(response)


@CHECKS
@given(path=st.sampled_from(VOICE + SMS + ["/voice/status", "/sms/status", "/nowhere"]),
       body=st.binary(max_size=300), signature=st.none() | TEXT,
       content_type=st.sampled_from(["application/x-www-form-urlencoded",
                                     "multipart/form-data", "application/json"]))
def test_arbitrary_unsigned_garbage_never_gets_a_5xx(
    shared_app: Flask, path: str, body: bytes, signature: str | None, content_type: str
) -> None:
    headers = {"X-Twilio-Signature": signature} if header_safe(signature) else {}
    response = shared_app.test_client().post(
        path, data=body, content_type=content_type, headers=headers
    )
    assert response.status_code < 500
