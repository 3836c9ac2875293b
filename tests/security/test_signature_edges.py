"""The edges of what a signature covers: any field a handler can read is signed.

A signature over the URL alone (a GET webhook's, or a replayed one) must not carry fields no
signature covers: a form signed without them, a multipart body (fields or files), a body that
claims a ``bodySHA256`` it does not match (the empty string's hash, once the body has been
parsed away; a hash under a percent-encoded name). ``bodySHA256`` is found in the same
decoded query the handlers read, and checked against the body as received, byte for byte.
Signatures made the official SDK's way (a value repeated under one name counted once) are
accepted too.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import flask
import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from switchboard.callbacks import create_app
from switchboard.callbacks.security import RequestValidator, verify_flask_request
from tests import twilio_signature as twilio
from tests.server.conftest import TOKEN, call_params, message_params, twiml, verbs

EMPTY_HASH = twilio.body_hash(b"")
BOUNDARY = "sb-edge-boundary"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = create_app({
        "TESTING": True,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_DATABASE_URL":
            f"sqlite:///{tmp_path_factory.mktemp('edges') / 'sb.sqlite3'}",
    })
    yield application
    application.extensions["switchboard"].store.close()


def _url(path: str, query: dict[str, str] | None = None, extra: str = "") -> str:
    query_string = urlencode(query or call_params()) + extra
    return f"http://localhost{path}?{query_string}"


def _headers(url: str, fields: object = None, **more: str) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio.signature(TOKEN, url, fields), **more}  # type: ignore[arg-type]


def _multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]] = ()) -> bytes:
    """A multipart/form-data body with ``BOUNDARY``, byte for byte as sent."""
    parts = []
    for name, value in fields:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, filename, content in files:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


# -- fields signed over the bare URL ----------------------------------------------------------


def test_form_fields_signed_over_the_bare_url_are_refused(app: Flask) -> None:
    """``Digits=2`` (voicemail) posted with a signature over the URL alone: the field is not
    in what was signed, so the menu never sees it. Signed with the field, it is answered."""
    client = app.test_client()
    url = _url("/voice/menu")
    unsigned = client.post(url, data={"Digits": "2"}, headers=_headers(url))
    assert unsigned.status_code == 403
    signed = client.post(url, data={"Digits": "2"}, headers=_headers(url, {"Digits": "2"}))
    assert "Record" in verbs(twiml(signed))


# -- (a) the empty body's hash, once a multipart body is parsed away -------------------------


def test_multipart_fields_with_the_empty_body_hash_are_refused(app: Flask) -> None:
    """The hash is checked against the body as received: the multipart body that carried
    ``Digits=2`` is not the empty string, whatever the parsed request has left of it."""
    url = _url("/voice/menu", extra=f"&bodySHA256={EMPTY_HASH}")
    response = app.test_client().post(url, data={"Digits": "2"},
                                      content_type="multipart/form-data", headers=_headers(url))
    assert response.status_code == 403


def test_a_form_parsed_before_the_check_is_refused_not_trusted() -> None:
    """A view that reads ``request.form`` before ``verify_flask_request`` has lost the raw
    body: the check cannot compare it with ``bodySHA256``, so it refuses."""
    view_app = flask.Flask(__name__)

    @view_app.post("/hook")
    def hook() -> str:
        fields = flask.request.form.to_dict()
        if not verify_flask_request(flask.request, TOKEN):
            flask.abort(403)
        return json.dumps(fields)

    url = f"http://localhost/hook?bodySHA256={EMPTY_HASH}"
    client = view_app.test_client()
    for content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        response = client.post(url, data={"Digits": "2"}, content_type=content_type,
                               headers=_headers(url))
        assert response.status_code == 403, content_type


# -- (b) bodySHA256 under a percent-encoded name ---------------------------------------------


ENCODED_NAMES = ["body%53HA256", "%62odySHA256", "bodySHA%32%35%36", "body%53%48%41256"]


@pytest.mark.parametrize("name", ENCODED_NAMES)
def test_an_encoded_body_sha256_is_checked_against_the_body(app: Flask, name: str) -> None:
    """The server reads ``bodySHA256`` from the decoded query, so the check does too: the
    body must match the hash, whatever escapes spell its name."""
    client = app.test_client()
    body = json.dumps({"Digits": "2"}).encode()
    wrong = _url("/voice", extra=f"&{name}={twilio.body_hash(b'something else')}")
    response = client.post(wrong, data=body, content_type="application/json",
                           headers=_headers(wrong))
    assert response.status_code == 403
    right = _url("/voice", extra=f"&{name}={twilio.body_hash(body)}")
    response = client.post(right, data=body, content_type="application/json",
                           headers=_headers(right))
    assert response.status_code == 200


@pytest.mark.parametrize("name", ENCODED_NAMES)
def test_verify_flask_request_checks_an_encoded_body_sha256(name: str) -> None:
    """The form fields a view reads, under a URL-only signature and a hash that names
    nothing: refused."""
    view_app = flask.Flask(__name__)

    @view_app.post("/hook")
    def hook() -> str:
        if not verify_flask_request(flask.request, TOKEN):
            flask.abort(403)
        return json.dumps(flask.request.form.to_dict())

    url = f"http://localhost/hook?{name}={'0' * 64}"
    response = view_app.test_client().post(url, data={"Digits": "2"}, headers=_headers(url))
    assert response.status_code == 403


def test_the_validator_finds_an_encoded_body_sha256() -> None:
    body = b'{"Digits": "2"}'
    url = f"https://x.example/hook?body%53HA256={twilio.body_hash(b'')}"
    signature = twilio.signature(TOKEN, url)
    validator = RequestValidator(TOKEN)
    assert not validator.validate(url, None, signature, body=body)
    assert not validator.validate(url, None, signature)  # no body given: nothing to check
    assert validator.validate(url, None, signature, body=b"")


def test_body_sha256_given_twice_is_refused(app: Flask) -> None:
    body = b'{"x": 1}'
    url = _url("/voice", extra=f"&bodySHA256={twilio.body_hash(body)}&bodySHA256={EMPTY_HASH}")
    response = app.test_client().post(url, data=body, content_type="application/json",
                                      headers=_headers(url))
    assert response.status_code == 403
    assert not RequestValidator(TOKEN).validate(url, None, twilio.signature(TOKEN, url), body)


# -- (c) multipart bodies --------------------------------------------------------------------


def test_a_multipart_body_holding_only_a_file_is_refused(app: Flask) -> None:
    url = _url("/voice")
    response = app.test_client().post(
        url, data={"upload": (io.BytesIO(b"not signed"), "a.bin")},
        content_type="multipart/form-data", headers=_headers(url))
    assert response.status_code == 403


def test_multipart_fields_signed_with_a_file_beside_them_are_refused(app: Flask) -> None:
    """The fields are signed, the file is not: multipart is refused unless ``bodySHA256``
    covers it all."""
    url = _url("/voice/menu")
    body = _multipart([("Digits", "1")], [("upload", "a.bin", b"not signed")])
    response = app.test_client().post(url, data=body, content_type=MULTIPART,
                                      headers=_headers(url, {"Digits": "1"}))
    assert response.status_code == 403


def test_multipart_fields_signed_as_a_form_are_refused(app: Flask) -> None:
    """Twilio posts forms URL-encoded; a multipart body is not what it signed field by field."""
    url = _url("/voice/menu")
    body = _multipart([("Digits", "2")])
    response = app.test_client().post(url, data=body, content_type=MULTIPART,
                                      headers=_headers(url, {"Digits": "2"}))
    assert response.status_code == 403


def test_multipart_covered_by_body_sha256_is_accepted(app: Flask) -> None:
    body = _multipart([("Digits", "2")], [("upload", "a.bin", b"\x00\xff signed")])
    url = _url("/voice/menu", extra=f"&bodySHA256={twilio.body_hash(body)}")
    client = app.test_client()
    response = client.post(url, data=body, content_type=MULTIPART, headers=_headers(url))
    assert "Record" in verbs(twiml(response))
    changed = body.replace(b"signed", b"signeD")
    response = client.post(url, data=changed, content_type=MULTIPART, headers=_headers(url))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/octet-stream",
                     "application/xml", "multipart/form-data; boundary=x"])
def test_any_other_body_without_body_sha256_is_refused(app: Flask, content_type: str) -> None:
    url = _url("/voice")
    response = app.test_client().post(url, data=b'{"Digits": "2"}', content_type=content_type,
                                      headers=_headers(url))
    assert response.status_code == 403


# -- repeated values: the SDK's way and Twilio's ----------------------------------------------


def test_a_value_repeated_under_one_name_is_accepted_either_way(app: Flask) -> None:
    """The official SDK signs ``sorted(set(values))``: a value repeated under one name counts
    once. Switchboard counts each. Both signatures are accepted; one of anything else is not."""
    client = app.test_client()
    fields = MultiDict([*message_params().items(), ("Tag", "a"), ("Tag", "a"), ("Tag", "b")])
    url = "http://localhost/sms"
    every = twilio.signature(TOKEN, url, fields.items(multi=True))
    once = twilio.signature(TOKEN, url, fields.items(multi=True), drop_repeats=True)
    assert every != once
    for signature in (every, once):
        response = client.post(url, data=fields, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, signature
    other = twilio.signature(TOKEN, url, [*fields.items(multi=True), ("Tag", "b")])
    response = client.post(url, data=fields, headers={"X-Twilio-Signature": other})
    assert response.status_code == 403


def test_the_validator_accepts_either_form_of_repeats() -> None:
    url = "https://x.example/sms?x=1"
    pairs = [("Body", "hi"), ("MediaUrl", "u"), ("MediaUrl", "u")]
    validator = RequestValidator(TOKEN)
    for drop in (False, True):
        signature = twilio.signature(TOKEN, url, pairs, drop_repeats=drop)
        assert validator.validate(url, pairs, signature)
        assert validator.validate(url, MultiDict(pairs), signature)
        assert validator.validate(url.replace("x.example", "x.example:443"), pairs, signature)
        assert not validator.validate(url, [*pairs, ("Body", "hi!")], signature)
