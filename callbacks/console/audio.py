"""A recording's audio, fetched from Twilio (or the emulator) by the server and streamed on.

The server asks with the account's credentials (the app's settings, as
:meth:`switchboard.api.TwilioClient.from_settings` reads them); the browser only ever talks to
the console, so the credentials never reach it. Only recordings the store knows are fetched:
the console is not a way to ask Twilio for anything else. The audio is MP3, passed through
a chunk at a time, never held whole; a request holds its worker while the audio is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Response, abort

from switchboard.api import TwilioClient
from switchboard.api.errors import TwilioError, TwilioHTTPError
from switchboard.api.resources.media import MediaStream
from switchboard.callbacks.console import queries
from switchboard.callbacks.console.blueprint import bp, console
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
        stream = client.recordings.media(sid, "mp3", account_sid=row.get("account_sid"))
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
    response = Response(_chunks(stream, client, sid), mimetype="audio/mpeg",
                        direct_passthrough=True)
    if stream.content_length is not None:
        response.content_length = stream.content_length
    response.headers["Content-Disposition"] = f'inline; filename="{sid}.mp3"'
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
