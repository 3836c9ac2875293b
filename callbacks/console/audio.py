"""A recording's audio, fetched from Twilio (or the emulator) by the server and streamed on.

The server asks with the account's credentials (the app's settings, as
:meth:`switchboard.api.TwilioClient.from_settings` reads them); the browser only ever talks to
the console, so the credentials never reach it. Only recordings the store knows are fetched:
the console is not a way to ask Twilio for anything else. The audio is MP3, passed through
a chunk at a time, never held whole; a request holds its worker while the audio is sent.

A browser seeks with a ``Range`` header (Safari asks ``bytes=0-1`` before it plays anything):
one range of bytes is passed on to Twilio and its 206, or its 416, relayed. Any other Range
(one that does not parse, several ranges) is answered with the whole audio, as RFC 9110
allows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Response, abort, request

from switchboard.api import TwilioClient
from switchboard.api.errors import RangeNotSatisfiable, TwilioError, TwilioHTTPError
from switchboard.api.resources.media import MediaStream
from switchboard.callbacks.console import queries
from switchboard.callbacks.console.blueprint import bp, console, error_page
from switchboard.config import ConfigError

log = logging.getLogger("switchboard.callbacks")

#: Seconds to connect to Twilio and to wait for each chunk of audio.
TIMEOUT = 10.0


@bp.get("/recordings/<sid>/audio")
def recording_audio(sid: str) -> Response:
    state = console()
    with state.reading() as conn:
        row = queries.recording(conn, sid)
    if row is None:
        abort(404, f"No recording {sid} in the database.")
    try:
        client = TwilioClient.from_settings(settings=state.switchboard.settings, timeout=TIMEOUT,
                                            retries=1)
    except ConfigError as error:
        log.warning("console: cannot fetch recording %s: %s", sid, error)
        abort(503, "The server has no Twilio credentials to fetch recordings with.")
    try:
        stream = client.recordings.media(sid, "mp3", account_sid=row.get("account_sid"),
                                         byte_range=_byte_range())
    except RangeNotSatisfiable as error:
        client.close()
        return _not_satisfiable(error.complete_length)
    except TwilioHTTPError as error:
        client.close()
        log.warning("console: recording %s: Twilio answered %s", sid, error.status)
        if error.status == 404:
            abort(404, "Twilio no longer has this recording.")
        abort(502, "Twilio did not give the recording.")
    except TwilioError as error:
        client.close()
        log.warning("console: recording %s not fetched: %s", sid, type(error).__name__)
        abort(502, "Twilio could not be reached for the recording.")
    partial = stream.status == 206
    response = Response(_chunks(stream, client, sid), status=206 if partial else 200,
                        mimetype="audio/mpeg", direct_passthrough=True)
    if stream.content_length is not None:
        response.content_length = stream.content_length
    if partial:
        response.headers["Content-Range"] = stream.content_range
    response.accept_ranges = "bytes"
    response.headers["Content-Disposition"] = f'inline; filename="{sid}.mp3"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _byte_range() -> tuple[int, int | None] | None:
    """The one range of bytes the request asks for, as werkzeug parses it (a slice:
    ``(start, stop)``, ``(start, None)``, ``(-n, None)``); None for the whole audio.

    A Range that does not parse or asks for several ranges is not passed on, nor one under
    ``If-Range``: the console gives out no validator such a request could match.
    """
    wanted = request.range
    if (wanted is None or wanted.units != "bytes" or len(wanted.ranges) != 1
            or "If-Range" in request.headers):
        return None
    return wanted.ranges[0]


def _not_satisfiable(complete_length: int | None) -> Response:
    response = error_page(416, "Range Not Satisfiable",
                          "The part of the recording asked for is past its end.")
    if complete_length is not None:
        response.headers["Content-Range"] = f"bytes */{complete_length}"
    response.accept_ranges = "bytes"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _chunks(stream: MediaStream, client: TwilioClient, sid: str) -> Iterator[bytes]:
    try:
        yield from stream
    except TwilioError as error:
        log.warning("console: recording %s cut short: %s", sid, type(error).__name__)
    finally:
        stream.close()
        client.close()
