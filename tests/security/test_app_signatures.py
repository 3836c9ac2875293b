"""The real app (callbacks.create_app): signed requests answered, changed ones 403, proxies
trusted only when the settings say so."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from switchboard.callbacks import create_app
from switchboard.callbacks.security import signed_headers

TOKEN = "app-signature-token-0123456789ab"
PUBLIC = "https://hooks.example.com"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
CHARS = string.ascii_letters + string.digits + " +-_.:/@&=?%é<>"


def _app(tmp_path: Path, **settings: object) -> Flask:
    return create_app({
        "TESTING": True,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.sqlite3'}",
        **settings,
    })


@pytest.fixture
def plain_app(tmp_path: Path) -> Iterator[Flask]:
    app = _app(tmp_path)
    yield app
    app.extensions["switchboard"].store.close()


def _call(rng: random.Random) -> MultiDict:
    fields = MultiDict({
        "CallSid": "CA" + "".join(rng.choices("0123456789abcdef", k=32)),
        "AccountSid": "AC" + "a" * 32,
        "From": "+1555" + "".join(rng.choices(string.digits, k=7)),
        "To": "+15559870002",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    })
    for _ in range(rng.randint(0, 6)):  # fields Twilio may add without notice, some repeated
        name = rng.choice(["FromCity", "CallerName", "X", "Extra", "Body"])
        fields.add(name, "".join(rng.choices(CHARS, k=rng.randint(0, 12))))
    return fields


def test_random_signed_requests_answered_and_one_byte_changes_refused(plain_app: Flask) -> None:
    rng = random.Random(5)
    client = plain_app.test_client()
    for _ in range(60):
        fields = _call(rng)
        query = "&".join(f"k{i}={rng.randint(0, 999)}" for i in range(rng.randint(0, 2)))
        path = "/voice" + (f"?{query}" if query else "")
        headers = signed_headers(TOKEN, "http://localhost" + path, fields)
        assert client.post(path, data=fields, headers=headers).status_code == 200

        name = rng.choice(list(fields.keys()))
        values = fields.getlist(name)
        index = rng.randrange(len(values))
        changed = values[index][:-1] + ("0" if values[index][-1:] != "0" else "1")
        tampered = fields.copy()
        tampered.setlist(name, [*values[:index], changed, *values[index + 1 :]])
        assert client.post(path, data=tampered, headers=headers).status_code == 403
        assert client.post(path + ("&" if query else "?") + "z=1", data=fields,
                           headers=headers).status_code == 403
        signature = headers["X-Twilio-Signature"]
        bad = {"X-Twilio-Signature": ("B" if signature[0] != "B" else "C") + signature[1:]}
        response = client.post(path, data=fields, headers=bad)
        assert response.status_code == 403
        assert b"signature" not in response.data.lower()


@pytest.mark.parametrize(
    ("settings", "signed_for", "headers", "status"),
    [
        ({}, "http://localhost/voice", {}, 200),
        ({}, f"{PUBLIC}/voice", FORWARDED, 403),  # forwarded headers not trusted
        ({"SWITCHBOARD_TRUSTED_PROXIES": "1"}, f"{PUBLIC}/voice", FORWARDED, 200),
        ({"SWITCHBOARD_TRUSTED_PROXIES": "1"}, "http://localhost/voice", FORWARDED, 403),
        ({"SWITCHBOARD_PUBLIC_URL": PUBLIC}, f"{PUBLIC}/voice", {}, 200),
        ({"SWITCHBOARD_PUBLIC_URL": PUBLIC}, f"{PUBLIC}:443/voice", {}, 200),
        ({"SWITCHBOARD_PUBLIC_URL": PUBLIC}, "http://localhost/voice", {}, 403),
        ({"SWITCHBOARD_PUBLIC_URL": "https://other.example"}, f"{PUBLIC}/voice", FORWARDED, 403),
    ],
)
def test_behind_a_proxy_only_when_configured(
    tmp_path: Path, settings: dict, signed_for: str, headers: dict, status: int
) -> None:
    app = _app(tmp_path, **settings)
    fields = _call(random.Random(1))
    all_headers = {**headers, **signed_headers(TOKEN, signed_for, fields)}
    try:
        response = app.test_client().post("/voice", data=fields, headers=all_headers)
        assert response.status_code == status
    finally:
        app.extensions["switchboard"].store.close()


def test_the_token_never_reaches_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level("DEBUG")
    for settings in ({}, {"SWITCHBOARD_VALIDATE_SIGNATURES": "false"}):
        app = _app(tmp_path, **settings)
        try:
            client = app.test_client()
            fields = _call(random.Random(2))
            client.post("/voice", data=fields, headers=signed_headers(TOKEN, "http://x/v", fields))
            client.post("/voice", data=fields, headers={"X-Twilio-Signature": TOKEN})
            client.post("/voice", data=fields)
            repr(app.extensions["switchboard"].settings)
        finally:
            app.extensions["switchboard"].store.close()
    captured = capsys.readouterr()
    assert "refused" in caplog.text  # the refusals were logged...
    assert TOKEN not in caplog.text  # ...without the token
    assert TOKEN not in captured.out + captured.err


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"CallSid=CA\xff&Digits=1"),  # not UTF-8
        ("application/json", b'{"Digits": "1"}'),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; '
         b'name="Digits"\r\n\r\n1\r\n--x--\r\n'),
        ("text/plain", b"Digits=1"),
    ],
)
def test_a_body_the_signature_does_not_cover_is_refused(
    plain_app: Flask, content_type: str, body: bytes
) -> None:
    """A URL-only signature (a GET webhook's: its query is what Twilio signed) replayed with
    a body no signature covers: checked against the URL alone it would pass, and the body
    would reach the handler unchecked."""
    url = "http://localhost/voice?CallSid=CA" + "1" * 32 + "&From=%2B15555550100"
    client = plain_app.test_client()
    assert client.get(url, headers=signed_headers(TOKEN, url)).status_code == 200
    headers = {**signed_headers(TOKEN, url), "Content-Type": content_type}
    assert client.post(url, data=body, headers=headers).status_code == 403
    assert client.get(url, data=body, headers=headers).status_code == 403


def test_an_empty_body_and_a_signed_form_are_still_accepted(plain_app: Flask) -> None:
    url = "http://localhost/voice?CallSid=CA" + "1" * 32
    client = plain_app.test_client()
    headers = {**signed_headers(TOKEN, url), "Content-Type": "application/json"}
    assert client.post(url, headers=headers).status_code == 200
    form = {"CallSid": "CA" + "2" * 32, "From": "+15555550100"}
    signed = signed_headers(TOKEN, "http://localhost/voice", form)
    assert client.post("/voice", data=form, headers=signed).status_code == 200
