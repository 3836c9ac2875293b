"""Every endpoint, signed and unsigned, by GET and by POST.

Routing and signatures do not depend on the database, so most of these share one SQLite app;
``test_every_endpoint_on_each_database`` runs the round on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from switchboard.callbacks.security import signed_headers
from tests.server.conftest import Twilio, call_params, message_params, sid, twiml

VOICE_ROUTES = [
    "/voice",
    "/voice/menu",
    "/voice/voicemail",
    "/voice/voicemail/saved",
    "/voice/dial-result",
    "/voice/fallback",
]
SMS_ROUTES = ["/sms", "/sms/fallback"]


def _status_params(path: str) -> dict[str, str]:
    if path == "/voice/status":
        return call_params(CallStatus="completed", SequenceNumber="0", CallDuration="3")
    if path == "/sms/status":
        return {"MessageSid": sid("SM"), "MessageStatus": "delivered", "From": "+1", "To": "+2"}
    return {
        "CallSid": sid("CA"),
        "RecordingSid": sid("RE"),
        "RecordingUrl": "https://api.twilio.com/rec",
        "RecordingStatus": "completed",
        "RecordingDuration": "7",
    }


STATUS_ROUTES = ["/voice/status", "/sms/status", "/voice/recording-status"]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", VOICE_ROUTES)
def test_voice_routes_answer_twiml(shared_twilio: Twilio, path: str, method: str) -> None:
    response = shared_twilio.request(path, call_params(), method=method)
    root = twiml(response)
    assert len(root), "a voice answer says something"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", SMS_ROUTES)
def test_sms_routes_answer_twiml(shared_twilio: Twilio, path: str, method: str) -> None:
    twiml(shared_twilio.request(path, message_params("HELP"), method=method))


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", STATUS_ROUTES)
def test_status_routes_answer_204(shared_twilio: Twilio, path: str, method: str) -> None:
    response = shared_twilio.request(path, _status_params(path), method=method)
    assert response.status_code == 204
    assert response.data == b""


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", VOICE_ROUTES + SMS_ROUTES + STATUS_ROUTES)
def test_unsigned_requests_are_refused_without_detail(
    shared_twilio: Twilio, path: str, method: str
) -> None:
    response = shared_twilio.request(path, call_params(), method=method, signed=False)
    assert response.status_code == 403
    assert response.data == b""


@pytest.mark.parametrize("path", ["/voice", "/sms", "/voice/status"])
def test_a_wrong_signature_is_refused(shared_twilio: Twilio, path: str) -> None:
    params = call_params()
    forged = Twilio(shared_twilio.client, token="not-the-token")
    assert forged.post(path, params).status_code == 403
    headers = signed_headers(shared_twilio.token, "http://localhost" + path, params)
    tampered = dict(params, From="+19005550000")
    assert shared_twilio.post(path, tampered, signed=False, headers=headers).status_code == 403
    assert shared_twilio.post(path, params, signed=False, headers=headers).status_code != 403


def test_unknown_parameters_are_accepted(shared_twilio: Twilio) -> None:
    params = call_params(SomethingTwilioAddedToday="yes", **{"Weird Name[]": "x"})
    twiml(shared_twilio.post("/voice", params))


def test_put_is_not_a_twilio_method(shared_twilio: Twilio) -> None:
    assert shared_twilio.client.put("/voice").status_code == 405


@pytest.mark.parametrize("path", ["/voice//menu", "/sms//", "//voice", "/voice/status//"])
def test_doubled_slashes_are_not_redirected(shared_twilio: Twilio, path: str) -> None:
    """werkzeug would answer 308 to the merged path, before any signature check, at the host
    the request named; no route has such a path: safe TwiML under /voice and /sms, else 404."""
    response = shared_twilio.client.post(path, headers={"Host": "evil.example"})
    assert "Location" not in response.headers
    if path.startswith(("/voice/status", "//")):
        assert response.status_code == 404
    else:
        twiml(response)


def test_every_endpoint_on_each_database(twilio: Twilio) -> None:
    for path in VOICE_ROUTES:
        assert len(twiml(twilio.post(path, call_params())))
        assert twilio.post(path, call_params(), signed=False).status_code == 403
    for path in SMS_ROUTES:
        twiml(twilio.get(path, message_params("HELP")))
    for path in STATUS_ROUTES:
        assert twilio.post(path, _status_params(path)).status_code == 204
        assert twilio.get(path, _status_params(path)).status_code == 204
    response = twilio.client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
