"""Turn Twilio's request parameters and REST JSON into table rows.

Webhooks carry CamelCase form fields (``CallSid``, ``From``); REST resources carry snake_case
JSON keys (``sid``, ``from``). Every column has a value in every row built here (``None`` when
the request did not say), so the upserts compile to the same statement each time. Whatever is
not a column goes to ``extra``. Nothing is rejected for being unexpected: Twilio adds fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from switchboard.callbacks.store.statuses import status_rank

MAX_KEY_LENGTH = 128
"""Longer SIDs, statuses and tokens are stored as their SHA-256 (indexes stay small)."""

_MEDIA_URL = re.compile(r"MediaUrl(\d+)\Z")
_INT = re.compile(r"-?\d{1,9}\Z")


def clean_text(value: object) -> str | None:
    """A string the database accepts: no NUL, no lone surrogate; empty or None -> None."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if not text:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def key_text(value: object) -> str | None:
    """Like :func:`clean_text`, for indexed columns: overlong values become a digest."""
    text = clean_text(value)
    if text is not None and len(text) > MAX_KEY_LENGTH:
        text = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return text


def to_int(value: object) -> int | None:
    """An integer column value from ``"12"`` or ``12``; anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**31) < value < 2**31 else None
    text = clean_text(value)
    if text is None or not _INT.match(text.strip()):
        return None
    return int(text.strip())


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def dumps(value: object) -> str:
    """Compact JSON with every non-ASCII character escaped (safe in both databases).

    ``json.dumps(value, separators=(",", ":"), default=str)`` with the encoder made once
    (``json.dumps`` given any option makes a new one on every call: some 15 % of the time of
    encoding a webhook's fields).
    """
    return _ENCODER.encode(value)


def plain(params: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of the request's fields (first value of a repeated field)."""
    return {str(key): value for key, value in params.items()}


def _first(params: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = params.get(name)
        if value not in (None, ""):
            return value
    return None


def _texts(
    params: Mapping[str, Any], fields: tuple[tuple[str, tuple[str, ...]], ...]
) -> dict[str, Any]:
    """``{column: clean_text(first value of its names)}``, in one pass (this runs for every
    webhook; most values are short ASCII strings, taken as they are)."""
    get = params.get
    row: dict[str, Any] = {}
    for column, names in fields:
        value = None
        for name in names:
            value = get(name)
            if value is not None and value != "":
                break
        else:
            row[column] = None
            continue
        if value.__class__ is not str or not value.isascii() or "\x00" in value:
            value = clean_text(value)
        row[column] = value
    return row


def _extra(params: Mapping[str, Any], used: Iterable[str]) -> str | None:
    rest = {key: value for key, value in params.items() if key not in used}
    return dumps(rest) if rest else None


# -- calls -------------------------------------------------------------------------------------

_CALL_FIELDS = {
    "sid": ("CallSid", "sid"),
    "account_sid": ("AccountSid", "account_sid"),
    "from": ("From", "from"),
    "to": ("To", "to"),
    "direction": ("Direction", "direction"),
    "status": ("CallStatus", "status"),
    "forwarded_from": ("ForwardedFrom", "forwarded_from"),
    "caller_name": ("CallerName", "caller_name"),
    "parent_call_sid": ("ParentCallSid", "parent_call_sid"),
}
_CALL_TEXTS = tuple(_CALL_FIELDS.items())
_CALL_DURATION = ("CallDuration", "duration")
_CALLBACK_ONLY = ("SequenceNumber", "Timestamp", "CallbackSource")  # kept in status_callbacks
_CALL_USED = frozenset(
    name for names in (*_CALL_FIELDS.values(), _CALL_DURATION, _CALLBACK_ONLY) for name in names
)


def call_sid(params: Mapping[str, Any]) -> Any:
    """The call's SID as the fields give it (None if they give none)."""
    return _first(params, *_CALL_FIELDS["sid"])


def call_row(params: Mapping[str, Any]) -> dict[str, Any]:
    """A ``calls`` row (without timestamps) from voice webhook fields or a REST call resource."""
    row = _texts(params, _CALL_TEXTS)
    row["sid"] = key_text(row["sid"])
    if row["sid"] is None:
        raise ValueError("the call has no CallSid")
    row["status"] = key_text(row["status"])
    row["status_rank"] = status_rank("call", row["status"])
    row["duration"] = to_int(_first(params, *_CALL_DURATION))
    row["extra"] = _extra(params, _CALL_USED)
    return row


# -- messages ----------------------------------------------------------------------------------

_MESSAGE_FIELDS = {
    "sid": ("MessageSid", "SmsSid", "SmsMessageSid", "sid"),
    "account_sid": ("AccountSid", "account_sid"),
    "messaging_service_sid": ("MessagingServiceSid", "messaging_service_sid"),
    "from": ("From", "from"),
    "to": ("To", "to"),
    "body": ("Body", "body"),
    "direction": ("Direction", "direction"),
    "status": ("MessageStatus", "SmsStatus", "status"),
    "error_code": ("ErrorCode", "error_code"),
}
_MESSAGE_TEXTS = tuple(_MESSAGE_FIELDS.items())
_MESSAGE_INTS = {
    "num_media": ("NumMedia", "num_media"),
    "num_segments": ("NumSegments", "num_segments"),
}
_MESSAGE_USED = frozenset(
    name for names in (*_MESSAGE_FIELDS.values(), *_MESSAGE_INTS.values()) for name in names
)


def _media(params: Mapping[str, Any]) -> tuple[list[dict[str, str | None]], set[str]]:
    indexed = sorted(
        (int(match.group(1)), key)
        for key in params
        if (match := _MEDIA_URL.match(key)) and len(match.group(1)) < 4
    )
    media, used = [], set()
    for index, key in indexed:
        kind_key = f"MediaContentType{index}"
        media.append(
            {"url": clean_text(params[key]), "content_type": clean_text(params.get(kind_key))}
        )
        used.update((key, kind_key))
    return media, used


def message_sid(params: Mapping[str, Any]) -> Any:
    """The message's SID as the fields give it (None if they give none)."""
    return _first(params, *_MESSAGE_FIELDS["sid"])


def message_row(params: Mapping[str, Any]) -> dict[str, Any]:
    """A ``messages`` row (without timestamps) from SMS webhook fields or a REST message."""
    row = _texts(params, _MESSAGE_TEXTS)
    row["sid"] = key_text(row["sid"])
    if row["sid"] is None:
        raise ValueError("the message has no MessageSid")
    row["status"] = key_text(row["status"])
    row["status_rank"] = status_rank("message", row["status"])
    for column, names in _MESSAGE_INTS.items():
        row[column] = to_int(_first(params, *names))
    media, media_keys = _media(params)
    row["media"] = dumps(media) if media else None
    row["extra"] = _extra(params, _MESSAGE_USED | media_keys)
    return row


# -- recordings --------------------------------------------------------------------------------

_RECORDING_FIELDS = {
    "sid": ("RecordingSid", "sid"),
    "account_sid": ("AccountSid", "account_sid"),
    "call_sid": ("CallSid", "call_sid"),
    "url": ("RecordingUrl", "media_url", "uri"),
    "source": ("RecordingSource", "source"),
    "status": ("RecordingStatus", "status"),
    "error_code": ("ErrorCode", "error_code"),
}
_RECORDING_TEXTS = tuple(_RECORDING_FIELDS.items())
_RECORDING_INTS = {
    "duration": ("RecordingDuration", "duration"),
    "channels": ("RecordingChannels", "channels"),
}
_RECORDING_USED = frozenset(
    name for names in (*_RECORDING_FIELDS.values(), *_RECORDING_INTS.values()) for name in names
)


def recording_row(params: Mapping[str, Any]) -> dict[str, Any]:
    """A ``recordings`` row (without timestamps) from Record action or recording callback fields."""
    row = _texts(params, _RECORDING_TEXTS)
    row["sid"] = key_text(row["sid"])
    if row["sid"] is None:
        raise ValueError("the recording has no RecordingSid")
    row["status"] = key_text(row["status"])
    row["status_rank"] = status_rank("recording", row["status"])
    for column, names in _RECORDING_INTS.items():
        row[column] = to_int(_first(params, *names))
    row["extra"] = _extra(params, _RECORDING_USED)
    return row


def sequence_number(params: Mapping[str, Any]) -> int | None:
    """``SequenceNumber`` of a call status callback, None when absent or not a number."""
    number = to_int(params.get("SequenceNumber"))
    return number if number is not None and number >= 0 else None
