"""Fetching a webhook as Twilio does: method, signature, overrides, retries, redirects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time

import flask
import pytest
import requests

from switchboard.callbacks.security import compute_signature as shared_signature
from switchboard.emulator.webhooks import (
    HTTP_BAD_HOST_NAME,
    HTTP_CONNECTION_FAILURE,
    HTTP_ERROR_STATUS,
    HTTP_TOO_MANY_REDIRECTS,
    HTTP_TOTAL_TIMEOUT,
    TCP_CONNECTION_REFUSED,
    Overrides,
    WebhookClient,
    _is_name_error,
    compute_signature,
    split_url,
)
from tests import twilio_signature as independent
from tests import twilio_signature_example as example
from tests.conftest import free_port

PARAMS = {"CallSid": "CA1234567890ABCDE", "From": "+12349013030", "To": "+18005551212"}


def test_the_published_signature_example() -> None:
    assert compute_signature(example.TOKEN, example.URL, example.PARAMS.items()) == \
        example.EXPECTED
    assert shared_signature(example.TOKEN, example.URL, example.PARAMS) == example.EXPECTED


def test_post_form_body_signed_and_valid(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    result = WebhookClient().fetch(hooks.url("/voice?x=1"), PARAMS, auth_token=token)
    assert result.ok
    assert result.status_code == 204
    [received] = hooks.requests_to("/voice")
    assert received.method == "POST"
    assert received.signature_valid
    assert received.form == sorted(received.form, key=lambda kv: list(PARAMS).index(kv[0]))
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert received.headers["I-Twilio-Idempotency-Token"]


def test_get_sends_the_fields_in_the_query_and_signs_the_url_alone(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    result = WebhookClient().fetch(hooks.url("/voice?x=1"), PARAMS, auth_token=token,
                                   method="GET")
    assert result.ok
    [received] = hooks.requests_to("/voice")
    assert received.method == "GET"
    assert received.params == {"x": "1", **PARAMS}
    assert received.signature_valid
    sent = result.exchanges[0]
    assert sent.request_headers["X-Twilio-Signature"] == compute_signature(token, received.url)


def test_the_fragment_is_not_part_of_the_signed_url(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    url = hooks.url("/voice#ct=1000&rc=2")
    result = WebhookClient().fetch(url, PARAMS, auth_token=token)
    [received] = hooks.requests_to("/voice")
    assert received.signature_valid
    assert "#" not in received.url
    assert "ct=" not in received.url
    assert result.url == hooks.url("/voice")
    signature = result.exchanges[0].request_headers["X-Twilio-Signature"]
    assert signature == compute_signature(token, hooks.url("/voice"), PARAMS.items())
    assert signature == independent.signature(token, hooks.url("/voice"), PARAMS)
    with_fragment = url + "".join(k + v for k, v in sorted(PARAMS.items()))
    digest = hmac.new(token.encode(), with_fragment.encode(), hashlib.sha1).digest()
    assert signature != base64.b64encode(digest).decode()   # the fragment is not signed


def test_overrides_parse_and_clamp() -> None:
    assert Overrides.from_fragment("") == Overrides()
    o = Overrides.from_fragment("ct=1000&rt=2500&tt=9000&rc=3&rp=4xx,5xx")
    assert (o.connect_timeout, o.read_timeout, o.total_timeout, o.retry_count) == (1, 2.5, 9, 3)
    assert o.retry_policy == {"4xx", "5xx"}
    assert o.retries_on("5xx")
    assert not o.retries_on("ct")
    assert Overrides.from_fragment("ct=50&rt=99999&tt=0&rc=9") == Overrides()
    assert Overrides.from_fragment("rp=all").retries_on("rt")


def test_retries_carry_the_same_idempotency_token(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    hooks.on("/flaky", ("boom", 500))
    result = WebhookClient().fetch(hooks.url("/flaky#rc=2&rp=5xx"), PARAMS, auth_token=token)
    attempts = hooks.requests_to("/flaky")
    assert len(attempts) == 3
    tokens = {a.headers["I-Twilio-Idempotency-Token"] for a in attempts}
    assert len(tokens) == 1
    assert all(a.signature_valid for a in attempts)
    assert result.error_code == HTTP_ERROR_STATUS
    assert result.status_code == 500


def test_a_5xx_is_not_retried_by_default(hooks, state) -> None:
    hooks.on("/flaky", ("boom", 503))
    WebhookClient().fetch(hooks.url("/flaky"), PARAMS, auth_token="t")
    assert len(hooks.requests_to("/flaky")) == 1


def test_a_retry_that_succeeds_wins(hooks, state) -> None:
    answers = iter([("no", 502), ("<Response/>", 200, {"Content-Type": "text/xml"})])
    hooks.on("/flaky", lambda _request: next(answers))
    result = WebhookClient().fetch(hooks.url("/flaky#rp=5xx"), PARAMS, auth_token="t")
    assert result.ok
    assert result.status_code == 200
    assert len(result.exchanges) == 2


def test_a_refused_connection_is_retried_once_then_11202() -> None:
    url = f"http://127.0.0.1:{free_port()}/voice"
    result = WebhookClient().fetch(url, PARAMS, auth_token="t")
    assert result.error_code == TCP_CONNECTION_REFUSED
    assert len(result.exchanges) == 2
    tokens = {e.request_headers["I-Twilio-Idempotency-Token"] for e in result.exchanges}
    assert len(tokens) == 1
    none = WebhookClient().fetch(url + "#rc=0", PARAMS, auth_token="t")
    assert len(none.exchanges) == 1


def test_read_timeout_from_the_fragment(hooks) -> None:
    release = threading.Event()

    def slow(_request: flask.Request) -> str:
        release.wait(5)
        return "<Response/>"

    hooks.on("/slow", slow)
    try:
        result = WebhookClient().fetch(hooks.url("/slow#rt=200"), PARAMS, auth_token="t")
    finally:
        release.set()
    assert result.error_code == HTTP_CONNECTION_FAILURE
    assert len(result.exchanges) == 1  # rp defaults to ct: a read timeout is not retried
    assert result.exchanges[0].elapsed < 2


def test_total_time_caps_the_retries(hooks) -> None:
    release = threading.Event()

    def slow(_request: flask.Request) -> str:
        release.wait(5)
        return "<Response/>"

    hooks.on("/slow", slow)
    try:
        started = time.monotonic()
        result = WebhookClient().fetch(hooks.url("/slow#rt=300&tt=1000&rc=5&rp=rt"), PARAMS,
                                       auth_token="t")
        took = time.monotonic() - started
    finally:
        release.set()
    assert result.error_code == HTTP_TOTAL_TIMEOUT
    # Five retries of 0.3 s would take 1.8 s: the total time stops them at 1 s. (0.5 s left
    # room for one attempt only when a busy machine slowed the first one down.)
    assert 1 < len(result.exchanges) <= 4
    assert took < 1.5


def test_redirects_are_followed_and_resigned(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    hooks.on("/old", ("", 307, {"Location": "/new"}))
    hooks.on("/new", "<Response><Say>moved</Say></Response>")
    result = WebhookClient().fetch(hooks.url("/old"), PARAMS, auth_token=token)
    assert result.ok
    assert b"moved" in result.body
    assert result.final_url == hooks.url("/new")
    [new] = hooks.requests_to("/new")
    assert new.method == "POST"
    assert new.signature_valid
    assert new.params == PARAMS


def test_more_than_ten_redirects_is_11215(hooks) -> None:
    hooks.on("/loop", ("", 302, {"Location": "/loop"}))
    result = WebhookClient().fetch(hooks.url("/loop"), PARAMS, auth_token="t")
    assert result.error_code == HTTP_TOO_MANY_REDIRECTS
    assert len(hooks.requests_to("/loop")) == 11


def test_basic_auth_in_the_url(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    url = hooks.url("/voice").replace("http://", "http://alice:s3cret@")
    result = WebhookClient().fetch(url, PARAMS, auth_token=token)
    [received] = hooks.requests_to("/voice")
    assert received.headers["Authorization"].startswith("Basic ")
    assert requests.auth._basic_auth_str("alice", "s3cret") == received.headers["Authorization"]
    assert received.signature_valid
    assert "s3cret" not in result.url


def test_split_url() -> None:
    assert split_url("https://u:p%40@h.example/x?a=1#rc=2") == (
        "https://h.example/x?a=1", "rc=2", ("u", "p@"),
    )


def test_cookies_last_for_the_client(hooks) -> None:
    def set_cookie(_request: flask.Request) -> flask.Response:
        response = flask.Response("<Response/>", content_type="text/xml")
        response.set_cookie("step", "2")
        return response

    hooks.on("/first", set_cookie)
    client = WebhookClient()
    client.fetch(hooks.url("/first"), PARAMS, auth_token="t")
    client.fetch(hooks.url("/second"), PARAMS, auth_token="t")
    assert "step=2" in hooks.requests_to("/second")[0].headers.get("Cookie", "")


@pytest.mark.parametrize("text", [
    "NameResolutionError(\"Failed to resolve 'nowhere.invalid'\")",
    "gaierror(-2, 'Name or service not known')",
])
def test_name_errors_are_bad_host(text: str) -> None:
    assert _is_name_error(requests.ConnectionError(text))


def test_not_http_is_bad_host() -> None:
    result = WebhookClient().fetch("ftp://example.com/x", PARAMS, auth_token="t")
    assert result.error_code == HTTP_BAD_HOST_NAME
    assert not result.exchanges


def test_a_302_after_post_is_followed_with_get(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    hooks.on("/old", ("", 302, {"Location": "/new"}))
    result = WebhookClient().fetch(hooks.url("/old"), PARAMS, auth_token=token)
    assert result.ok
    [new] = hooks.requests_to("/new")
    assert new.method == "GET"
    assert new.params == PARAMS
    assert new.signature_valid


def test_4xx_is_retried_when_asked(hooks) -> None:
    hooks.on("/gone", ("", 404))
    result = WebhookClient().fetch(hooks.url("/gone#rp=4xx&rc=1"), PARAMS, auth_token="t")
    assert len(hooks.requests_to("/gone")) == 2
    assert result.status_code == 404
