"""Twilio's retry of a webhook of the bundled IVR or SMS bot (the same
``I-Twilio-Idempotency-Token`` as the first attempt) is answered as the first attempt was,
and counts or records nothing twice. The first attempt goes to one host, the retry to
another (two apps on one database, each on werkzeug's server on 127.0.0.1), on SQLite and
PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from switchboard.callbacks.security import signed_headers
from tests.conftest import serving
from tests.server.conftest import TOKEN, call_params, clean_app, message_params

TOKEN_HEADER = "I-Twilio-Idempotency-Token"
#: Both hosts are reached at one public URL (a load balancer before them).
PUBLIC_URL = "https://switchboard.example.com"


class Hosts:
    """Two hosts of one deployment, on one database, reached over HTTP."""

    def __init__(self, *bases: str) -> None:
        self.bases = bases

    def post(self, host: int, path: str, params: dict[str, str], token: str | None
             ) -> requests.Response:
        headers = dict(signed_headers(TOKEN, PUBLIC_URL + path, params))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if token is not None:
            headers[TOKEN_HEADER] = token
        response = requests.post(self.bases[host] + path, data=urlencode(params), timeout=10,
                                 headers=headers)
        assert response.status_code == 200, response.text
        return response


@pytest.fixture(scope="module")
def hosts(module_database_url: str) -> Iterator[Hosts]:
    apps = [clean_app(module_database_url, SWITCHBOARD_PUBLIC_URL=PUBLIC_URL,
                      SWITCHBOARD_MAX_ATTEMPTS="3") for _ in range(2)]
    try:
        with serving(apps[0]) as one, serving(apps[1]) as two:
            yield Hosts(one, two)
    finally:
        for app in apps:
            app.extensions["switchboard"].store.close()


@pytest.fixture
def caller() -> str:
    return "+1555" + str(uuid.uuid4().int)[:7]


def token() -> str:
    return str(uuid.uuid4())


def test_a_retried_wrong_key_counts_as_one_attempt(hosts: Hosts, caller: str) -> None:
    call = call_params(From=caller)
    hosts.post(0, "/voice", call, token())
    wrong = {**call, "Digits": "9"}
    retried = token()
    first = hosts.post(0, "/voice/menu", wrong, retried)
    again = hosts.post(1, "/voice/menu", wrong, retried)
    assert b"Sorry, that is not one of the options." in first.content
    assert again.content == first.content
    # the second wrong key is the second attempt, not the third (which says goodbye)
    second = hosts.post(1, "/voice/menu", wrong, token())
    assert b"Sorry, that is not one of the options." in second.content
    third = hosts.post(0, "/voice/menu", wrong, token())
    assert b"Goodbye." in third.content


def test_a_retried_opt_out_variant_is_confirmed_again(hosts: Hosts, caller: str) -> None:
    stop = message_params("Stop!", From=caller)
    retried = token()
    first = hosts.post(0, "/sms", stop, retried)
    again = hosts.post(1, "/sms", stop, retried)
    assert b"you are unsubscribed" in first.content
    assert again.content == first.content
    # a new message saying it again is not confirmed twice
    other = hosts.post(1, "/sms", message_params("Stop!", From=caller), token())
    assert b"<Message" not in other.content


def test_a_retried_opt_out_of_all_numbers_is_confirmed_again(hosts: Hosts, caller: str
                                                             ) -> None:
    stop = message_params("stopall.", From=caller)
    retried = token()
    first = hosts.post(0, "/sms", stop, retried)
    again = hosts.post(1, "/sms", stop, retried)
    assert b"any of our numbers" in first.content
    assert again.content == first.content


def test_a_retried_help_gets_the_same_help(hosts: Hosts, caller: str) -> None:
    help_ = message_params("help", From=caller)
    retried = token()
    first = hosts.post(0, "/sms", help_, retried)
    again = hosts.post(1, "/sms", help_, retried)
    assert b"Reply STOP to unsubscribe." in first.content
    assert again.content == first.content
