"""Reading and checking request parameters the way Twilio does, and its error answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import MultiDict

E164 = re.compile(r"\+[1-9][0-9]{1,14}\Z")  # ASCII digits: \d takes any script's
METHODS = ("GET", "POST")
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
MAX_DIGITS = 18  # larger numbers are out of any range a parameter allows

# -- size limits (characters) ------------------------------------------------------------------
# Twilio's documented values, and the error code Twilio answers a longer value with.

#: FriendlyName of accounts, numbers, applications and caller IDs: "It can be up to 64
#: characters long" (the OpenAPI description); Twilio's error 20002, Invalid FriendlyName.
FRIENDLY_NAME_LIMIT = 64
FRIENDLY_NAME_ERROR = 20002
#: A message's Body: "Can be up to 1,600 characters in length"; error 21617.
BODY_LIMIT = 1600
#: Media of one message: at most 10 MediaUrl; error 21623.
MEDIA_LIMIT = 10
#: A call's Twiml parameter: "Max 4000 characters".
TWIML_LIMIT = 4000
#: A call's SendDigits: "a maximum length of 32 digits"; error 21206, Invalid SendDigits.
SEND_DIGITS_LIMIT = 32
#: Any URL parameter (VoiceUrl, StatusCallback, MediaUrl...), answered with that parameter's
#: invalid-URL code (21502, 21205, 21609, 21620).
URL_LIMIT = 4096
#: The whole request body (bytes): room for every parameter at its limit, percent-encoded.
MAX_REQUEST_BYTES = 256 * 1024
#: How much of a value an error message quotes.
SHOWN = 64


class APIError(Exception):
    """An error answer in Twilio's shape: ``{"code", "message", "more_info", "status"}``."""

    def __init__(self, status: int, code: int, message: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def shown(value: str) -> str:
    """``value`` quoted for an error message, cut short when long: a message never carries a
    client's megabyte back to it."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}... ({len(value)} characters)"


def bad_request(code: int, message: str) -> APIError:
    return APIError(400, code, message)


def not_found(path: str) -> APIError:
    return APIError(404, 20404, f"The requested resource {path} was not found")


class Params:
    """The request's parameters (form fields of a POST, query of a GET) with Twilio's checks.

    Each reader returns None when the parameter is absent, and raises :class:`APIError` 400
    naming the parameter when it is present but not valid.
    """

    def __init__(self, values: MultiDict[str, str]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def getlist(self, name: str) -> list[str]:
        return self.values.getlist(name)

    def required(self, name: str, code: int = 20001, message: str | None = None) -> str:
        value = self.values.get(name)
        if value is None or value == "":
            raise bad_request(code, message or f"Required parameter {name} is missing.")
        return value

    def text(self, name: str, *, limit: int, code: int = 20001) -> str | None:
        """A free-text value of at most ``limit`` characters."""
        value = self.values.get(name)
        if value is not None and len(value) > limit:
            raise bad_request(code, f"{name} is {len(value)} characters long: the limit is "
                              f"{limit}.")
        return value

    def friendly_name(self, name: str = "FriendlyName") -> str | None:
        return self.text(name, limit=FRIENDLY_NAME_LIMIT, code=FRIENDLY_NAME_ERROR)

    def enum(self, name: str, allowed: Iterable[str], *, code: int = 20001,
             case_insensitive: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        choices = tuple(allowed)
        probe = value.lower() if case_insensitive else value
        for choice in choices:
            if probe == (choice.lower() if case_insensitive else choice):
                return choice
        raise bad_request(
            code, f"{name} must be one of {', '.join(choices)}: {shown(value)} is not valid."
        )

    def method(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if value.upper() not in METHODS:
            raise bad_request(20001, f"{name} must be GET or POST: {shown(value)} is not valid.")
        return value.upper()

    def boolean(self, name: str) -> bool | None:
        value = self.values.get(name)
        if value is None:
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise bad_request(20001, f"{name} must be true or false: {shown(value)} is not valid.")

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
        """A whole number in ASCII digits, within ``low``..``high`` (either may be None)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not WHOLE_NUMBER.fullmatch(value.strip()):
            raise bad_request(20001, f"{name} must be a whole number: {shown(value)} is not "
                              "valid.")
        digits = value.strip().lstrip("+-")
        number = int(value) if len(digits) <= MAX_DIGITS else None
        if (number is None or (low is not None and number < low)
                or (high is not None and number > high)):
            given = number if number is not None else f"{digits[:MAX_DIGITS]}..."
            raise bad_request(20001, f"{name} must be {_bounds(low, high)}: {given}.")
        return number

    def url(self, name: str, code: int = 21502) -> str | None:
        """An absolute http(s) URL of at most ``URL_LIMIT`` characters; an empty value (which
        clears a URL) gives ``""``."""
        value = self.values.get(name)
        if value is None or value == "":
            return value
        check_url(name, value, code)
        return value

    def phone_number(self, name: str, code: int, *, prefixes: tuple[str, ...] = ()
                     ) -> str | None:
        """An E.164 number (or an address with one of ``prefixes``, e.g. ``client:``)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        value = value.strip()
        if E164.match(value) or (prefixes and value.startswith(prefixes)):
            return value
        if value.startswith("whatsapp:") and "whatsapp:" in prefixes:
            return value
        kind = "'To'" if name == "To" else "'From'" if name == "From" else name
        quoted = value if len(value) <= SHOWN else shown(value)
        raise bad_request(code, f"Invalid {kind} Phone Number: {quoted}")

    def sid(self, name: str, prefix: str, code: int = 20001) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return value
        if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value):
            raise bad_request(code, f"{name} must be a {prefix} SID: {shown(value)} is not "
                              "valid.")
        return value

    def date_filter(self, name: str) -> Callable[[datetime | None], bool] | None:
        """The filter of ``name``, ``name<`` and ``name>`` (YYYY-MM-DD, Twilio's date
        inequalities: on that day, on or before, on or after)."""
        tests: list[Callable[[date], bool]] = []
        for suffix, compare in (
            ("", lambda d, w: d == w),
            ("<", lambda d, w: d <= w),
            (">", lambda d, w: d >= w),
        ):
            key = name + suffix
            value = self.values.get(key)
            if value is None or value == "":
                continue
            wanted = parse_date(key, value)
            tests.append(lambda d, w=wanted, c=compare: c(d, w))
        if not tests:
            return None

        def check(when: datetime | None) -> bool:
            return when is not None and all(test(when.date()) for test in tests)

        return check


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"{low} or more"
    if high is not None:
        return f"{high} or less"
    return f"at most {MAX_DIGITS} digits"


def parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise bad_request(
            20001, f"{name} must be a date as YYYY-MM-DD: {shown(value)} is not valid."
        ) from None


def check_url(name: str, value: str, code: int) -> None:
    """A 400 with ``code`` unless ``value`` is an absolute http(s) URL of at most
    ``URL_LIMIT`` characters."""
    if len(value) > URL_LIMIT:
        raise bad_request(code, f"{name} is {len(value)} characters long: a URL can be at most "
                          f"{URL_LIMIT}.")
    if not is_url(value):
        raise bad_request(code, f"{name} is not a valid URL: {shown(value)}")


def is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
