"""Applications (named sets of voice and SMS URLs): ``/Applications``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from switchboard.api.resources.base import (
    WEBHOOK_FIELDS,
    Field,
    ItemResource,
    boolean,
    changes,
    form,
    nonempty,
    url_or_empty,
)

APPLICATION_FIELDS: dict[str, Field] = {
    **WEBHOOK_FIELDS,
    "sms_status_callback": Field("SmsStatusCallback", url_or_empty),
    "message_status_callback": Field("MessageStatusCallback", url_or_empty),
    "public_application_connect_enabled": Field("PublicApplicationConnectEnabled", boolean),
}
"""An application's settings: ``WEBHOOK_FIELDS`` plus ``sms_status_callback`` (where Twilio
reports on messages sent with this application's SID) and ``message_status_callback``."""


class Applications(ItemResource):
    """Create, configure and delete applications.

    ``create`` and ``update`` take the settings in :data:`APPLICATION_FIELDS` as keyword
    arguments (``voice_url``, ``sms_url``, ``status_callback``, ``sms_status_callback``...).
    """

    collection = "/Applications"
    sid_prefixes = ("AP",)

    def update(
        self, sid: str, *, account_sid: str | None = None, **settings: Any
    ) -> dict[str, Any]:
        path = self._one(sid, account_sid)
        return self._post(path, changes(APPLICATION_FIELDS, settings))

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        """Delete the application; numbers using it lose their application SID."""
        self._delete(self._one(sid, account_sid))

    def list(
        self,
        *,
        friendly_name: str | None = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        params = form(APPLICATION_FIELDS, {"friendly_name": friendly_name})
        path = self._path("/Applications.json", account_sid)
        return self._list(path, "applications", params, limit, page_size)

    def create(
        self, friendly_name: str, *, account_sid: str | None = None, **settings: Any
    ) -> dict[str, Any]:
        data = {"FriendlyName": nonempty("friendly_name", friendly_name)}
        data.update(form(APPLICATION_FIELDS, settings))
        return self._post(self._path("/Applications.json", account_sid), data)
