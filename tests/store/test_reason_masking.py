"""A database error's reason with the URL's secrets hidden: the URL shown with its password
as ``***``, a long password masked wherever it appears, a short one only where it stands as a
password, so that the message stays readable and what is masked does not tell the password."""

from __future__ import annotations

import sqlalchemy as sa

from switchboard.callbacks.store.engine import describe, mask_secrets, reason


def test_a_short_password_leaves_the_message_readable() -> None:
    url = sa.make_url("postgresql://u:on@127.0.0.1:1/db")
    error = OSError('connection to server at "127.0.0.1", port 1 failed: Connection refused')
    assert reason(error, url) == ('OSError: connection to server at "127.0.0.1", port 1 '
                                  "failed: Connection refused")
    assert "c***necti***" not in describe(error, url)
    assert describe(error, url).startswith("database postgresql://u:***@127.0.0.1:1/db is ")


def test_a_one_letter_password_is_not_given_away_by_what_is_masked() -> None:
    url = sa.make_url("postgresql://u:e@127.0.0.1:1/db")
    text = "the server refused the connection"
    assert mask_secrets(text, url) == text


def test_a_short_password_is_masked_where_it_stands_as_one() -> None:
    url = sa.make_url("postgresql://u:on@127.0.0.1:1/db")
    assert mask_secrets("invalid dsn: host=127.0.0.1 user=u password=on dbname=db", url) == (
        "invalid dsn: host=127.0.0.1 user=u password=*** dbname=db")
    assert mask_secrets("cannot reach postgresql://u:on@127.0.0.1:1/db now", url) == (
        "cannot reach postgresql://u:***@127.0.0.1:1/db now")
    assert mask_secrets("bad userinfo u:on@host (connection)", url) == (
        "bad userinfo u:***@host (connection)")


def test_a_long_password_is_masked_wherever_it_appears() -> None:
    secret = "s3cr3t-Passw0rd"
    url = sa.make_url(f"postgresql://u:{secret}@127.0.0.1:1/db")
    text = f"authentication failed: got {secret!r}, password {secret} refused"
    masked = mask_secrets(text, url)
    assert secret not in masked
    assert masked == "authentication failed: got '***', password *** refused"


def test_a_password_in_the_query_is_masked_too() -> None:
    url = sa.make_url("postgresql://u@127.0.0.1:1/db?password=longenough1")
    assert mask_secrets("password=longenough1 was refused", url) == "password=*** was refused"
    short = sa.make_url("postgresql://u@127.0.0.1:1/db?password=ab")
    assert mask_secrets("password=ab; about tabs", short) == "password=***; about tabs"
