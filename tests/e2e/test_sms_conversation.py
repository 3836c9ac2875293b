"""An SMS conversation with the bundled bot through the emulator: HELP, HOURS, STOP (the
opt-out kept in the server's store), ``switchboard sms`` refused while opted out, START, then a
message sent whose delivery reports land in the store."""

from __future__ import annotations

import json
from typing import Any

from switchboard.emulator.transcript import Transcript
from tests.e2e.checks import assert_callbacks_stored_once
from tests.e2e.conftest import CALLER, Pair


def replies(transcript: Transcript) -> list[str]:
    return [message["body"] for message in transcript.messages]


def sent_to(pair: Pair, number: str) -> list[dict[str, Any]]:
    """The messages the emulator holds that were sent to ``number``."""
    return list(pair.client.messages.list(to=number))


def test_help_hours_stop_refused_start_send(loop: Pair) -> None:
    help_reply = replies(loop.sms("HELP"))
    assert help_reply == ["Acme Plumbing: reply HOURS for our opening hours and address. "
                          "Reply STOP to unsubscribe."]
    assert replies(loop.sms("hours")) == [
        "Acme Plumbing is open weekdays 9 to 5. Our address is 1 Main Street."]

    stop = loop.sms("STOP")
    [opt_out] = stop.events_of("opt-out")  # Twilio's own confirmation
    assert "successfully been unsubscribed" in opt_out.text
    # the bot leaves the confirmation to Twilio, which would refuse its own (error 21610)
    assert stop.events_of("blocked") == []
    assert stop.messages == []
    assert loop.store.is_opted_out(CALLER, sender=loop.number)
    assert not loop.store.is_opted_out(CALLER, sender="+15550001111")
    assert replies(loop.sms("hours")) == []  # silent to an opted-out number

    before = sent_to(loop, CALLER)
    refused = loop.cli("sms", "--to", CALLER, "--from", loop.number, "--body", "hi",
                       "--allow-insecure")
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {CALLER} has opted out (replied STOP to {loop.number}): not sending. "
        "They can reply START to opt back in.\n")
    assert sent_to(loop, CALLER) == before  # the emulator saw no message created
    refused_call = loop.cli("call", "--to", CALLER, "--from", loop.number, "--allow-insecure")
    assert refused_call.exit_code == 1
    assert "not calling" in refused_call.output
    assert refused_call.output.count("\n") == 1

    start = loop.sms("START")
    [opt_in] = start.events_of("opt-in")  # Twilio's own re-subscribe message
    assert opt_in.text
    assert replies(start) == []  # nothing of the bot's on top of Twilio's
    assert not loop.store.is_opted_out(CALLER, sender=loop.number)

    sent = loop.cli("sms", "--to", CALLER, "--from", loop.number, "--body", "hi",
                    "--allow-insecure")
    assert sent.exit_code == 0, sent.output
    message = json.loads(sent.output)
    assert message["status"] == "queued"
    assert loop.stack.wait_idle(20)
    rows = loop.store.status_callbacks(message["sid"])
    assert [row["status"] for row in rows] == ["sent", "delivered"]
    stored = loop.store.get_message(message["sid"])
    assert (stored["status"], stored["body"], stored["direction"]) == (
        "delivered", "hi", "outbound-api")
    assert loop.client.messages.get(message["sid"])["status"] == "delivered"
    assert_callbacks_stored_once(loop.store, loop.emulator.phone.transcript(message["sid"]))


def test_replies_are_messages_of_the_emulator(loop: Pair) -> None:
    transcript = loop.sms("what time do you open?")
    [reply] = transcript.messages
    assert reply["body"].startswith('Acme Plumbing: We got "what time do you open?"')
    remote = loop.client.messages.get(reply["sid"])
    assert (remote["from"], remote["to"], remote["direction"]) == (
        loop.number, CALLER, "outbound-reply")
    inbound = loop.store.get_message(transcript.sid)
    assert (inbound["from"], inbound["to"], inbound["body"]) == (
        CALLER, loop.number, "what time do you open?")


def test_an_escaped_echo(loop: Pair) -> None:
    body = "<Say>hi</Say> & </Message><Redirect>http://evil/</Redirect>"
    [reply] = loop.sms(body).messages
    assert "<Say>hi</Say> &" in reply["body"]  # echoed as text, never run as TwiML
    assert loop.emulator.phone.transcript(reply["sid"]) is not None
