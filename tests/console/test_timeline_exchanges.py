"""What each webhook was answered, on the console: a call's timeline lists every webhook with
its answer's verbs (once: the first webhook on the call's first line, a stored status
callback on its own), the overview's failures list the fallbacks and the failed answers next
to the failed statuses, and nothing secret or unescaped reaches a page. On SQLite and
PostgreSQL, with the rows written behind the answer."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from switchboard.callbacks import create_app
from switchboard.callbacks.console import register_console
from switchboard.callbacks.console.answers import safe_text, verbs
from switchboard.callbacks.handlers import TwilioBlueprint
from switchboard.callbacks.twiml import VoiceResponse
from tests.console.conftest import ACCOUNT_SID, CALLER, NUMBER, PASSWORD, TOKEN, sid
from tests.server.conftest import Twilio

own = TwilioBlueprint("console_own", __name__)


@own.voice("/own/boom")
def boom(call: Any) -> VoiceResponse:
    raise ZeroDivisionError("never shown")


@own.voice("/own/links")
def links(call: Any) -> VoiceResponse:
    response = VoiceResponse()
    response.say(f"<script>alert(1)</script> {TOKEN}")
    response.play("https://media:s3cret-pass@cdn.example.com/hold.mp3?sig=abc123")
    response.redirect("https://other.example/next?token=abc123", method="POST")
    return response


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "SWITCHBOARD_DATABASE_URL": database_url, "STUDIO_FLOWS": False,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_RECORD_DELAY": "0.05",
    })
    app.register_blueprint(own)
    app.config["SWITCHBOARD_CONSOLE_PASSWORD"] = PASSWORD
    assert register_console(app) is not None
    yield app
    app.extensions["switchboard"].store.close()


@pytest.fixture
def twilio(app: Flask) -> Twilio:
    return Twilio(app.test_client(), token=TOKEN)


def call(**extra: str) -> dict[str, str]:
    return {"CallSid": sid("CA"), "AccountSid": ACCOUNT_SID, "From": CALLER, "To": NUMBER,
            "CallStatus": "ringing", "Direction": "inbound", **extra}


def text_of(page: str) -> str:
    """The page's text, tags out and entities read, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def timeline(page: str) -> str:
    return text_of(page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0])


def test_a_call_s_page_shows_each_webhook_with_what_was_answered(
    client: FlaskClient, twilio: Twilio
) -> None:
    params = call()
    twilio.post("/voice", params)
    twilio.post("/voice/menu", {**params, "CallStatus": "in-progress", "Digits": "1"})
    completed = {**params, "CallStatus": "completed", "SequenceNumber": "2"}
    assert twilio.post("/voice/status", completed).status_code == 204
    assert twilio.post("/voice/status", completed).status_code == 204

    page = client.get(f"/console/calls/{params['CallSid']}").text
    shown = timeline(page)
    # the first webhook, on the call's first line: no line of its own
    assert "Inbound call from +15555550100 to +15551230000 Switchboard answered 200 in" in shown
    assert 'Say "Thank you for calling Switchboard."' in shown
    assert 'Gather (Say "For our opening hours and address, press 1.' in shown
    assert "→ /voice/menu" in shown
    assert "Redirect → /voice/menu" in shown
    assert "Webhook /voice " not in shown
    # the menu step, its key and its answer
    assert "Webhook /voice/menu · Digits 1" in shown
    assert 'Say "Switchboard is open Monday to Friday' in shown
    # the stored callback once, its repeat on a line of its own
    assert shown.count("Call status: completed (#2)") == 2
    assert "Call status: completed (#2) Switchboard answered 204: stored" in shown
    assert "Call status: completed (#2), a repeat Switchboard answered 204 in" in shown
    assert "a repeat, nothing stored" in shown
    assert "TwiML answered" in page
    assert TOKEN not in page


def test_the_overview_lists_fallbacks_and_failed_answers(
    client: FlaskClient, twilio: Twilio
) -> None:
    fallback = call(ErrorCode="11200", ErrorUrl="https://user:pw123456@example.com/voice?k=v")
    twilio.post("/voice", fallback)
    twilio.post("/voice/fallback", fallback)
    failed = call()
    twilio.post("/own/boom", failed)
    busy = call(CallStatus="busy", SequenceNumber="1")
    assert twilio.post("/voice/status", busy).status_code == 204

    live = client.get("/console/overview.json").json
    assert live is not None
    failures = text_of(live["sections"]["failures"])
    assert "fallback (11200)" in failures
    assert "/voice/fallback" in failures
    assert "handler failed (ZeroDivisionError)" in failures
    assert "/own/boom" in failures
    assert "busy" in failures
    assert failures.index("busy") < failures.index("handler failed") < failures.index(
        "fallback")  # newest first
    assert f"/console/calls/{failed['CallSid']}" in live["sections"]["failures"]
    assert "never shown" not in live["sections"]["failures"]

    page = client.get(f"/console/calls/{fallback['CallSid']}").text
    shown = timeline(page)
    assert ("Fallback /voice/fallback: Twilio's ErrorCode 11200 at "
            "https://user:***@example.com/voice?…") in shown
    assert "pw123456" not in page
    shown = timeline(client.get(f"/console/calls/{failed['CallSid']}").text)
    assert "the safe answer: the handler failed (ZeroDivisionError)" in shown
    assert 'Say "We are sorry, an application error has occurred.' in shown


