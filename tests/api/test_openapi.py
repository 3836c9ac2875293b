"""The requests the client sends conform to Twilio's own OpenAPI description of the API.

For every operation case of ``test_operations`` whose request today's API describes, the
method and path template must exist, path parameters must match their patterns (SID
prefixes), every parameter sent must be one the operation declares (so a misspelt name
fails), required ones must be present, and values must fit their enums and types. The
requests today's API no longer describes (the Sandbox, deleting a Notification, recordings
and transcriptions by file extension) are checked to be absent from it, so the list of
exceptions cannot grow by accident.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from switchboard.api import TwilioClient
from tests.api.conftest import Recorded, TwilioStub
from tests.api.test_operations import CASES, run
from tests.conftest import OPENAPI_PATH, require_shared

UNDESCRIBED = {
    ("GET", "Sandbox.json"),
    ("POST", "Sandbox.json"),
    ("DELETE", "Notifications/{Sid}.json"),
    ("GET", "Recordings/{Sid}.mp3"),
    ("GET", "Recordings/{Sid}.wav"),
    ("GET", "Transcriptions/{Sid}.txt"),
}


@cache
def openapi(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return openapi(require_shared(OPENAPI_PATH))


def template_regex(template: str) -> re.Pattern[str]:
    pattern = ""
    for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\})?", template):
        pattern += re.escape(literal)
        if name:
            pattern += f"(?P<{name}>[^/]+)"
    return re.compile(pattern)


def find_template(spec: dict[str, Any], path: str) -> str | None:
    matches = [t for t in spec["paths"] if template_regex(t).fullmatch(path)]
    return min(matches, key=lambda t: t.count("{")) if matches else None


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return resolve(spec, spec["components"]["schemas"][ref.rsplit("/", 1)[-1]])
    return schema


def check_value(spec: dict[str, Any], name: str, value: str, schema: dict[str, Any]) -> None:
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        schema = resolve(spec, schema.get("items", {}))
    if "enum" in schema:
        assert value in schema["enum"], f"{name}={value!r} is not one of {schema['enum']}"
    kind = schema.get("type")
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", value), f"{name}={value!r} is not an integer"
    elif kind == "boolean":
        assert value in ("true", "false"), f"{name}={value!r} is not a boolean"
    elif kind == "number":
        float(value)
    if "pattern" in schema and value != "":  # "" clears a stored value, as Twilio documents
        assert re.search(schema["pattern"], value), f"{name}={value!r} !~ {schema['pattern']}"


def check_conforms(spec: dict[str, Any], sent: Recorded) -> None:
    template = find_template(spec, sent.path)
    assert template, f"{sent.method} {sent.path}: no path of the OpenAPI description matches"
    operation = spec["paths"][template].get(sent.method.lower())
    assert operation, f"{sent.method} {template}: the method is not described"

    match = template_regex(template).fullmatch(sent.path)
    declared = operation.get("parameters", []) + spec["paths"][template].get("parameters", [])
    for parameter in declared:
        if parameter["in"] == "path":
            check_value(spec, parameter["name"], match[parameter["name"]], parameter["schema"])

    if sent.method == "POST":
        body = operation.get("requestBody", {}).get("content", {})
        schema = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
        fields = schema.get("properties", {})
        required = set(schema.get("required", []))
        params = sent.form
    else:
        query = [p for p in declared if p["in"] == "query"]
        fields = {p["name"]: p.get("schema", {}) for p in query}
        required = {p["name"] for p in query if p.get("required")}
        params = sent.query
    unknown = set(params) - set(fields)
    assert not unknown, f"{sent.method} {template}: not parameters of the operation: {unknown}"
    missing = required - set(params)
    assert not missing, f"{sent.method} {template}: required parameters missing: {missing}"
    for name, values in params.items():
        for value in values:
            check_value(spec, name, value, fields[name])


def short(path: str) -> str:
    """``/2010-04-01/Accounts/AC.../Recordings/RE....mp3`` -> ``Recordings/{Sid}.mp3``."""
    tail = path.split("/Accounts/", 1)[-1].split("/", 1)[-1]
    return re.sub(r"[A-Z]{2}[0-9a-f]{32}", "{Sid}", tail)


@pytest.mark.parametrize(
    ("name", "arguments"),
    [(case[0], case[1]) for case in CASES],
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES)],
)
def test_request_conforms_to_openapi(
    spec: dict[str, Any],
    client: TwilioClient,
    stub: TwilioStub,
    name: str,
    arguments: dict[str, Any],
) -> None:
    run(client, name, arguments)
    sent = stub.last
    if (sent.method, short(sent.path)) in UNDESCRIBED:
        template = find_template(spec, sent.path)
        operation = spec["paths"][template].get(sent.method.lower()) if template else None
        assert operation is None, f"{name}: today's API describes {sent.method} {template}"
        return
    check_conforms(spec, sent)


@pytest.mark.parametrize(
    ("call", "expect"),
    [
        (lambda c: c.calls.list(start_time_after="2024-01-01", end_time_before="2024-02-01"), None),
        (
            lambda c: c.calls.create(
                "+14155550100",
                "+14155550199",
                url="https://e.com/v",
                machine_detection="DetectMessageEnd",
                record=True,
                recording_status_callback_event=["completed"],
                trim="trim-silence",
                time_limit=60,
            ),
            None,
        ),
        (lambda c: c.calls.update("CA" + "1" * 32, twiml="<Response/>", time_limit=30), None),
        (
            lambda c: c.messages.create(
                "+14155550100", from_="+14155550199", body="x", send_as_mms=True, validity_period=60
            ),
            None,
        ),
        (lambda c: c.messages.list(date_sent_before="2024-01-01"), None),
        (lambda c: c.messages.update("SM" + "1" * 32, body=""), None),
        (lambda c: c.conferences.update("CF" + "1" * 32, status="completed"), None),
        (
            lambda c: c.conferences.participants.update(
                "CF" + "1" * 32, "CA" + "1" * 32, hold=True, hold_url="https://e.com/h"
            ),
            None,
        ),
        (
            lambda c: c.recordings.list(
                conference_sid="CF" + "1" * 32, date_created_before="2024-01-01"
            ),
            None,
        ),
        (
            lambda c: c.incoming_phone_numbers.update(
                "PN" + "1" * 32, voice_receive_mode="voice", voice_application_sid=""
            ),
            None,
        ),
        (
            lambda c: c.applications.create(
                "x",
                message_status_callback="https://e.com/m",
                public_application_connect_enabled=False,
            ),
            None,
        ),
        (
            lambda c: c.available_phone_numbers.mobile(
                "GB", sms_enabled=True, in_locality="London"
            ),
            None,
        ),
        (
            lambda c: c.outgoing_caller_ids.create(
                "+14155550100", status_callback="https://e.com/s"
            ),
            None,
        ),
    ],
)
def test_extras_conform_to_openapi(
    spec: dict[str, Any], client: TwilioClient, stub: TwilioStub, call: Any, expect: None
) -> None:
    """Arguments beyond the connector's (today's API) conform too."""
    result = call(client)
    if not isinstance(result, dict):
        list(result)
    check_conforms(spec, stub.last)


def test_a_misspelt_parameter_fails_the_check(spec: dict[str, Any]) -> None:
    sent = Recorded(
        "POST",
        "/2010-04-01/Accounts/AC" + "a" * 32 + "/Calls.json",
        {},
        {"To": ["+14155550100"], "From": ["+14155550199"], "StatusCallbackEvents": ["ringing"]},
        {},
    )
    with pytest.raises(AssertionError, match="StatusCallbackEvents"):
        check_conforms(spec, sent)
    sent.form = {"To": ["+1"], "From": ["+1"], "Method": ["PUT"]}
    with pytest.raises(AssertionError, match="PUT"):
        check_conforms(spec, sent)
    sent.form = {"From": ["+1"]}
    with pytest.raises(AssertionError, match="To"):
        check_conforms(spec, sent)
    sent.path = "/2010-04-01/Accounts/AC" + "a" * 32 + "/Calls/SM" + "1" * 32 + ".json"
    sent.method, sent.form = "GET", {}
    with pytest.raises(AssertionError, match="CA"):
        check_conforms(spec, sent)
