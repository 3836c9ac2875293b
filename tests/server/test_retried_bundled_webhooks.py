"""Twilio's retry of a webhook of the bundled IVR or SMS bot (the same
``I-Twilio-Idempotency-Token`` as the first attempt) is answered as the first attempt was,
and counts or records nothing twice. The first attempt goes to one host, the retry to
another (two apps on one database, each on werkzeug's server on 127.0.0.1), on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import serving
from tests.retries import PUBLIC_URL, Hosts, new_caller, new_token
from tests.server.conftest import call_params, clean_app, message_params


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
    return new_caller()


def test_a_retried_wrong_key_counts_as_one_attempt(hosts: Hosts, caller: str) -> None:
    call = call_params(From=caller)
    hosts.post(0, "/voice", call, new_token())
    wrong = {**call, "Digits": "9"}
    retried = new_token()
    first = hosts.post(0, "/voice/menu", wrong, retried)
    again = hosts.post(1, "/voice/menu", wrong, retried)
    assert b"Sorry, that is not one of the options." in first.content
    assert again.content == first.content
    # the second wrong key is the second attempt, not the third (which says goodbye)
    second = hosts.post(1, "/voice/menu", wrong, new_token())
    assert b"Sorry, that is not one of the options." in second.content
    third = hosts.post(0, "/voice/menu", wrong, new_token())
    assert b"Goodbye." in third.content


def test_a_retried_opt_out_variant_is_confirmed_again(hosts: Hosts, caller: str) -> None:
    stop = message_params("Stop!", From=caller)
    retried = new_token()
    first = hosts.post(0, "/sms", stop, retried)
    again = hosts.post(1, "/sms", stop, retried)
    assert b"you are unsubscribed" in first.content
    assert again.content == first.content
    # a new message saying it again is not confirmed twice
    other = hosts.post(1, "/sms", message_params("Stop!", From=caller), new_token())
    assert b"<Message" not in other.content


def test_a_retried_opt_out_of_all_numbers_is_confirmed_again(hosts: Hosts, caller: str
                                                             ) -> None:
    stop = message_params("stopall.", From=caller)
    retried = new_token()
    first = hosts.post(0, "/sms", stop, retried)
    again = hosts.post(1, "/sms", stop, retried)
    assert b"any of our numbers" in first.content
    assert again.content == first.content


def test_a_retried_help_gets_the_same_help(hosts: Hosts, caller: str) -> None:
    help_ = message_params("help", From=caller)
    retried = new_token()
    first = hosts.post(0, "/sms", help_, retried)
    again = hosts.post(1, "/sms", help_, retried)
    assert b"Reply STOP to unsubscribe." in first.content
    assert again.content == first.content


def test_a_retried_opt_out_of_all_numbers_after_one_of_this_number_stays_unconfirmed(
    hosts: Hosts, caller: str
) -> None:
    """Opted out of this number already, the sender's ``Stopall!`` is not confirmed (they
    were unsubscribed), and neither is its retry, which finds the opt-out it made too."""
    hosts.post(0, "/sms", message_params("Stop!", From=caller), new_token())
    stop = message_params("Stopall!", From=caller)
    retried = new_token()
    first = hosts.post(0, "/sms", stop, retried)
    again = hosts.post(1, "/sms", stop, retried)
    assert b"<Message" not in first.content
    assert again.content == first.content


def test_a_token_on_another_message_is_not_a_retry(hosts: Hosts, caller: str) -> None:
    """The header is not signed: the same token on another message (another SID) is that
    message's own, not a retry of the first."""
    shared = new_token()
    first = hosts.post(0, "/sms", message_params("Stop!", From=caller), shared)
    other = hosts.post(1, "/sms", message_params("Stop!", From=caller), shared)
    assert b"you are unsubscribed" in first.content
    assert b"<Message" not in other.content  # unsubscribed already: nothing to confirm