def test_answers_are_escaped_and_show_no_secret(client: FlaskClient, twilio: Twilio) -> None:
    params = call()
    twilio.post("/own/links", params)
    page = client.get(f"/console/calls/{params['CallSid']}").text
    assert "<script>" not in page
    assert "&lt;script&gt;" in page or "&amp;lt;script&amp;gt;" in page
    for secret in (TOKEN, "s3cret-pass", "abc123"):
        assert secret not in page
    shown = timeline(page)
    assert "Play https://media:***@cdn.example.com/hold.mp3?…" in shown
    assert "Redirect → https://other.example/next?…" in shown


def test_a_leg_s_webhooks_are_on_its_parent_s_page(
    client: FlaskClient, twilio: Twilio, app: Flask
) -> None:
    parent = call()
    twilio.post("/voice", parent)
    leg = call(ParentCallSid=parent["CallSid"], Direction="outbound-dial",
               To="+15557770000", CallStatus="in-progress")
    twilio.post("/voice/voicemail", leg)
    shown = timeline(client.get(f"/console/calls/{parent['CallSid']}").text)
    assert "Leg to +15557770000: Webhook /voice/voicemail" in shown
    assert "Record (at most 120 s) → /voice/voicemail/saved" in shown


# -- the answers' lines ----------------------------------------------------------------------


def test_verbs_reads_each_verb_in_a_line() -> None:
    answer = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello there</Say>'
        '<Gather action="https://sb.example.com/voice/menu" numDigits="1"><Play>'
        'https://sb.example.com/menu.mp3</Play></Gather><Pause length="2"/>'
        '<Dial action="/voice/dial-result"><Number>+15551234567</Number>'
        '<Sip>sip:desk:secret@pbx.example.com</Sip></Dial><Enqueue>support</Enqueue>'
        '<Reject reason="busy"/><Hangup/></Response>'
    )
    assert verbs(answer, ["sb.example.com"]) == [
        'Say "Hello there"', "Gather (Play /menu.mp3) → /voice/menu", "Pause 2 s",
        "Dial Number +15551234567, Sip sip:desk:***@pbx.example.com → /voice/dial-result",
        "Enqueue support", "Reject (busy)", "Hangup",
    ]
    assert verbs('<Response><Message to="+1555">Hi <Media>x</Media></Message></Response>') \
        == ['Message to +1555 "Hi" (+1 media)']
    assert verbs("<Response><Message><Body>Our hours</Body><Media>x</Media></Message>"
                 "</Response>") == ['Message "Our hours" (+1 media)']


def test_a_cut_line_keeps_an_emoji_whole() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one character to a reader
    words = "a" * 57 + family
    line = verbs(f"<Response><Say>{words}</Say></Response>")[0]
    assert line == 'Say "' + "a" * 57 + '…"'
    waving = "\U0001f44b\U0001f3fd"  # a hand and its skin tone
    line = verbs(f"<Response><Say>{'b' * 58}{waving} more</Say></Response>")[0]
    assert line == 'Say "' + "b" * 58 + '…"'


def test_verbs_of_a_cut_answer_or_none() -> None:
    answer = "<Response><Say>" + "word " * 40 + "</Say><Gather action='/a'><Say>cut he"
    lines = verbs(answer)
    assert lines[0].startswith('Say "word word')
    assert lines[0].endswith('…"')
    assert len(lines[0]) < 80
    assert verbs(None) == verbs("") == verbs("not TwiML") == verbs("<Other/>") == []
    many = "<Response>" + "<Hangup/>" * 30 + "</Response>"
    assert verbs(many)[-1] == "... 19 more"
    entity = ('<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
              "<Response><Say>&e;</Say></Response>")
    assert "root:" not in " ".join(verbs(entity))


def test_safe_text_masks_passwords_and_queries() -> None:
    text = ('<Play>https://u:pw@h.example/a.mp3?sig=1</Play><Sip>sips:desk:pin@pbx</Sip>'
            "<Redirect>http://h.example/next</Redirect>")
    assert safe_text(text) == ('<Play>https://u:***@h.example/a.mp3?…</Play>'
                               "<Sip>sips:desk:***@pbx</Sip>"
                               "<Redirect>http://h.example/next</Redirect>")
