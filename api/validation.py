"""Checks on arguments, run before any request is sent, and on the resources Twilio answers.

Each argument checker takes the argument's name and value, returns the value to send, and
raises :class:`~api.errors.ValidationError` naming the argument when the value is wrong::

    to = e164("to", to)
    call_sid = sid("call_sid", call_sid, "CA")
    status = enum("status", status, {"canceled", "completed"})

:func:`resource` checks an answer before it is used (a call before it is stored, say), and
raises :class:`~api.errors.TwilioUnexpectedAnswer` when it is not what was asked for::

    call = resource("a call", client.calls.create(...), "CA")
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from switchboard.api.errors import TwilioUnexpectedAnswer, ValidationError
from switchboard.config.validation import is_e164, may_be_secret, redact_url

__all__ = [
    "HTTP_METHODS",
    "MAX_MEDIA_URLS",
    "country_code",
    "date",
    "e164",
    "enum",
    "http_method",
    "media_urls",
    "message_content",
    "positive_int",
    "resource",
    "show",
    "show_url",
    "sid",
    "url",
]

_SID = re.compile(r"([A-Z]{2})[0-9a-fA-F]{32}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")

#: The methods Twilio accepts for the URLs it calls back.
HTTP_METHODS = ("GET", "POST")

#: The most media a message takes (Twilio's error 21623 beyond).
MAX_MEDIA_URLS = 10


def show(value: object, limit: int = 60) -> str:
    """A short ``repr`` of a value for an error message; one with the shape of a credential
    (:func:`switchboard.config.validation.may_be_secret`: an auth token typed in the wrong
    place) is described by its length, never shown."""
    if isinstance(value, str) and may_be_secret(value):
        return f"the value ({len(value)} characters, not shown in case it is a secret)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def e164(name: str, value: object) -> str:
    """An E.164 phone number (:func:`switchboard.config.validation.is_e164`: ``+`` then 2 to
    15 digits, the first not zero), as given: spaces are not stripped."""
    if not is_e164(value):
        raise ValidationError(
            name,
            f"{show(value)} is not an E.164 number (like +14155550100: '+', country code, number)",
        )
    return value


def country_code(name: str, value: object) -> str:
    """An ISO 3166-1 alpha-2 country code: two letters (``us`` is sent as ``US``)."""
    if not isinstance(value, str) or not _COUNTRY_CODE.fullmatch(value):
        raise ValidationError(
            name, f"{show(value)} is not an ISO 3166-1 alpha-2 country code (two letters, like US)"
        )
    return value.upper()


def sid(name: str, value: object, *prefixes: str) -> str:
    """A Twilio SID: a two-letter prefix (one of ``prefixes`` when given) and 32 hex digits.

    A wrong value is shown only when it starts with such a prefix and does not look like a
    secret, as for ``TWILIO_ACCOUNT_SID``: the auth token is easily pasted where a SID goes,
    so otherwise only its length is told."""
    match = _SID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        what = " or ".join(prefixes) if prefixes else "a two-letter prefix"
        expected = f"{what} followed by 32 hex digits"
        if not isinstance(value, str):
            raise ValidationError(name, f"{show(value)} is not a SID ({expected})")
        prefixed = value.startswith(prefixes) if prefixes else value[:2].isalpha()
        if prefixed and not may_be_secret(value):
            raise ValidationError(name, f"{show(value)} is not a SID ({expected})")
        found = f"{len(value)} characters" + ("" if prefixed else f" not starting with {what}")
        raise ValidationError(
            name,
            f"the value is not a SID ({expected}): it has {found}, and is not shown in case "
            "it is a secret",
        )
    if prefixes and match.group(1) not in prefixes:
        raise ValidationError(
            name,
            f"{value!r} is a {match.group(1)} SID; expected one starting with "
            + " or ".join(prefixes),
        )
    return value


def enum(name: str, value: object, allowed: Collection[str]) -> str:
    """One of ``allowed``, compared case-sensitively as Twilio does."""
    if not isinstance(value, str) or value not in allowed:
        choices = (
            ", ".join(sorted(allowed))
            if not isinstance(allowed, list | tuple)
            else ", ".join(allowed)
        )
        raise ValidationError(name, f"{show(value)} is not one of: {choices}")
    return value


def url(name: str, value: object) -> str:
    """An absolute ``http`` or ``https`` URL with a host (and, if any, a numeric port)."""
    if isinstance(value, str) and not any(ch.isspace() for ch in value):
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if parts is not None and parts.scheme in ("http", "https") and parts.hostname:
            return value
    raise ValidationError(name, f"{show_url(value)} is not an absolute http(s) URL")


def show_url(value: object) -> str:
    """A URL for an error message (quoted, shortened), the password of any
    ``user:password@`` part shown as ``***``."""
    return show(redact_url(value) if isinstance(value, str) else value)


def http_method(name: str, value: object) -> str:
    """``GET`` or ``POST`` (any case given; sent upper-case)."""
    if isinstance(value, str) and value.upper() in HTTP_METHODS:
        return value.upper()
    raise ValidationError(
        name, f"{show(value)} is not an HTTP method Twilio calls back with (GET or POST)"
    )


def date(name: str, value: object) -> str:
    """A calendar date, as ``YYYY-MM-DD`` text or a :class:`datetime.date`; sent as text."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise ValidationError(name, f"{show(value)} is not a date (YYYY-MM-DD)")


