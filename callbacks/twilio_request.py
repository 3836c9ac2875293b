"""Typed views of the requests Twilio sends: a call, a message, a status callback.

A view wraps the request's parameters (``.params``: every field Twilio sent, the ones this
module does not know about included, since Twilio adds parameters without notice) and gives
the common ones as attributes in snake_case (``from_`` for ``From``). Missing fields read as
``None``; numbers that do not parse read as ``None`` too, never as an exception.

``.session`` is the conversation's state, a plain dict loaded from the store the first time it
is read and saved after the handler when it changed: a call's session is keyed by its CallSid,
a text conversation's by the (From, To) pair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from switchboard.callbacks.store.params import key_text

if TYPE_CHECKING:
    from switchboard.config import Settings

__all__ = ["CallRequest", "Media", "MessageRequest", "StatusCallback", "TwilioRequest"]


def _to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number else None  # NaN is not a confidence


class Field:
    """A request parameter read as an attribute: ``call_sid = Field("CallSid")``."""

    def __init__(self, *names: str, convert: Callable[[str | None], Any] | None = None) -> None:
        self.names = names
        self.convert = convert

    def __set_name__(self, owner: type, name: str) -> None:
        self.__doc__ = f"The ``{'`` or ``'.join(self.names)}`` parameter."

    def __get__(self, obj: TwilioRequest | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        params = obj.params
        value = None
        for name in self.names:
            value = params.get(name)
            if value is not None:
                break
        return self.convert(value) if self.convert is not None else value


class TwilioRequest:
    """What every view shares: the parameters, the settings and the session."""

    __slots__ = ("_session", "_session_loader", "_snapshot", "headers", "params", "settings")

    #: ``voice``, ``sms``, ``call_status``, ``message_status`` or ``recording_status``.
    kind = ""

    def __init__(
        self,
        params: Mapping[str, str],
        settings: Settings | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        session_loader: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.params = params
        self.settings = settings
        self.headers = headers if headers is not None else {}
        self._session_loader = session_loader
        self._session: dict[str, Any] | None = None
        self._snapshot: str | None = None

    account_sid = Field("AccountSid")
    from_ = Field("From")
    to = Field("To")
    api_version = Field("ApiVersion")
    #: Sent to the fallback URLs: the error that made Twilio fall back, and the URL that failed.
    error_code = Field("ErrorCode")
    error_url = Field("ErrorUrl")

    @property
    def session(self) -> dict[str, Any]:
        """The conversation's state, loaded on first use and saved after the handler."""
        if self._session is None:
            loaded = self._session_loader() if self._session_loader is not None else {}
            self._session = dict(loaded)
            self._snapshot = _dump(self._session)
        return self._session

    @session.setter
    def session(self, value: dict[str, Any]) -> None:
        self.session  # noqa: B018  (load first, so that a replacement counts as a change)
        self._session = dict(value)

    @property
    def session_changed(self) -> bool:
        """True when the handler read the session and left it different from what was loaded."""
        return self._session is not None and _dump(self._session) != self._snapshot

    def get(self, name: str, default: str | None = None) -> str | None:
        """Any parameter by Twilio's name, ``request.get("FromCity")``."""
        return self.params.get(name, default)

    @property
    def idempotency_token(self) -> str | None:
        """The ``I-Twilio-Idempotency-Token`` header: the same on Twilio's retries of this
        request as on its first attempt. Not covered by the signature: it tells a retry
        apart only together with what the request is about (its call, message or sender)."""
        return self.headers.get("I-Twilio-Idempotency-Token") or None

    @property
    def retry_key(self) -> str | None:
        """What tells Twilio's retry of this request from every other request: the
        :attr:`idempotency_token` with the SID of the request's call or message, which the
        signature covers (the header is not: a token alone could be replayed on another
        call); None when either is missing. An overlong one is its SHA-256, as every indexed
        key the store keeps (a PostgreSQL index refuses an entry of more than 2,704 bytes)."""
        token, sid = self.idempotency_token, getattr(self, "sid", None)
        return key_text(f"{token}:{sid}") if token and sid else None

    def __repr__(self) -> str:
        sid = getattr(self, "sid", None) or ""
        return f"<{type(self).__name__} {sid}>"


def _dump(session: dict[str, Any]) -> str:
    return json.dumps(session, sort_keys=True, default=str)


