"""Available numbers, incoming numbers, outgoing caller IDs, applications, the sandbox."""

from __future__ import annotations

import re

from tests.emulator_rest.conftest import Api, assert_error


def local(api: Api, country: str = "US", **params: str) -> list[dict]:
    response = api.get(f"/AvailablePhoneNumbers/{country}/Local.json", **params)
    assert response.status_code == 200, response.text
    return response.json()["available_phone_numbers"]


def test_inventory_is_deterministic_across_emulators(api: Api) -> None:
    from switchboard.emulator import Emulator

    first = [n["phone_number"] for n in local(api, AreaCode="212")]
    with Emulator(caller=False) as other:
        again = [n["phone_number"] for n in local(Api(other), AreaCode="212")]
    assert first == again
    assert len(first) == 50  # one default page
    assert all(n.startswith("+1212") for n in first)


def test_available_numbers_filters(api: Api) -> None:
    sf = local(api, InRegion="CA")
    assert {n["region"] for n in sf} == {"CA"}
    postal = local(api, InPostalCode="60601")
    assert {n["locality"] for n in postal} == {"Chicago"}
    near = local(api, NearNumber="+14155550100", Distance="20", PageSize="1000")
    assert {n["locality"] for n in near} == {"San Francisco", "Oakland"}
    near_point = local(api, NearLatLong="47.61,-122.33", Distance="5")
    assert {n["rate_center"] for n in near_point} == {"SEATTLE"}
    assert local(api, InLata="128")[0]["locality"] == "Boston"
    assert local(api, InRateCenter="MIAMI")[0]["region"] == "FL"
    assert local(api, InLocality="Hilo")[0]["postal_code"] == "96720"
    assert local(api, AreaCode="415", InRegion="NY") == []


def test_contains_accepts_digits_letters_and_wildcards(api: Api) -> None:
    storm = local(api, Contains="STORM", AreaCode="512")
    assert storm
    assert all("78676" in n["phone_number"] for n in storm)
    wild = local(api, Contains="+1415***")
    assert wild
    assert all(n["phone_number"].startswith("+1415") for n in wild)
    digits = local(api, Contains="55", AreaCode="617")
    assert all("55" in n["phone_number"] for n in digits)


def test_toll_free_numbers(api: Api) -> None:
    response = api.get("/AvailablePhoneNumbers/US/TollFree.json", Contains="866")
    numbers = response.json()["available_phone_numbers"]
    assert numbers
    assert all(re.match(r"^\+18\d\d", n["phone_number"]) for n in numbers)
    assert all("866" in n["phone_number"] for n in numbers)
    assert numbers[0]["capabilities"]["voice"] is True


def test_countries(api: Api) -> None:
    countries = api.get("/AvailablePhoneNumbers.json").json()["countries"]
    assert {c["country_code"] for c in countries} == {"US", "CA", "GB"}
    us = api.get("/AvailablePhoneNumbers/US.json").json()
    assert us["subresource_uris"]["local"].endswith("/AvailablePhoneNumbers/US/Local.json")
    assert_error(api.get("/AvailablePhoneNumbers/ZZ.json"), 404, 20404)


def test_other_countries(api: Api) -> None:
    assert local(api, "GB")[0]["phone_number"].startswith("+44")
    assert local(api, "ca", AreaCode="604")[0]["region"] == "BC"
    assert_error(api.get("/AvailablePhoneNumbers/US/Mobile.json"), 404, 20404)


def test_bought_number_is_listed_and_no_longer_available(api: Api) -> None:
    candidate = local(api, AreaCode="305")[0]["phone_number"]
    bought = api.buy(PhoneNumber=candidate, FriendlyName="Front desk",
                     VoiceUrl="https://example.com/voice")
    assert bought["phone_number"] == candidate
    assert bought["friendly_name"] == "Front desk"
    assert bought["voice_url"] == "https://example.com/voice"
    assert bought["voice_method"] == "POST"
    assert re.fullmatch(r"PN[0-9a-f]{32}", bought["sid"])
    listed = api.get("/IncomingPhoneNumbers.json").json()["incoming_phone_numbers"]
    assert [n["sid"] for n in listed] == [bought["sid"]]
    assert candidate not in {n["phone_number"] for n in local(api, AreaCode="305")}
    assert_error(api.post("/IncomingPhoneNumbers.json", {"PhoneNumber": candidate}), 400, 21422)


