"""Call recordings: ``/Recordings`` as JSON, MP3 or WAV."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from switchboard.api.resources.base import (
    Field,
    ItemResource,
    boolean,
    choice,
    date_filter,
    date_time,
    form,
    sid,
)
from switchboard.api.resources.media import MediaStream, target_path

MEDIA_FORMATS = ("mp3", "wav")

_LIST_FIELDS = {
    "call_sid": Field("CallSid", sid("CA")),
    "conference_sid": Field("ConferenceSid", sid("CF")),
    "include_soft_deleted": Field("IncludeSoftDeleted", boolean),
    **date_filter("DateCreated", date_time),
}
_format = choice(*MEDIA_FORMATS)


class Recordings(ItemResource):
    """Recordings: their metadata as JSON, their audio as MP3 or WAV streamed in chunks."""

    collection = "/Recordings"
    sid_prefixes = ("RE",)

    def get(self, sid: str, *, account_sid: str | None = None) -> dict[str, Any]:
        """The recording's metadata (duration, call SID, media URL...)."""
        return self._get(self._one(sid, account_sid))

    def media(
        self, sid: str, format: str = "mp3", *, account_sid: str | None = None
    ) -> MediaStream:
        """The audio, ``"mp3"`` or ``"wav"``, as an open :class:`MediaStream`."""
        extension = _format("format", format)
        path = self._one(sid, account_sid, extension)
        return MediaStream(self._client.request("GET", path, stream=True))

    def download(
        self,
        sid: str,
        path: str | os.PathLike[str],
        format: str = "mp3",
        *,
        account_sid: str | None = None,
    ) -> Path:
        """Save the audio to ``path``, a chunk at a time; return the path."""
        target = target_path("path", path)
        self.media(sid, format, account_sid=account_sid).save(target)
        return target

    def delete(self, sid: str, *, account_sid: str | None = None) -> None:
        self._delete(self._one(sid, account_sid))

    def list(
        self,
        *,
        call_sid: str | None = None,
        conference_sid: str | None = None,
        date_created: Any = None,
        date_created_before: Any = None,
        date_created_after: Any = None,
        include_soft_deleted: bool | None = None,
        account_sid: str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Recordings, newest first; ``date_created_before`` / ``_after`` are Twilio's
        ``DateCreated<`` / ``DateCreated>``."""
        params = form(
            _LIST_FIELDS,
            {
                "call_sid": call_sid,
                "conference_sid": conference_sid,
                "date_created": date_created,
                "date_created_before": date_created_before,
                "date_created_after": date_created_after,
                "include_soft_deleted": include_soft_deleted,
            },
        )
        path = self._path("/Recordings.json", account_sid)
        return self._list(path, "recordings", params, limit, page_size)
