"""Requests the REST side refuses as Twilio does (malformed paging, non-UTF-8 bodies, a
suspended or closed account, a live call deleted, impossible fault rules, digits of another
script), and requests that overlap: each answered as if it had come alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.emulator_rest.conftest import TIMEOUT, Api, assert_error

CALL = {"To": "+14155550100", "From": "+14155550101", "Url": "http://example.com/voice"}
MESSAGE = {"To": "+14155550100", "From": "+14155550101", "Body": "hello"}


def subaccount(api: Api) -> tuple[dict[str, Any], Api, Api]:
    """A new subaccount, an Api on it with the parent's credentials, and one with its own."""
    sub = api.post("/2010-04-01/Accounts.json", {"FriendlyName": "customer"}).json()
    return sub, api.as_account(sub["sid"]), api.as_account(sub["sid"], (sub["sid"],
                                                                         sub["auth_token"]))


def in_background(send: Callable[[], requests.Response]) -> Callable[[], requests.Response]:
    """Start ``send`` in a thread; the returned function waits for its response."""
    result: list[requests.Response] = []
    thread = threading.Thread(target=lambda: result.append(send()))
    thread.start()

    def wait() -> requests.Response:
        thread.join(TIMEOUT)
        return result[0]

    return wait


def slow_first(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *, calls: int = 1,
               seconds: float = 0.3, when: Callable[..., bool] = lambda *a: True) -> None:
    """Make the first ``calls`` calls of ``target.name`` (those ``when`` accepts) wait
    ``seconds`` after they ran, as on a busy machine, so that two requests overlap there."""
    original = getattr(target, name)
    left = [calls]

    def slow(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args) and left[0] > 0:
            left[0] -= 1
            time.sleep(seconds)
        return result

    monkeypatch.setattr(target, name, slow)


# -- paging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["PT²", "PT" + "1" * 5000, "PT٣"])
def test_a_tampered_page_token_is_a_400(api: Api, token: str) -> None:
    assert_error(api.get("/Calls.json", PageToken=token), 400, 20001, "PageToken")


@pytest.mark.parametrize(("name", "value"), [("Page", "9" * 4299), ("Page", "٣"),
                                            ("PageSize", "٣")])
def test_huge_or_non_ascii_page_numbers_are_a_400(api: Api, name: str, value: str) -> None:
    params = {name: value, "PageSize": "1000"} if name == "Page" else {name: value}
    assert_error(api.get("/Calls.json", **params), 400, 20001, name)


def test_a_range_error_names_only_the_bounds_there_are(api: Api) -> None:
    body = assert_error(api.get("/Calls.json", Page="-1"), 400, 20001, "Page")
    assert "None" not in body["message"]
    assert body["message"] == "Page must be 0 or more: -1."


# -- request bodies --------------------------------------------------------------------------------


def test_a_form_body_that_is_not_utf8_is_a_400_saying_so(api: Api) -> None:
    body = b"To=%2B14155550100&From=%2B14155550101&Body=caf\xe9"
    response = api.session.post(
        api.url("/Messages.json"), data=body, timeout=TIMEOUT,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 400, 20001, "UTF-8")
    assert api.emu.state.created_count("messages") == 0


def test_an_alphanumeric_sender_with_a_line_break_is_refused(api: Api) -> None:
    response = api.post("/Messages.json", {**MESSAGE, "From": "Acme\n"})
    assert_error(response, 400, 21212, "'From'")


# -- account status ------------------------------------------------------------------------------


def test_a_suspended_subaccount_cannot_call_or_text(api: Api) -> None:
    sub, as_parent, as_itself = subaccount(api)
    assert api.post(f"/2010-04-01/Accounts/{sub['sid']}.json",
                    {"Status": "suspended"}).status_code == 200
    for client in (as_parent, as_itself):
        assert_error(client.post("/Calls.json", CALL), 403, 20403, "suspended")
        assert_error(client.post("/Messages.json", MESSAGE), 403, 20403, "suspended")
    assert as_itself.get("/Calls.json").status_code == 200  # its history stays readable
    assert api.emu.state.created_count("calls") == 0
    assert api.post(f"/2010-04-01/Accounts/{sub['sid']}.json",
                    {"Status": "active"}).status_code == 200
    assert as_itself.post("/Calls.json", CALL).status_code == 201


def test_a_closed_subaccount_cannot_call_through_its_parent(api: Api) -> None:
    sub, as_parent, _ = subaccount(api)
    api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": "closed"})
    assert_error(as_parent.post("/Calls.json", CALL), 403, 20403, "closed")
    assert_error(as_parent.post("/Messages.json", MESSAGE), 403, 20403, "closed")


def test_only_the_parent_changes_a_subaccounts_status(api: Api) -> None:
    sub, _, as_itself = subaccount(api)
    own_url = f"/2010-04-01/Accounts/{sub['sid']}.json"
    assert_error(as_itself.post(own_url, {"Status": "suspended"}), 403, 20403, "parent")
    api.post(own_url, {"Status": "suspended"})
    assert_error(as_itself.post(own_url, {"Status": "active"}), 403, 20403, "parent")
    assert api.get(own_url).json()["status"] == "suspended"
    renamed = as_itself.post(own_url, {"FriendlyName": "still mine"})
    assert renamed.status_code == 200
    assert renamed.json()["friendly_name"] == "still mine"


