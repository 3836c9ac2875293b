"""What every resource group shares: the client it talks through and argument checking.

Arguments are checked and turned into Twilio's wire names (``from_`` -> ``From``,
``start_time_after`` -> ``StartTime>``) before any request is sent; a bad one raises
:class:`~api.validation.ValidationError` naming the argument.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from switchboard.api import validation
from switchboard.api.errors import ResourceNotFound as ResourceNotFound  # also from here
from switchboard.api.errors import RetiredResource, TwilioHTTPError, ValidationError

if TYPE_CHECKING:
    from switchboard.api.client import TwilioClient

Check = Callable[[str, Any], Any]
"""A check takes (argument name, value) and returns the value to send, or raises ValidationError."""

HTTP_METHODS = ("GET", "POST")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
_DIGITS = re.compile(r"^[0-9#*wW]+$")


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError(name, f"expected text, got {type(value).__name__}")
    return value


def nonempty(name: str, value: Any) -> str:
    value = text(name, value)
    if not value.strip():
        raise ValidationError(name, "must not be empty")
    return value


def integer(low: int | None = None, high: int | None = None) -> Check:
    """A whole number, optionally within ``low``..``high`` (inclusive)."""

    def check(name: str, value: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError(name, f"{value!r} is not a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise ValidationError(name, f"{value!r} is not a whole number") from None
        if isinstance(value, float) and value != number:
            raise ValidationError(name, f"{value!r} is not a whole number")
        if low is not None and number < low:
            raise ValidationError(name, f"{number} is less than {low}")
        if high is not None and number > high:
            raise ValidationError(name, f"{number} is more than {high}")
        return number

    return check


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValidationError(name, f"{value!r} is not true or false")


def http_method(name: str, value: Any) -> str:
    value = text(name, value).upper()
    validation.enum(name, value, HTTP_METHODS)
    return value


def url(name: str, value: Any) -> str:
    value = text(name, value)
    validation.url(name, value)
    return value


def url_or_empty(name: str, value: Any) -> str:
    """A URL, or "" to clear a URL Twilio has stored."""
    value = text(name, value)
    if value:
        validation.url(name, value)
    return value


def phone_number(name: str, value: Any) -> str:
    value = text(name, value)
    validation.e164(name, value)
    return value


def endpoint(name: str, value: Any) -> str:
    """A call's To or From: an E.164 number, or a ``client:`` / ``sip:`` address."""
    value = text(name, value)
    for prefix in ("client:", "sip:"):
        if value.startswith(prefix):
            if not value.removeprefix(prefix).strip():
                raise ValidationError(name, f"{value!r} names no {prefix[:-1]} address after it")
            return value
    validation.e164(name, value)
    return value


def sid(*prefixes: str) -> Check:
    """A Twilio SID starting with one of ``prefixes`` (``sid("SM", "MM")``)."""

    def check(name: str, value: Any) -> str:
        value = text(name, value)
        validation.sid(name, value, *prefixes)
        return value

    return check


def sid_or_empty(*prefixes: str) -> Check:
    """A SID, or "" to detach the one Twilio has stored."""
    strict = sid(*prefixes)

    def check(name: str, value: Any) -> str:
        return value if value == "" else strict(name, value)

    return check


def choice(*allowed: str, fold: Callable[[str], str] = str.lower) -> Check:
    """One of ``allowed``; the value is folded (lower-cased by default) first."""

    def check(name: str, value: Any) -> str:
        value = fold(text(name, value))
        validation.enum(name, value, allowed)
        return value

    return check


