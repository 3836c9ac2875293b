"""The conditions of Split Based On, as Studio evaluates them.

Studio compares without regard to case and with the values' leading and trailing spaces
trimmed. ``matches_any_of`` takes a comma-separated list. ``less_than`` and ``greater_than``
compare numbers as written (``-2``, ``1,000``, ``9.99``; text that is not one, ``ten`` or
``inf``, matches neither). The time conditions compare the time of day (``14:30``,
``2:30 PM``, or the time part of a date and time), each side with its UTC offset when it gives
one (``14:30+02:00``, ``2:30 PM -05:00``, ``14:30Z``, ``14:30 UTC``, a date and time's own):
when both do, the subject is moved to the value's offset first, so ``2026-07-01T16:30:00Z``
is after ``09:00-07:00``; a side without one is read on the other side's clock. The date
conditions compare the day (``2026-12-24``, ``12/24/2026``, or the date part of a date and
time, as written). A value that cannot be read as the condition needs (a blank one, an invalid
pattern, a time zone given by name) does not match.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime

log = logging.getLogger("switchboard.callbacks.studio")

_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I:%M:%S %p", "%I %p", "%I%p")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d %b %Y", "%b %d %Y", "%B %d %Y")
#: A UTC offset at the end of a time: ``Z``, ``UTC``, ``GMT``, ``+02:00``, ``-0500``, ``-05``.
_OFFSET = re.compile(
    r"\s*(?:(?P<utc>Z|UTC|GMT)|(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})?)\Z",
    re.ASCII,
)
#: Any day: moving a time of day from one fixed UTC offset to another needs one.
_ANY_DAY = date(2000, 1, 1)


#: A number as written: a sign, digits (commas between groups of three: ``1,000``) and
#: decimals; not ``inf``, ``nan``, ``1_000`` or ``1,5``, which Python's ``float`` would read.
_NUMBER = re.compile(r"[+-]?(?=\.?\d)(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d*)?", re.ASCII)


def _number(text: str) -> float | None:
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text.replace(",", ""))


def _datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _split_offset(text: str) -> tuple[str, tzinfo | None]:
    """``text`` without the UTC offset it ends with, and that offset (None when none)."""
    match = _OFFSET.search(text)
    if match is None:
        return text, None
    if match["utc"]:
        return text[:match.start()], UTC
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if hours > 23 or minutes > 59:
        return text, None
    offset = timedelta(hours=hours, minutes=minutes)
    return text[:match.start()], timezone(-offset if match["sign"] == "-" else offset)


def time_of_day(text: str) -> time | None:
    """``text`` as a time of day, or None; with its UTC offset as ``tzinfo`` when it gives
    one."""
    text = " ".join(text.split()).upper()
    clock, offset = _split_offset(text)
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(clock, form).time().replace(tzinfo=offset)
        except ValueError:
            continue
    moment = _datetime(text)
    return moment.timetz() if moment is not None else None


def _on_one_clock(left: time, right: time) -> tuple[time, time]:
    """``left`` and ``right`` as times of day on one clock, without offsets: ``left`` moved
    to ``right``'s UTC offset when both give one; as written when either gives none."""
    if left.tzinfo is not None and right.tzinfo is not None:
        left = datetime.combine(_ANY_DAY, left).astimezone(right.tzinfo).timetz()
    return left.replace(tzinfo=None), right.replace(tzinfo=None)


def day(text: str) -> date | None:
    """``text`` as a calendar date, or None."""
    text = " ".join(text.replace(",", " ").split())
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    moment = _datetime(text)
    return moment.date() if moment is not None else None


def _any_of(subject: str, value: str) -> bool:
    return subject in {item.strip().casefold() for item in value.split(",")}


def _regex(subject: str, value: str) -> bool:
    try:
        return re.search(value, subject, re.IGNORECASE) is not None
    except re.error as error:
        log.warning("Split Based On: %r is not a valid regular expression (%s): no match",
                    value, error)
        return False


def _compare(read: Callable[[str], object], before: bool) -> Callable[[str, str], bool]:
    def compare(subject: str, value: str) -> bool:
        left, right = read(subject), read(value)
        if left is None or right is None:
            return False
        if isinstance(left, time) and isinstance(right, time):
            left, right = _on_one_clock(left, right)
        return left < right if before else left > right  # type: ignore[operator]

    return compare


#: Each condition: (subject, value) -> bool; both trimmed, the text ones casefolded.
_TEXT: dict[str, Callable[[str, str], bool]] = {
    "equal_to": lambda s, v: s == v,
    "not_equal_to": lambda s, v: s != v,
    "matches_any_of": _any_of,
    "does_not_match_any_of": lambda s, v: not _any_of(s, v),
    "is_blank": lambda s, v: s == "",
    "is_not_blank": lambda s, v: s != "",
    "contains": lambda s, v: v in s,
    "does_not_contain": lambda s, v: v not in s,
    "starts_with": lambda s, v: s.startswith(v),
    "does_not_start_with": lambda s, v: not s.startswith(v),
}
_RAW: dict[str, Callable[[str, str], bool]] = {
    "regex": _regex,
    "less_than": _compare(_number, before=True),
    "greater_than": _compare(_number, before=False),
    "is_before_time": _compare(time_of_day, before=True),
    "is_after_time": _compare(time_of_day, before=False),
    "is_before_date": _compare(day, before=True),
    "is_after_date": _compare(day, before=False),
}

CONDITION_TYPES = frozenset(_TEXT) | frozenset(_RAW)


class UnknownCondition(ValueError):
    """A condition type Studio does not have."""


def matches(kind: str, subject: object, value: object) -> bool:
    """Whether ``subject`` meets the condition ``kind`` with ``value`` (both as text)."""
    left = "" if subject is None else str(subject).strip()
    right = "" if value is None else str(value).strip()
    test = _TEXT.get(kind)
    if test is not None:
        return test(left.casefold(), right.casefold())
    test = _RAW.get(kind)
    if test is None:
        raise UnknownCondition(f"{kind!r} is not a condition of Split Based On")
    return test(left, right)