def positive_int(name: str, value: object, *, maximum: int | None = None) -> int:
    """A whole number of at least 1 (and at most ``maximum``); digits as text are accepted."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(name, f"{show(value)} is not a whole number of at least 1")
    if maximum is not None and value > maximum:
        raise ValidationError(name, f"{show(value)} is more than {maximum}")
    return value


def media_urls(name: str, values: Sequence[object]) -> list[str]:
    """A message's media: absolute http(s) URLs (:func:`url`), at most
    :data:`MAX_MEDIA_URLS` of them."""
    if len(values) > MAX_MEDIA_URLS:
        raise ValidationError(
            name, f"{len(values)} given; Twilio takes at most {MAX_MEDIA_URLS} for a message"
        )
    return [url(name, value) for value in values]


def message_content(name: str, body: object, *, media: bool = False) -> None:
    """Refuse a message with nothing to send: Twilio answers an empty ``body`` with error
    21602, "Message body is required", unless ``media`` (media URLs or a content template)
    are sent. A body of spaces is not refused: Twilio (and the emulator) send it."""
    if body == "" and not media:
        raise ValidationError(
            name, "must not be empty when no media is sent (Twilio refuses it: error 21602)"
        )


_JSON_TYPES = {
    list: "a JSON array",
    str: "a JSON string",
    int: "a JSON number",
    float: "a JSON number",
    bool: "a JSON boolean",
    type(None): "empty (null or no body)",
}


def resource(what: str, answer: object, *prefixes: str) -> dict[str, Any]:
    """``answer`` (Twilio's decoded JSON) if it is ``what`` (``"a call"``): a JSON object and,
    when ``prefixes`` are given, one whose ``sid`` is a SID starting with one of them.

    Raises :class:`~api.errors.TwilioUnexpectedAnswer` saying what was wrong otherwise.
    """
    if not isinstance(answer, dict):
        shown = _JSON_TYPES.get(type(answer), type(answer).__name__)
        raise TwilioUnexpectedAnswer(what, f"it is {shown}, not an object")
    if prefixes:
        found = answer.get("sid")
        if found in (None, ""):
            raise TwilioUnexpectedAnswer(what, "it has no sid")
        try:
            sid("sid", found, *prefixes)
        except ValidationError as error:
            raise TwilioUnexpectedAnswer(what, f"its sid {error.problem}") from None
    return answer
