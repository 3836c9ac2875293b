"""``/v2/Flows`` given definitions broken every way the flow files' fuzzing breaks them (any
JSON value anywhere, odd structures the schema may let through, Liquid from its whole
vocabulary, text that is not JSON or that JSON cannot hold): a create, an update and a
validation answer 201, 200 or Twilio's 400 with one line per problem, never a 500; an
execution started through the API on a flow that was taken answers 201 or Twilio's 4xx."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks import create_app
from switchboard.callbacks.studio.api import register_studio_api
from tests.studio import MINIMAL_WIDGETS
from tests.studio.test_check_fuzz import LIQUID, _flow_of, _put, _templated, mutated, odd_flow
from tests.studio_api import schema

ACCOUNT = "AC" + "3" * 32
TOKEN = "fuzz-token"
AUTH = (ACCOUNT, TOKEN)


@pytest.fixture(scope="module")
def app(module_database_url: str) -> Iterator[Flask]:
    application = create_app({"SWITCHBOARD_DATABASE_URL": module_database_url,
                              "BUNDLED_FLOWS": False, "STUDIO_FLOWS": False,
                              "QUIET_START": True, "TWILIO_ACCOUNT_SID": ACCOUNT,
                              "TWILIO_AUTH_TOKEN": TOKEN})
    register_studio_api(application)
    yield application
    application.extensions["switchboard"].store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _answer(client: FlaskClient, path: str, form: dict[str, str]) -> tuple[int, Any]:
    """POST ``form`` to ``path``: the status and the body, checked against Twilio's
    description of Studio v2; a 400 says what was wrong in one line."""
    response = client.post(path, data=form, auth=AUTH)
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text
    assert schema.problems("POST", f"http://localhost{path}", response.status_code, text) == []
    body = response.json
    if response.status_code >= 400:
        assert "\n" not in body["message"], body
        for problem in (body.get("details") or {}).get("errors", []):
            assert "\n" not in problem["message"], problem
    return response.status_code, body


@st.composite
def liquid_flow(draw: st.DrawFn) -> dict[str, Any]:
    """A widget's flow with Liquid from its whole vocabulary in one of its properties."""
    kind = draw(st.sampled_from(sorted(MINIMAL_WIDGETS)))
    definition = _flow_of(kind, "http://127.0.0.1:9")
    _put(definition, draw(st.sampled_from(_templated(kind))), draw(LIQUID))
    return definition


DEFINITIONS = st.one_of(
    mutated(), odd_flow("http://127.0.0.1:9"), liquid_flow(),
).map(json.dumps) | st.sampled_from([
    "", "[]", "null", '"x"', "1e400", "NaN", '{"states": NaN}', "[" * 5000, '{"a":' * 5000,
    "9" * 5000, '{"initial_state": "\\ud800", "states": []}', "{", "\ufeff{}",
])
"""Definitions as the form's text: JSON of a broken flow, or text that is no flow at all."""

API_FUZZ = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@API_FUZZ
@given(text=DEFINITIONS, again=DEFINITIONS, status=st.sampled_from(["published", "draft"]))
def test_a_broken_definition_is_taken_or_refused_with_a_400_never_a_500(
        client: FlaskClient, caplog: pytest.LogCaptureFixture, text: str, again: str,
        status: str) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        form = {"FriendlyName": "Fuzzed", "Status": status, "Definition": text}
        validated, _ = _answer(client, "/v2/Flows/Validate", form)
        created, body = _answer(client, "/v2/Flows", form)
        assert (validated, created) in ((200, 201), (400, 400), (400, 201))  # a draft may err
        if created == 201:
            sid = body["sid"]
            updated, _ = _answer(client, f"/v2/Flows/{sid}",
                                 {"Status": "published", "Definition": again})
            assert updated in (200, 400)
            started, _ = _answer(client, f"/v2/Flows/{sid}/Executions",
                                 {"To": "+15555550100", "From": "+15551230000"})
            assert started in (201, 409)
    assert [record for record in caplog.records if record.exc_info] == [], caplog.text
