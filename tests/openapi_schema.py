"""Answers checked against the schemas of a facts file of ``tests/data/`` (see
``tests/openapi_facts.py``): the path template a URL path belongs to, and whether a JSON value
validates (type, nullable, enum, the date and URL formats Twilio uses, every property the schema
lists present and no other). The emulator's answers are checked against the 2010 API's facts,
the Studio API's against Studio's."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.openapi_facts import load

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


def _date_time(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _rfc_2822(value: Any) -> bool:
    try:
        parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def _absolute_url(value: Any) -> bool:
    return urlsplit(str(value)).scheme.startswith("http")


class Described:
    """The paths and schemas of one facts file. ``absolute_uris``: values of ``format: uri``
    and ``uri-map`` must be absolute URLs (Studio's are; the 2010 API's ``uri`` and
    ``subresource_uris`` are paths)."""

    def __init__(self, facts_file: Path, *, absolute_uris: bool = False) -> None:
        self.facts_file = facts_file
        self.absolute_uris = absolute_uris

    @cached_property
    def facts(self) -> dict[str, Any]:
        return load(self.facts_file)

    @cached_property
    def templates(self) -> list[tuple[re.Pattern[str], str]]:
        compiled = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in self.facts["paths"]
        ]
        # literal segments win over placeholders (IncomingPhoneNumbers/Local.json over
        # .../{Sid}, Flows/Validate over Flows/{Sid})
        return sorted(compiled, key=lambda item: item[1].count("{"))

    def operation_of(self, path: str) -> str | None:
        """The path template ``path`` belongs to, or None."""
        for pattern, template in self.templates:
            if pattern.match(path):
                return template
        return None

    def response_schema(self, method: str, template: str, status: int) -> dict[str, Any] | None:
        operation = self.facts["paths"][template].get(method.lower())
        if operation is None:
            return None
        return operation["responses"].get(str(status))

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.facts["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def validate(self, value: Any, schema: dict[str, Any], where: str,
                 errors: list[str]) -> None:
        """Append to ``errors`` what is wrong with ``value`` against ``schema``."""
        # OpenAPI 3.0 cannot put "nullable" beside a $ref, so the descriptions cannot mark a
        # referenced enum nullable, though their text says some are null (a conference's
        # reason_conference_ended while it runs): a null for a referenced enum is accepted.
        nullable = bool(schema.get("nullable")) or (
            "$ref" in schema and "enum" in self.resolve(schema))
        schema = {**self.resolve(schema), **({"nullable": True} if nullable else {})}
        kind = schema.get("type")
        if value is None:
            if kind is not None and not schema.get("nullable"):
                errors.append(f"{where}: null where the schema wants {kind}")
            return
        if kind in TYPES and not TYPES[kind](value):
            errors.append(f"{where}: {value!r} is not {kind}")
            return
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
        form = schema.get("format")
        if form == "date-time" and not _date_time(value):
            errors.append(f"{where}: {value!r} is not an ISO 8601 date-time")
        if form == "date-time-rfc-2822" and not _rfc_2822(value):
            errors.append(f"{where}: {value!r} is not an RFC 2822 date")
        if form == "uri" and self.absolute_uris and not _absolute_url(value):
            errors.append(f"{where}: {value!r} is not an absolute URL")
        if form == "uri-map" and self.absolute_uris:
            errors.extend(f"{where}.{key}: {url!r} is not an absolute URL"
                          for key, url in value.items() if not _absolute_url(url))
        if kind == "object" and "properties" in schema:
            properties = schema["properties"]
            errors.extend(f"{where}.{key}: not in the schema"
                          for key in value if key not in properties)
            errors.extend(f"{where}.{key}: missing" for key in properties if key not in value)
            for key, sub in properties.items():
                if key in value:
                    self.validate(value[key], sub, f"{where}.{key}", errors)
        if kind == "array" and "items" in schema:
            for index, item in enumerate(value):
                self.validate(item, schema["items"], f"{where}[{index}]", errors)
