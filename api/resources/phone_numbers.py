"""Your Twilio numbers: ``/IncomingPhoneNumbers``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from switchboard.api.errors import ResourceNotFound, ValidationError
from switchboard.api.resources.available_phone_numbers import area_code
from switchboard.api.resources.base import (
    WEBHOOK_FIELDS,
    Field,
    ItemResource,
    boolean,
    changes,
    choice,
    form,
    sid,
    sid_or_empty,
    text,
)
from switchboard.api.resources.base import phone_number as e164_number

_NUMBER_PATTERN = re.compile(r"^\+?[0-9*]+$")


def number_pattern(name: str, value: Any) -> str:
    """A whole or partial number, ``*`` standing for any digit."""
    value = text(name, value)
    if not _NUMBER_PATTERN.match(value):
        raise ValidationError(name, f"{value!r} may hold only '+', digits and '*'")
    return value


NUMBER_FIELDS: dict[str, Field] = {
    **WEBHOOK_FIELDS,
    "voice_application_sid": Field("VoiceApplicationSid", sid_or_empty("AP")),
    "sms_application_sid": Field("SmsApplicationSid", sid_or_empty("AP")),
    "voice_receive_mode": Field("VoiceReceiveMode", choice("voice", "fax")),
    "emergency_status": Field("EmergencyStatus", choice("Active", "Inactive", fold=str.title)),
    "emergency_address_sid": Field("EmergencyAddressSid", sid_or_empty("AD")),
    "address_sid": Field("AddressSid", sid_or_empty("AD")),
    "bundle_sid": Field("BundleSid", sid_or_empty("BU")),
    "identity_sid": Field("IdentitySid", sid_or_empty("RI")),
    "trunk_sid": Field("TrunkSid", sid_or_empty("TK")),
}
"""Settings of a number: the voice/SMS URLs and methods of ``WEBHOOK_FIELDS``, plus
``voice_application_sid`` / ``sms_application_sid`` (an application's URLs win over the
number's own; "" detaches it) and the regulatory SIDs."""

_UPDATE_FIELDS = {**NUMBER_FIELDS, "destination_account_sid": Field("AccountSid", sid("AC"))}
_CREATE_FIELDS = {
    **NUMBER_FIELDS,
    "phone_number": Field("PhoneNumber", e164_number),
    "area_code": Field("AreaCode", area_code),
}
_LIST_FIELDS = {
    "phone_number": Field("PhoneNumber", number_pattern),
    "friendly_name": Field("FriendlyName"),
    "origin": Field("Origin", choice("twilio", "hosted")),
    "beta": Field("Beta", boolean),
}
_account_sid = sid("AC")


class IncomingPhoneNumbers(ItemResource):
    """Buy, configure, move and release the account's phone numbers.

    ``create`` and ``update`` take the settings in :data:`NUMBER_FIELDS` as keyword
    arguments: ``voice_url``, ``voice_method``, ``voice_fallback_url``, ``sms_url``,
    ``status_callback``, ``voice_application_sid``...
    """

    collection = "/IncomingPhoneNumbers"
    sid_prefixes = ("PN",)

    def list(
        self,
        *,
        phone_number: str | None = None,
        friendly_name: str | None = None,
        origin: str | None = None,
        beta: bool | None = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The account's numbers; ``phone_number`` may be partial, with ``*`` for any digit."""
        params = form(
            _LIST_FIELDS,
            {
                "phone_number": phone_number,
                "friendly_name": friendly_name,
                "origin": origin,
                "beta": beta,
            },
        )
        path = self._path("/IncomingPhoneNumbers.json", account_sid)
        return self._list(path, "incoming_phone_numbers", params, limit, page_size)

    def create(
        self,
        *,
        phone_number: str | None = None,
        area_code: str | None = None,
        account_sid: str | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        """Buy ``phone_number`` (E.164), or any number in the US ``area_code``."""
        if (phone_number is None) == (area_code is None):
            raise ValidationError("phone_number", "give exactly one of phone_number and area_code")
        data = form(_CREATE_FIELDS, {"phone_number": phone_number, "area_code": area_code})
        data.update(form(NUMBER_FIELDS, settings))
        return self._post(self._path("/IncomingPhoneNumbers.json", account_sid), data)

    def update(
        self,
        sid: str,
        *,
        account_sid: str | None = None,
        destination_account_sid: str | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        """Change a number's settings; ``destination_account_sid`` moves it to that account."""
        path = self._one(sid, account_sid)
        data = changes(
            _UPDATE_FIELDS, {**settings, "destination_account_sid": destination_account_sid}
        )
        return self._post(path, data)

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        """Release the number: Twilio stops answering it and billing for it."""
        self._delete(self._one(sid, account_sid))

    def transfer(
        self, sid: str, to_account_sid: str, *, from_account_sid: str | None = None
    ) -> dict[str, Any]:
        """Move number ``sid`` from ``from_account_sid`` (default: this one) to another account."""
        path = self._one(sid, from_account_sid)
        return self._post(path, {"AccountSid": _account_sid("to_account_sid", to_account_sid)})

    def find(self, phone_number: str, *, account_sid: str | None = None) -> dict[str, Any]:
        """The account's number ``phone_number`` (E.164); :class:`ResourceNotFound` if none."""
        number = e164_number("phone_number", phone_number)
        for resource in self.list(phone_number=number, account_sid=account_sid):
            if resource.get("phone_number") == number:
                return resource
        raise ResourceNotFound(f"{number} is not one of this account's numbers")