def test_buy_by_area_code(api: Api) -> None:
    first = api.buy(AreaCode="512")
    second = api.buy(AreaCode="512")
    assert first["phone_number"].startswith("+1512")
    assert second["phone_number"].startswith("+1512")
    assert first["phone_number"] != second["phone_number"]
    toll_free = api.buy(AreaCode="888")
    assert toll_free["type"] == "toll-free"


def test_list_numbers_by_pattern_and_friendly_name(api: Api) -> None:
    a = api.buy(PhoneNumber="+14155550123", FriendlyName="A")
    b = api.buy(PhoneNumber="+12125550199", FriendlyName="B")
    def numbers(**params: str) -> list[str]:
        listed = api.get("/IncomingPhoneNumbers.json", **params).json()
        return [n["sid"] for n in listed["incoming_phone_numbers"]]
    assert numbers(PhoneNumber="+1415*") == [a["sid"]]
    assert numbers(PhoneNumber="0199") == [b["sid"]]
    assert numbers(PhoneNumber="555") == [b["sid"], a["sid"]]  # newest first
    assert numbers(FriendlyName="A") == [a["sid"]]
    assert numbers(FriendlyName="C") == []


def test_update_number_is_what_the_state_finds(api: Api) -> None:
    number = api.buy()
    response = api.post(f"/IncomingPhoneNumbers/{number['sid']}.json", {
        "VoiceUrl": "https://switchboard.example/voice",
        "VoiceMethod": "GET",
        "VoiceFallbackUrl": "https://switchboard.example/voice/fallback",
        "SmsUrl": "https://switchboard.example/sms",
        "StatusCallback": "https://switchboard.example/voice/status",
        "VoiceCallerIdLookup": "true",
        "ApiVersion": "2010-04-01",
    })
    assert response.status_code == 200
    updated = response.json()
    assert updated["voice_method"] == "GET"
    assert updated["voice_caller_id_lookup"] is True
    found = api.emu.state.find_number(number["phone_number"])
    assert found is not None
    assert found["voice_url"] == "https://switchboard.example/voice"
    assert found["sms_url"] == "https://switchboard.example/sms"
    assert found["status_callback"] == "https://switchboard.example/voice/status"
    cleared = api.post(f"/IncomingPhoneNumbers/{number['sid']}.json", {"SmsUrl": ""}).json()
    assert cleared["sms_url"] is None
    assert cleared["voice_url"] == "https://switchboard.example/voice"


def test_number_points_at_an_application(api: Api) -> None:
    app = api.post("/Applications.json", {"FriendlyName": "IVR",
                                           "VoiceUrl": "https://e.com/v"}).json()
    number = api.buy(VoiceApplicationSid=app["sid"])
    assert number["voice_application_sid"] == app["sid"]
    unset = api.post(f"/IncomingPhoneNumbers/{number['sid']}.json",
                     {"VoiceApplicationSid": ""}).json()
    assert unset["voice_application_sid"] is None


def test_move_number_between_subaccounts(api: Api) -> None:
    one = api.post("/2010-04-01/Accounts.json", {"FriendlyName": "one"}).json()
    two = api.post("/2010-04-01/Accounts.json", {"FriendlyName": "two"}).json()
    first = api.as_account(one["sid"])
    number = first.buy()
    moved = first.post(f"/IncomingPhoneNumbers/{number['sid']}.json", {"AccountSid": two["sid"]})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["account_sid"] == two["sid"]
    assert body["uri"] == (
        f"/2010-04-01/Accounts/{two['sid']}/IncomingPhoneNumbers/{number['sid']}.json"
    )
    assert first.get("/IncomingPhoneNumbers.json").json()["incoming_phone_numbers"] == []
    second = api.as_account(two["sid"])
    assert second.get(f"/IncomingPhoneNumbers/{number['sid']}.json").status_code == 200
    assert_error(first.get(f"/IncomingPhoneNumbers/{number['sid']}.json"), 404, 20404)
    # and back to the parent account
    back = second.post(f"/IncomingPhoneNumbers/{number['sid']}.json",
                       {"AccountSid": api.emu.account_sid})
    assert back.json()["account_sid"] == api.emu.account_sid


def test_move_number_to_a_stranger_is_refused(api: Api) -> None:
    number = api.buy()
    assert_error(api.post(f"/IncomingPhoneNumbers/{number['sid']}.json",
                          {"AccountSid": "AC" + "7" * 32}), 400, 20001, "AccountSid")


