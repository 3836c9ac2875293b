"""verify_flask_request and twilio_url with a tiny Flask app: public URL, proxies, escapes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import flask
import pytest
import requests
from werkzeug.datastructures import MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix

from switchboard.callbacks.security import (
    SIGNATURE_HEADER,
    RequestValidator,
    signed_headers,
    twilio_url,
    url_with_body_sha256,
    verify_flask_request,
)
from switchboard.config import Secret
from tests.conftest import serving

TOKEN = "flask-test-token-0123456789abcdef"
PARAMS = {"CallSid": "CA" + "1" * 32, "From": "+14155550100", "To": "+14155550199"}
PUBLIC = "https://abc123.ngrok.io"


def make_app(*, public_url: str | None = None, trusted_proxies: int = 0) -> flask.Flask:
    """What the server does, in miniature: check every request, 403 with no detail."""
    app = flask.Flask(__name__)
    validator = RequestValidator(Secret(TOKEN))

    @app.route("/voice", methods=["GET", "POST"])
    @app.route("/voice/<path:rest>", methods=["GET", "POST"])
    def voice(rest: str = "") -> str:
        if not verify_flask_request(flask.request, validator, public_url):
            flask.abort(403)
        return "ok"

    @app.route("/url", methods=["GET", "POST"])
    def url() -> str:
        return twilio_url(flask.request, public_url)

    if trusted_proxies:
        n = trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    return app


def post(app: flask.Flask, path: str, signed_url: str, data=PARAMS, **kwargs):
    headers = {**signed_headers(TOKEN, signed_url, data), **kwargs.pop("headers", {})}
    return app.test_client().post(path, data=data, headers=headers, **kwargs)


def test_form_post_signed_for_the_url_flask_sees() -> None:
    app = make_app()
    assert post(app, "/voice?x=1", "http://localhost/voice?x=1").status_code == 200
    assert post(app, "/voice", "http://localhost:80/voice").status_code == 200


def test_failures_get_403_with_no_detail() -> None:
    app = make_app()
    client = app.test_client()
    assert client.post("/voice", data=PARAMS).status_code == 403  # no header
    response = client.post("/voice", data={**PARAMS, "From": "+1900"},
                           headers=signed_headers(TOKEN, "http://localhost/voice", PARAMS))
    assert response.status_code == 403
    assert b"signature" not in response.data.lower()
    wrong = signed_headers("another-token", "http://localhost/voice", PARAMS)
    assert client.post("/voice", data=PARAMS, headers=wrong).status_code == 403


def test_repeated_form_fields_count_every_value() -> None:
    app = make_app()
    fields = MultiDict([("To", "+14155550100"), ("MediaUrl", "b"), ("MediaUrl", "a")])
    headers = signed_headers(TOKEN, "http://localhost/voice", fields)
    client = app.test_client()
    assert client.post("/voice", data=fields, headers=headers).status_code == 200
    fields.poplist("MediaUrl")
    fields.add("MediaUrl", "b")
    assert client.post("/voice", data=fields, headers=headers).status_code == 403


def test_get_is_checked_by_the_url_alone() -> None:
    app = make_app()
    path = "/voice?CallSid=CA1&From=%2B14155550100"
    headers = signed_headers(TOKEN, "http://localhost" + path)
    assert app.test_client().get(path, headers=headers).status_code == 200
    assert app.test_client().get(path + "0", headers=headers).status_code == 403


def test_json_body_with_body_sha256() -> None:
    app = make_app()
    body = json.dumps({"CallSid": "CA1", "Event": "x"}).encode()
    url = url_with_body_sha256("http://localhost/voice", body)
    path = url.removeprefix("http://localhost")
    headers = {**signed_headers(TOKEN, url), "Content-Type": "application/json"}
    client = app.test_client()
    assert client.post(path, data=body, headers=headers).status_code == 200
    assert client.post(path, data=body + b" ", headers=headers).status_code == 403


def test_public_url_rebuilds_what_twilio_signed() -> None:
    app = make_app(public_url=PUBLIC)
    assert post(app, "/voice?step=2", f"{PUBLIC}/voice?step=2").status_code == 200
    assert post(app, "/voice", f"{PUBLIC}:443/voice").status_code == 200
    # signed for the address Flask sees, not the public one: refused
    assert post(app, "/voice", "http://localhost/voice").status_code == 403


def test_public_url_with_a_path_prefix() -> None:
    app = make_app(public_url="https://example.com/switchboard")
    signed = "https://example.com/switchboard/voice/gather?attempt=1"
    assert post(app, "/voice/gather?attempt=1", signed).status_code == 200


@pytest.mark.parametrize("trusted", [0, 1])
def test_forwarded_headers_only_count_from_trusted_proxies(trusted: int) -> None:
    app = make_app(trusted_proxies=trusted)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    response = post(app, "/voice", "https://hooks.example.com/voice", headers=forwarded)
    assert response.status_code == (200 if trusted else 403)


def test_a_client_cannot_add_its_own_forwarded_host_past_one_trusted_proxy() -> None:
    app = make_app(trusted_proxies=1)
    # The proxy appends the real host; a spoofed earlier value is ignored.
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example, hooks.example.com",
    }
    assert post(app, "/voice", "https://evil.example/voice", headers=forwarded).status_code == 403
    assert post(app, "/voice", "https://hooks.example.com/voice",
                headers=forwarded).status_code == 200


def test_forwarded_prefix_and_port() -> None:
    app = make_app(trusted_proxies=1)
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.example.com",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/sb",
    }
    signed = "https://hooks.example.com:8443/sb/voice?x=1"
    assert post(app, "/voice?x=1", signed, headers=forwarded).status_code == 200


@pytest.mark.parametrize(
    ("public_url", "path", "expected"),
    [
        (None, "/url", "http://localhost/url"),
        (None, "/url?", "http://localhost/url"),
        (None, "/url?a=1&b=%40&c=%C3%A9", "http://localhost/url?a=1&b=%40&c=%C3%A9"),
        (PUBLIC, "/url", f"{PUBLIC}/url"),
        (PUBLIC + "/", "/url?q=%2B1", f"{PUBLIC}/url?q=%2B1"),
    ],
)
def test_twilio_url(public_url: str | None, path: str, expected: str) -> None:
    app = make_app(public_url=public_url)
    assert app.test_client().get(path).text == expected


def test_twilio_url_keeps_the_escapes_twilio_signed() -> None:
    """werkzeug's request.url turns %40 into @ and %C3%A9 into é; Twilio signed the escapes."""
    app = flask.Flask(__name__)
    path = "/voice/a%20b/%C3%A9?Body=%C3%A9%20%3Cx%3E&at=%40"
    with app.test_request_context(path):
        assert flask.request.url != "http://localhost" + path
        assert twilio_url(flask.request, None) == "http://localhost" + path
        assert twilio_url(flask.request, PUBLIC) == PUBLIC + path
    with app.test_request_context("/voice?x=1", base_url="http://localhost/app"):
        assert twilio_url(flask.request, None) == "http://localhost/app/voice?x=1"
        assert twilio_url(flask.request, PUBLIC) == PUBLIC + "/voice?x=1"
    with app.test_request_context("/voice%40x", environ_overrides={"REQUEST_URI": None,
                                                                   "RAW_URI": None}):
        assert twilio_url(flask.request, None) == "http://localhost/voice@x"


@pytest.fixture
def live_server() -> Iterator[str]:
    """The tiny app on a real socket (werkzeug's server records the raw request line)."""
    with serving(make_app()) as url:
        yield url


def test_over_real_http(live_server: str) -> None:
    url = f"{live_server}/voice/a%20b?Body=%C3%A9%3Cx%3E&n=%2B1&at=%40"
    fields = [("Body", "</Say><Dial>+1900</Dial>"), ("Body", "é"), ("From", "+14155550100")]
    headers = signed_headers(TOKEN, url, fields)
    assert requests.post(url, data=fields, headers=headers, timeout=5).status_code == 200
    assert requests.post(url, data=fields[1:], headers=headers, timeout=5).status_code == 403
    get_headers = signed_headers(TOKEN, url)
    assert requests.get(url, headers=get_headers, timeout=5).status_code == 200
    good = get_headers[SIGNATURE_HEADER]
    # Change the first character: the port differs per run, so any fixed suffix may be the
    # signature's own (a 1-in-64 chance of a false failure).
    bad = {SIGNATURE_HEADER: ("B" if good[0] != "B" else "C") + good[1:]}
    assert requests.get(url, headers=bad, timeout=5).status_code == 403
