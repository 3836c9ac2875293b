"""The parameters of a POST (a form, as Twilio's API takes them), checked one by one: a 400
with Twilio's 20001 naming the parameter and what to send instead."""

from __future__ import annotations

import json
import sys
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict

from switchboard.callbacks.studio.api.errors import bad_request, missing
from switchboard.callbacks.studio.flows_store import STATUSES


def form() -> MultiDict[str, str]:
    return request.form


def required(name: str) -> str:
    """The parameter ``name``; a 400 naming it when it is absent, empty or only blanks."""
    value = request.form.get(name)
    if value is None or not value.strip():
        raise missing(name)
    return value


def optional(name: str) -> str | None:
    value = request.form.get(name)
    return value if value else None


def status(allowed: tuple[str, ...] = STATUSES) -> str:
    value = required("Status")
    if value not in allowed:
        raise bad_request(f"Status must be {' or '.join(allowed)}, not {value[:40]!r}")
    return value


class _NumberTooLong(ValueError):
    """An integer of more digits than Python reads (``sys.get_int_max_str_digits()``)."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _integer(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:
        raise _NumberTooLong from None


def json_value(name: str, *, needed: bool) -> Any:
    """The parameter ``name`` decoded from JSON; None when it is absent and not ``needed``.
    ``NaN`` and ``Infinity``, which Python's decoder takes but JSON has not, are refused, and
    so are an integer of more digits than Python reads (4,300 unless
    ``sys.set_int_max_str_digits`` says otherwise) and nesting deeper than the decoder can
    follow."""
    text = required(name) if needed else optional(name)
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=_not_json, parse_int=_integer)
    except _NumberTooLong:
        raise bad_request(f"{name} holds a number too long to read (more than "
                          f"{sys.get_int_max_str_digits()} digits); send it as a string"
                          ) from None
    except json.JSONDecodeError as error:
        raise bad_request(f"{name} is not JSON (line {error.lineno}, column {error.colno}: "
                          f"{error.msg}); send it as a JSON string") from None
    except ValueError as error:
        raise bad_request(f"{name} is not JSON ({error}); send it as a JSON string") from None
    except RecursionError:
        raise bad_request(f"{name} is nested too deeply to read; send a flatter JSON "
                          "value") from None
