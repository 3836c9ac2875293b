"""HTTP basic auth as Twilio's: the account SID and auth token, or an API key's SID and secret;
anything else is a 401 with Twilio's 20003 body and a ``WWW-Authenticate`` challenge; every
configured pair is compared in full, whatever was wrong."""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from switchboard.callbacks import create_app
from switchboard.callbacks.studio.api import auth, register_studio_api
from switchboard.config import load_settings
from tests.studio_api import schema

ACCOUNT = "AC" + "1" * 32
TOKEN = "account-token"
KEY, SECRET = "SK" + "2" * 32, "key-secret"


def client_for(tmp_path: Path, **config: Any) -> FlaskClient:
    app = create_app({"SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      "BUNDLED_FLOWS": False, "STUDIO_FLOWS": False, "QUIET_START": True,
                      **config})
    register_studio_api(app)
    return app.test_client()


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return client_for(tmp_path, TWILIO_ACCOUNT_SID=ACCOUNT, TWILIO_AUTH_TOKEN=TOKEN,
                     TWILIO_API_KEY_SID=KEY, TWILIO_API_KEY_SECRET=SECRET)


def answer(client: FlaskClient, auth: tuple[str, str] | None) -> tuple[int, Any, Any]:
    response = client.get("/v2/Flows", auth=auth)
    assert schema.problems("GET", "http://localhost/v2/Flows", response.status_code,
                           response.get_data(as_text=True)) == []
    return response.status_code, response.json, response.headers.get("WWW-Authenticate")


@pytest.mark.parametrize("credentials", [(ACCOUNT, TOKEN), (KEY, SECRET)])
def test_the_account_and_an_api_key_are_let_in(client: FlaskClient,
                                               credentials: tuple[str, str]) -> None:
    status, body, _ = answer(client, credentials)
    assert status == 200
    assert body["flows"] == []


@pytest.mark.parametrize("credentials", [
    None, (ACCOUNT, "wrong"), ("AC" + "9" * 32, TOKEN), (KEY, TOKEN), (ACCOUNT, SECRET),
    (ACCOUNT, ""), (ACCOUNT, TOKEN + "x"),
])
def test_anything_else_is_a_401_in_twilios_shape(client: FlaskClient,
                                                  credentials: tuple[str, str] | None) -> None:
    status, body, challenge = answer(client, credentials)
    assert status == 401
    assert body == {"code": 20003, "message": "Authenticate", "status": 401,
                    "more_info": "https://www.twilio.com/docs/errors/20003"}
    assert challenge == 'Basic realm="Twilio API"'


def test_a_bearer_token_is_not_basic_auth(client: FlaskClient) -> None:
    response = client.get("/v2/Flows", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 401


def test_without_credentials_configured_nobody_is_let_in_and_the_log_says_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(tmp_path)
    with caplog.at_level(logging.WARNING, "switchboard.callbacks.studio.api"):
        status, _, _ = answer(client, (ACCOUNT, TOKEN))
    assert status == 401
    assert "TWILIO_AUTH_TOKEN" in caplog.text
    assert TOKEN not in caplog.text


def test_every_pair_is_compared_in_full_whatever_is_wrong(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(overrides={
        "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_KEY_SID": KEY, "TWILIO_API_KEY_SECRET": SECRET})
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    for username, password in [("nobody", "nothing"), (ACCOUNT, TOKEN), (KEY, "wrong")]:
        compared.clear()
        auth.allowed(settings, username, password)
        assert len(compared) == 4, (username, password)
