"""Edges of the bundled IVR and SMS bot: empty voicemails and all of Twilio's opt-out words."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.callbacks.flows import ivr
from tests.server.conftest import (
    NUMBER,
    Twilio,
    call_params,
    message_params,
    sid,
    spoken,
    twiml,
    verbs,
)


def test_a_voicemail_of_zero_seconds_is_not_thanked_for(twilio: Twilio) -> None:
    params = call_params(RecordingSid=sid("RE"), RecordingUrl="https://api.twilio.com/r",
                         RecordingDuration="0", Digits="hangup")
    root = twiml(twilio.post("/voice/voicemail/saved", params))
    assert verbs(root) == ["Say", "Hangup"]
    assert "did not receive a message" in spoken(root)
    assert "recorded" not in spoken(root)


def test_a_voicemail_with_sound_is_thanked_for(twilio: Twilio) -> None:
    params = call_params(RecordingSid=sid("RE"), RecordingUrl="https://api.twilio.com/r",
                         RecordingDuration="7", Digits="#")
    assert "has been recorded" in spoken(twiml(twilio.post("/voice/voicemail/saved", params)))


@pytest.mark.parametrize(("duration", "notified"), [("0", False), ("5", True)])
def test_only_a_recording_with_sound_is_announced(
    twilio: Twilio, monkeypatch: pytest.MonkeyPatch, duration: str, notified: bool
) -> None:
    announced: list[Any] = []
    monkeypatch.setattr(ivr, "notify_voicemail", announced.append)
    params = call_params(RecordingSid=sid("RE"), RecordingUrl="https://api.twilio.com/r",
                         RecordingDuration=duration, RecordingStatus="completed")
    response = twilio.post("/voice/recording-status", params)
    assert response.status_code in (200, 204)
    assert bool(announced) is notified


@pytest.mark.parametrize("word", ["revoke", " OPTOUT ", "Revoke"])
def test_twilios_other_default_opt_out_words_opt_out(
    twilio: Twilio, store: Any, caller: str, word: str
) -> None:
    root = twiml(twilio.post("/sms", message_params(word, From=caller)))
    assert verbs(root) == []  # Twilio confirms and would refuse a reply (21610)
    assert store.is_opted_out(caller, sender=NUMBER)
    assert verbs(twiml(twilio.post("/sms", message_params("hello", From=caller)))) == []


def test_a_variant_of_revoke_is_confirmed_by_the_bot(
    twilio: Twilio, store: Any, caller: str
) -> None:
    root = twiml(twilio.post("/sms", message_params("Revoke!", From=caller)))
    assert verbs(root) == ["Message"]
    assert "unsubscribed" in root.findtext("Message")
    assert store.is_opted_out(caller, sender=NUMBER)
