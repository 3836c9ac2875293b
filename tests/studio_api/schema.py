"""Studio's answers checked against Twilio's description of Studio v2, as committed in
``tests/data/twilio_studio_v2_facts.json`` (see ``tests/openapi_facts.py``): each answer of a
described status validates against that status's schema (type, nullable, enum, the date-time
and uri formats, every property the schema lists present and no other); an error answer has
Twilio's error body."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from tests.openapi_facts import STUDIO_V2_FACTS, load

ERROR_KEYS = {"code", "message", "more_info", "status"}


def facts() -> dict[str, Any]:
    return load(STUDIO_V2_FACTS)


@cache
def templates() -> list[tuple[re.Pattern[str], str]]:
    compiled = [(re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"),
                 path) for path in facts()["paths"]]
    return sorted(compiled, key=lambda item: item[1].count("{"))  # Validate before {Sid}


def operation_of(path: str) -> str | None:
    for pattern, template in templates():
        if pattern.match(path):
            return template
    return None


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = facts()["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


CHECKS = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def validate(value: Any, schema: dict[str, Any], where: str, errors: list[str]) -> None:
    nullable = bool(schema.get("nullable"))
    schema = {**resolve(schema), **({"nullable": True} if nullable else {})}
    kind = schema.get("type")
    if value is None:
        if kind is not None and not schema.get("nullable"):
            errors.append(f"{where}: null where the schema wants {kind}")
        return
    if kind in CHECKS and not CHECKS[kind](value):
        errors.append(f"{where}: {value!r} is not {kind}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            errors.append(f"{where}: {value!r} is not an ISO 8601 date-time")
    if schema.get("format") == "uri" and not urlsplit(value).scheme.startswith("http"):
        errors.append(f"{where}: {value!r} is not an absolute URL")
    if schema.get("format") == "uri-map":
        errors.extend(f"{where}.{key}: {url!r} is not an absolute URL"
                      for key, url in value.items()
                      if not urlsplit(str(url)).scheme.startswith("http"))
    if kind == "object" and "properties" in schema:
        properties = schema["properties"]
        errors.extend(f"{where}.{key}: not in the schema" for key in value if key not in properties)
        errors.extend(f"{where}.{key}: missing" for key in properties if key not in value)
        for key, sub in properties.items():
            if key in value:
                validate(value[key], sub, f"{where}.{key}", errors)
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{index}]", errors)


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
