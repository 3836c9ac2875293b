"""Inbound SMS and the statuses of outbound messages."""

from __future__ import annotations

from xml.sax.saxutils import escape

import flask

from tests.emulator_caller.conftest import CALLER, NUMBER, twiml

INBOUND_FIELDS = {
    "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "To", "Body", "NumMedia",
    "NumSegments", "ApiVersion",
}


def test_inbound_sms_parameters(hooks, phone, number, state) -> None:
    hooks.on("/sms", twiml())
    transcript = phone.inbound_sms(NUMBER, CALLER, "Hello there",
                                   ["https://example.com/cat.png"])
    [sms] = hooks.requests_to("/sms")
    assert sms.signature_valid
    assert sms.params.keys() >= INBOUND_FIELDS
    assert sms.params["Body"] == "Hello there"
    assert sms.params["From"] == CALLER
    assert sms.params["To"] == NUMBER
    assert sms.params["NumMedia"] == "1"
    assert sms.params["NumSegments"] == "1"
    assert sms.params["MediaUrl0"] == "https://example.com/cat.png"
    assert sms.params["MediaContentType0"] == "image/png"
    assert sms.params["MessageSid"] == sms.params["SmsSid"] == transcript.sid
    stored = state.get("messages", transcript.sid)
    assert stored["direction"] == "inbound"
    assert stored["status"] == "received"
    assert transcript.messages == []


