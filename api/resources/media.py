"""Streamed bodies (recordings, transcription text), read a chunk at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import requests

from switchboard.api.errors import TwilioConnectionError, ValidationError

CHUNK_SIZE = 64 * 1024


def range_header(name: str, value: object) -> str:
    """The ``Range`` header asking for the bytes ``value`` names, read as a slice:
    ``(start, stop)`` for bytes ``start`` to ``stop - 1``, ``(start, None)`` from ``start`` to
    the end, ``(-n, None)`` for the last ``n``."""
    if isinstance(value, tuple | list) and len(value) == 2:
        start, stop = value
        if _whole_number(start) and (stop is None or _whole_number(stop)):
            if start >= 0 and stop is None:
                return f"bytes={start}-"
            if start >= 0 and stop > start:
                return f"bytes={start}-{stop - 1}"
            if start < 0 and stop is None:
                return f"bytes=-{-start}"
    raise ValidationError(
        name,
        f"{value!r:.60} is not (start, stop) with 0 <= start < stop, (start, None) or "
        "(-n, None) for the last n bytes",
    )


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def target_path(name: str, value: object) -> Path:
    """A file to write: a non-empty path whose folder exists."""
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ValidationError(name, f"{value!r} is not a file path")
    path = Path(value)
    if not path.parent.is_dir():
        raise ValidationError(name, f"the folder of {str(path)!r} does not exist")
    if path.is_dir():
        raise ValidationError(name, f"{str(path)!r} is a folder; give a file name")
    return path


class MediaStream:
    """An open answer whose body is read in chunks, never whole.

    Iterate it for the chunks (the answer is closed at the end), or :meth:`save` it to a
    file; use it as a context manager to close it early::

        with client.recordings.media("RE...", "mp3") as audio:
            audio.save("message.mp3")

    :attr:`status` is 200 for the whole file, 206 for part of it (:attr:`content_range`
    says which part).
    """

    def __init__(self, response: requests.Response, chunk_size: int = CHUNK_SIZE) -> None:
        self._response = response
        self.chunk_size = chunk_size

    @property
    def status(self) -> int:
        """The answer's status: 200 (the whole file) or 206 (the part asked for)."""
        return self._response.status_code

    @property
    def content_range(self) -> str | None:
        """The ``Content-Range`` of a partial answer (``bytes 0-1023/40320``), else None."""
        return self._response.headers.get("Content-Range")

    @property
    def content_type(self) -> str | None:
        return self._response.headers.get("Content-Type")

    @property
    def content_length(self) -> int | None:
        """The number of bytes the body holds (of the part, for a partial answer), if told."""
        length = self._response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._response.iter_content(self.chunk_size)
        try:
            while True:
                error = None
                try:
                    chunk = next(chunks, None)
                except requests.RequestException as exc:
                    error = self._cut_short(exc)
                if error is not None:
                    # Raised outside the except block, so the requests exception (which holds
                    # the request's headers) is not chained.
                    raise error
                if chunk is None:
                    return
                if chunk:
                    yield chunk
        finally:
            self.close()

    def _cut_short(self, exc: requests.RequestException) -> TwilioConnectionError:
        request = self._response.request
        return TwilioConnectionError(
            request.method or "GET",
            self._response.url,
            reason=f"the connection broke before the end of the body ({type(exc).__name__})",
            cut=True,
        )

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
        error = None
        try:
            return self._response.text
        except requests.RequestException as exc:
            error = self._cut_short(exc)
        finally:
            self.close()
        raise error

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
