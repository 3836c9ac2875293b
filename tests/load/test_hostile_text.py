"""Caller text that looks like TwiML or XML, through gunicorn and the emulator: the SMS bot
echoes it and a speech Gather repeats it literally; it never becomes markup (no Dial, no extra
Message, no entity expanded)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from switchboard.callbacks.flows.sms_bot import ECHO_LIMIT
from switchboard.emulator import Emulator
from switchboard.emulator.script import CallScript
from tests.load.servers import ACCOUNT_SID, TOKEN, Gunicorn, no_secrets

ECHO_NUMBER = "+15551230000"
BOT_NUMBER = "+15551230001"
HOSTILE = [
    "</Say><Dial>+19005550199</Dial><Say>",
    "</Message><Dial>+19005550199</Dial>",
    '</Message><Message to="+19005550199">spam</Message><Message>',
    "]]><Hangup/><![CDATA[",
    '<?xml version="1.0"?><Response><Reject/></Response>',
    '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>&x;',
    "&amp; &lt;Say&gt; &#60;Dial&#62;",
    "<Redirect>http://127.0.0.1:9/</Redirect>",
]


@dataclass
class Setup:
    emu: Emulator
    server: Gunicorn


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{folder / 'switchboard.sqlite3'}"
    with (Emulator(account_sid=ACCOUNT_SID, auth_token=TOKEN) as emu,
          Gunicorn(url, folder / "gunicorn.log", app="tests.load.gunicorn_app:app",
                   workers=2) as server):
        emu.state.buy_number(emu.account_sid, ECHO_NUMBER, voice_url=server.base + "/echo/ask")
        emu.state.buy_number(emu.account_sid, BOT_NUMBER, sms_url=server.base + "/sms")
        yield Setup(emu, server)
        assert emu.phone.wait_idle(10)
        text = server.stop()
        assert "Traceback" not in text, text[-3000:]
        assert not no_secrets(text, TOKEN)


@pytest.mark.parametrize("text", HOSTILE)
def test_speech_is_repeated_literally(setup: Setup, text: str) -> None:
    transcript = setup.emu.phone.inbound_call(ECHO_NUMBER, "+15557654321",
                                              script=CallScript(speech=[text]))
    assert transcript.status == "completed"
    assert not transcript.error_codes
    assert transcript.said == ["Say something.", f"You said: {text}"]
    assert not transcript.events_of("dial")
    assert not transcript.events_of("reject")
    [answer] = [r.exchanges[-1].body for r in transcript.requests
                if b"You said" in r.exchanges[-1].body]
    assert b"&lt;" in answer or "<" not in text
    assert b"/etc/passwd" not in answer or b"ENTITY" in answer


@pytest.mark.parametrize("text", HOSTILE)
def test_sms_bot_echoes_literally(setup: Setup, text: str) -> None:
    transcript = setup.emu.phone.inbound_sms(BOT_NUMBER, "+15557654322", text)
    quoted = text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 3] + "..."
    [reply] = transcript.messages
    assert f'We got "{quoted}"' in reply["body"]
    assert reply["to"] == "+15557654322"
    assert not transcript.events_of("dial")
