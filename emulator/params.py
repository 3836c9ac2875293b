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
            code, f"{name} must be one of {', '.join(choices)}: {value!r} is not valid."
        )

    def method(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if value.upper() not in METHODS:
            raise bad_request(20001, f"{name} must be GET or POST: {value!r} is not valid.")
        return value.upper()

    def boolean(self, name: str) -> bool | None:
        value = self.values.get(name)
        if value is None:
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise bad_request(20001, f"{name} must be true or false: {value!r} is not valid.")

    def integer(self, name: str, *, low: int | None = None, high: int | None = None) -> int | None:
        """A whole number in ASCII digits, within ``low``..``high`` (either may be None)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not WHOLE_NUMBER.fullmatch(value.strip()):
            raise bad_request(20001, f"{name} must be a whole number: {value!r} is not valid.")
        digits = value.strip().lstrip("+-")
        number = int(value) if len(digits) <= MAX_DIGITS else None
        if (number is None or (low is not None and number < low)
                or (high is not None and number > high)):
            shown = number if number is not None else f"{digits[:MAX_DIGITS]}..."
            raise bad_request(20001, f"{name} must be {_bounds(low, high)}: {shown}.")
        return number

    def url(self, name: str, code: int = 21502) -> str | None:
        """An absolute http(s) URL; an empty value (which clears a URL) gives ``""``."""
        value = self.values.get(name)
        if value is None or value == "":
            return value
        if not is_url(value):
            raise bad_request(code, f"{name} is not a valid URL: {value!r}")
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
        raise bad_request(code, f"Invalid {kind} Phone Number: {value}")

    def sid(self, name: str, prefix: str, code: int = 20001) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return value
        if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value):
            raise bad_request(code, f"{name} must be a {prefix} SID: {value!r} is not valid.")
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
            20001, f"{name} must be a date as YYYY-MM-DD: {value!r} is not valid."
        ) from None


def is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