def test_closing_a_subaccount_releases_its_numbers(api: Api) -> None:
    sub, as_parent, _ = subaccount(api)
    number = as_parent.buy(PhoneNumber="+14155550177")
    closed = api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": "closed"})
    assert closed.status_code == 200
    assert api.emu.state.find_number(number["phone_number"]) is None
    assert as_parent.get("/IncomingPhoneNumbers.json").json()["incoming_phone_numbers"] == []
    assert api.buy(PhoneNumber=number["phone_number"])["account_sid"] == api.emu.account_sid


# -- updates that must leave the rest alone -------------------------------------------------------


def test_updating_a_call_with_an_application_sid_keeps_its_url(api: Api) -> None:
    application = api.post("/Applications.json", {"VoiceUrl": "http://example.com/app"}).json()
    call = api.post("/Calls.json", CALL).json()
    response = api.post(f"/Calls/{call['sid']}.json", {"ApplicationSid": application["sid"]})
    assert response.status_code == 200, response.text
    kept = api.emu.state.get("calls", call["sid"])
    assert kept["url"] == CALL["Url"]
    assert kept["application_sid"] is None


# -- overlapping requests --------------------------------------------------------------------------


def test_updating_a_number_released_meanwhile_is_a_404(api: Api, monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    number = api.buy()
    suffix = f"/IncomingPhoneNumbers/{number['sid']}.json"
    slow_first(monkeypatch, api.emu.state, "get", when=lambda kind, sid: kind ==
               "incoming_phone_numbers")
    update = in_background(lambda: api.post(suffix, {"VoiceUrl": "http://example.com/v"}))
    time.sleep(0.1)
    assert api.delete(suffix).status_code == 204
    response = update()
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        assert_error(response, 404, 20404)


def test_updating_a_participant_kicked_meanwhile_is_not_a_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = api.emu.state
    conference = state.create_conference(api.emu.account_sid, "standup")
    call = api.post("/Calls.json", CALL).json()
    state.add_participant(conference["sid"], call["sid"])
    suffix = f"/Conferences/{conference['sid']}/Participants/{call['sid']}.json"
    slow_first(monkeypatch, state, "get_participant")
    update = in_background(lambda: api.post(suffix, {"Muted": "true"}))
    time.sleep(0.1)
    assert api.delete(suffix).status_code == 204
    response = update()
    assert response.status_code in (200, 404), response.text
    assert state.get_participant(conference["sid"], call["sid"]) is None


def test_deleting_two_media_at_once_deletes_both(api: Api, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    message = api.post("/Messages.json", {
        **MESSAGE, "MediaUrl": ["http://example.com/a.png", "http://example.com/b.png"],
    }).json()
    base = f"/Messages/{message['sid']}/Media"
    media = [m["sid"] for m in api.get(f"{base}.json").json()["media_list"]]
    assert len(media) == 2
    slow_first(monkeypatch, api.emu.state, "get", calls=2, seconds=0.2,
               when=lambda kind, sid: kind == "messages")
    first = in_background(lambda: api.delete(f"{base}/{media[0]}.json"))
    time.sleep(0.05)
    assert api.delete(f"{base}/{media[1]}.json").status_code == 204
    assert first().status_code == 204
    assert api.get(f"{base}.json").json()["media_list"] == []


def test_two_buyers_in_one_area_code_both_get_a_number(api: Api,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from switchboard.emulator import rest_numbers

    slow_first(monkeypatch, rest_numbers.inventory, "first_available", calls=2, seconds=0.2)
    first = in_background(lambda: api.post("/IncomingPhoneNumbers.json", {"AreaCode": "415"}))
    time.sleep(0.05)
    second = api.post("/IncomingPhoneNumbers.json", {"AreaCode": "415"})
    responses = [first(), second]
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    assert len({r.json()["phone_number"] for r in responses}) == 2


def test_a_caller_id_added_twice_at_once_is_verified_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_first(monkeypatch, api.emu.state, "list", calls=2, seconds=0.2,
               when=lambda kind, **_: kind == "outgoing_caller_ids")
    data = {"PhoneNumber": "+14155550142"}
    first = in_background(lambda: api.post("/OutgoingCallerIds.json", data))
    time.sleep(0.05)
    second = api.post("/OutgoingCallerIds.json", data)
    codes = sorted([first().status_code, second.status_code])
    assert codes == [200, 400]
    listed = api.get("/OutgoingCallerIds.json").json()["outgoing_caller_ids"]
    assert [c["phone_number"] for c in listed] == ["+14155550142"]


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["é", "☃"])
def test_a_non_ascii_password_is_a_401(api: Api, password: str) -> None:
    key_sid, _ = api.emu.state.add_api_key()
    for username in (api.emu.account_sid, key_sid):
        response = requests.get(api.url(".json"), timeout=TIMEOUT,
                                auth=(username.encode(), password.encode()))
        assert_error(response, 401, 20003)


# -- deleting what is still moving -----------------------------------------------------------------


@pytest.mark.parametrize("status", ["queued", "ringing", "in-progress"])
def test_a_live_call_cannot_be_deleted(api: Api, status: str) -> None:
    call = api.post("/Calls.json", CALL).json()
    api.emu.state.update_call(call["sid"], status=status)
    assert_error(api.delete(f"/Calls/{call['sid']}.json"), 400, 20009, status)
    assert api.get(f"/Calls/{call['sid']}.json").status_code == 200
    api.post(f"/Calls/{call['sid']}.json", {"Status": "completed"})
    assert api.delete(f"/Calls/{call['sid']}.json").status_code == 204


@pytest.mark.parametrize("status", ["queued", "sending", "sent"])
def test_a_message_being_delivered_cannot_be_deleted(api: Api, status: str) -> None:
    message = api.post("/Messages.json", MESSAGE).json()
    api.emu.state.update_message(message["sid"], status=status)
    assert_error(api.delete(f"/Messages/{message['sid']}.json"), 400, 20009, status)
    api.emu.state.update_message(message["sid"], status="undelivered")
    assert api.delete(f"/Messages/{message['sid']}.json").status_code == 204


def test_a_number_cannot_move_to_a_closed_or_suspended_account(api: Api) -> None:
    number = api.buy()
    for status in ("suspended", "closed"):
        sub, _, _ = subaccount(api)
        api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": status})
        response = api.post(f"/IncomingPhoneNumbers/{number['sid']}.json",
                            {"AccountSid": sub["sid"]})
        assert_error(response, 400, 21472, status)
    assert api.emu.state.get("incoming_phone_numbers", number["sid"])["account_sid"] == (
        api.emu.account_sid)


# -- fault rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["slow:delay=-1", "slow:delay=nan", "429:retry_after=-2",
                                  "429:retry_after=inf", "503:count=-1"])
