"""A timeout says how long the client really waited: each attempt's timeout, and when the
request was retried, how many attempts and how long in all."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from switchboard.api import TwilioClient, TwilioTimeout, retry_policy
from switchboard.cli import cli
from tests.api.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.load.servers import HangingServer


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts connections and never answers."""
    server = HangingServer().start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.close()


def quick(retries: int) -> Any:
    return retry_policy(retries, backoff_factor=0, backoff_jitter=0)


def test_a_retried_get_says_how_many_attempts_and_how_long(silent_url: str) -> None:
    started = time.monotonic()
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=silent_url, timeout=(1, 0.2),
                     retries=quick(2)) as client,
        pytest.raises(TwilioTimeout) as raised,
    ):  # fmt: skip
        client.request("GET", "/2010-04-01/x.json")
    waited = time.monotonic() - started
    error = raised.value
    assert (error.phase, error.seconds, error.attempts) == ("read", 0.2, 3)
    assert error.elapsed is not None
    assert 0.6 <= error.elapsed <= waited
    assert re.fullmatch(
        r"timed out after 0\.2 s waiting for the answer to GET /2010-04-01/x\.json from "
        r"127\.0\.0\.1:\d+ \(3 attempts, 0\.\d s in all\); check the network or raise the "
        r"client's timeout",
        str(error),
    ), str(error)


def test_a_post_is_not_retried_and_says_one_timeout(silent_url: str) -> None:
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=silent_url, timeout=(1, 0.2),
                     retries=quick(2)) as client,
        pytest.raises(TwilioTimeout) as raised,
    ):  # fmt: skip
        client.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    assert raised.value.attempts == 1
    assert "attempts" not in str(raised.value)


def test_durations_read_naturally() -> None:
    url = "https://api.twilio.com/2010-04-01/x.json"
    error = TwilioTimeout("GET", url, phase="read", seconds=30, attempts=4, elapsed=125.4)
    assert str(error) == (
        "timed out after 30 s waiting for the answer to GET /2010-04-01/x.json from "
        "api.twilio.com (4 attempts, 2 min 05 s in all); check the network or raise the "
        "client's timeout"
    )


def test_the_cli_says_it_too(silent_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", silent_url)
    from_settings = TwilioClient.from_settings.__func__  # type: ignore[attr-defined]

    def quicker(cls: type[TwilioClient], *args: Any, **kwargs: Any) -> TwilioClient:
        return from_settings(cls, *args, timeout=(1, 0.2), retries=quick(3), **kwargs)

    monkeypatch.setattr(TwilioClient, "from_settings", classmethod(quicker))
    result = CliRunner().invoke(cli, ["api", "get-account-details"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith(
        f"Error: timed out after 0.2 s waiting for the answer to GET /2010-04-01/Accounts/"
        f"{ACCOUNT_SID}.json from 127.0.0.1:"
    )
    assert " (4 attempts, " in result.output
    assert AUTH_TOKEN not in result.output
