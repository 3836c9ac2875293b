"""The developer sandbox number: ``/Sandbox.json``, retired by Twilio.

Twilio's answer to these requests (a 404 today) is raised as
:class:`~api.resources.base.RetiredResource`, whose message names the retirement. The
Switchboard emulator still serves the sandbox, so the connector's flows can be tried there.
"""

from __future__ import annotations

from typing import Any

from switchboard.api.errors import TwilioHTTPError
from switchboard.api.resources.base import (
    Field,
    Resource,
    changes,
    http_method,
    retired,
    url_or_empty,
)

SANDBOX_FIELDS = {
    "voice_url": Field("VoiceUrl", url_or_empty),
    "voice_method": Field("VoiceMethod", http_method),
    "sms_url": Field("SmsUrl", url_or_empty),
    "sms_method": Field("SmsMethod", http_method),
}


class Sandbox(Resource):
    """The sandbox's number and PIN, and its voice and SMS URLs."""

    def get(self, *, account_sid: str | None = None) -> dict[str, Any]:
        path = self._path("/Sandbox.json", account_sid)
        try:
            return self._get(path)
        except TwilioHTTPError as error:
            raise retired(error, "the Sandbox resource") from error

    def update(
        self,
        *,
        voice_url: str | None = None,
        voice_method: str | None = None,
        sms_url: str | None = None,
        sms_method: str | None = None,
        account_sid: str | None = None,
    ) -> dict[str, Any]:
        data = changes(
            SANDBOX_FIELDS,
            {
                "voice_url": voice_url,
                "voice_method": voice_method,
                "sms_url": sms_url,
                "sms_method": sms_method,
            },
        )
        path = self._path("/Sandbox.json", account_sid)
        try:
            return self._post(path, data)
        except TwilioHTTPError as error:
            raise retired(error, "the Sandbox resource") from error
