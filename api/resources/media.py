"""Streamed bodies (recordings, transcription text), read a chunk at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import requests

CHUNK_SIZE = 64 * 1024


class MediaStream:
    """An open answer whose body is read in chunks, never whole.

    Iterate it for the chunks (the answer is closed at the end), or :meth:`save` it to a
    file; use it as a context manager to close it early::

        with client.recordings.media("RE...", "mp3") as audio:
            audio.save("message.mp3")
    """

    def __init__(self, response: requests.Response, chunk_size: int = CHUNK_SIZE) -> None:
        self._response = response
        self.chunk_size = chunk_size

    @property
    def content_type(self) -> str | None:
        return self._response.headers.get("Content-Type")

    @property
    def content_length(self) -> int | None:
        length = self._response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.iter_content(self.chunk_size):
                if chunk:
                    yield chunk
        finally:
            self.close()

    def save(self, path: str | os.PathLike[str]) -> int:
        """Write the body to ``path`` (through a temporary file beside it, renamed when
        complete); return the number of bytes written."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        written = 0
        try:
            with partial.open("wb") as out:
                for chunk in self:
                    out.write(chunk)
                    written += len(chunk)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return written

    def text(self) -> str:
        """The whole body as text: for small bodies only (a transcription)."""
        try:
            return self._response.text
        finally:
            self.close()

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> MediaStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
