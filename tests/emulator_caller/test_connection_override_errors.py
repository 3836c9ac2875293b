"""Connection overrides Twilio does not take: an unknown retry policy (11243) or edge (11240,
11242) fails the request without making it, and the fallback URL is requested instead."""

from __future__ import annotations

import pytest

from switchboard.emulator.webhooks import (
    EDGE_INVALID,
    INTERCONNECT_NOT_ALLOWED,
    RETRY_POLICY_INVALID,
    Overrides,
    WebhookClient,
)
from tests.emulator_caller.conftest import CALLER, NUMBER, twiml


@pytest.mark.parametrize(
    ("fragment", "code"),
    [
        ("rp=bogus", RETRY_POLICY_INVALID),
        ("rp=5xx,sometimes", RETRY_POLICY_INVALID),
        ("rp=", RETRY_POLICY_INVALID),
        ("e=mars", EDGE_INVALID),
        ("e=dublin,atlantis", EDGE_INVALID),
        ("e=ashburn-ix", INTERCONNECT_NOT_ALLOWED),
    ],
)
def test_an_override_twilio_does_not_take_is_an_error(fragment: str, code: int) -> None:
    overrides = Overrides.from_fragment(fragment)
    assert overrides.error is not None
    assert overrides.error[0] == code


@pytest.mark.parametrize("fragment", ["e=dublin", "e=Ashburn,roaming", "rp=5XX,ct&e=tokyo",
                                      "ct=50&rt=99999&rc=9", "sni=y"])
def test_overrides_twilio_takes_are_no_error(fragment: str) -> None:
    assert Overrides.from_fragment(fragment).error is None


def test_an_invalid_retry_policy_fails_without_a_request(hooks, state) -> None:
    token = state.auth_token_for(state.main_account_sid)
    result = WebhookClient().fetch(hooks.url("/voice#rc=2&rp=bogus"), {"CallSid": "CA1"},
                                   auth_token=token)
    assert result.error_code == RETRY_POLICY_INVALID
    assert "rp='bogus'" in result.error_message
    assert hooks.requests_to("/voice") == []


def test_an_invalid_edge_sends_the_call_to_the_fallback(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER, voice_url=hooks.url("/voice#e=mars"),
                     voice_fallback_url=hooks.url("/fallback"))
    hooks.on("/voice", twiml("<Say>never</Say>"))
    hooks.on("/fallback", twiml("<Say>Fallback</Say>"))
    transcript = phone.inbound_call(NUMBER, CALLER)
    assert hooks.requests_to("/voice") == []
    [fallback] = hooks.requests_to("/fallback")
    assert fallback.params["ErrorCode"] == str(EDGE_INVALID)
    assert fallback.params["ErrorUrl"] == hooks.url("/voice")
    assert fallback.signature_valid
    assert transcript.said == ["Fallback"]
