"""Handlers that fail on purpose, for the error-policy tests (Flask client and gunicorn)."""

from __future__ import annotations

import threading
from typing import Any

from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.twilio_request import CallRequest, MessageRequest, StatusCallback
from switchboard.callbacks.twiml import MessagingResponse, VoiceResponse


def broken_blueprint(
    hang_for: float = 10, release: threading.Event | None = None
) -> TwilioBlueprint:
    """Handlers that raise, hang (until ``release`` is set or ``hang_for`` passes), or return
    garbage, under ``/broken``.

    Each blueprint hangs on its own ``release`` (a new event unless one is given), so that a
    test setting it lets go of its own app's handlers and of no other test's.
    """
    if release is None:
        release = threading.Event()
    bp = TwilioBlueprint("broken", __name__, url_prefix="/broken")

    @bp.voice("/raise")
    def voice_raises(call: CallRequest) -> VoiceResponse:
        raise RuntimeError("boom")

    @bp.voice("/hang")
    def voice_hangs(call: CallRequest) -> VoiceResponse:
        release.wait(hang_for)
        return VoiceResponse().say("too late")

    @bp.voice("/session-then-hang")
    def session_then_hang(call: CallRequest) -> VoiceResponse:
        call.session["late"] = True
        release.wait(hang_for)
        return VoiceResponse().say("too late")

    @bp.voice("/garbage")
    def voice_garbage(call: CallRequest) -> Any:
        return {"not": "twiml"}

    @bp.voice("/bad-xml")
    def voice_bad_xml(call: CallRequest) -> str:
        return "<Response><Dance/></Response>"

    @bp.voice("/raw-xml")
    def voice_raw_xml(call: CallRequest) -> str:
        return '<?xml version="1.0"?><Response><Say>raw</Say></Response>'

    @bp.voice("/utf16-declared")
    def voice_utf16_declared(call: CallRequest) -> str:
        return '<?xml version="1.0" encoding="UTF-16"?><Response><Say>Zoë</Say></Response>'

    @bp.voice("/too-long")
    def voice_too_long(call: CallRequest) -> str:
        return "<Response>" + "<Say>a long story</Say>" * 4000 + "</Response>"

    @bp.sms("/sms-too-long")
    def sms_too_long(message: MessageRequest) -> str:
        return "<Response>" + "<Message>spam</Message>" * 4000 + "</Response>"

    @bp.voice("/messaging")
    def voice_returns_messaging(call: CallRequest) -> MessagingResponse:
        return MessagingResponse()

    @bp.voice("/messaging-xml")
    def voice_returns_messaging_xml(call: CallRequest) -> str:
        return "<Response><Message>not for a call</Message></Response>"

    @bp.voice("/redirect-on-error", error_redirect="/voice")
    def voice_redirects(call: CallRequest) -> VoiceResponse:
        raise KeyError("x")

    @bp.voice("/session-then-raise")
    def session_then_raise(call: CallRequest) -> VoiceResponse:
        call.session["touched"] = True
        raise ValueError("after the session changed")

    @bp.sms("/sms-raise")
    def sms_raises(message: MessageRequest) -> MessagingResponse:
        raise RuntimeError("boom")

    @bp.sms("/sms-hang")
    def sms_hangs(message: MessageRequest) -> MessagingResponse:
        release.wait(hang_for)
        return MessagingResponse()

    @bp.sms("/sms-garbage")
    def sms_garbage(message: MessageRequest) -> Any:
        return 42

    @bp.call_status("/status-raise")
    def status_raises(status: StatusCallback) -> None:
        raise RuntimeError("boom")

    @bp.call_status("/status-hang")
    def status_hangs(status: StatusCallback) -> None:
        release.wait(hang_for)

    @bp.fallback("/fallback-raise", kind="voice")
    def fallback_raises(call: CallRequest) -> VoiceResponse:
        raise RuntimeError("boom")

    return bp
