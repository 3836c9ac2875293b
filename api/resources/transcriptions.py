"""Transcriptions of recordings: ``/Transcriptions`` as JSON or plain text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from switchboard.api.resources.base import ItemResource, sid
from switchboard.api.resources.media import MediaStream

_recording_sid = sid("RE")


class Transcriptions(ItemResource):
    """Transcriptions: as JSON (``get``) or as their plain text (``text``)."""

    collection = "/Transcriptions"
    sid_prefixes = ("TR",)

    def text(self, sid: str, *, account_sid: str | None = None) -> str:
        """The transcribed text alone (Twilio's ``.txt`` representation)."""
        path = self._one(sid, account_sid, "txt")
        return MediaStream(self._client.request("GET", path, stream=True)).text()

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        self._delete(self._one(sid, account_sid, "json"))

    def list(
        self,
        *,
        recording_sid: str | None = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The account's transcriptions, or those of one recording."""
        if recording_sid is None:
            path = self._path("/Transcriptions.json", account_sid)
        else:
            _recording_sid("recording_sid", recording_sid)
            path = self._path(f"/Recordings/{recording_sid}/Transcriptions.json", account_sid)
        return self._list(path, "transcriptions", None, limit, page_size)
