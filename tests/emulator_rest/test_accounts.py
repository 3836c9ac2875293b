"""Accounts and subaccounts: create, list with filters, get, update, their own credentials."""

from __future__ import annotations

import re

import requests

from tests.emulator_rest.conftest import TIMEOUT, Api, assert_error

SID = re.compile(r"^AC[0-9a-f]{32}$")


def test_main_account_is_reachable_with_its_credentials(api: Api) -> None:
    response = api.get(".json")
    assert response.status_code == 200
    account = response.json()
    assert account["sid"] == api.emu.account_sid
    assert account["owner_account_sid"] == account["sid"]
    assert account["status"] == "active"
    assert account["uri"] == f"/2010-04-01/Accounts/{account['sid']}.json"
    calls = f"/2010-04-01/Accounts/{account['sid']}/Calls.json"
    assert account["subresource_uris"]["calls"] == calls


def test_configured_credentials_are_the_main_account() -> None:
    from switchboard.emulator import Emulator

    sid, token = "AC" + "1" * 32, "f" * 32
    with Emulator(sid, token, caller=False) as emu:
        assert emu.account_sid == sid
        assert emu.auth_token == token
        ok = requests.get(
            f"{emu.url}/2010-04-01/Accounts/{sid}.json", auth=(sid, token), timeout=TIMEOUT
        )
        assert ok.status_code == 200


def test_subaccount_has_its_own_sid_and_token(api: Api) -> None:
    response = api.post("/2010-04-01/Accounts.json", {"FriendlyName": "Support line"})
    assert response.status_code == 201
    sub = response.json()
    assert SID.match(sub["sid"])
    assert sub["sid"] != api.emu.account_sid
    assert sub["owner_account_sid"] == api.emu.account_sid
    assert sub["friendly_name"] == "Support line"
    assert re.fullmatch(r"[0-9a-f]{32}", sub["auth_token"])
    assert sub["auth_token"] != api.emu.auth_token

    own = api.as_account(sub["sid"], (sub["sid"], sub["auth_token"]))
    assert own.get(".json").json()["sid"] == sub["sid"]
    parent = api.as_account(sub["sid"])
    assert parent.get(".json").json()["sid"] == sub["sid"]
    # a subaccount cannot see its parent
    assert_error(own.as_account(api.emu.account_sid).get(".json"), 401, 20003)


def test_list_accounts_filters_by_friendly_name_and_status(api: Api) -> None:
    for name in ("alpha", "beta", "beta"):
        api.post("/2010-04-01/Accounts.json", {"FriendlyName": name})
    everything = api.get("/2010-04-01/Accounts.json").json()
    assert len(everything["accounts"]) == 4  # the main account and three subaccounts
    betas = api.get("/2010-04-01/Accounts.json", FriendlyName="beta").json()["accounts"]
    assert [a["friendly_name"] for a in betas] == ["beta", "beta"]
    first_beta = betas[0]["sid"]
    assert (
        api.post(f"/2010-04-01/Accounts/{first_beta}.json", {"Status": "suspended"}).json()[
            "status"
        ]
        == "suspended"
    )
    suspended = api.get("/2010-04-01/Accounts.json", Status="suspended").json()["accounts"]
    assert [a["sid"] for a in suspended] == [first_beta]
    assert_error(api.get("/2010-04-01/Accounts.json", Status="sleeping"), 400, 20001, "Status")


def test_update_account_friendly_name_and_close(api: Api) -> None:
    sub = api.post("/2010-04-01/Accounts.json", {}).json()
    assert sub["friendly_name"].startswith("SubAccount Created at ")
    renamed = api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"FriendlyName": "Sales"})
    assert renamed.status_code == 200
    assert renamed.json()["friendly_name"] == "Sales"
    closed = api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": "closed"}).json()
    assert closed["status"] == "closed"
    assert_error(
        api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": "active"}),
        400,
        20001,
        "closed",
    )
    # a closed account's own credentials no longer work
    response = requests.get(
        api.url(f"/2010-04-01/Accounts/{sub['sid']}.json"),
        auth=(sub["sid"], sub["auth_token"]),
        timeout=TIMEOUT,
    )
    assert_error(response, 401, 20003)


def test_main_account_status_cannot_be_changed(api: Api) -> None:
    assert_error(api.post(".json", {"Status": "closed"}), 400, 20001, "Status")


def test_subaccount_cannot_create_subaccounts(api: Api) -> None:
    sub = api.post("/2010-04-01/Accounts.json", {}).json()
    own = api.as_account(sub["sid"], (sub["sid"], sub["auth_token"]))
    assert_error(own.post("/2010-04-01/Accounts.json", {}), 403, 20403)


def test_api_key_credentials(api: Api) -> None:
    key_sid, secret = api.emu.state.add_api_key()
    keyed = api.as_account(api.emu.account_sid, (key_sid, secret))
    assert keyed.get("/IncomingPhoneNumbers.json").status_code == 200
    wrong = api.as_account(api.emu.account_sid, (key_sid, "wrong"))
    assert_error(wrong.get("/IncomingPhoneNumbers.json"), 401, 20003)


def test_a_standard_api_key_cannot_use_the_accounts_endpoints(api: Api) -> None:
    """The account resource shows the auth token: Twilio keeps /Accounts to the account's own
    credentials and main API keys (standard keys get a 401)."""
    sub = api.post("/2010-04-01/Accounts.json", {}).json()
    key_sid, secret = api.emu.state.add_api_key()
    keyed = api.as_account(api.emu.account_sid, (key_sid, secret))
    for response in (
        keyed.get(".json"),
        keyed.get("/2010-04-01/Accounts.json"),
        keyed.as_account(sub["sid"]).get(".json"),
        keyed.post("/2010-04-01/Accounts.json", {}),
        keyed.post(".json", {"FriendlyName": "renamed"}),
        keyed.as_account(sub["sid"]).post(".json", {"Status": "suspended"}),
    ):
        assert_error(response, 401, 20003)
        assert api.emu.auth_token not in response.text
        assert sub["auth_token"] not in response.text
        assert "standard API key" in response.json()["message"]
    assert len(api.get("/2010-04-01/Accounts.json").json()["accounts"]) == 2  # nothing created
    assert api.get(".json").json()["friendly_name"] != "renamed"
    assert api.as_account(sub["sid"]).get(".json").json()["status"] == "active"
    assert keyed.get("/Calls.json").status_code == 200  # the account's other resources: allowed

    main_sid, main_secret = api.emu.state.add_api_key(main=True)
    main = api.as_account(api.emu.account_sid, (main_sid, main_secret))
    assert main.get(".json").json()["auth_token"] == api.emu.auth_token


def test_a_closed_accounts_api_keys_stop_working(api: Api) -> None:
    """Closing an account ends its API keys as well as its auth token: no key of it reads or
    writes its resources any more."""
    sub = api.post("/2010-04-01/Accounts.json", {}).json()
    key = api.emu.state.add_api_key(sub["sid"])
    keyed = api.as_account(sub["sid"], key)
    assert keyed.get("/Calls.json").status_code == 200
    api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": "suspended"})
    assert keyed.get("/Calls.json").status_code == 200  # suspended: still readable
    api.post(f"/2010-04-01/Accounts/{sub['sid']}.json", {"Status": "closed"})
    assert_error(keyed.get("/Calls.json"), 401, 20003)
    assert_error(keyed.post("/Applications.json", {"FriendlyName": "x"}), 401, 20003)
