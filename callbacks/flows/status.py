"""The bundled status and fallback routes.

``/voice/status`` and ``/sms/status`` store every call and message status callback (the route
does it before the handler runs; a late one never moves a call back to an earlier status). A
repeat is stored once: Twilio's retry of a request (the same call or message with the same
``I-Twilio-Idempotency-Token``) or the same status and sequence number again. A token seen
before with another call or message makes no repeat: the signature does not cover the header.

``/voice/fallback`` and ``/sms/fallback`` are the URLs to set as a number's VoiceFallbackUrl
and SmsFallbackUrl: the route logs Twilio's ErrorCode and ErrorUrl, and the caller hears the
short apology (a text gets no reply).
"""

from __future__ import annotations

from switchboard.callbacks.app import get_store
from switchboard.callbacks.errors import VOICE_APOLOGY
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.studio.executions import end_call_executions
from switchboard.callbacks.twilio_request import CallRequest, MessageRequest, StatusCallback
from switchboard.callbacks.twiml import VoiceResponse

bp = TwilioBlueprint("status", __name__)


@bp.call_status("/voice/status")
def call_status(status: StatusCallback) -> None:
    """Stored by the route; a call that ends ends its Studio flow execution too."""
    if status.sid:
        end_call_executions(get_store(), status.sid, status.status)


@bp.message_status("/sms/status")
def message_status(status: StatusCallback) -> None:
    """Stored by the route; nothing else to do."""


@bp.fallback("/voice/fallback", kind="voice")
def voice_fallback(call: CallRequest) -> VoiceResponse:
    response = VoiceResponse()
    response.say(VOICE_APOLOGY, voice=call.settings.voice, language=call.settings.language)
    response.hangup()
    return response


@bp.fallback("/sms/fallback", kind="sms")
def sms_fallback(message: MessageRequest) -> None:
    """No reply: the error is logged by the route."""
