"""The generated inventory of available numbers."""

from __future__ import annotations

import re

import pytest

from switchboard.emulator import inventory


def test_same_numbers_every_time() -> None:
    first = inventory.search("US", "Local", {})
    assert first == inventory.search("US", "Local", {})
    assert len({n["phone_number"] for n in first}) == len(first)
    assert all(re.fullmatch(r"\+1[2-9]\d{2}[2-9]\d{6}", n["phone_number"]) for n in first)


def test_excluded_numbers_are_not_offered() -> None:
    first = inventory.search("US", "Local", {"AreaCode": "206"})[0]["phone_number"]
    again = inventory.search("US", "Local", {"AreaCode": "206"}, exclude={first})
    assert first not in {n["phone_number"] for n in again}
    assert inventory.first_available("US", "206", {first}) != first


@pytest.mark.parametrize(("pattern", "number", "matches"), [
    ("STORM", "+14155578676", True),
    ("+1415", "+14155578676", True),
    ("+1416", "+14155578676", False),
    ("55*78", "+14155578676", True),
    ("8676", "+14155578676", True),
    ("9999", "+14155578676", False),
])
def test_contains_pattern(pattern: str, number: str, matches: bool) -> None:
    assert bool(inventory.contains_pattern(pattern).search(number)) is matches


@pytest.mark.parametrize("pattern", ["", "1", "41-5", "+", "4 1"])
def test_contains_pattern_rejects(pattern: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the pattern itself
        inventory.contains_pattern(pattern)


def test_unknown_country() -> None:
    assert inventory.search("ZZ", "Local", {}) is None
    assert inventory.search("ZZ", "TollFree", {}) is None
