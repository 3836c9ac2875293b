"""REST views: accounts, available and incoming numbers, caller IDs, applications, sandbox."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from switchboard.emulator import inventory
from switchboard.emulator.params import E164, APIError, Params, bad_request, not_found, shown
from switchboard.emulator.resources import PUBLIC_FIELDS, new_sid, public
from switchboard.emulator.restkit import (
    authenticate,
    deleted,
    matching,
    owned,
    page,
    params,
    require_account_credentials,
    set_fields,
    show,
    state,
    update_owned,
)

bp = Blueprint("numbers", __name__)
bp.before_request(authenticate)

ACCOUNT = "/Accounts/<account_sid>"

URL_ATTRIBUTES = (
    ("ApiVersion", "api_version", "str"),
    ("FriendlyName", "friendly_name", "name"),
    ("VoiceUrl", "voice_url", "url"),
    ("VoiceMethod", "voice_method", "method"),
    ("VoiceFallbackUrl", "voice_fallback_url", "url"),
    ("VoiceFallbackMethod", "voice_fallback_method", "method"),
    ("VoiceCallerIdLookup", "voice_caller_id_lookup", "bool"),
    ("StatusCallback", "status_callback", "url"),
    ("StatusCallbackMethod", "status_callback_method", "method"),
    ("SmsUrl", "sms_url", "url"),
    ("SmsMethod", "sms_method", "method"),
    ("SmsFallbackUrl", "sms_fallback_url", "url"),
    ("SmsFallbackMethod", "sms_fallback_method", "method"),
)
NUMBER_ATTRIBUTES = (
    *URL_ATTRIBUTES,
    ("VoiceApplicationSid", "voice_application_sid", "str"),
    ("SmsApplicationSid", "sms_application_sid", "str"),
    # the OpenAPI description's patterns (two letters and 32 hex digits: 34 characters)
    ("TrunkSid", "trunk_sid", "sid:TK"),
    ("IdentitySid", "identity_sid", "sid:RI"),
    ("AddressSid", "address_sid", "sid:AD"),
    ("BundleSid", "bundle_sid", "sid:BU"),
    ("EmergencyAddressSid", "emergency_address_sid", "sid:AD"),
)
APPLICATION_ATTRIBUTES = (
    *URL_ATTRIBUTES,
    ("SmsStatusCallback", "sms_status_callback", "url"),
    ("MessageStatusCallback", "message_status_callback", "url"),
    ("PublicApplicationConnectEnabled", "public_application_connect_enabled", "bool"),
)
API_VERSIONS = ("2010-04-01", "2008-08-01")


# -- accounts --------------------------------------------------------------------------------


@bp.get("/Accounts.json")
def list_accounts() -> ResponseReturnValue:
    require_account_credentials()
    p = params()
    status = p.enum("Status", ("active", "suspended", "closed"))
    accounts = state().list(
        "accounts",
        account_sid=g.credential_account,
        where=matching([("friendly_name", p.get("FriendlyName")), ("status", status)]),
    )
    return page(accounts, "accounts", "accounts")


@bp.post("/Accounts.json")
def create_account() -> ResponseReturnValue:
    require_account_credentials()
    p = params()
    parent = state().get("accounts", g.credential_account)
    assert parent is not None
    if parent["owner_account_sid"] != parent["sid"]:
        raise APIError(403, 20403, "A subaccount cannot create subaccounts.")
    account = state().create_account(
        p.friendly_name() or None, owner_account_sid=g.credential_account
    )
    return show("accounts", account, 201)


@bp.get(f"{ACCOUNT}.json")
def get_account(account_sid: str) -> ResponseReturnValue:
    require_account_credentials()
    account = state().get("accounts", account_sid)
    assert account is not None  # authenticate() answered 404 otherwise
    return show("accounts", account)


@bp.post(f"{ACCOUNT}.json")
def update_account(account_sid: str) -> ResponseReturnValue:
    """Rename an account, or (parent's credentials only) suspend, reactivate or close a
    subaccount; closing is final and releases its numbers."""
    require_account_credentials()
    p = params()
    fields = set_fields(p, [("FriendlyName", "friendly_name", "name")])
    status = p.enum("Status", ("active", "suspended", "closed"))
    with state().lock:  # the status must not change between reading and writing it
        account = state().get("accounts", account_sid)
        assert account is not None
        if status is not None and status != account["status"]:
            if account["owner_account_sid"] == account_sid:
                raise bad_request(20001, "Status: the main account's status cannot be changed "
                                  "through the API.")
            if g.credential_account != account["owner_account_sid"]:
                raise APIError(403, 20403, "Status: only the parent account's credentials can "
                               "suspend, reactivate or close a subaccount.")
            if account["status"] == "closed":
                raise bad_request(20001, "Status: a closed account cannot be reopened.")
            fields["status"] = status
        if fields.get("status") == "closed":
            for number in state().list("incoming_phone_numbers", account_sid=account_sid):
                state().delete("incoming_phone_numbers", number["sid"])
        return show("accounts", state().update("accounts", account_sid, **fields))


# -- available phone numbers -------------------------------------------------------------------


def _country(account_sid: str, code: str) -> dict[str, Any]:
    base = f"/2010-04-01/Accounts/{account_sid}/AvailablePhoneNumbers/{code}"
    return {
        "country_code": code,
        "country": inventory.COUNTRY_NAMES[code],
        "uri": f"{base}.json",
        "beta": False,
        "subresource_uris": {"local": f"{base}/Local.json", "toll_free": f"{base}/TollFree.json"},
    }


@bp.get(f"{ACCOUNT}/AvailablePhoneNumbers.json")
def available_countries(account_sid: str) -> ResponseReturnValue:
    return jsonify({
        "countries": [_country(account_sid, code) for code in inventory.countries()],
        "uri": request.path,
    })


@bp.get(f"{ACCOUNT}/AvailablePhoneNumbers/<country>.json")
def available_country(account_sid: str, country: str) -> ResponseReturnValue:
    if country.upper() not in inventory.countries():
        raise not_found(request.path)
    return jsonify(_country(account_sid, country.upper()))


@bp.get(f"{ACCOUNT}/AvailablePhoneNumbers/<country>/<any(Local, TollFree):kind>.json")
def available_numbers(account_sid: str, country: str, kind: str) -> ResponseReturnValue:
    try:
        found = inventory.search(country, kind, request.args, exclude=state().owned_numbers())
    except inventory.SearchError as error:
        raise bad_request(20001, str(error)) from None
    if found is None:
        raise not_found(request.path)
    return page(found, "available_phone_numbers", lambda entry: entry)


# -- incoming phone numbers ---------------------------------------------------------------------


def _check_applications(p: Params, account_sid: str, fields: dict[str, Any]) -> None:
    for name, param in (("voice_application_sid", "VoiceApplicationSid"),
                        ("sms_application_sid", "SmsApplicationSid")):
        if name not in fields:
            continue
        sid = p.sid(param, "AP", code=21218)
        if not sid:
            fields[name] = None
            continue
        application = state().get("applications", sid)
        if application is None or application["account_sid"] != account_sid:
            raise bad_request(21218, f"{param} {shown(sid)} is not an application of this account.")


def _number_fields(account_sid: str) -> dict[str, Any]:
    p = params()
    fields = set_fields(p, NUMBER_ATTRIBUTES)
    if "api_version" in fields:
        fields["api_version"] = p.enum("ApiVersion", API_VERSIONS)
    emergency = p.enum("EmergencyStatus", ("Active", "Inactive"))
    if emergency:
        fields["emergency_status"] = emergency
    receive_mode = p.enum("VoiceReceiveMode", ("voice", "fax"))
    if receive_mode:
        fields["voice_receive_mode"] = receive_mode
    _check_applications(p, account_sid, fields)
    return {k: v for k, v in fields.items() if k in PUBLIC_FIELDS["incoming_phone_numbers"]}


@bp.get(f"{ACCOUNT}/IncomingPhoneNumbers.json")
def list_numbers(account_sid: str) -> ResponseReturnValue:
    p = params()
    pattern = p.get("PhoneNumber")
    friendly_name = p.get("FriendlyName")
    beta = p.boolean("Beta")
    origin = p.enum("Origin", ("twilio", "hosted"))
    regex = None
    if pattern:
        try:
            regex = inventory.contains_pattern(pattern, min_length=1)
        except ValueError:
            raise bad_request(21421, f"PhoneNumber {shown(pattern)} is not a valid "
                              "pattern.") from None

    def keep(number: dict[str, Any]) -> bool:
        if regex is not None and not regex.search(number["phone_number"]):
            return False
        if friendly_name is not None and friendly_name != number["friendly_name"]:
            return False
        if beta is False and number["beta"]:
            return False
        return origin is None or number["origin"] == origin

    numbers = state().list("incoming_phone_numbers", account_sid=account_sid, where=keep)
    return page(numbers, "incoming_phone_numbers", "incoming_phone_numbers")


@bp.post(f"{ACCOUNT}/IncomingPhoneNumbers.json")
def buy_number(account_sid: str) -> ResponseReturnValue:
    p = params()
    fields = _number_fields(account_sid)
    phone_number = p.get("PhoneNumber")
    area_code = p.get("AreaCode")
    if phone_number:
        phone_number = phone_number.strip()
        if not E164.match(phone_number):
            raise bad_request(21421, f"PhoneNumber {shown(phone_number)} is not a valid "
                              "E.164 number.")
        if state().find_number(phone_number) is not None:
            raise bad_request(21422, f"PhoneNumber {phone_number} is not available.")
    elif area_code:
        if not (area_code.isascii() and area_code.isdigit() and len(area_code) == 3):
            raise bad_request(21451, f"AreaCode {shown(area_code)} is not a valid area code.")
    else:
        raise bad_request(21421, "A PhoneNumber or an AreaCode is required.")
    with state().lock:  # two buyers in one area code must not be offered the same number
        if not phone_number:
            for country in ("US", "CA"):
                phone_number = inventory.first_available(country, area_code,
                                                         state().owned_numbers())
                if phone_number:
                    break
            if not phone_number:
                raise bad_request(21452, "AreaCode: no phone numbers found in area code "
                                  f"{area_code}.")
        if phone_number.startswith("+1") and phone_number[2:5] in ("800", "833", "844", "855",
                                                                    "866", "877", "888"):
            fields.setdefault("type", "toll-free")
        try:
            number = state().buy_number(account_sid, phone_number, **fields)
        except ValueError:
            raise bad_request(21422, f"PhoneNumber {phone_number} is not available.") from None
    return show("incoming_phone_numbers", number, 201)


@bp.get(f"{ACCOUNT}/IncomingPhoneNumbers/<sid>.json")
def get_number(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("incoming_phone_numbers", owned("incoming_phone_numbers", sid, account_sid))


@bp.post(f"{ACCOUNT}/IncomingPhoneNumbers/<sid>.json")
def update_number(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("incoming_phone_numbers", sid, account_sid)
    p = params()
    destination = p.sid("AccountSid", "AC")
    target_account = destination or account_sid
    if destination and destination != account_sid:
        target = state().get("accounts", destination)
        if target is None or not (
            state().can_access(g.credential_account, destination)
            or state().can_access(destination, account_sid)
        ):
            raise bad_request(20001, f"AccountSid {destination} is not an account these "
                              "credentials can move the number to.")
        if target["status"] != "active":
            raise bad_request(21472, f"AccountSid {destination} is not an active account: it "
                              f"is {target['status']}, and a number can only move to an "
                              "active one.")
    fields = _number_fields(target_account)
    if destination:
        fields["account_sid"] = destination
    return show("incoming_phone_numbers",
                update_owned("incoming_phone_numbers", sid, account_sid, fields))


@bp.delete(f"{ACCOUNT}/IncomingPhoneNumbers/<sid>.json")
def release_number(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("incoming_phone_numbers", sid, account_sid)
    state().delete("incoming_phone_numbers", sid)
    return deleted()


# -- outgoing caller IDs -------------------------------------------------------------------------


@bp.get(f"{ACCOUNT}/OutgoingCallerIds.json")
def list_caller_ids(account_sid: str) -> ResponseReturnValue:
    p = params()
    caller_ids = state().list(
        "outgoing_caller_ids",
        account_sid=account_sid,
        where=matching([("phone_number", p.get("PhoneNumber")),
                        ("friendly_name", p.get("FriendlyName"))]),
    )
    return page(caller_ids, "outgoing_caller_ids", "outgoing_caller_ids")


@bp.post(f"{ACCOUNT}/OutgoingCallerIds.json")
def add_caller_id(account_sid: str) -> ResponseReturnValue:
    """A validation request. The emulator has no one to type the code, so the caller ID is
    verified at once: it is listed right after this answer."""
    p = params()
    phone_number = p.phone_number("PhoneNumber", 21421) or p.required(
        "PhoneNumber", 21421, "A PhoneNumber is required."
    )
    p.integer("CallDelay", low=0, high=60)
    extension = p.get("Extension")
    if extension is not None and not all(ch in "0123456789#*w" for ch in extension):
        raise bad_request(20001, f"Extension {shown(extension)} must be digits, '#', '*' or 'w'.")
    p.url("StatusCallback")
    p.method("StatusCallbackMethod")
    friendly_name = p.friendly_name() or None
    with state().lock:  # the same number added twice at once is verified once
        existing = state().list("outgoing_caller_ids", account_sid=account_sid,
                                where=matching([("phone_number", phone_number)]))
        if existing:
            raise bad_request(21450, f"PhoneNumber {phone_number} is already verified for this "
                              "account.")
        caller_id = state().create_caller_id(
            account_sid, phone_number,
            **({"friendly_name": friendly_name} if friendly_name else {}),
        )
    code = f"{int(caller_id['sid'][2:10], 16) % 1_000_000:06d}"
    call_sid = new_sid("CA")
    return jsonify({
        "account_sid": account_sid,
        "call_sid": call_sid,
        "friendly_name": caller_id["friendly_name"],
        "phone_number": phone_number,
        "validation_code": code,
    })


@bp.get(f"{ACCOUNT}/OutgoingCallerIds/<sid>.json")
def get_caller_id(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("outgoing_caller_ids", owned("outgoing_caller_ids", sid, account_sid))


@bp.post(f"{ACCOUNT}/OutgoingCallerIds/<sid>.json")
def update_caller_id(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("outgoing_caller_ids", sid, account_sid)
    fields = set_fields(params(), [("FriendlyName", "friendly_name", "name")])
    return show("outgoing_caller_ids",
                update_owned("outgoing_caller_ids", sid, account_sid, fields))


@bp.delete(f"{ACCOUNT}/OutgoingCallerIds/<sid>.json")
def delete_caller_id(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("outgoing_caller_ids", sid, account_sid)
    state().delete("outgoing_caller_ids", sid)
    return deleted()


# -- applications ---------------------------------------------------------------------------------


@bp.get(f"{ACCOUNT}/Applications.json")
def list_applications(account_sid: str) -> ResponseReturnValue:
    applications = state().list(
        "applications", account_sid=account_sid,
        where=matching([("friendly_name", params().get("FriendlyName"))]),
    )
    return page(applications, "applications", "applications")


def _application_fields() -> dict[str, Any]:
    p = params()
    fields = set_fields(p, APPLICATION_ATTRIBUTES)
    if "api_version" in fields:
        fields["api_version"] = p.enum("ApiVersion", API_VERSIONS)
    return fields


@bp.post(f"{ACCOUNT}/Applications.json")
def create_application(account_sid: str) -> ResponseReturnValue:
    fields = _application_fields()
    fields.setdefault("friendly_name", None)
    return show("applications", state().create_application(account_sid, **fields), 201)


@bp.get(f"{ACCOUNT}/Applications/<sid>.json")
def get_application(account_sid: str, sid: str) -> ResponseReturnValue:
    return show("applications", owned("applications", sid, account_sid))


@bp.post(f"{ACCOUNT}/Applications/<sid>.json")
def update_application(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("applications", sid, account_sid)
    return show("applications",
                update_owned("applications", sid, account_sid, _application_fields()))


@bp.delete(f"{ACCOUNT}/Applications/<sid>.json")
def delete_application(account_sid: str, sid: str) -> ResponseReturnValue:
    owned("applications", sid, account_sid)
    state().delete("applications", sid)
    return deleted()


# -- the legacy sandbox ----------------------------------------------------------------------------


@bp.get(f"{ACCOUNT}/Sandbox.json")
def get_sandbox(account_sid: str) -> ResponseReturnValue:
    return jsonify(public("sandbox", state().sandbox(account_sid)))


@bp.post(f"{ACCOUNT}/Sandbox.json")
def update_sandbox(account_sid: str) -> ResponseReturnValue:
    fields = set_fields(params(), [
        ("VoiceUrl", "voice_url", "url"),
        ("VoiceMethod", "voice_method", "method"),
        ("SmsUrl", "sms_url", "url"),
        ("SmsMethod", "sms_method", "method"),
        ("StatusCallback", "status_callback", "url"),
        ("StatusCallbackMethod", "status_callback_method", "method"),
    ])
    return jsonify(public("sandbox", state().update_sandbox(account_sid, **fields)))
