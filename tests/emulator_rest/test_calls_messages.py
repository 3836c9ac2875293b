"""Calls and messages: creation hands them to the caller side; lists filter; updates act."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from switchboard.emulator.resources import rfc2822
from tests.emulator_rest.conftest import Api, assert_error

FROM = "+14155550100"


def make_call(api: Api, **data: str) -> dict:
    data = {"To": "+14155550111", "From": FROM, "Url": "https://e.com/voice", **data}
    response = api.post("/Calls.json", data)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_call_is_queued_and_placed(api: Api) -> None:
    call = make_call(api, Method="GET", StatusCallback="https://e.com/status",
                     StatusCallbackEvent="initiated ringing", SendDigits="1w2#",
                     Timeout="15", FallbackUrl="https://e.com/fallback", IfMachine="Continue")
    assert re.fullmatch(r"CA[0-9a-f]{32}", call["sid"])
    assert call["status"] == "queued"
    assert call["direction"] == "outbound-api"
    assert call["to"] == "+14155550111"
    assert call["from"] == FROM
    assert call["to_formatted"] == "(415) 555-0111"
    assert "url" not in call  # internal fields never show
    placed = api.emu.phone.calls
    assert [c["sid"] for c in placed] == [call["sid"]]
    assert placed[0]["url"] == "https://e.com/voice"
    assert placed[0]["method"] == "GET"
    assert placed[0]["status_callback"] == "https://e.com/status"
    assert placed[0]["status_callback_event"] == ["initiated", "ringing"]
    assert placed[0]["send_digits"] == "1w2#"
    assert placed[0]["timeout"] == 15
    assert placed[0]["fallback_url"] == "https://e.com/fallback"
    assert placed[0]["machine_detection"] == "Enable"  # the legacy IfMachine
    assert api.emu.state.created_count("calls") == 1


def test_create_call_with_application_or_twiml(api: Api) -> None:
    app = api.post("/Applications.json", {"VoiceUrl": "https://e.com/app"}).json()
    by_app = make_call(api, Url="", ApplicationSid=app["sid"])
    assert api.emu.phone.calls[-1]["application_sid"] == app["sid"]
    by_twiml = make_call(api, Url="", Twiml="<Response><Say>Hi</Say></Response>")
    assert api.emu.phone.calls[-1]["twiml"].startswith("<Response>")
    assert by_app["sid"] != by_twiml["sid"]
    client = make_call(api, To="client:alice")
    assert client["to"] == "client:alice"


def test_get_and_list_calls_with_filters(api: Api) -> None:
    state = api.emu.state
    a = make_call(api, To="+14155550001")
    b = make_call(api, To="+14155550002")
    c = make_call(api, To="+14155550002", From="+14155550199")
    when = {a["sid"]: datetime(2024, 1, 5, 10, tzinfo=UTC),
            b["sid"]: datetime(2024, 1, 6, 10, tzinfo=UTC),
            c["sid"]: datetime(2024, 1, 7, 23, 59, tzinfo=UTC)}
    for sid, start in when.items():
        state.update_call(sid, status="in-progress", start_time=rfc2822(start))
    state.update_call(c["sid"], status="completed")

    def sids(**params: str) -> list[str]:
        response = api.get("/Calls.json", **params)
        assert response.status_code == 200, response.text
        return [x["sid"] for x in response.json()["calls"]]

    assert sids() == [c["sid"], b["sid"], a["sid"]]  # newest first
    assert sids(To="+14155550002") == [c["sid"], b["sid"]]
    assert sids(From="+14155550199") == [c["sid"]]
    assert sids(Status="completed") == [c["sid"]]
    assert sids(Status="in-progress") == [b["sid"], a["sid"]]
    assert sids(StartTime="2024-01-06") == [b["sid"]]
    assert sids(**{"StartTime>": "2024-01-06"}) == [c["sid"], b["sid"]]
    assert sids(**{"StartTime<": "2024-01-06"}) == [b["sid"], a["sid"]]
    assert sids(**{"StartTime>": "2024-01-06", "StartTime<": "2024-01-06"}) == [b["sid"]]
    got = api.get(f"/Calls/{a['sid']}.json").json()
    assert got["status"] == "in-progress"
    assert got["start_time"] == "Fri, 05 Jan 2024 10:00:00 +0000"
    finished = api.get(f"/Calls/{c['sid']}.json").json()
    assert finished["end_time"] is not None
    assert int(finished["duration"]) > 0


def test_redirect_and_hang_up(api: Api) -> None:
    call = make_call(api)
    api.emu.state.update_call(call["sid"], status="in-progress")
    redirected = api.post(f"/Calls/{call['sid']}.json", {"Url": "https://e.com/next",
                                                          "Method": "GET"})
    assert redirected.status_code == 200
    stored = api.emu.state.get("calls", call["sid"])
    assert stored["redirect"] == {"url": "https://e.com/next", "method": "GET", "twiml": None}
    assert api.emu.phone.updates[-1]["sid"] == call["sid"]
    done = api.post(f"/Calls/{call['sid']}.json", {"Status": "completed"}).json()
    assert done["status"] == "completed"
    assert done["end_time"] is not None
    assert_error(api.post(f"/Calls/{call['sid']}.json", {"Url": "https://e.com/late"}),
                 400, 21220)
    assert_error(api.post(f"/Calls/{call['sid']}.json", {"Status": "ringing"}), 400, 20001,
                 "Status")


def test_cancel_a_queued_call(api: Api) -> None:
    call = make_call(api)
    canceled = api.post(f"/Calls/{call['sid']}.json", {"Status": "canceled"}).json()
    assert canceled["status"] == "canceled"
    other = make_call(api)
    api.emu.state.update_call(other["sid"], status="in-progress")
    untouched = api.post(f"/Calls/{other['sid']}.json", {"Status": "canceled"}).json()
    assert untouched["status"] == "in-progress"  # canceled only stops calls not answered


def test_delete_call(api: Api) -> None:
    call = make_call(api)
    api.emu.state.update_call(call["sid"], status="completed")  # only an ended call goes
    assert api.delete(f"/Calls/{call['sid']}.json").status_code == 204
    assert_error(api.get(f"/Calls/{call['sid']}.json"), 404, 20404)


def send(api: Api, **data: str) -> dict:
    data = {"To": "+14155550111", "From": FROM, "Body": "Hello", **data}
    response = api.post("/Messages.json", data)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_message_is_queued_and_delivered(api: Api) -> None:
    message = send(api, StatusCallback="https://e.com/sms/status",
                   MediaUrl="https://e.com/cat.jpg")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["status"] == "queued"
    assert message["direction"] == "outbound-api"
    assert message["body"] == "Hello"
    assert message["num_segments"] == "1"
    assert message["num_media"] == "1"
    assert message["date_sent"] is None
    assert message["subresource_uris"]["media"].endswith(f"/Messages/{message['sid']}/Media.json")
    delivered = api.emu.phone.messages
    assert [m["sid"] for m in delivered] == [message["sid"]]
    assert delivered[0]["status_callback"] == "https://e.com/sms/status"
    assert delivered[0]["media_url"] == ["https://e.com/cat.jpg"]
    assert api.emu.state.created_count("messages") == 1


def test_message_media(api: Api) -> None:
    message = send(api, MediaUrl="https://e.com/cat.png")
    api.post("/Messages.json", [("To", "+14155550111"), ("From", FROM),
                                ("MediaUrl", "https://e.com/a.gif"),
                                ("MediaUrl", "https://e.com/b.jpg")])
    media = api.get(f"/Messages/{message['sid']}/Media.json").json()["media_list"]
    assert len(media) == 1
    item = media[0]
    assert re.fullmatch(r"ME[0-9a-f]{32}", item["sid"])
    assert item["content_type"] == "image/png"
    assert item["parent_sid"] == message["sid"]
    path = f"/Messages/{message['sid']}/Media/{item['sid']}.json"
    assert api.get(path).json() == item
    assert api.delete(path).status_code == 204
    assert_error(api.get(path), 404, 20404)
    assert api.get(f"/Messages/{message['sid']}/Media.json").json()["media_list"] == []


def test_messaging_service_and_alphanumeric_sender(api: Api) -> None:
    service = send(api, From="", MessagingServiceSid="MG" + "a" * 32)
    assert service["status"] == "accepted"
    assert service["messaging_service_sid"] == "MG" + "a" * 32
    named = send(api, From="Switchbd")
    assert named["from"] == "Switchbd"


def test_long_body_counts_segments(api: Api) -> None:
    assert send(api, Body="x" * 161)["num_segments"] == "2"
    assert send(api, Body="é" * 71)["num_segments"] == "2"


def test_list_messages_with_filters(api: Api) -> None:
    state = api.emu.state
    a = send(api, To="+14155550001")
    b = send(api, To="+14155550002")
    c = send(api, To="+14155550002", From="+14155550199")
    for sid, day in ((a["sid"], 5), (b["sid"], 6), (c["sid"], 7)):
        state.update_message(sid, status="delivered",
                             date_sent=rfc2822(datetime(2024, 2, day, 12, tzinfo=UTC)))

    def sids(**params: str) -> list[str]:
        return [m["sid"] for m in api.get("/Messages.json", **params).json()["messages"]]

    assert sids() == [c["sid"], b["sid"], a["sid"]]
    assert sids(To="+14155550002") == [c["sid"], b["sid"]]
    assert sids(From="+14155550199") == [c["sid"]]
    assert sids(DateSent="2024-02-05") == [a["sid"]]
    assert sids(**{"DateSent>": "2024-02-06"}) == [c["sid"], b["sid"]]
    assert sids(**{"DateSent<": "2024-02-05"}) == [a["sid"]]
    assert api.get(f"/Messages/{b['sid']}.json").json()["status"] == "delivered"


def test_redact_and_delete_message(api: Api) -> None:
    message = send(api)
    redacted = api.post(f"/Messages/{message['sid']}.json", {"Body": ""})
    assert redacted.json()["body"] == ""
    assert_error(api.post(f"/Messages/{message['sid']}.json", {"Body": "new"}), 400, 20001,
                 "Body")
    api.emu.state.update_message(message["sid"], status="delivered")  # only a final one goes
    assert api.delete(f"/Messages/{message['sid']}.json").status_code == 204
    assert_error(api.get(f"/Messages/{message['sid']}.json"), 404, 20404)


def test_message_to_an_opted_out_recipient_is_refused(api: Api) -> None:
    api.emu.state.opt_out("+14155550111", FROM)
    assert_error(api.post("/Messages.json", {"To": "+14155550111", "From": FROM, "Body": "hi"}),
                 400, 21610, "unsubscribed")
    assert api.emu.phone.messages == []
    api.emu.state.opt_in("+14155550111", FROM)
    send(api)


def test_subaccount_calls_are_its_own(api: Api) -> None:
    sub = api.post("/2010-04-01/Accounts.json", {}).json()
    theirs = api.as_account(sub["sid"], (sub["sid"], sub["auth_token"]))
    call = make_call(theirs)
    assert call["account_sid"] == sub["sid"]
    assert api.get("/Calls.json").json()["calls"] == []
    assert [c["sid"] for c in theirs.get("/Calls.json").json()["calls"]] == [call["sid"]]


def test_strict_senders(api: Api) -> None:
    api.emu.state.strict_senders = True
    call = {"To": "+14155550111", "From": FROM, "Url": "https://e.com/voice"}
    assert_error(api.post("/Calls.json", call), 400, 21210, FROM)
    assert_error(api.post("/Messages.json", {"To": "+14155550111", "From": FROM, "Body": "x"}),
                 400, 21606, FROM)
    api.post("/OutgoingCallerIds.json", {"PhoneNumber": FROM})
    assert api.post("/Calls.json", call).status_code == 201  # a verified caller ID may call
    assert_error(api.post("/Messages.json", {"To": "+14155550111", "From": FROM, "Body": "x"}),
                 400, 21606)  # but not text
    number = api.buy()
    send(api, From=number["phone_number"])
    send(api, From="Switchbd")
    assert make_call(api, From="client:alice")["from"] == "client:alice"
