"""A client for Twilio's REST API 2010-04-01, built on requests.

::

    from switchboard.api import TwilioClient
    client = TwilioClient.from_settings()          # TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN
    client.calls.create(to="+14155550100", from_="+14155550199", url="https://.../voice")
"""

from __future__ import annotations

from switchboard.api.client import TwilioClient
from switchboard.api.errors import (
    ProvisioningError,
    ResourceNotFound,
    RetiredResource,
    TwilioClientClosed,
    TwilioConnectionError,
    TwilioError,
    TwilioHTTPError,
    TwilioInvalidResponse,
    TwilioTimeout,
    TwilioUnexpectedAnswer,
    ValidationError,
)
from switchboard.api.retry import TwilioRetry, retry_policy

__all__ = [
    "ProvisioningError",
    "ResourceNotFound",
    "RetiredResource",
    "TwilioClient",
    "TwilioClientClosed",
    "TwilioConnectionError",
    "TwilioError",
    "TwilioHTTPError",
    "TwilioInvalidResponse",
    "TwilioRetry",
    "TwilioTimeout",
    "TwilioUnexpectedAnswer",
    "ValidationError",
    "retry_policy",
]
