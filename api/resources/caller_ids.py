"""Verified caller IDs: ``/OutgoingCallerIds``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from switchboard.api.resources.base import (
    Field,
    ItemResource,
    dtmf,
    form,
    http_method,
    integer,
    nonempty,
    phone_number,
    url,
)

_FIELDS = {
    "phone_number": Field("PhoneNumber", phone_number),
    "friendly_name": Field("FriendlyName", nonempty),
    "call_delay": Field("CallDelay", integer(0, 60)),
    "extension": Field("Extension", dtmf),
    "status_callback": Field("StatusCallback", url),
    "status_callback_method": Field("StatusCallbackMethod", http_method),
}


class OutgoingCallerIds(ItemResource):
    """Numbers you own outside Twilio, verified for use as the caller ID of calls."""

    collection = "/OutgoingCallerIds"
    sid_prefixes = ("PN",)

    def update(
        self, sid: str, *, friendly_name: str, account_sid: str | None = None
    ) -> dict[str, Any]:
        path = self._one(sid, account_sid)
        data = form(_FIELDS, {"friendly_name": friendly_name}, required=("friendly_name",))
        return self._post(path, data)

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        self._delete(self._one(sid, account_sid))

    def list(
        self,
        *,
        phone_number: str | None = None,
        friendly_name: str | None = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        params = form(_FIELDS, {"phone_number": phone_number, "friendly_name": friendly_name})
        path = self._path("/OutgoingCallerIds.json", account_sid)
        return self._list(path, "outgoing_caller_ids", params, limit, page_size)

    def create(
        self,
        phone_number: str,
        *,
        friendly_name: str | None = None,
        call_delay: int | None = None,
        extension: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        account_sid: str | None = None,
    ) -> dict[str, Any]:
        """Start verifying ``phone_number``: Twilio calls it, and the person who answers
        enters the ``validation_code`` of the answer this returns."""
        data = form(
            _FIELDS,
            {
                "phone_number": phone_number,
                "friendly_name": friendly_name,
                "call_delay": call_delay,
                "extension": extension,
                "status_callback": status_callback,
                "status_callback_method": status_callback_method,
            },
            required=("phone_number",),
        )
        return self._post(self._path("/OutgoingCallerIds.json", account_sid), data)