def test_message_replies_become_messages_with_status_callbacks(hooks, phone, number,
                                                                state) -> None:
    hooks.on("/sms", twiml(
        "<Message statusCallback='/msg-status'>First reply</Message>",
        "<Message><Body>Second</Body><Media>/pic.jpg</Media></Message>",
    ))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    assert phone.wait_idle(5)
    first, second = transcript.messages
    assert first["direction"] == "outbound-reply"
    assert first["to"] == CALLER
    assert first["from"] == NUMBER
    assert state.get("messages", first["sid"])["status"] == "delivered"
    assert state.get("messages", second["sid"])["media_url"] == [hooks.url("/pic.jpg")]
    callbacks = hooks.requests_to("/msg-status")
    assert [c.params["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    assert [c.params["SmsStatus"] for c in callbacks] == ["sent", "delivered"]
    assert all(c.signature_valid for c in callbacks)
    assert {c.params["MessageSid"] for c in callbacks} == {first["sid"]}


def test_magic_numbers_fail_delivery(hooks, phone, state) -> None:
    for to, status, code in (("+15005550010", "undelivered", "30003"),
                             ("+15005550012", "failed", "30008")):
        message = state.create_message(state.main_account_sid, to=to, from_=NUMBER, body="x",
                                       status="queued", status_callback=hooks.url("/ms"))
        phone.deliver_outbound_message(message)
        assert phone.wait_idle(5)
        last = hooks.requests_to("/ms")[-1]
        assert last.params["MessageStatus"] == status
        assert last.params["ErrorCode"] == code
        assert state.get("messages", message["sid"])["error_code"] == int(code)
    statuses = [r.params["MessageStatus"] for r in hooks.requests_to("/ms")]
    assert statuses == ["sent", "undelivered", "failed"]


def test_scripted_message_outcome(hooks, phone, state) -> None:
    phone.message_outcomes["+15557654321"] = ("undelivered", 30005)
    message = state.create_message(state.main_account_sid, to="+15557654321", from_=NUMBER,
                                   body="x", status="queued", status_callback=hooks.url("/ms"))
    phone.deliver_outbound_message(message)
    assert phone.wait_idle(5)
    assert hooks.requests_to("/ms")[-1].params["ErrorCode"] == "30005"


def test_sms_fallback_and_no_reply_on_error(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, NUMBER, sms_url=hooks.url("/sms"),
                     sms_fallback_url=hooks.url("/sms-fallback"))
    hooks.on("/sms", ("", 500))
    hooks.on("/sms-fallback", twiml("<Message>Sorry, try again</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    [fallback] = hooks.requests_to("/sms-fallback")
    assert fallback.params["ErrorCode"] == "11217"
    assert fallback.params["ErrorUrl"] == hooks.url("/sms")
    assert fallback.params["Body"] == "hi"
    assert [m["body"] for m in transcript.messages] == ["Sorry, try again"]
    hooks.on("/sms-fallback", ("", 200, {"Content-Type": "text/xml"}))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    assert transcript.messages == []
    assert transcript.error_codes == [11217, 12100]


def test_empty_response_sends_nothing_and_redirect_is_followed(hooks, phone, number) -> None:
    hooks.on("/sms", twiml("<Redirect>/sms-two</Redirect>"))
    hooks.on("/sms-two", twiml("<Message>Two</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    assert [m["body"] for m in transcript.messages] == ["Two"]
    assert hooks.requests_to("/sms-two")[0].params["Body"] == "hi"


def test_a_redirect_by_get_carries_the_message_in_its_query_signed(hooks, phone,
                                                                   number) -> None:
    hooks.on("/sms", twiml("<Message>One</Message>",
                           "<Redirect method='GET'>/sms-two?step=2</Redirect>",
                           "<Message>Never sent</Message>"))
    hooks.on("/sms-two", twiml("<Message>Two</Message>", "<Redirect>/sms-three</Redirect>"))
    hooks.on("/sms-three", twiml("<Message>Three</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    assert [m["body"] for m in transcript.messages] == ["One", "Two", "Three"]
    [two] = hooks.requests_to("/sms-two")
    assert (two.method, two.form) == ("GET", [])
    assert two.signature_valid
    assert (two.params["step"], two.params["Body"], two.params["MessageSid"]) == (
        "2", "hi", transcript.sid)
    [three] = hooks.requests_to("/sms-three")
    assert three.method == "POST"
    assert three.signature_valid
    assert three.params["Body"] == "hi"


def test_a_chain_of_redirects_stops_after_ten_documents(hooks, phone, number) -> None:
    hooks.on("/sms", twiml("<Message>Again</Message>", "<Redirect>/sms</Redirect>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "hi")
    assert len(hooks.requests_to("/sms")) == 10
    assert len(transcript.messages) == 10
    (error,) = [e.text for e in transcript.events if e.kind == "error"]
    assert error == (f"the message's TwiML went on for more than 10 documents: "
                     f"{hooks.url('/sms')} is not requested")
    assert transcript.status == "received"


def test_conversation_cookies_per_pair(hooks, phone, number) -> None:
    def sms(request: flask.Request) -> flask.Response:
        count = int(request.cookies.get("count", "0")) + 1
        response = flask.Response(twiml(f"<Message>{count}</Message>"), content_type="text/xml")
        response.set_cookie("count", str(count))
        return response

    hooks.on("/sms", sms)
    bodies = [phone.inbound_sms(NUMBER, CALLER, "x").messages[0]["body"] for _ in range(3)]
    assert bodies == ["1", "2", "3"]
    assert phone.inbound_sms(NUMBER, "+15550009999", "x").messages[0]["body"] == "1"


def test_unicode_bodies_are_signed_correctly(hooks, phone, number) -> None:
    hooks.on("/sms", lambda r: twiml(f"<Message>Echo: {escape(r.form['Body'])}</Message>"))
    transcript = phone.inbound_sms(NUMBER, CALLER, "Café ☕ 👍 & <tags>")
    [sms] = hooks.requests_to("/sms")
    assert sms.signature_valid
    assert sms.params["Body"] == "Café ☕ 👍 & <tags>"
    assert transcript.messages[0]["body"] == "Echo: Café ☕ 👍 & <tags>"


def test_whatsapp_fields(hooks, phone, state) -> None:
    state.buy_number(state.main_account_sid, "+14155238886", sms_url=hooks.url("/wa"))
    phone.inbound_sms("whatsapp:+14155238886", "whatsapp:+15555550100", "hola")
    [wa] = hooks.requests_to("/wa")
    assert wa.params["WaId"] == "15555550100"
    assert wa.params["ProfileName"] == "WhatsApp User"
    assert wa.params["To"] == "whatsapp:+14155238886"
    assert wa.signature_valid
