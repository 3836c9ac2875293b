"""The account's error and warning log: ``/Notifications``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from switchboard.api.errors import TwilioHTTPError
from switchboard.api.resources.base import (
    Field,
    ItemResource,
    date,
    date_filter,
    form,
    integer,
    retired,
    sid,
)

LOG_LEVELS = {0: "error", 1: "warning"}

_LIST_FIELDS = {
    "log": Field("Log", integer(0, 1)),
    **date_filter("MessageDate", date),
}
_call_sid = sid("CA")


class Notifications(ItemResource):
    """Errors (``log=0``) and warnings (``log=1``) Twilio logged for the account or a call."""

    collection = "/Notifications"
    sid_prefixes = ("NO",)

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        """Delete a notification, as the connector did. Today's API no longer offers this:
        Twilio's refusal is raised as :class:`~api.resources.base.RetiredResource`."""
        path = self._one(sid, account_sid)
        try:
            self._delete(path)
        except TwilioHTTPError as error:
            raise retired(error, "deleting a Notification") from error

    def list(
        self,
        *,
        call_sid: str | None = None,
        log: int | None = None,
        message_date: Any = None,
        message_date_before: Any = None,
        message_date_after: Any = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The account's notifications, or those of the call ``call_sid``, newest first;
        ``message_date_before`` / ``_after`` are Twilio's ``MessageDate<`` / ``MessageDate>``."""
        params = form(
            _LIST_FIELDS,
            {
                "log": log,
                "message_date": message_date,
                "message_date_before": message_date_before,
                "message_date_after": message_date_after,
            },
        )
        if call_sid is None:
            path = self._path("/Notifications.json", account_sid)
        else:
            _call_sid("call_sid", call_sid)
            path = self._path(f"/Calls/{call_sid}/Notifications.json", account_sid)
        return self._list(path, "notifications", params, limit, page_size)
