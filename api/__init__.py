"""A client for Twilio's REST API 2010-04-01, built on requests.

::

    from switchboard.api import TwilioClient
    client = TwilioClient.from_settings()          # TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN
    client.calls.create(to="+14155550100", from_="+14155550199", url="https://.../voice")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from switchboard.api.errors import (
    ProvisioningError,
    RangeNotSatisfiable,
    ResourceNotFound,
    RetiredResource,
    TwilioClientClosed,
    TwilioConnectionError,
    TwilioError,
    TwilioHTTPError,
    TwilioInvalidResponse,
    TwilioNotFound,
    TwilioTimeout,
    TwilioUnexpectedAnswer,
    ValidationError,
)

if TYPE_CHECKING:
    from switchboard.api.client import TwilioClient
    from switchboard.api.retry import TwilioRetry, retry_policy

__all__ = [
    "ProvisioningError",
    "RangeNotSatisfiable",
    "ResourceNotFound",
    "RetiredResource",
    "TwilioClient",
    "TwilioClientClosed",
    "TwilioConnectionError",
    "TwilioError",
    "TwilioHTTPError",
    "TwilioInvalidResponse",
    "TwilioNotFound",
    "TwilioRetry",
    "TwilioTimeout",
    "TwilioUnexpectedAnswer",
    "ValidationError",
    "retry_policy",
]


#: Imported on first use, so that the errors and the argument checks (``switchboard.api.errors``,
#: ``switchboard.api.validation``) load without requests and urllib3.
_LAZY = {
    "TwilioClient": "switchboard.api.client",
    "TwilioRetry": "switchboard.api.retry",
    "retry_policy": "switchboard.api.retry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'switchboard.api' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
