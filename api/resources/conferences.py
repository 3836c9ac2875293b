"""Conferences and their participants: ``/Conferences``."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any

from switchboard.api.resources.base import (
    Field,
    ItemResource,
    Resource,
    boolean,
    changes,
    choice,
    date,
    date_filter,
    form,
    http_method,
    sid,
    url,
)

CONFERENCE_STATUSES = ("init", "in-progress", "completed")

_LIST_FIELDS = {
    "status": Field("Status", choice(*CONFERENCE_STATUSES)),
    "friendly_name": Field("FriendlyName"),
    **date_filter("DateCreated", date),
    **date_filter("DateUpdated", date),
}
_UPDATE_FIELDS = {
    "status": Field("Status", choice("completed")),
    "announce_url": Field("AnnounceUrl", url),
    "announce_method": Field("AnnounceMethod", http_method),
}
_PARTICIPANT_FIELDS = {
    "muted": Field("Muted", boolean),
    "hold": Field("Hold", boolean),
    "hold_url": Field("HoldUrl", url),
    "hold_method": Field("HoldMethod", http_method),
    "announce_url": Field("AnnounceUrl", url),
    "announce_method": Field("AnnounceMethod", http_method),
    "wait_url": Field("WaitUrl", url),
    "wait_method": Field("WaitMethod", http_method),
    "beep_on_exit": Field("BeepOnExit", boolean),
    "end_conference_on_exit": Field("EndConferenceOnExit", boolean),
    "coaching": Field("Coaching", boolean),
}
_conference_sid = sid("CF")
_call_sid = sid("CA")


class Participants(Resource):
    """The calls in a conference, each named by its call SID."""

    def _all(self, conference_sid: str, account_sid: str | None) -> str:
        _conference_sid("conference_sid", conference_sid)
        return self._path(f"/Conferences/{conference_sid}/Participants", account_sid)

    def _one(self, conference_sid: str, call_sid: str, account_sid: str | None) -> str:
        base = self._all(conference_sid, account_sid)
        _call_sid("call_sid", call_sid)
        return f"{base}/{call_sid}.json"

    def get(
        self, conference_sid: str, call_sid: str, *, account_sid: str | None = None
    ) -> dict[str, Any]:
        return self._get(self._one(conference_sid, call_sid, account_sid))

    def update(
        self,
        conference_sid: str,
        call_sid: str,
        *,
        account_sid: str | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        """Mute or unmute (``muted=``), hold (``hold=``, ``hold_url=``), announce to...

        Takes the keyword arguments of ``_PARTICIPANT_FIELDS``.
        """
        path = self._one(conference_sid, call_sid, account_sid)
        return self._post(path, changes(_PARTICIPANT_FIELDS, settings))

    def delete(self, conference_sid: str, call_sid: str, *, account_sid: str | None = None) -> None:
        """Remove the participant from the conference (its call ends)."""
        self._delete(self._one(conference_sid, call_sid, account_sid))

    def list(
        self,
        conference_sid: str,
        *,
        muted: bool | None = None,
        hold: bool | None = None,
        coaching: bool | None = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        path = self._all(conference_sid, account_sid) + ".json"
        params = form(_PARTICIPANT_FIELDS, {"muted": muted, "hold": hold, "coaching": coaching})
        return self._list(path, "participants", params, limit, page_size)


class Conferences(ItemResource):
    """Conferences (read, end, announce); ``.participants`` for the calls in them."""

    collection = "/Conferences"
    sid_prefixes = ("CF",)

    @cached_property
    def participants(self) -> Participants:
        return Participants(self._client)

    def update(
        self,
        sid: str,
        *,
        status: str | None = None,
        announce_url: str | None = None,
        announce_method: str | None = None,
        account_sid: str | None = None,
    ) -> dict[str, Any]:
        """End the conference (``status="completed"``) or play an announcement to it."""
        path = self._one(sid, account_sid)
        data = changes(
            _UPDATE_FIELDS,
            {"status": status, "announce_url": announce_url, "announce_method": announce_method},
        )
        return self._post(path, data)

    def list(
        self,
        *,
        status: str | None = None,
        friendly_name: str | None = None,
        date_created: Any = None,
        date_created_before: Any = None,
        date_created_after: Any = None,
        date_updated: Any = None,
        date_updated_before: Any = None,
        date_updated_after: Any = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Conferences, most recently updated first; ``*_before`` / ``*_after`` are Twilio's
        ``DateCreated<`` / ``DateCreated>`` (on or before / on or after the day)."""
        params = form(
            _LIST_FIELDS,
            {
                "status": status,
                "friendly_name": friendly_name,
                "date_created": date_created,
                "date_created_before": date_created_before,
                "date_created_after": date_created_after,
                "date_updated": date_updated,
                "date_updated_before": date_updated_before,
                "date_updated_after": date_updated_after,
            },
        )
        path = self._path("/Conferences.json", account_sid)
        return self._list(path, "conferences", params, limit, page_size)
