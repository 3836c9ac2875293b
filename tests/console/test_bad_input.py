"""Values the console cannot use, in a page's address or query: ignored, or refused with the
console's 400 page, never a 500 and never the "database unavailable" 503; on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks.console.blueprint import SECURITY_HEADERS
from tests.console.conftest import add_call, csrf_of


@pytest.fixture
def console_config() -> dict[str, Any]:
    return {"SWITCHBOARD_CONSOLE_TIMEZONE": "Asia/Tokyo"}


@pytest.mark.parametrize("query", [
    {"until": "9999-12-31"},
    {"since": "0001-01-01"},
    {"since": "0001-01-01", "until": "9999-12-31"},
])
def test_a_day_at_the_calendar_s_end_is_ignored(db_client: FlaskClient, db_app: Flask,
                                                query: dict[str, str]) -> None:
    add_call(db_app.extensions["switchboard"].store)
    response = db_client.get("/console/calls", query_string=query)
    assert response.status_code == 200
    assert "No call matches." not in response.text
    for value in query.values():
        assert f'value="{value}"' not in response.text  # not kept as a filter


@pytest.mark.parametrize("url", [
    "/console/calls?number=%00",
    "/console/calls?number=%2B1555%000100",
    "/console/calls?before=20240101T000000.000000~CA%00",
    "/console/voicemails?after=20240101T000000.000000~RE%00",
    "/console/conversations?number=%00",
    "/console/executions?flow=Support%00",
    "/console/executions?contact=%00",
    "/console/calls/CA%00",
    "/console/conversations/%2B1555%00",
    "/console/conversation?contact=%2B1555%00",
    "/console/executions/FN%00",
    "/console/voicemails/RE%00",
])
def test_a_nul_character_is_refused_with_400(db_client: FlaskClient, url: str) -> None:
    response = db_client.get(url)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "NUL character" in response.text
    for name in SECURITY_HEADERS:
        assert name in response.headers


def test_a_nul_character_in_a_form_is_refused_with_400(db_client: FlaskClient) -> None:
    page = db_client.get("/console/conversations/+15555550100")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = db_client.post("/console/conversations/+15555550100/opt-out",
                              data={"csrf_token": token, "sender": "+1555\x00"})
    assert response.status_code == 400


@pytest.mark.parametrize("url", ["/console/conversation", "/console/conversation?contact="])
def test_a_conversation_address_without_its_contact_is_refused_with_400(
    db_client: FlaskClient, url: str
) -> None:
    response = db_client.get(url)
    assert response.status_code == 400
    assert "The address names no contact: add ?contact=" in response.text
    token = csrf_of(db_client.get("/console/conversations").text)
    refused = db_client.post(url.replace("/conversation", "/conversation/opt-out"),
                             data={"csrf_token": token, "sender": "*"})
    assert refused.status_code == 400


def test_a_nul_character_in_the_audio_s_address_is_json(db_client: FlaskClient) -> None:
    response = db_client.get("/console/recordings/RE%00/audio")
    assert response.status_code == 400
    assert response.is_json
