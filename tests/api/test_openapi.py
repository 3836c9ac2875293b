"""The requests the client sends conform to Twilio's own OpenAPI description of the API.

The description's facts the tests need are committed in ``tests/data/`` (made by
``tests/openapi_facts.py`` from ``../shared/twilio-openapi/``; the last tests here check they
are still what the descriptions give). For every request of the connector's 50 operations
(``test_operations``' cases and a lookup by friendly name) whose request today's API
describes, the method and path template must exist, path parameters must match their
patterns (SID prefixes), every parameter sent must be one the operation declares (so a
misspelt name fails), required ones must be present, and values must fit their enums, types
and date formats (``date-time``: ``2024-05-01T00:00:00Z``, as twilio-python sends it;
``date``: ``2024-05-01``). The requests today's API no longer describes (the Sandbox, deleting
a Notification, recordings and transcriptions by file extension) are checked to be absent
from it, so the list of exceptions cannot grow by accident.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from switchboard.api import TwilioClient
from switchboard.api.operations import OPERATIONS
from tests.api.conftest import OTHER_ACCOUNT, Recorded, TwilioStub
from tests.api.test_operations import CASES, run
from tests.conftest import IN_CI, require_shared
from tests.openapi_facts import API_V2010_FACTS, FACTS, STUDIO_V2_FACTS, dumps, load, make

UNDESCRIBED = {
    ("GET", "Sandbox.json"),
    ("POST", "Sandbox.json"),
    ("DELETE", "Notifications/{Sid}.json"),
    ("GET", "Recordings/{Sid}.mp3"),
    ("GET", "Recordings/{Sid}.wav"),
    ("GET", "Transcriptions/{Sid}.txt"),
}
FORMATS = {
    "date-time": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"),
    "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
}
CET = dt.timezone(dt.timedelta(hours=1))
LOOKUP = ("get-sub-account-by-friendly-name", {"friendly_name": "fede"})
OPERATION_CASES = [(case[0], case[1]) for case in CASES] + [LOOKUP]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(API_V2010_FACTS)


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


def check_value(name: str, value: str, schema: dict[str, Any]) -> None:
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    if "enum" in schema:
        assert value in schema["enum"], f"{name}={value!r} is not one of {schema['enum']}"
    kind = schema.get("type")
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", value), f"{name}={value!r} is not an integer"
    elif kind == "boolean":
        assert value in ("true", "false"), f"{name}={value!r} is not a boolean"
    elif kind == "number":
        float(value)
    form = FORMATS.get(schema.get("format", ""))
    if form is not None:
        assert form.fullmatch(value), f"{name}={value!r} is not {schema['format']} ({form.pattern})"
    if "pattern" in schema and value != "":  # "" clears a stored value, as Twilio documents
        assert re.search(schema["pattern"], value), f"{name}={value!r} !~ {schema['pattern']}"


def check_conforms(spec: dict[str, Any], sent: Recorded) -> None:
    template = find_template(spec, sent.path)
    assert template, f"{sent.method} {sent.path}: no path of the OpenAPI description matches"
    operation = spec["paths"][template].get(sent.method.lower())
    assert operation, f"{sent.method} {template}: the method is not described"

    match = template_regex(template).fullmatch(sent.path)
    for name, schema in operation.get("path", {}).items():
        check_value(name, match[name], schema)

    fields = operation.get("form" if sent.method == "POST" else "query", {})
    params = sent.form if sent.method == "POST" else sent.query
    unknown = set(params) - set(fields)
    assert not unknown, f"{sent.method} {template}: not parameters of the operation: {unknown}"
    missing = set(operation["required"]) - set(params) - set(operation.get("path", {}))
    assert not missing, f"{sent.method} {template}: required parameters missing: {missing}"
    for name, values in params.items():
        for value in values:
            check_value(name, value, fields[name])


def short(path: str) -> str:
    """``/2010-04-01/Accounts/AC.../Recordings/RE....mp3`` -> ``Recordings/{Sid}.mp3``."""
    tail = path.split("/Accounts/", 1)[-1].split("/", 1)[-1]
    return re.sub(r"[A-Z]{2}[0-9a-f]{32}", "{Sid}", tail)


def test_the_cases_cover_every_operation() -> None:
    names = {name for name in OPERATIONS if not name.endswith("-search")}
    assert len(names) == 50
    assert {name for name, _ in OPERATION_CASES} == names


@pytest.mark.parametrize(
    ("name", "arguments"),
    OPERATION_CASES,
    ids=[f"{name}-{i}" for i, (name, _) in enumerate(OPERATION_CASES)],
)
def test_request_conforms_to_openapi(
    spec: dict[str, Any],
    client: TwilioClient,
    stub: TwilioStub,
    name: str,
    arguments: dict[str, Any],
) -> None:
    if name == LOOKUP[0]:
        match = {"sid": OTHER_ACCOUNT, "friendly_name": arguments["friendly_name"]}
        stub.answer("GET", "/2010-04-01/Accounts.json", {"accounts": [match]})
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
            lambda c: c.calls.list(
                start_time="2026-11-01",
                start_time_before=dt.date(2026, 11, 30),
                end_time="2026-11-01T09:30:00+02:00",
                end_time_after=dt.datetime(2026, 11, 1, 9, 30, tzinfo=CET),
            ),
            None,
        ),
        (
            lambda c: c.messages.list(
                date_sent="2026-11-01", date_sent_after=dt.datetime(2026, 11, 1, 9, 30, 15, 500)
            ),
            None,
        ),
        (
            lambda c: c.recordings.list(
                date_created="2026-11-01", date_created_after=dt.date(2026, 10, 1)
            ),
            None,
        ),
        (
            lambda c: c.conferences.list(
                date_created="2026-11-01",
                date_created_after=dt.date(2026, 10, 1),
                date_updated_before="2026-11-30",
            ),
            None,
        ),
        (
            lambda c: c.notifications.list(
                message_date_after="2026-11-01", message_date_before=dt.date(2026, 11, 30)
            ),
            None,
        ),
        (
            lambda c: c.notifications.list(call_sid="CA" + "1" * 32, message_date="2026-11-01"),
            None,
        ),
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


def test_a_date_in_the_wrong_format_fails_the_check(spec: dict[str, Any]) -> None:
    account = "/2010-04-01/Accounts/AC" + "a" * 32
    sent = Recorded("GET", f"{account}/Calls.json", {"StartTime>": ["2024-05-01"]}, {}, {})
    with pytest.raises(AssertionError, match=r"StartTime>='2024-05-01' is not date-time"):
        check_conforms(spec, sent)
    sent.query = {"StartTime<": ["2024-05-01T00:00:00+00:00"]}
    with pytest.raises(AssertionError, match="is not date-time"):
        check_conforms(spec, sent)
    sent.path, sent.query = f"{account}/Conferences.json", {"DateCreated": ["2024-05-01T00:00:00Z"]}
    with pytest.raises(AssertionError, match=r"DateCreated='2024-05-01T00:00:00Z' is not date "):
        check_conforms(spec, sent)


@pytest.mark.parametrize("target", sorted(FACTS), ids=lambda target: target.name)
def test_the_committed_facts_are_what_the_descriptions_give(target: Path) -> None:
    """``tests/data/`` holds exactly what ``tests/openapi_facts.py`` extracts from
    ``../shared/twilio-openapi/`` today. Without ``../shared`` (a clone on its own; never in
    CI, where it fails) what can be checked is that the file is the extraction's own output:
    written by ``dumps``, not edited by hand."""
    committed = target.read_text(encoding="utf-8")
    if not FACTS[target][0].exists() and not IN_CI:
        assert dumps(json.loads(committed)) == committed, (
            f"{target.name} was edited by hand: regenerate it with `.venv/bin/python -m "
            "tests.openapi_facts` beside ../shared")
        return
    require_shared(FACTS[target][0])
    fresh = make(target)
    if committed != fresh:
        diff = difflib.unified_diff(
            committed.splitlines(), fresh.splitlines(), "committed", "extracted", lineterm=""
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(
            f"{target.name} is not what ../shared gives: run `.venv/bin/python -m "
            f"tests.openapi_facts` and commit it\n{shown}"
        )


def test_the_studio_facts_hold_every_resource_of_the_studio_api() -> None:
    facts = load(STUDIO_V2_FACTS)
    flow = "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}"
    assert set(facts["paths"]) == {
        "/v2/Flows",
        "/v2/Flows/{Sid}",
        "/v2/Flows/{Sid}/Revisions",
        "/v2/Flows/{Sid}/Revisions/{Revision}",
        "/v2/Flows/{Sid}/TestUsers",
        "/v2/Flows/Validate",
        "/v2/Flows/{FlowSid}/Executions",
        "/v2/Flows/{FlowSid}/Executions/{Sid}",
        f"{flow}/Context",
        f"{flow}/Steps",
        f"{flow}/Steps/{{Sid}}",
        f"{flow}/Steps/{{StepSid}}/Context",
    }
    flow_schema = facts["schemas"]["studio.v2.flow"]["properties"]
    assert flow_schema["date_created"] == {
        "format": "date-time",
        "nullable": True,
        "type": "string",
    }
    assert facts["paths"]["/v2/Flows"]["post"]["required"] == [
        "Definition",
        "FriendlyName",
        "Status",
    ]
    for path in facts["paths"].values():
        for operation in path.values():
            for schema in operation["responses"].values():
                assert schema is None or "$ref" in schema or "properties" in schema