class CallRequest(TwilioRequest):
    """A voice webhook: the incoming call, or a Gather / Record / Dial action."""

    __slots__ = ()
    kind = "voice"

    call_sid = Field("CallSid")
    call_status = Field("CallStatus")
    direction = Field("Direction")
    forwarded_from = Field("ForwardedFrom")
    caller_name = Field("CallerName")
    parent_call_sid = Field("ParentCallSid")
    call_token = Field("CallToken")
    from_city = Field("FromCity")
    from_state = Field("FromState")
    from_zip = Field("FromZip")
    from_country = Field("FromCountry")
    to_city = Field("ToCity")
    to_state = Field("ToState")
    to_zip = Field("ToZip")
    to_country = Field("ToCountry")
    # <Gather> results
    digits = Field("Digits")
    speech_result = Field("SpeechResult")
    confidence = Field("Confidence", convert=_to_float)
    # <Record> results
    recording_sid = Field("RecordingSid")
    recording_url = Field("RecordingUrl")
    recording_duration = Field("RecordingDuration", convert=_to_int)
    # <Dial> results
    dial_call_status = Field("DialCallStatus")
    dial_call_sid = Field("DialCallSid")
    dial_call_duration = Field("DialCallDuration", convert=_to_int)

    @property
    def sid(self) -> str | None:
        return self.call_sid


class Media(NamedTuple):
    """One attachment of an MMS: ``MediaUrlN`` and ``MediaContentTypeN``."""

    url: str
    content_type: str | None


_MEDIA_URL = re.compile(r"MediaUrl(\d{1,3})\Z")


class MessageRequest(TwilioRequest):
    """An incoming SMS, MMS or WhatsApp message."""

    __slots__ = ()
    kind = "sms"

    message_sid = Field("MessageSid", "SmsMessageSid", "SmsSid")
    messaging_service_sid = Field("MessagingServiceSid")
    body = Field("Body")
    num_media = Field("NumMedia", convert=lambda v: _to_int(v) or 0)
    num_segments = Field("NumSegments", convert=_to_int)
    profile_name = Field("ProfileName")
    wa_id = Field("WaId")
    from_city = Field("FromCity")
    from_state = Field("FromState")
    from_zip = Field("FromZip")
    from_country = Field("FromCountry")

    @property
    def sid(self) -> str | None:
        return self.message_sid

    @property
    def media(self) -> list[Media]:
        """The attachments in Twilio's order (``MediaUrl0``, ``MediaUrl1``, ...)."""
        found = []
        for name in self.params:
            match = _MEDIA_URL.match(name)
            if match:
                index = int(match.group(1))
                url = self.params.get(name) or ""
                found.append((index, Media(url, self.params.get(f"MediaContentType{index}"))))
        return [media for _, media in sorted(found)]


class StatusCallback(TwilioRequest):
    """A status callback for a call, a message or a recording.

    ``duplicate`` is True when the store had already seen this callback (a retry of this call
    or message with the same ``I-Twilio-Idempotency-Token``, or the same SID, status and
    sequence number).
    """

    __slots__ = ("duplicate", "kind")

    def __init__(self, *args: Any, kind: str = "call_status", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.duplicate = False

    call_sid = Field("CallSid")
    message_sid = Field("MessageSid", "SmsSid")
    call_status = Field("CallStatus")
    message_status = Field("MessageStatus", "SmsStatus")
    call_duration = Field("CallDuration", convert=_to_int)
    sequence_number = Field("SequenceNumber", convert=_to_int)
    timestamp = Field("Timestamp")
    callback_source = Field("CallbackSource")
    sip_response_code = Field("SipResponseCode", convert=_to_int)
    recording_sid = Field("RecordingSid")
    recording_url = Field("RecordingUrl")
    recording_status = Field("RecordingStatus")
    recording_duration = Field("RecordingDuration", convert=_to_int)

    @property
    def sid(self) -> str | None:
        """The SID the callback is about: the recording's, the message's or the call's."""
        if self.kind == "recording_status":
            return self.recording_sid
        if self.kind == "message_status":
            return self.message_sid
        return self.call_sid

    @property
    def status(self) -> str | None:
        if self.kind == "recording_status":
            return self.recording_status
        if self.kind == "message_status":
            return self.message_status
        return self.call_status