def test_a_fault_rule_that_cannot_work_is_refused(api: Api, spec: str) -> None:
    from switchboard.emulator.faults import parse_fault

    with pytest.raises(ValueError, match=spec.split(":")[1].split("=")[0]):
        api.emu.faults.add(**parse_fault(spec))
    assert api.emu.faults.faults == []
    assert api.get(".json").status_code == 200


def test_a_message_takes_at_most_ten_media(api: Api) -> None:
    urls = [f"http://example.com/{i}.png" for i in range(11)]
    assert_error(api.post("/Messages.json", {**MESSAGE, "MediaUrl": urls}), 400, 21623, "10")
    assert api.post("/Messages.json", {**MESSAGE, "MediaUrl": urls[:10]}).status_code == 201


def test_a_subaccount_closed_meanwhile_is_not_reopened(api: Api,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sub, _, _ = subaccount(api)
    url = f"/2010-04-01/Accounts/{sub['sid']}.json"
    slow_first(monkeypatch, api.emu.state, "get", calls=20, seconds=0.2,
               when=lambda kind, sid: kind == "accounts" and sid == sub["sid"])
    close = in_background(lambda: api.post(url, {"Status": "closed"}))
    time.sleep(0.05)
    suspend = api.post(url, {"Status": "suspended"})
    assert close().status_code == 200
    assert_error(suspend, 400, 20001, "closed")
    assert api.emu.state.get("accounts", sub["sid"])["status"] == "closed"


# -- the server ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8080"),
    ("0.0.0.0", "http://127.0.0.1:8080"),
    ("::", "http://127.0.0.1:8080"),
    ("::1", "http://[::1]:8080"),
    ("localhost", "http://localhost:8080"),
])
def test_the_url_of_an_emulator_on_an_ipv6_address_has_brackets(host: str, url: str) -> None:
    from types import SimpleNamespace

    from switchboard.emulator import Emulator

    emu = Emulator(host=host, caller=False)
    emu._server = SimpleNamespace(port=8080)  # type: ignore[assignment]  # as if listening
    assert emu.url == url


# -- phone numbers in other scripts ---------------------------------------------------------------

ARABIC_INDIC = "+" + "14155550100".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def test_digits_of_another_script_are_not_a_phone_number(api: Api) -> None:
    assert_error(api.post("/Calls.json", {**CALL, "To": ARABIC_INDIC}), 400, 21211, "'To'")
    assert_error(api.post("/Messages.json", {**MESSAGE, "From": ARABIC_INDIC}), 400, 21212,
                 "'From'")
    assert_error(api.post("/IncomingPhoneNumbers.json", {"PhoneNumber": ARABIC_INDIC}), 400,
                 21421, "PhoneNumber")
    assert_error(api.post("/IncomingPhoneNumbers.json", {"AreaCode": "٤١٥"}), 400, 21451,
                 "AreaCode")
    assert api.emu.state.owned_numbers() == set()
