"""Every stored value a console page shows is masked as its texts are: a call's numbers, a
conversation's contact, a flow's name and the names of a webhook's fields that hold a secret
are shown with it masked, on SQLite and PostgreSQL; a contact or a flow name so masked is put
in no link or form, which would carry it whole; and a secret written as a form writes it (a
space as ``+``) is masked too."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from flask.testing import FlaskClient

from switchboard.config.secret import MASK
from tests.console.conftest import (
    ACCOUNT_SID,
    CALLER,
    NUMBER,
    PASSWORD,
    TOKEN,
    add_call,
    add_message,
    add_voicemail,
)
from tests.console.test_executions import Clock, run_execution

#: Where a secret may sit in what Twilio sends: a SIP caller, a client, a WhatsApp contact.
SIP_CALLER = f"sip:{TOKEN}@pbx.example.com"
CLIENT = f"client:{TOKEN}"
CONTACT = f"whatsapp:{TOKEN}"
FLOW = f"Flow {TOKEN}"
FIELD = f"X-{TOKEN}"


def shows_the_token(page: str) -> bool:
    return any(form in page for form in (TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN)))


def fill(store: Any) -> dict[str, str]:
    """A failed call from :data:`SIP_CALLER` to :data:`CLIENT` with a field named
    :data:`FIELD` and a voicemail, a text from :data:`CONTACT` and one to it that was not
    delivered, and a run of the flow :data:`FLOW`; the SIDs made."""
    call_sid = add_call(store, status="failed", from_=SIP_CALLER, to=CLIENT, **{FIELD: "on"})
    add_call(store, status="ringing", from_=SIP_CALLER, to=CLIENT)  # in progress
    add_message(store, "hello from the contact", from_=CONTACT)
    sent = add_message(store, "hello back", from_=NUMBER, to=CONTACT)
    store.record_message_status({"MessageSid": sent, "AccountSid": ACCOUNT_SID, "From": NUMBER,
                                 "To": CONTACT, "MessageStatus": "undelivered",
                                 "ErrorCode": "30003"}, None)
    return {
        "call": call_sid,
        "recording": add_voicemail(store, call_sid),
        "execution": run_execution(store, Clock(), flow=FLOW, contact=CALLER,
                                   channel="voice", call_sid=call_sid),
    }


def test_no_page_shows_a_secret_in_a_number_a_contact_a_flow_or_a_field_name(
    db_client: FlaskClient, db_store: Any
) -> None:
    made = fill(db_store)
    pages = {
        "/console/": [f"<bdi>sip:{MASK}@pbx.example.com</bdi>", f"<bdi>client:{MASK}</bdi>",
                      f"<bdi>whatsapp:{MASK}</bdi>"],
        "/console/calls": [f"sip:{MASK}@pbx.example.com", f"client:{MASK}"],
        f"/console/calls/{made['call']}": [f"<bdi>sip:{MASK}@pbx.example.com</bdi>",
                                          f"<dt>X-{MASK}</dt>", f"Flow {MASK}"],
        "/console/voicemails": [f"<bdi>sip:{MASK}@pbx.example.com</bdi>",
                                f"<bdi>client:{MASK}</bdi>"],
        "/console/conversations": [f"<bdi>whatsapp:{MASK}</bdi>"],
        f"/console/conversation?contact={quote(CONTACT)}": [f"<h1><bdi>whatsapp:{MASK}</bdi>"],
        "/console/executions": [f'<td data-label="Flow">Flow {MASK}</td>'],
        f"/console/executions/{made['execution']}": [f"Flow {MASK}"],
    }
    shown = {path: db_client.get(path).text for path in [*pages, "/console/overview.json"]}
    assert [path for path, page in shown.items() if shows_the_token(page)] == []
    for path, masked in pages.items():
        for text in masked:
            assert text in shown[path], (path, text)
    live = db_client.get("/console/overview.json").json
    assert live is not None
    assert f"<bdi>whatsapp:{MASK}</bdi>" in live["sections"]["failures"]


def _from(store: Any) -> list[str]:
    sid = add_call(store, from_=SIP_CALLER)
    return ["/console/", "/console/calls", f"/console/calls/{sid}"]


def _to(store: Any) -> list[str]:
    sid = add_call(store, to=CLIENT)
    return ["/console/", "/console/calls", f"/console/calls/{sid}"]


def _contact(store: Any) -> list[str]:
    add_message(store, "hello", from_=CONTACT)
    return ["/console/conversations"]


def _flow_name(store: Any) -> list[str]:
    run_execution(store, Clock(), flow=FLOW)
    return ["/console/executions"]


def _field_name(store: Any) -> list[str]:
    return [f"/console/calls/{add_call(store, **{FIELD: 'on'})}"]


@pytest.mark.parametrize("place", [_from, _to, _contact, _flow_name, _field_name],
                         ids=["from", "to", "contact", "flow name", "field name"])
def test_a_secret_in_one_field_is_masked(
    place: Callable[[Any], list[str]], client: FlaskClient, store: Any
) -> None:
    for path in place(store):
        page = client.get(path).text
        assert not shows_the_token(page), path
        assert MASK in page, path


def test_a_masked_contact_or_flow_is_in_no_link_or_form(
    db_client: FlaskClient, db_store: Any
) -> None:
    fill(db_store)
    add_message(db_store, "an ordinary contact", from_=CALLER)
    run_execution(db_store, Clock(), flow="Support")
    listing = db_client.get("/console/conversations").text
    assert re.search(rf'<span class="item">\s*<span class="who"><bdi>whatsapp:{re.escape(MASK)}',
                     listing)
    assert f'href="/console/conversations/{CALLER}"' in listing  # others keep their links
    failures = db_client.get("/console/overview.json").json["sections"]["failures"]  # type: ignore[index]
    assert "whatsapp:" in failures
    assert "/console/conversation" not in failures

    conversation = db_client.get(f"/console/conversation?contact={quote(CONTACT)}").text
    assert "hello from the contact" in conversation
    assert "<form" not in conversation.split("</header>", 1)[1]  # no opt-out form
    assert "no link or form here carries it" in conversation

    options = re.findall(r"<option value=\"([^\"]*)\"",
                         db_client.get("/console/executions").text)
    assert "Support" in options
    assert not [option for option in options if "Flow" in option]


def test_a_secret_written_as_a_form_writes_it_is_masked(
    db_client: FlaskClient, db_store: Any
) -> None:
    form_encoded = quote_plus(PASSWORD)  # the console's password, a space as "+"
    assert form_encoded != quote(PASSWORD, safe="")
    call_sid = add_call(db_store, Hook=f"https://hooks.example/cb?note={form_encoded}")
    add_message(db_store, f"the password is {form_encoded}")
    for path in ("/console/conversations", f"/console/conversations/{CALLER}",
                 f"/console/calls/{call_sid}"):
        page = db_client.get(path).text
        assert form_encoded not in page, path
    assert f"the password is {MASK}" in db_client.get(f"/console/conversations/{CALLER}").text
    assert f"?note={MASK}" in db_client.get(f"/console/calls/{call_sid}").text
