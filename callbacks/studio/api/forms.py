"""The parameters of a POST (a form, as Twilio's API takes them), checked one by one: a 400
with Twilio's 20001 naming the parameter and what to send instead."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.datastructures import MultiDict

from switchboard.callbacks.studio.api.errors import bad_request, missing
from switchboard.callbacks.studio.flows_store import STATUSES


def form() -> MultiDict[str, str]:
    return request.form


def required(name: str) -> str:
    value = request.form.get(name)
    if value is None or value == "":
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


def json_value(name: str, *, needed: bool) -> Any:
    """The parameter ``name`` decoded from JSON; None when it is absent and not ``needed``."""
    text = required(name) if needed else optional(name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise bad_request(f"{name} is not JSON (line {error.lineno}, column {error.colno}: "
                          f"{error.msg}); send it as a JSON string") from None
