"""README's "Writing your own handlers" and "Try it without an account", as a reader follows them
(the same example in docs/server.md, the same walkthrough in full in docs/emulator.md):
the example saved as ``myapp.py`` and loaded the way ``flask --app myapp run`` loads it, then
driven with signed webhooks; the decorator table covering what the example uses; and the
walkthrough's settings giving the "talk to a person" call it describes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.cli import ScriptInfo

from switchboard.callbacks import get_store
from tests.e2e.conftest import ROOT, SWITCHBOARD, subprocess_env
from tests.server.conftest import (
    CALLER,
    NUMBER,
    TOKEN,
    Twilio,
    call_params,
    message_params,
    sid,
    spoken,
    twiml,
    verbs,
)

README = ROOT / "README.md"
WALKTHROUGH = "Try it without an account"


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def python_block(page: Path, title: str) -> str:
    (code,) = re.findall(r"```python\n(.*?)```", section(page.read_text("utf-8"), title), re.S)[:1]
    return code


@pytest.fixture
def myapp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """README's example as ``myapp.py`` in a folder of its own, loaded as ``--app myapp``."""
    (tmp_path / "myapp.py").write_text(python_block(README, "Writing your own handlers"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SWITCHBOARD_DOTENV", "0")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'myapp.sqlite3'}")
    monkeypatch.setenv("SWITCHBOARD_RECORD_DELAY", "0")
    app = ScriptInfo(app_import_path="myapp").load_app()
    yield app
    sys.modules.pop("myapp", None)


def test_the_example_is_the_same_in_readme_and_server_md() -> None:
    assert python_block(README, "Writing your own handlers") == python_block(
        ROOT / "docs" / "server.md", "Writing your own handlers"
    )


def test_the_decorator_table_lists_every_decorator_the_example_uses() -> None:
    text = section(README.read_text("utf-8"), "Writing your own handlers")
    used = set(re.findall(r"^@bp\.(\w+)\(", python_block(README, "Writing your own handlers"),
                          re.M))
    rows = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    table = set(re.findall(r"`@bp\.(\w+)\(", rows))
    assert used <= table, f"used but not in the table: {sorted(used - table)}"


def test_the_pizza_call(myapp: Flask) -> None:
    twilio = Twilio(myapp.test_client())
    call_sid = sid("CA")
    for attempt in (1, 2):
        root = twiml(twilio.post("/pizza/call", call_params(call_sid)))
        assert verbs(root) == ["Gather", "Redirect"]
        (gather,) = root.iter("Gather")
        assert gather.get("action") == "/pizza/order"
        assert gather.get("numDigits") == "1"
        assert "How many pizzas would you like?" in spoken(root)
        with myapp.app_context():
            assert get_store().load_voice_session(call_sid) == {"asked": attempt}
    root = twiml(twilio.post("/pizza/order", call_params(call_sid, Digits="3")))
    assert spoken(root) == "3 pizzas, coming right up. Goodbye."
    assert verbs(root) == ["Say", "Hangup"]
    assert twilio.post("/pizza/call", call_params(), signed=False).status_code == 403


def test_the_pizza_texts(myapp: Flask) -> None:
    twilio = Twilio(myapp.test_client())
    root = twiml(twilio.post("/pizza/text", message_params("</Message><Redirect>x</Redirect>")))
    (reply,) = root.iter("Message")
    assert reply.text == "You said: </Message><Redirect>x</Redirect>"
    picture = message_params("", NumMedia="1", MediaUrl0="https://example.com/p.jpg",
                             MediaContentType0="image/jpeg")
    assert [m.text for m in twiml(twilio.post("/pizza/text", picture)).iter("Message")] == [
        "Nice picture!"
    ]
    twiml(twilio.post("/pizza/text", message_params("STOP")))
    with myapp.app_context():
        assert not get_store().is_opted_out(CALLER, sender=NUMBER)   # README: records nothing
        get_store().opt_out(CALLER, sender=NUMBER)
    assert len(twiml(twilio.post("/pizza/text", message_params("hello")))) == 0


def test_the_pizza_status(myapp: Flask, capsys: pytest.CaptureFixture[str]) -> None:
    twilio = Twilio(myapp.test_client())
    call_sid = sid("CA")
    params = call_params(call_sid, CallStatus="completed", CallDuration="42", SequenceNumber="3")
    assert twilio.post("/pizza/status", params).status_code == 204
    assert twilio.post("/pizza/status", params).status_code == 204   # a repeat: not printed
    assert capsys.readouterr().out.splitlines() == [f"{call_sid} lasted 42 seconds"]


def walkthrough_settings(page: Path = README, title: str = WALKTHROUGH) -> dict[str, str]:
    text = section(page.read_text("utf-8"), title)
    return dict(re.findall(r"^\$ export (\w+)=(\S+)", text, re.M))


def test_the_walkthrough_settings_are_the_same_in_readme_and_emulator_md() -> None:
    assert walkthrough_settings() == walkthrough_settings(
        ROOT / "docs" / "emulator.md", "The walkthrough, step by step"
    )


@pytest.mark.slow
def test_the_walkthrough_settings_let_press_3_reach_a_person(tmp_path: Path) -> None:
    """README: "`--digits 3 --dial-outcome busy` for a person who is not free", with the
    walkthrough's settings and nothing else (in process, so no ports are needed)."""
    settings = walkthrough_settings()
    assert {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SWITCHBOARD_PUBLIC_URL"} <= set(settings)
    settings["SWITCHBOARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    result = subprocess.run(
        [str(SWITCHBOARD), "simulate", "call", "--in-process", "--to", "+14152919214",
         "--digits", "3", "--dial-outcome", "busy"],
        env=subprocess_env(settings), cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "  Dial: number " in result.stdout
    assert ": busy\n  Say: Sorry, nobody could take your call." in result.stdout
