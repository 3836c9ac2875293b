"""The numbers the emulator has for sale: a generated, deterministic inventory.

Each country has a few areas (area code, region, locality, rate center, LATA, postal code,
coordinates); each area offers the same 100 numbers in every run. A ``Contains`` search also
offers numbers made to match it, as Twilio's far larger inventory would.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from switchboard.emulator.resources import formatted_number

NUMBERS_PER_AREA = 100


@dataclass(frozen=True)
class Area:
    country: str
    calling_code: str  # "1", "44"
    area_code: str
    region: str | None
    locality: str | None
    rate_center: str | None
    lata: str | None
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    local_digits: int = 7  # digits after the area code

    def number(self, local: str) -> str:
        return f"+{self.calling_code}{self.area_code}{local}"


def _nanp(country: str, code: str, region: str, city: str, lata: str, postal: str,
          lat: float, lon: float) -> Area:
    return Area(country, "1", code, region, city, city.upper(), lata, postal, lat, lon)


LOCAL_AREAS: dict[str, tuple[Area, ...]] = {
    "US": (
        _nanp("US", "415", "CA", "San Francisco", "722", "94103", 37.7749, -122.4194),
        _nanp("US", "510", "CA", "Oakland", "722", "94612", 37.8044, -122.2712),
        _nanp("US", "212", "NY", "New York", "132", "10001", 40.7506, -73.9972),
        _nanp("US", "312", "IL", "Chicago", "358", "60601", 41.8858, -87.6181),
        _nanp("US", "512", "TX", "Austin", "558", "78701", 30.2711, -97.7437),
        _nanp("US", "206", "WA", "Seattle", "674", "98101", 47.6101, -122.3344),
        _nanp("US", "617", "MA", "Boston", "128", "02108", 42.3576, -71.0636),
        _nanp("US", "305", "FL", "Miami", "460", "33130", 25.7680, -80.2043),
        _nanp("US", "808", "HI", "Hilo", "834", "96720", 19.7200, -155.0900),
    ),
    "CA": (
        _nanp("CA", "416", "ON", "Toronto", "888", "M5H", 43.6532, -79.3832),
        _nanp("CA", "604", "BC", "Vancouver", "888", "V6B", 49.2827, -123.1207),
        _nanp("CA", "514", "QC", "Montreal", "888", "H2Y", 45.5017, -73.5673),
    ),
    "GB": (
        Area("GB", "44", "20", "GB", "London", None, None, "EC1A", 51.5074, -0.1278, 8),
        Area("GB", "44", "161", "GB", "Manchester", None, None, "M1", 53.4808, -2.2426, 7),
    ),
}

TOLL_FREE_CODES: dict[str, tuple[tuple[str, str], ...]] = {
    "US": tuple(("1", code) for code in ("800", "833", "844", "855", "866", "877", "888")),
    "CA": tuple(("1", code) for code in ("800", "833", "844", "855", "866", "877", "888")),
    "GB": (("44", "800"), ("44", "808")),
}

_KEYPAD = {
    **dict.fromkeys("ABC", "2"), **dict.fromkeys("DEF", "3"), **dict.fromkeys("GHI", "4"),
    **dict.fromkeys("JKL", "5"), **dict.fromkeys("MNO", "6"), **dict.fromkeys("PQRS", "7"),
    **dict.fromkeys("TUV", "8"), **dict.fromkeys("WXYZ", "9"),
}


COUNTRY_NAMES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom"}


def countries() -> tuple[str, ...]:
    return tuple(LOCAL_AREAS)


def contains_pattern(value: str, *, min_length: int = 2) -> re.Pattern[str]:
    """The regular expression for a ``Contains`` search: letters are keypad digits, ``*`` any
    digit; a leading ``+`` anchors the pattern at the start of the E.164 number.

    ValueError when the pattern has anything else.
    """
    value = value.strip()
    anchored = value.startswith("+")
    body = value[1:] if anchored else value
    if len(body) < min_length or not re.fullmatch(r"[0-9A-Za-z*]+", body):
        raise ValueError(value)
    parts = [r"\d" if ch == "*" else _KEYPAD.get(ch.upper(), ch) for ch in body]
    return re.compile(("^\\+" if anchored else "") + "".join(parts))


def _local_numbers(area: Area) -> Iterator[str]:
    rng = random.Random(f"{area.country}:{area.calling_code}:{area.area_code}")
    seen: set[str] = set()
    while len(seen) < NUMBERS_PER_AREA:
        if area.local_digits == 7:
            local = f"{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        else:
            local = f"{rng.randint(10**(area.local_digits - 1), 10**area.local_digits - 1)}"
        if local not in seen:
            seen.add(local)
            yield area.number(local)


def _matching_numbers(area: Area, pattern: str) -> Iterator[str]:
    """A few numbers of ``area`` made to contain the ``Contains`` pattern."""
    body = pattern.lstrip("+")
    digits = "".join("0" if ch == "*" else _KEYPAD.get(ch.upper(), ch) for ch in body)
    if pattern.startswith("+"):
        prefix = f"{area.calling_code}{area.area_code}"
        if not (digits.startswith(prefix) or prefix.startswith(digits)):
            return
        rest = digits[len(prefix):]
        fill = area.local_digits - len(rest)
        if fill < 0:
            return
        for n in range(5):
            local = rest + (f"{n * 1234567 + 2468:0{fill}d}"[-fill:] if fill else "")
            if area.calling_code == "1" and local[:1] in ("0", "1"):
                if rest:
                    return
                local = "2" + local[1:]
            yield area.number(local)
        return
    if len(digits) > area.local_digits:
        return
    fill = area.local_digits - len(digits)
    for n in range(5):
        head = f"{(n + 2) * 37 + 200:0{fill}d}"[:fill] if fill else ""
        if head.startswith(("0", "1")) and area.local_digits == 7:
            head = "2" + head[1:]
        yield area.number(head + digits)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _area_of(number: str) -> Area | None:
    for areas in LOCAL_AREAS.values():
        for area in areas:
            if number.startswith(f"+{area.calling_code}{area.area_code}"):
                return area
    return None


class SearchError(ValueError):
    """A search parameter is not valid: ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _entry(area: Area, number: str, *, toll_free: bool) -> dict[str, Any]:
    return {
        "friendly_name": formatted_number(number),
        "phone_number": number,
        "lata": area.lata,
        "locality": area.locality,
        "rate_center": area.rate_center,
        "latitude": area.latitude,
        "longitude": area.longitude,
        "region": area.region,
        "postal_code": area.postal_code,
        "iso_country": area.country,
        "address_requirements": "none" if area.calling_code == "1" else "any",
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": not toll_free, "fax": False},
    }