def date(name: str, value: Any) -> str:
    """A day as YYYY-MM-DD (a ``datetime.date`` is accepted)."""
    if isinstance(value, dt.datetime):
        raise ValidationError(name, "give a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value.isoformat()
    value = text(name, value)
    if not _DATE.match(value):
        raise ValidationError(name, f"{value!r} is not a date (YYYY-MM-DD)")
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(name, f"{value!r} is not a date (YYYY-MM-DD)") from None
    return value


def date_time(name: str, value: Any) -> str:
    """A filter Twilio declares ``format: date-time``, sent as twilio-python sends it:
    ``YYYY-MM-DDTHH:MM:SSZ`` in UTC. A day (``"2026-11-01"`` or a ``datetime.date``) is its
    midnight, ``2026-11-01T00:00:00Z``; a datetime or ISO 8601 text with an offset is
    converted to UTC, one without is taken as UTC; fractions of a second are dropped."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str) and _DATETIME.match(value):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                name, f"{value!r} is not a date and time (like 2024-05-01T09:30:00Z)"
            ) from None
    else:
        moment = dt.datetime.fromisoformat(date(name, value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def dtmf(name: str, value: Any) -> str:
    value = text(name, value)
    if not _DIGITS.match(value):
        raise ValidationError(name, f"{value!r} may hold only digits, '#', '*' and 'w'")
    return value


def many(check: Check) -> Check:
    """One value or a list of them (at least one), each checked by ``check``; sent as
    repeated keys."""

    def check_all(name: str, value: Any) -> list[Any]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, Mapping | bytes | bytearray) or not isinstance(value, Iterable):
            raise ValidationError(name, f"expected a list, got {type(value).__name__}")
        values = [check(name, item) for item in value]
        if not values:
            raise ValidationError(name, "is an empty list; leave it out instead")
        return values

    return check_all


@dataclass(frozen=True)
class Field:
    """One argument: the name Twilio uses on the wire and how its value is checked."""

    wire: str
    check: Check = text


def form(
    fields: Mapping[str, Field], values: Mapping[str, Any], *, required: Collection[str] = ()
) -> dict[str, Any]:
    """Check ``values`` (argument name -> value) against ``fields``; return wire name -> value.

    ``None`` means "not given" and is left out, except for the names in ``required``, which
    must be given. An argument ``fields`` does not know is a programming error, so it raises
    ``TypeError`` as a bad keyword argument would.
    """
    for name in required:
        if values.get(name) is None:
            raise ValidationError(name, "is required")
    data: dict[str, Any] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            known = ", ".join(sorted(fields))
            raise TypeError(f"unexpected keyword argument {name!r} (known: {known})")
        if value is not None:
            data[field.wire] = field.check(name, value)
    return data


def changes(fields: Mapping[str, Field], values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`form` for an update: at least one of ``values`` must be given, since Twilio
    answers an update that changes nothing as if it had worked."""
    data = form(fields, values)
    if not data:
        known = ", ".join(name for name in fields if name in values) or ", ".join(sorted(fields))
        raise ValidationError("update", f"nothing to change; give one of: {known}")
    return data


def date_filter(wire: str, check: Check = date) -> dict[str, Field]:
    """``X``, ``X_before`` and ``X_after`` filters: Twilio's ``X``, ``X<`` and ``X>``, as
    twilio-python names them.

    ``X<`` is "on or before" and ``X>`` "on or after" the value given. ``check`` is
    :func:`date` for a filter Twilio's description declares ``format: date`` and
    :func:`date_time` for one it declares ``format: date-time``.
    """
    snake = snake_case(wire)
    return {
        snake: Field(wire, check),
        f"{snake}_before": Field(f"{wire}<", check),
        f"{snake}_after": Field(f"{wire}>", check),
    }


def snake_case(name: str) -> str:
    """``StatusCallbackMethod`` -> ``status_callback_method``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


class Resource:
    """A group of related Twilio endpoints, reached as an attribute of the client."""

    def __init__(self, client: TwilioClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client.account_sid}>"

    def _path(self, suffix: str, account_sid: str | None = None) -> str:
        if account_sid is not None:
            sid("AC")("account_sid", account_sid)
        return self._client.account_path(suffix, account_sid)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._client.request("GET", path, params=params or None)

    def _post(self, path: str, data: Mapping[str, Any] | None = None) -> Any:
        return self._client.request("POST", path, data=data or {})

    def _delete(self, path: str) -> None:
        self._client.request("DELETE", path)

    def _list(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any] | None,
        limit: int | None,
        page_size: int | None,
    ) -> Iterator[dict[str, Any]]:
        return self._client.paginate(
            path, params=params or None, key=key, limit=limit, page_size=page_size
        )


class ItemResource(Resource):
    """A group whose items live at ``{collection}/{sid}.json`` under the account.

    Subclasses name :attr:`collection` (``"/Calls"``) and :attr:`sid_prefixes` (``("CA",)``);
    :meth:`get` and the item paths follow, the SID checked before any request.
    """

    collection: ClassVar[str]
    sid_prefixes: ClassVar[tuple[str, ...]]
    _check_sid: ClassVar[Check]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._check_sid = staticmethod(sid(*cls.sid_prefixes))

    def _one(self, item_sid: str, account_sid: str | None, extension: str = "json") -> str:
        self._check_sid("sid", item_sid)
        return self._path(f"{self.collection}/{item_sid}.{extension}", account_sid)

    def get(self, sid: str, *, account_sid: str | None = None) -> dict[str, Any]:
        return self._get(self._one(sid, account_sid))


WEBHOOK_FIELDS: dict[str, Field] = {
    "friendly_name": Field("FriendlyName"),
    "api_version": Field("ApiVersion", choice("2010-04-01", "2008-08-01")),
    "voice_url": Field("VoiceUrl", url_or_empty),
    "voice_method": Field("VoiceMethod", http_method),
    "voice_fallback_url": Field("VoiceFallbackUrl", url_or_empty),
    "voice_fallback_method": Field("VoiceFallbackMethod", http_method),
    "status_callback": Field("StatusCallback", url_or_empty),
    "status_callback_method": Field("StatusCallbackMethod", http_method),
    "voice_caller_id_lookup": Field("VoiceCallerIdLookup", boolean),
    "sms_url": Field("SmsUrl", url_or_empty),
    "sms_method": Field("SmsMethod", http_method),
    "sms_fallback_url": Field("SmsFallbackUrl", url_or_empty),
    "sms_fallback_method": Field("SmsFallbackMethod", http_method),
}
"""The voice and SMS URLs, methods and options that numbers and applications share.

A URL may be given as "" to clear it.
"""


def retired(error: TwilioHTTPError, what: str) -> TwilioHTTPError:
    """``error`` (Twilio's answer to a request for a retired resource) with a message naming
    the retirement, or ``error`` itself when it is about something else."""
    if error.status not in (404, 405, 410):
        return error
    return RetiredResource(
        error.status,
        error.code,
        f"{error.message} ({what} was retired by Twilio: today's API no longer offers it)",
        error.more_info,
        error.method,
        error.url,
        request_id=error.request_id,
    )
