"""The facts of Twilio's OpenAPI descriptions that the tests check, kept in ``tests/data/``.

Twilio's descriptions sit beside the repository (``../shared/twilio-openapi/``) and are not
committed. The tests read these facts instead, so a clone alone runs them all:

- for each path kept, each method's parameters by where they go (``path``, ``query``,
  ``form``) with their type, format, enum, pattern and items (references resolved), the
  ``required`` ones, and each response status with its JSON schema (``null``: no body);
- the component schemas those responses refer to, cut to type, format, enum, nullable,
  properties, items and required; ``$ref`` is kept, as the response check treats a null
  for a referenced enum apart.

``tests/api/test_openapi.py`` checks that the committed files equal what this module makes
from ``../shared``. After Twilio's descriptions change, regenerate them::

    .venv/bin/python -m tests.openapi_facts
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTIONS = ROOT.parent / "shared" / "twilio-openapi"
DATA = Path(__file__).resolve().parent / "data"

API_V2010 = DESCRIPTIONS / "twilio_api_v2010.json"
STUDIO_V2 = DESCRIPTIONS / "twilio_studio_v2.json"
API_V2010_FACTS = DATA / "twilio_api_v2010_facts.json"
STUDIO_V2_FACTS = DATA / "twilio_studio_v2_facts.json"

METHODS = ("get", "post", "delete")
# Copied as they are; items, properties and required are cut down by the functions below.
PARAMETER_KEYWORDS = ("type", "format", "enum", "pattern", "nullable")
RESPONSE_KEYWORDS = ("$ref", "type", "format", "enum", "nullable")

ACCOUNT = "/2010-04-01/Accounts/{AccountSid}/"
API_V2010_PATHS = (
    "/2010-04-01/Accounts.json",
    "/2010-04-01/Accounts/{Sid}.json",
    *(
        ACCOUNT + path
        for path in (
            "Applications.json",
            "Applications/{Sid}.json",
            "AvailablePhoneNumbers.json",
            "AvailablePhoneNumbers/{CountryCode}.json",
            "AvailablePhoneNumbers/{CountryCode}/Local.json",
            "AvailablePhoneNumbers/{CountryCode}/Mobile.json",
            "AvailablePhoneNumbers/{CountryCode}/TollFree.json",
            "Calls.json",
            "Calls/{Sid}.json",
            "Calls/{CallSid}/Notifications.json",
            "Calls/{CallSid}/Notifications/{Sid}.json",
            "Calls/{CallSid}/Recordings.json",
            "Calls/{CallSid}/Recordings/{Sid}.json",
            "Conferences.json",
            "Conferences/{Sid}.json",
            "Conferences/{ConferenceSid}/Participants.json",
            "Conferences/{ConferenceSid}/Participants/{CallSid}.json",
            "Conferences/{ConferenceSid}/Recordings.json",
            "Conferences/{ConferenceSid}/Recordings/{Sid}.json",
            "IncomingPhoneNumbers.json",
            "IncomingPhoneNumbers/{Sid}.json",
            "Messages.json",
            "Messages/{Sid}.json",
            "Messages/{MessageSid}/Media.json",
            "Messages/{MessageSid}/Media/{Sid}.json",
            "Notifications.json",
            "Notifications/{Sid}.json",
            "OutgoingCallerIds.json",
            "OutgoingCallerIds/{Sid}.json",
            "Recordings.json",
            "Recordings/{Sid}.json",
            "Recordings/{RecordingSid}/Transcriptions.json",
            "Recordings/{RecordingSid}/Transcriptions/{Sid}.json",
            "Transcriptions.json",
            "Transcriptions/{Sid}.json",
        )
    ),
)
"""The paths the tests use: the client's requests and the emulator's answers."""

API_V2010_UNDESCRIBED = (
    ACCOUNT + "Sandbox.json",
    ACCOUNT + "Recordings/{Sid}.mp3",
    ACCOUNT + "Recordings/{Sid}.wav",
    ACCOUNT + "Transcriptions/{Sid}.txt",
)
"""Paths the client sends to that today's description lacks: kept if it ever describes them,
so the request test notices."""


def _resolve(description: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = description["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _parameter(description: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema, references resolved, cut to what a value is checked against."""
    schema = _resolve(description, schema)
    facts = {key: schema[key] for key in PARAMETER_KEYWORDS if key in schema}
    if "items" in schema:
        facts["items"] = _parameter(description, schema["items"])
    return facts


