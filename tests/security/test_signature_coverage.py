"""What a signature covers: ``verify_flask_request`` accepts every request Twilio signs and
refuses any part of a request no signature covers (multipart fields, a body on a GET, a body
without ``bodySHA256``); with no token it refuses everything; a query Twilio sends unescaped
is checked byte for byte as sent."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import flask
import pytest

from switchboard.callbacks import create_app
from switchboard.callbacks.security import (
    RequestValidator,
    compute_signature,
    signed_headers,
    url_with_body_sha256,
    verify_flask_request,
)
from switchboard.config import Secret
from tests.conftest import serving

TOKEN = "signature-coverage-token-0123456789"
PARAMS = {"CallSid": "CA" + "7" * 32, "From": "+14155550100", "To": "+14155550199"}


def _view_app(token: object = TOKEN) -> flask.Flask:
    """A view guarded by verify_flask_request that echoes the fields it was given."""
    app = flask.Flask(__name__)

    @app.route("/voice", methods=["GET", "POST"])
    def voice() -> str:
        if not verify_flask_request(flask.request, token):  # type: ignore[arg-type]
            flask.abort(403)
        return json.dumps(flask.request.form.to_dict(flat=False))

    return app


# --- verify_flask_request ------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", Secret("")])
def test_verify_flask_request_without_a_token_refuses(token: object) -> None:
    """A refusal, not a ValueError: a view built on it answers 403, not 500."""
    app = _view_app(token)
    headers = signed_headers("any-token", "http://localhost/voice", PARAMS)
    response = app.test_client().post("/voice", data=PARAMS, headers=headers)
    assert response.status_code == 403


def test_verify_flask_request_refuses_multipart_fields_no_signature_covers() -> None:
    """A URL-only signature (a GET webhook's, whose query Twilio signed) replayed as a
    multipart POST: no signature covers the fields, which the view would read from
    request.form."""
    url = "http://localhost/voice?" + urlencode(PARAMS)
    client = _view_app().test_client()
    assert client.get(url, headers=signed_headers(TOKEN, url)).status_code == 200
    forged = client.post(url, data={"Digits": "9"}, content_type="multipart/form-data",
                         headers=signed_headers(TOKEN, url))
    assert forged.status_code == 403


def test_verify_flask_request_refuses_a_form_body_on_a_get() -> None:
    url = "http://localhost/voice?" + urlencode(PARAMS)
    response = _view_app().test_client().open(
        url, method="GET", data={"Digits": "9"}, headers=signed_headers(TOKEN, url))
    assert response.status_code == 403


def test_verify_flask_request_refuses_a_body_without_body_sha256() -> None:
    url = "http://localhost/voice?" + urlencode(PARAMS)
    body = json.dumps({"Digits": "9"}).encode()
    response = _view_app().test_client().post(
        url, data=body, content_type="application/json", headers=signed_headers(TOKEN, url))
    assert response.status_code == 403


def test_verify_flask_request_accepts_what_twilio_signs() -> None:
    client = _view_app(RequestValidator(TOKEN)).test_client()
    signed = client.post("/voice", data=PARAMS,
                         headers=signed_headers(TOKEN, "http://localhost/voice", PARAMS))
    assert signed.status_code == 200
    assert json.loads(signed.text)["CallSid"] == [PARAMS["CallSid"]]
    body = json.dumps({"event": "x"}).encode()
    url = url_with_body_sha256("http://localhost/voice", body)
    response = client.post(url, data=body, content_type="application/json",
                           headers=signed_headers(TOKEN, url))
    assert response.status_code == 200
    empty = client.post("/voice", headers=signed_headers(TOKEN, "http://localhost/voice"))
    assert empty.status_code == 200


# --- query strings as Twilio sends them, over real HTTP -------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    app = create_app({
        "TESTING": True,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.sqlite3'}",
    })
    with serving(app) as base:
        yield base
    app.extensions["switchboard"].store.close()


def _post_raw(base: str, target: str, signature: str) -> int:
    """POST ``target`` (path and query) byte for byte, as a client that does not re-escape."""
    host = urlsplit(base).netloc
    body = urlencode(PARAMS).encode()
    conn = http.client.HTTPConnection(host, timeout=10)
    try:
        conn.putrequest("POST", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(len(body)))
        conn.putheader("X-Twilio-Signature", signature)
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize(
    "query",
    ["tags[]=a&tags[]=b", "ids[0]=1", "x=a|b", "x={1}", "x=\"q\"", "x=^`<>", "x=a'b!*()~"],
)
def test_a_query_twilio_sent_unescaped_is_checked_as_sent(server: str, query: str) -> None:
    """``[`` ``]`` ``|`` ``{`` ``}`` in a configured URL's query travel unescaped (OkHttp,
    requests keep ``[]``) and are signed so; the server checks them as sent, not re-escaped
    (``%5B%5D``), which would refuse every such webhook with 403."""
    target = f"/voice?{query}"
    signature = compute_signature(TOKEN, server + target, PARAMS)
    assert _post_raw(server, target, signature) == 200
    changed = target[:-1] + ("0" if target[-1] != "0" else "1")
    assert _post_raw(server, changed, signature) == 403
