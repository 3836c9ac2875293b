"""The error policy: whatever goes wrong, Twilio gets an answer it can run, never a 500 page.

- Voice: a short apology, then ``<Hangup/>`` (or ``<Redirect>`` to a fallback flow when the route
  names one), as ``text/xml`` with status 200, so the caller hears a clean goodbye.
- SMS: an empty ``<Response/>``: no reply is sent.
- Status callbacks: ``503``, so that Twilio (where it retries) sends the callback again; a status
  endpoint answers ``204`` only when the callback was stored.

The same answers are given by the app-wide error handlers, for a stray exception, a 404 or a
405 on a Twilio route. Errors are logged with the CallSid or MessageSid, never with a secret.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from switchboard.callbacks.twiml import MessagingResponse, VoiceResponse

if TYPE_CHECKING:
    from switchboard.callbacks.metrics import WebhookMetrics
    from switchboard.config import Settings

log = logging.getLogger("switchboard.callbacks")

__all__ = [
    "VOICE_APOLOGY",
    "BadHandlerResult",
    "empty_messaging",
    "register_error_handlers",
    "safe_answer",
    "twiml_response",
    "voice_apology",
]

VOICE_APOLOGY = "We are sorry, an application error has occurred. Please try again later. Goodbye."

VOICE_KINDS = frozenset({"voice", "voice_fallback"})
SMS_KINDS = frozenset({"sms", "sms_fallback"})
STATUS_KINDS = frozenset({"call_status", "message_status", "recording_status"})

#: Where ``app.extensions`` keeps the app's metrics (:mod:`switchboard.callbacks.metrics`).
METRICS_EXTENSION = "switchboard.metrics"


def observer() -> WebhookMetrics | None:
    """The current app's metrics, None when they are off."""
    return current_app.extensions.get(METRICS_EXTENSION)


class BadHandlerResult(TypeError):
    """A handler returned something that is not TwiML of the right kind."""


def twiml_response(body: bytes, status: int = 200) -> Response:
    """A TwiML answer: ``text/xml`` in UTF-8."""
    return Response(body, status=status, content_type="text/xml; charset=utf-8")


#: The last resort, a constant: used only if building the apology itself fails.
LAST_RESORT_VOICE = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Say>' + VOICE_APOLOGY.encode()
    + b"</Say><Hangup/></Response>"
)
LAST_RESORT_SMS = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


def voice_apology(
    voice: str | None = None, language: str | None = None, redirect: str | None = None
) -> bytes:
    """The apology a caller hears when a handler fails, then a hang-up (or a redirect)."""
    try:
        return _voice_apology(voice, language, redirect)
    except Exception:
        log.exception("could not build the apology; answering the constant one")
        return LAST_RESORT_VOICE


@functools.lru_cache(maxsize=64)
def _voice_apology(voice: str | None, language: str | None, redirect: str | None) -> bytes:
    response = VoiceResponse()
    attributes = {"voice": voice, "language": language}
    response.say(VOICE_APOLOGY, **{k: v for k, v in attributes.items() if v})
    if redirect:
        response.redirect(redirect, method="POST")
    else:
        response.hangup()
    return response.to_bytes()


def empty_messaging() -> bytes:
    """``<Response/>``: the SMS answer that sends no reply."""
    try:
        return _empty_messaging()
    except Exception:
        log.exception("could not build an empty response; answering the constant one")
        return LAST_RESORT_SMS


@functools.lru_cache(maxsize=1)
def _empty_messaging() -> bytes:
    return MessagingResponse().to_bytes()


def safe_answer(
    kind: str, settings: Settings | None = None, redirect: str | None = None
) -> Response:
    """The answer the error policy gives for a route of ``kind``."""
    if kind in STATUS_KINDS:
        return Response(status=503, headers={"Retry-After": "1"})
    if kind in SMS_KINDS:
        return twiml_response(empty_messaging())
    voice = settings.voice if settings is not None else None
    language = settings.language if settings is not None else None
    return twiml_response(voice_apology(voice, language, redirect))


def _route_kind() -> str | None:
    """The Twilio kind of the route the current request was for, guessed from its path if none."""
    view = current_app.view_functions.get(request.endpoint or "")
    kind = getattr(view, "twilio_kind", None)
    if kind is not None:
        return kind
    path = request.path.rstrip("/")
    first = path.lstrip("/").split("/", 1)[0]
    if first not in ("voice", "sms"):
        return None
    if path.endswith("status"):
        return "call_status" if first == "voice" else "message_status"
    return first


def _settings() -> Settings | None:
    extension = current_app.extensions.get("switchboard")
    return extension.settings if extension is not None else None


def _handle_http_error(error: HTTPException) -> Response | HTTPException:
    kind = _route_kind()
    if kind is None or kind in STATUS_KINDS or request.method not in ("GET", "POST"):
        return error
    log.warning("%s %s answered with safe TwiML: %s", request.method, request.path, error.name)
    if (metrics := observer()) is not None:
        metrics.safe_answer(kind, f"http_{error.code}")
    return safe_answer(kind, _settings())


def _handle_exception(error: Exception) -> Response:
    kind = _route_kind()
    try:
        sid = request.values.get("CallSid") or request.values.get("MessageSid") or "-"
    except Exception:  # an unreadable body is what failed
        sid = "-"
    log.error(
        "%s %s failed (sid %s): %s", request.method, request.path, sid, type(error).__name__,
        exc_info=error,
    )
    if kind is None:
        return Response("Internal Server Error\n", status=500, mimetype="text/plain")
    if (metrics := observer()) is not None:
        metrics.safe_answer(kind, "exception")
    return safe_answer(kind, _settings())


def register_error_handlers(app: Flask) -> None:
    """Make 4xx errors and stray exceptions on Twilio routes answer with the safe TwiML."""
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(Exception, _handle_exception)