def _response(schema: dict[str, Any], refs: set[str]) -> dict[str, Any]:
    """A response schema cut to what an answer is validated against; ``refs`` collects the
    component schemas it refers to."""
    facts = {key: schema[key] for key in RESPONSE_KEYWORDS if key in schema}
    if "$ref" in schema:
        refs.add(schema["$ref"].rsplit("/", 1)[-1])
    if "properties" in schema:
        facts["properties"] = {
            name: _response(sub, refs) for name, sub in schema["properties"].items()
        }
    if "items" in schema:
        facts["items"] = _response(schema["items"], refs)
    if "required" in schema:
        facts["required"] = sorted(schema["required"])
    return facts


def _operation(
    description: dict[str, Any], item: dict[str, Any], method: str, refs: set[str]
) -> dict[str, Any]:
    operation = item[method]
    facts: dict[str, Any] = {}
    required: set[str] = set()
    for parameter in item.get("parameters", []) + operation.get("parameters", []):
        where = parameter["in"]
        facts.setdefault(where, {})[parameter["name"]] = _parameter(
            description, parameter.get("schema", {})
        )
        if parameter.get("required"):
            required.add(parameter["name"])
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/x-www-form-urlencoded", {}).get("schema")
    if body is not None:
        body = _resolve(description, body)
        facts["form"] = {
            name: _parameter(description, schema)
            for name, schema in body.get("properties", {}).items()
        }
        required.update(body.get("required", []))
    facts["required"] = sorted(required)
    facts["responses"] = {}
    for status, answer in operation.get("responses", {}).items():
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        facts["responses"][status] = None if schema is None else _response(schema, refs)
    return facts


def extract(description: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The facts of ``paths`` (those ``description`` has) and the schemas they refer to."""
    refs: set[str] = set()
    facts: dict[str, Any] = {"paths": {}, "schemas": {}}
    for path in paths:
        item = description["paths"].get(path)
        if item is not None:
            facts["paths"][path] = {
                method: _operation(description, item, method, refs)
                for method in METHODS
                if method in item
            }
    schemas = description["components"]["schemas"]
    pending = sorted(refs)
    while pending:
        name = pending.pop()
        if name not in facts["schemas"]:
            found: set[str] = set()
            facts["schemas"][name] = _response(schemas[name], found)
            pending.extend(sorted(found - set(facts["schemas"])))
    return facts


def api_v2010_facts(description: dict[str, Any]) -> dict[str, Any]:
    """What the request and response tests check of API 2010-04-01."""
    missing = sorted(set(API_V2010_PATHS) - set(description["paths"]))
    if missing:
        raise LookupError(f"the description lacks paths the tests use: {missing}")
    facts = extract(description, [*API_V2010_PATHS, *API_V2010_UNDESCRIBED])
    return {"source": f"../shared/twilio-openapi/{API_V2010.name}", **facts}


def studio_v2_facts(description: dict[str, Any]) -> dict[str, Any]:
    """Studio v2: Flows, Executions, Steps, Context, Revisions, TestUsers and Validate."""
    paths = [path for path in description["paths"] if path.startswith("/v2/Flows")]
    return {"source": f"../shared/twilio-openapi/{STUDIO_V2.name}", **extract(description, paths)}


FACTS: dict[Path, tuple[Path, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    API_V2010_FACTS: (API_V2010, api_v2010_facts),
    STUDIO_V2_FACTS: (STUDIO_V2, studio_v2_facts),
}
"""Each facts file: the description it comes from and how."""


def dumps(facts: dict[str, Any]) -> str:
    """The text of a facts file: sorted keys; a value on one line when the line fits in 100
    characters, else one member a line, indented one space a level."""
    return _layout(facts, "", 0) + "\n"


def _layout(value: Any, indent: str, taken: int) -> str:
    line = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if taken + len(line) <= 100 or not isinstance(value, dict | list) or not value:
        return line
    inner = indent + " "
    if isinstance(value, list):
        members = [inner + _layout(item, inner, len(inner)) for item in value]
        return "[\n" + ",\n".join(members) + "\n" + indent + "]"
    members = []
    for key in sorted(value):
        head = f"{inner}{json.dumps(key, ensure_ascii=False)}: "
        members.append(head + _layout(value[key], inner, len(head)))
    return "{\n" + ",\n".join(members) + "\n" + indent + "}"


def make(target: Path) -> str:
    """The text ``target`` should hold, made from its description in ``../shared``."""
    source, extraction = FACTS[target]
    return dumps(extraction(json.loads(source.read_text(encoding="utf-8"))))


@cache
def load(target: Path = API_V2010_FACTS) -> dict[str, Any]:
    """A committed facts file."""
    return json.loads(target.read_text(encoding="utf-8"))


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for target in FACTS:
        text = make(target)
        target.write_text(text, encoding="utf-8")
        print(f"{target.relative_to(ROOT)}: {len(text.encode()):,} bytes")


if __name__ == "__main__":
    main()
