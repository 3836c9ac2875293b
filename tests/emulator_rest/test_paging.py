"""List envelopes and paging: Page, PageSize, PageToken, and the URIs Twilio gives."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.emulator_rest.conftest import Api


def make_apps(api: Api, count: int, name: str = "app") -> list[str]:
    return [api.post("/Applications.json", {"FriendlyName": name}).json()["sid"]
            for _ in range(count)]


def test_following_next_page_uri_walks_every_item_once(api: Api) -> None:
    created = make_apps(api, 7)
    seen: list[str] = []
    body = api.get("/Applications.json", PageSize="3").json()
    pages = [body]
    while body["next_page_uri"]:
        body = api.get(body["next_page_uri"]).json()
        pages.append(body)
    for page in pages:
        seen.extend(a["sid"] for a in page["applications"])
    assert seen == list(reversed(created))
    assert [(p["page"], p["start"], p["end"]) for p in pages] == [(0, 0, 2), (1, 3, 5), (2, 6, 6)]
    assert all(p["page_size"] == 3 for p in pages)
    assert pages[0]["previous_page_uri"] is None
    assert pages[-1]["next_page_uri"] is None
    previous = api.get(pages[2]["previous_page_uri"]).json()
    assert [a["sid"] for a in previous["applications"]] == [
        a["sid"] for a in pages[1]["applications"]]


def test_envelope_uris_keep_the_filters(api: Api) -> None:
    make_apps(api, 3, "kept")
    make_apps(api, 2, "other")
    body = api.get("/Applications.json", FriendlyName="kept", PageSize="2").json()
    path = f"/2010-04-01/Accounts/{api.emu.account_sid}/Applications.json"
    for key in ("uri", "first_page_uri", "next_page_uri"):
        parts = urlsplit(body[key])
        assert parts.path == path
        assert parse_qs(parts.query)["FriendlyName"] == ["kept"]
        assert parse_qs(parts.query)["PageSize"] == ["2"]
    assert parse_qs(urlsplit(body["first_page_uri"]).query)["Page"] == ["0"]
    second = api.get(body["next_page_uri"]).json()
    assert len(second["applications"]) == 1
    assert {a["friendly_name"] for a in second["applications"]} == {"kept"}


def test_page_number_without_token(api: Api) -> None:
    created = make_apps(api, 5)
    body = api.get("/Applications.json", PageSize="2", Page="2").json()
    assert [a["sid"] for a in body["applications"]] == [created[0]]
    assert body["start"] == 4


def test_default_page_size_and_empty_pages(api: Api) -> None:
    body = api.get("/Calls.json").json()
    assert body["calls"] == []
    assert body["page_size"] == 50
    assert body["next_page_uri"] is None
    assert (body["start"], body["end"]) == (0, 0)
    beyond = api.get("/Calls.json", Page="3").json()
    assert beyond["calls"] == []
    assert beyond["page"] == 3


def test_available_numbers_page_too(api: Api) -> None:
    body = api.get("/AvailablePhoneNumbers/US/Local.json", AreaCode="415", PageSize="30").json()
    assert len(body["available_phone_numbers"]) == 30
    rest = api.get(body["next_page_uri"]).json()
    first = {n["phone_number"] for n in body["available_phone_numbers"]}
    assert first.isdisjoint(n["phone_number"] for n in rest["available_phone_numbers"])
