"""The server's signature code checked against an independent one, and both against Twilio.

The server and the emulator share ``callbacks/security.py``, so end-to-end tests cannot see a
bug in it. ``tests/twilio_signature.py`` is written from Twilio's description alone; here the
two are checked against each other over random URLs, forms and bodies (hypothesis), both
against the example Twilio publishes in its security documentation and the facts of the
official Python SDK's own tests, and, with the SDK installed (the ``[test]`` extra), against
``twilio.request_validator.RequestValidator`` itself.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from switchboard.callbacks import create_app
from switchboard.callbacks.security import (
    BODY_SHA256,
    RequestValidator,
    body_sha256,
    compute_signature,
    url_with_body_sha256,
)
from switchboard.emulator.webhooks import WebhookClient, wsgi_session
from tests import twilio_signature as twilio
from tests.conftest import IN_CI
from tests.twilio_signature_example import EXPECTED, PARAMS, TOKEN, URL

CHECKS = settings(deadline=None, max_examples=150,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])

# The official Python SDK's tests (twilio-python, tests/unit/test_request_validator.py): the
# same URL and token with other numbers, the default ports added, repeated names, a JSON body.
SDK_PARAMS = {**PARAMS, "Caller": "+14158675309", "From": "+14158675309"}
SDK_EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SDK_WITH_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="  # signed for https://mycompany.com:443/...
SDK_HTTP_WITH_80 = "0ZXoZLH/DfblKGATFgpif+LLRf4="  # signed for http://mycompany.com:80/...
SDK_HTTP_1234 = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="  # signed for http://mycompany.com:1234/...
SDK_REPEATED = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
SDK_REPEATED_EXPECTED = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
SDK_BODY = b'{"property": "value", "boolean": true}'
SDK_BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
SDK_BODY_EXPECTED = "a9nBmqA0ju/hNViExpshrM61xv4="


def sdk_validator() -> Any:
    """The official SDK's RequestValidator class; skipped without it (failed in CI, where
    the ``[test]`` extra installs it)."""
    try:
        from twilio.request_validator import RequestValidator as SdkValidator
    except ImportError:
        reason = "the twilio SDK is not installed: pip install twilio (in the [test] extra)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return SdkValidator


# -- published facts ---------------------------------------------------------------------------


def test_twilios_published_example() -> None:
    assert twilio.signature(TOKEN, URL, PARAMS) == EXPECTED
    assert compute_signature(TOKEN, URL, PARAMS) == EXPECTED
    assert RequestValidator(TOKEN).validate(URL, PARAMS, EXPECTED)


def test_the_sdk_signs_the_published_example() -> None:
    sdk = sdk_validator()(TOKEN)
    assert sdk.compute_signature(URL, PARAMS) == EXPECTED
    assert sdk.validate(URL, PARAMS, EXPECTED)


def test_the_sdks_own_facts() -> None:
    validator = RequestValidator(TOKEN)
    for sign in (twilio.signature, compute_signature):
        assert sign(TOKEN, URL, SDK_PARAMS) == SDK_EXPECTED
        assert sign(TOKEN, URL.replace(".com", ".com:443"), SDK_PARAMS) == SDK_WITH_443
        http = URL.replace("https", "http")
        assert sign(TOKEN, http.replace(".com", ".com:80"), SDK_PARAMS) == SDK_HTTP_WITH_80
        assert sign(TOKEN, http.replace(".com", ".com:1234"), SDK_PARAMS) == SDK_HTTP_1234
        assert sign(TOKEN, URL, SDK_REPEATED) == SDK_REPEATED_EXPECTED
    # the default port added or removed, as the SDK's validator allows
    assert validator.validate(URL, SDK_PARAMS, SDK_WITH_443)
    assert validator.validate(URL.replace("https", "http"), SDK_PARAMS, SDK_HTTP_WITH_80)
    assert validator.validate(URL, MultiDict(SDK_REPEATED), SDK_REPEATED_EXPECTED)


def test_the_sdks_body_facts() -> None:
    assert twilio.body_hash(SDK_BODY) == body_sha256(SDK_BODY) == SDK_BODY_HASH
    url = twilio.url_with_body_hash(URL, SDK_BODY)
    assert url == url_with_body_sha256(URL, SDK_BODY) == f"{URL}&bodySHA256={SDK_BODY_HASH}"
    assert twilio.signature(TOKEN, url) == compute_signature(TOKEN, url) == SDK_BODY_EXPECTED
    assert RequestValidator(TOKEN).validate(url, None, SDK_BODY_EXPECTED, body=SDK_BODY)
    assert not RequestValidator(TOKEN).validate(url, None, SDK_BODY_EXPECTED, body=b"{}")


# -- the two implementations against each other ---------------------------------------------

UNRESERVED = string.ascii_letters + string.digits + "-._~"
HOSTS = ["example.com", "abc123.ngrok.io", "127.0.0.1", "hooks.example.org", "localhost"]

names = st.text(min_size=1, max_size=12)
values = st.text(max_size=16)
fields = st.lists(st.tuples(names, values), max_size=12)
tokens = st.text(min_size=1, max_size=40)


@st.composite
def urls(draw: Any, *, plain: bool = False) -> str:
    """A webhook URL: scheme, host, maybe a port, a path, maybe a query, maybe a fragment
    (which is not signed). ``plain``: escaped as a client sends it, with no fragment."""
    scheme = draw(st.sampled_from(["https", "http"]))
    host = draw(st.sampled_from(HOSTS))
    port = draw(st.sampled_from(["", "", ":443", ":80", ":8443"]))
    segments = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    query = draw(st.lists(st.tuples(names, values), max_size=4))
    url = f"{scheme}://{host}{port}{path}" + (f"?{urlencode(query)}" if query else "")
    if plain:
        return url
    return url + draw(st.sampled_from(["", "", "#ct=1000", "#rc=2&rp=all"]))


def _with_repeat(pairs: list[tuple[str, str]], data: st.DataObject) -> list[tuple[str, str]]:
    """``pairs`` with, sometimes, one of them sent twice (a value repeated under its name)."""
    if pairs and data.draw(st.booleans()):
        pairs = [*pairs, pairs[data.draw(st.integers(0, len(pairs) - 1))]]
    return pairs


@CHECKS
@given(token=tokens, url=urls(), pairs=fields, data=st.data())
def test_the_server_signs_as_twilio_describes(
    token: str, url: str, pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    pairs = _with_repeat(pairs, data)
    expected = twilio.signature(token, url, pairs)
    assert compute_signature(token, url, pairs) == expected
    assert compute_signature(token, url, MultiDict(pairs)) == expected


@CHECKS
@given(token=tokens, url=urls(), pairs=fields, extra=st.tuples(names, values), data=st.data())
def test_the_server_accepts_what_twilio_signs_and_nothing_added(
    token: str, url: str, pairs: list[tuple[str, str]], extra: tuple[str, str],
    data: st.DataObject,
) -> None:
    pairs = _with_repeat(pairs, data)
    validator = RequestValidator(token)
    for drop_repeats in (False, True):
        signature = twilio.signature(token, url, pairs, drop_repeats=drop_repeats)
        assert validator.validate(url, pairs, signature)
        assert validator.validate(url, MultiDict(pairs), signature)
        # A field added is refused, unless it only repeats a value (which the SDK's form
        # counts once) or Twilio's concatenation happens to give the same signed string.
        added = [*pairs, extra]
        if twilio.signed_string(url, pairs, drop_repeats=drop_repeats) not in {
            twilio.signed_string(url, added), twilio.signed_string(url, added, drop_repeats=True)
        }:
            assert not validator.validate(url, added, signature)


@CHECKS
@given(token=tokens, url=urls(), body=st.binary(max_size=200), flip=st.integers(0, 199))
def test_body_sha256_as_twilio_describes(token: str, url: str, body: bytes, flip: int) -> None:
    with_hash = twilio.url_with_body_hash(url, body)
    assert url_with_body_sha256(url, body) == with_hash
    signature = twilio.signature(token, with_hash)
    assert compute_signature(token, with_hash) == signature
    validator = RequestValidator(token)
    assert validator.validate(with_hash, None, signature, body=body)
    if body:
        changed = bytearray(body)
        changed[flip % len(body)] ^= 0x01
        assert not validator.validate(with_hash, None, signature, body=bytes(changed))


# -- and against the official SDK -----------------------------------------------------------


def test_a_blank_body_hash_is_refused_where_the_sdk_reads_a_form() -> None:
    """The SDK drops a blank ``bodySHA256=`` (``parse_qs``) and checks the form; the server
    sees it in ``request.args`` as a handler does, a hash no body has: refused, never taken
    for a form request. Twilio sends the hash of the body, never a blank one."""
    url = f"{URL}&{BODY_SHA256}="
    signed_by_sdk = sdk_validator()(TOKEN).compute_signature(url, PARAMS)
    assert sdk_validator()(TOKEN).validate(url, PARAMS, signed_by_sdk)
    assert not RequestValidator(TOKEN).validate(url, PARAMS, signed_by_sdk)
    assert not RequestValidator(TOKEN).validate(url, None, signed_by_sdk, body=b"")


@CHECKS
@given(url=urls(plain=True), pairs=fields, data=st.data())
def test_the_sdk_agrees(url: str, pairs: list[tuple[str, str]], data: st.DataObject) -> None:
    """The SDK signs a value repeated under one name once; the independent code's
    ``drop_repeats`` form is the SDK's, and the server accepts both."""
    # a URL naming bodySHA256 is a body's, and one with a blank hash is refused (below)
    assume(BODY_SHA256 not in dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)))
    sdk = sdk_validator()(TOKEN)
    pairs = _with_repeat(pairs, data)
    form = MultiDict(pairs)
    signed_by_sdk = sdk.compute_signature(url, form)
    assert signed_by_sdk == twilio.signature(TOKEN, url, pairs, drop_repeats=True)
    assert RequestValidator(TOKEN).validate(url, form, signed_by_sdk)
    if len(set(pairs)) == len(pairs):  # no repeat: one signature for all three
        assert signed_by_sdk == compute_signature(TOKEN, url, pairs)
        assert sdk.validate(url, form, compute_signature(TOKEN, url, pairs))


