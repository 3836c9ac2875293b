"""Numbers available to buy: ``/AvailablePhoneNumbers/{CountryCode}/Local|TollFree|Mobile.json``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from switchboard.api import validation
from switchboard.api.errors import ValidationError
from switchboard.api.resources.base import (
    Field,
    Resource,
    boolean,
    form,
    integer,
    phone_number,
    text,
)

_PATTERN = re.compile(r"^[0-9A-Za-z*]+$")
_LAT_LONG = re.compile(r"^-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)?$")

KINDS = {"local": "Local", "toll_free": "TollFree", "mobile": "Mobile"}


def iso_country_code(name: str, value: Any) -> str:
    return validation.country_code(name, text(name, value))


def number_pattern(name: str, value: Any) -> str:
    value = text(name, value)
    if not _PATTERN.match(value):
        raise ValidationError(name, f"{value!r} may hold only digits, letters and '*'")
    return value


def lat_long(name: str, value: Any) -> str:
    value = text(name, value).replace(" ", "")
    if not _LAT_LONG.match(value):
        raise ValidationError(name, f"{value!r} is not a 'latitude,longitude' pair")
    return value


def area_code(name: str, value: Any) -> str:
    value = (
        str(value) if isinstance(value, int) and not isinstance(value, bool) else text(name, value)
    )
    if not re.fullmatch(r"\d{3}", value):
        raise ValidationError(name, f"{value!r} is not a three-digit area code")
    return value


SEARCH_FIELDS = {
    "area_code": Field("AreaCode", area_code),
    "contains": Field("Contains", number_pattern),
    "in_region": Field("InRegion"),
    "in_postal_code": Field("InPostalCode"),
    "in_locality": Field("InLocality"),
    "near_lat_long": Field("NearLatLong", lat_long),
    "near_number": Field("NearNumber", phone_number),
    "in_lata": Field("InLata"),
    "in_rate_center": Field("InRateCenter"),
    "distance": Field("Distance", integer(0, 500)),
    "sms_enabled": Field("SmsEnabled", boolean),
    "mms_enabled": Field("MmsEnabled", boolean),
    "voice_enabled": Field("VoiceEnabled", boolean),
    "fax_enabled": Field("FaxEnabled", boolean),
    "exclude_all_address_required": Field("ExcludeAllAddressRequired", boolean),
    "exclude_local_address_required": Field("ExcludeLocalAddressRequired", boolean),
    "exclude_foreign_address_required": Field("ExcludeForeignAddressRequired", boolean),
    "beta": Field("Beta", boolean),
}


class AvailablePhoneNumbers(Resource):
    """Search the numbers you could buy in a country.

    Filters (all optional): ``area_code``, ``contains`` (digits, letters, ``*`` for any digit),
    ``in_region``, ``in_postal_code``, ``in_locality``, ``near_lat_long`` ("lat,long"),
    ``near_number``, ``in_lata``, ``in_rate_center`` (needs ``in_lata``), ``distance`` (miles,
    default 25), and the capability flags ``sms_enabled``, ``mms_enabled``, ``voice_enabled``...
    """

    def search(
        self,
        country_code: str,
        kind: str = "local",
        *,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        **filters: Any,
    ) -> Iterator[dict[str, Any]]:
        """Numbers of ``kind`` (``local``, ``toll_free`` or ``mobile``) in ``country_code``."""
        country = iso_country_code("country_code", country_code)
        if kind not in KINDS:
            raise ValidationError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        params = form(SEARCH_FIELDS, filters)
        if "InRateCenter" in params and "InLata" not in params:
            raise ValidationError("in_rate_center", "Twilio needs in_lata with in_rate_center")
        path = self._path(f"/AvailablePhoneNumbers/{country}/{KINDS[kind]}.json", account_sid)
        return self._list(path, "available_phone_numbers", params, limit, page_size)

    def local(self, country_code: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Local numbers in ``country_code`` (``"US"``) matching the filters."""
        return self.search(country_code, "local", **kwargs)

    def toll_free(self, country_code: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Toll-free numbers in ``country_code`` matching the filters."""
        return self.search(country_code, "toll_free", **kwargs)

    def mobile(self, country_code: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Mobile numbers in ``country_code`` matching the filters."""
        return self.search(country_code, "mobile", **kwargs)
