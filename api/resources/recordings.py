"""Call recordings: ``/Recordings`` as JSON, MP3 or WAV."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from switchboard.api.errors import TwilioInvalidResponse
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
from switchboard.api.resources.media import MediaStream, range_header, target_path

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
        self,
        sid: str,
        format: str = "mp3",
        *,
        account_sid: str | None = None,
        byte_range: tuple[int, int | None] | None = None,
    ) -> MediaStream:
        """The audio, ``"mp3"`` or ``"wav"``, as an open :class:`MediaStream`.

        ``byte_range`` asks for part of it, read as a slice of its bytes: ``(start, stop)``
        for bytes ``start`` to ``stop - 1``, ``(start, None)`` from ``start`` to the end,
        ``(-n, None)`` for the last ``n``; it is sent as a ``Range`` header. The part comes
        with :attr:`~MediaStream.status` 206 and its :attr:`~MediaStream.content_range`; an
        answer that ignores the range is the whole file, with 200. A range that starts past
        the end raises :class:`~switchboard.api.errors.RangeNotSatisfiable` (an HTTP 416).

        The bytes are asked for as stored (``Accept-Encoding: identity``), so that
        :attr:`~MediaStream.content_length` and ranges count the bytes read.
        """
        extension = _format("format", format)
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = range_header("byte_range", byte_range)
        path = self._one(sid, account_sid, extension)
        stream = MediaStream(self._client.request("GET", path, stream=True, headers=headers))
        if stream.status == 206 and stream.content_range is None:
            stream.close()
            raise TwilioInvalidResponse(
                206,
                "GET",
                self._client.url_for(path),
                content_type=stream.content_type,
                problem="a partial answer (206) without the Content-Range that says which part",
            )
        return stream

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