@CHECKS
@given(url=urls(plain=True), body=st.text(max_size=200))
def test_the_sdk_checks_the_servers_body_sha256(url: str, body: str) -> None:
    sdk = sdk_validator()(TOKEN)
    with_hash = url_with_body_sha256(url, body.encode("utf-8"))
    assert sdk.validate(with_hash, body, compute_signature(TOKEN, with_hash))
    assert not sdk.validate(with_hash, body + " ", compute_signature(TOKEN, with_hash))


# -- end to end: what the emulator sends is what Twilio would --------------------------------


def test_the_emulators_webhook_carries_twilios_signature(tmp_path: Any) -> None:
    """The emulator's webhook to the real server: answered, and its header is the one the
    independent code computes for the URL and fields sent (a value repeated included)."""
    app = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN,
                      "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.sqlite3'}"})
    try:
        fields = [("MessageSid", "SM" + "1" * 32), ("AccountSid", "AC" + "2" * 32),
                  ("From", "+15551230001"), ("To", "+15559870002"), ("Body", "hours"),
                  ("NumMedia", "0"), ("Tag", "a"), ("Tag", "a")]
        client = WebhookClient(wsgi_session(app))
        result = client.fetch("https://hooks.example.com/sms?x=1&y=%C3%A9", fields,
                              auth_token=TOKEN)
        assert result.status_code == 200
        [sent] = result.exchanges
        assert sent.request_headers["X-Twilio-Signature"] == twilio.signature(
            TOKEN, sent.url, fields)
        # the SDK's form of the same request is accepted by the server too
        signed_once = twilio.signature(TOKEN, sent.url, fields, drop_repeats=True)
        answer = app.test_client().post(
            "/sms?x=1&y=%C3%A9", base_url="https://hooks.example.com", data=MultiDict(fields),
            headers={"X-Twilio-Signature": signed_once})
        assert answer.status_code == 200
    finally:
        app.extensions["switchboard"].store.close()
