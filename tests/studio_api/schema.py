"""Studio's answers checked against Twilio's description of Studio v2, as committed in
``tests/data/twilio_studio_v2_facts.json`` (see ``tests/openapi_facts.py``): each answer of a
described status validates against that status's schema (type, nullable, enum, the date-time
and uri formats, every property the schema lists present and no other); an error answer has
Twilio's error body."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.openapi_facts import STUDIO_V2_FACTS
from tests.openapi_schema import Described

ERROR_KEYS = {"code", "message", "more_info", "status"}


STUDIO = Described(STUDIO_V2_FACTS, absolute_uris=True)
operation_of = STUDIO.operation_of
validate = STUDIO.validate


def facts() -> dict[str, Any]:
    return STUDIO.facts


def problems(method: str, url: str, status: int, text: str) -> list[str]:
    """What is wrong with one answer of the Studio API (nothing: an empty list)."""
    path = urlsplit(url).path
    where = f"{method} {path} -> {status}"
    template = operation_of(path)
    if template is None:
        return [f"{where}: not a path of Studio v2"] if status < 400 else []
    body = json.loads(text) if text else None
    if status >= 400:
        if not isinstance(body, dict) or not set(body) >= ERROR_KEYS:
            return [f"{where}: {body!r} is not Twilio's error body"]
        extra = set(body) - ERROR_KEYS - {"details"}
        return ([f"{where}: error body has {sorted(extra)}"] if extra else []) + (
            [f"{where}: status {body['status']} in the body"] if body["status"] != status else [])
    operation = facts()["paths"][template].get(method.lower())
    if operation is None:
        return [f"{where}: {method} is not described for {template}"]
    if str(status) not in operation["responses"]:
        return [f"{where}: status {status} is not described ({sorted(operation['responses'])})"]
    schema = operation["responses"][str(status)]
    if schema is None:
        return [f"{where}: a body where none is described"] if text else []
    errors: list[str] = []
    validate(body, schema, where, errors)
    return errors