def search(
    country: str,
    kind: str,
    params: Mapping[str, str],
    *,
    exclude: Iterable[str] = (),
) -> list[dict[str, Any]] | None:
    """Available numbers of ``country`` (``kind``: "Local" or "TollFree") matching Twilio's
    search parameters, in a stable order; None when the country has no such numbers.

    Raises :class:`SearchError` for a malformed parameter.
    """
    country = country.upper()
    if kind == "Local":
        areas = LOCAL_AREAS.get(country)
    else:
        codes = TOLL_FREE_CODES.get(country)
        areas = (
            tuple(Area(country, cc, code, None, None, None, None, None, None, None)
                  for cc, code in codes)
            if codes else None
        )
    if not areas:
        return None
    pattern_text = params.get("Contains")
    pattern = None
    if pattern_text:
        try:
            pattern = contains_pattern(pattern_text)
        except ValueError:
            raise SearchError(
                "Contains", f"Contains {pattern_text!r} must be 2 or more digits, letters or '*'"
            ) from None
    near = _near(params)
    taken = set(exclude)
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    for area in areas:
        if not _area_matches(area, params, near):
            continue
        candidates: Iterable[str] = _local_numbers(area)
        if pattern_text:
            candidates = [*_matching_numbers(area, pattern_text), *candidates]
        for number in candidates:
            if number in taken or number in seen:
                continue
            if pattern is not None and not pattern.search(number):
                continue
            seen.add(number)
            results.append(_entry(area, number, toll_free=kind != "Local"))
    return [r for r in results if _capabilities_match(r, params)]


def _near(params: Mapping[str, str]) -> tuple[float, float, float] | None:
    distance_text = params.get("Distance") or "25"
    try:
        distance_km = float(distance_text) * 1.609344
    except ValueError:
        raise SearchError("Distance", f"Distance {distance_text!r} must be a number of miles"
                          ) from None
    if params.get("NearLatLong"):
        try:
            lat_text, lon_text = params["NearLatLong"].split(",")
            return float(lat_text), float(lon_text), distance_km
        except ValueError:
            raise SearchError("NearLatLong", "NearLatLong must be 'latitude,longitude'") from None
    if params.get("NearNumber"):
        area = _area_of(params["NearNumber"])
        if area is None or area.latitude is None or area.longitude is None:
            raise SearchError("NearNumber", f"NearNumber {params['NearNumber']!r} is not a "
                              "number the emulator can place")
        return area.latitude, area.longitude, distance_km
    return None


def _area_matches(area: Area, params: Mapping[str, str],
                  near: tuple[float, float, float] | None) -> bool:
    checks = {
        "AreaCode": area.area_code,
        "InRegion": area.region,
        "InPostalCode": area.postal_code,
        "InLocality": area.locality,
        "InRateCenter": area.rate_center,
        "InLata": area.lata,
    }
    for name, actual in checks.items():
        wanted = params.get(name)
        if wanted and (actual is None or wanted.strip().lower() != actual.lower()):
            return False
    if near is not None:
        if area.latitude is None or area.longitude is None:
            return False
        lat, lon, distance_km = near
        if _distance_km(lat, lon, area.latitude, area.longitude) > distance_km:
            return False
    return True


def _capabilities_match(entry: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    caps = entry["capabilities"]
    for param, cap in (("VoiceEnabled", "voice"), ("SmsEnabled", "sms"), ("MmsEnabled", "mms"),
                       ("FaxEnabled", "fax")):
        wanted = params.get(param)
        if wanted and wanted.lower() == "true" and not caps[cap]:
            return False
    exclude_any = (params.get("ExcludeAllAddressRequired") or "").lower() == "true"
    return not (exclude_any and entry["address_requirements"] != "none")


def first_available(country: str, area_code: str, exclude: Iterable[str]) -> str | None:
    """The first number for sale in ``area_code`` (for buying by area code), or None."""
    for kind in ("Local", "TollFree"):
        found = search(country, kind, {"AreaCode": area_code}, exclude=exclude)
        if found:
            return found[0]["phone_number"]
    return None