def test_release_number(api: Api) -> None:
    number = api.buy()
    response = api.delete(f"/IncomingPhoneNumbers/{number['sid']}.json")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(f"/IncomingPhoneNumbers/{number['sid']}.json"), 404, 20404)
    assert api.emu.state.find_number(number["phone_number"]) is None
    assert_error(api.delete(f"/IncomingPhoneNumbers/{number['sid']}.json"), 404, 20404)


def test_outgoing_caller_ids(api: Api) -> None:
    response = api.post("/OutgoingCallerIds.json", {
        "PhoneNumber": "+14155550142", "FriendlyName": "Home", "CallDelay": "5",
        "Extension": "12w3",
    })
    assert response.status_code == 200
    validation = response.json()
    assert re.fullmatch(r"\d{6}", validation["validation_code"])
    assert re.fullmatch(r"CA[0-9a-f]{32}", validation["call_sid"])
    assert validation["phone_number"] == "+14155550142"
    assert validation["friendly_name"] == "Home"
    listed = api.get("/OutgoingCallerIds.json").json()["outgoing_caller_ids"]
    assert [c["phone_number"] for c in listed] == ["+14155550142"]
    sid = listed[0]["sid"]
    assert api.get("/OutgoingCallerIds.json", PhoneNumber="+14155550142").json()[
        "outgoing_caller_ids"][0]["sid"] == sid
    assert api.get("/OutgoingCallerIds.json", FriendlyName="Work").json()[
        "outgoing_caller_ids"] == []
    assert_error(api.post("/OutgoingCallerIds.json", {"PhoneNumber": "+14155550142"}), 400, 21450)
    renamed = api.post(f"/OutgoingCallerIds/{sid}.json", {"FriendlyName": "Cell"}).json()
    assert renamed["friendly_name"] == "Cell"
    assert api.get(f"/OutgoingCallerIds/{sid}.json").json()["friendly_name"] == "Cell"
    assert api.delete(f"/OutgoingCallerIds/{sid}.json").status_code == 204
    assert_error(api.get(f"/OutgoingCallerIds/{sid}.json"), 404, 20404)


def test_applications(api: Api) -> None:
    created = api.post("/Applications.json", {
        "FriendlyName": "Switchboard", "VoiceUrl": "https://e.com/voice",
        "SmsUrl": "https://e.com/sms", "SmsStatusCallback": "https://e.com/sms/status",
        "MessageStatusCallback": "https://e.com/message/status", "VoiceMethod": "GET",
    })
    assert created.status_code == 201
    app = created.json()
    assert re.fullmatch(r"AP[0-9a-f]{32}", app["sid"])
    assert app["voice_method"] == "GET"
    assert app["sms_status_callback"] == "https://e.com/sms/status"
    api.post("/Applications.json", {"FriendlyName": "Other"})
    named = api.get("/Applications.json", FriendlyName="Switchboard").json()["applications"]
    assert [a["sid"] for a in named] == [app["sid"]]
    updated = api.post(f"/Applications/{app['sid']}.json", {"VoiceUrl": "https://e.com/v2"})
    assert updated.json()["voice_url"] == "https://e.com/v2"
    assert api.emu.state.get("applications", app["sid"])["voice_url"] == "https://e.com/v2"
    assert api.delete(f"/Applications/{app['sid']}.json").status_code == 204
    assert_error(api.get(f"/Applications/{app['sid']}.json"), 404, 20404)


def test_sandbox_is_stateful(api: Api) -> None:
    sandbox = api.get("/Sandbox.json").json()
    assert re.fullmatch(r"\d{8}", sandbox["pin"])
    assert sandbox["voice_url"] is None
    updated = api.post("/Sandbox.json", {"VoiceUrl": "https://e.com/voice", "VoiceMethod": "GET",
                                         "SmsUrl": "https://e.com/sms"}).json()
    assert updated["voice_url"] == "https://e.com/voice"
    again = api.get("/Sandbox.json").json()
    assert again["voice_method"] == "GET"
    assert again["sms_url"] == "https://e.com/sms"
    assert again["pin"] == sandbox["pin"]
    assert_error(api.post("/Sandbox.json", {"SmsUrl": "nope"}), 400, 21502, "SmsUrl")
