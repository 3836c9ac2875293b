"""Switchboard: a self-hosted Twilio application server.

The front door, the way ``from flask import Flask, Blueprint`` is::

    from switchboard import create_app, TwilioBlueprint, VoiceResponse

    bot = TwilioBlueprint("bot", __name__)

    @bot.voice("/hello")
    def hello(call):
        return VoiceResponse().say("Hello from Switchboard.")

Every name here is imported on first use, so ``import switchboard`` (and the ``switchboard``
command's help) costs no more than the package itself: the Flask app, lxml, requests and
SQLAlchemy load only when a name that needs them is asked for.

The parts live under their own names: :mod:`switchboard.config` (settings),
:mod:`switchboard.api` (the REST client), :mod:`switchboard.callbacks` (the Flask app),
:mod:`switchboard.emulator` (a local Twilio) and :mod:`switchboard.cli` (the command line).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchboard.api import (
        TwilioClient,
        TwilioConnectionError,
        TwilioError,
        TwilioHTTPError,
        TwilioTimeout,
        ValidationError,
    )
    from switchboard.callbacks import (
        FlowsRefused,
        SettingsError,
        create_app,
        get_settings,
        get_store,
        init_app,
    )
    from switchboard.callbacks.handlers import TwilioBlueprint
    from switchboard.callbacks.store import StoreUnavailable, ValueRefused
    from switchboard.callbacks.twiml import MessagingResponse, VoiceResponse
    from switchboard.config import ConfigError, Settings, load_settings

#: Each public name and the module it comes from.
_EXPORTS = {
    "create_app": "switchboard.callbacks",
    "get_settings": "switchboard.callbacks",
    "get_store": "switchboard.callbacks",
    "init_app": "switchboard.callbacks",
    "SettingsError": "switchboard.callbacks",
    "FlowsRefused": "switchboard.callbacks",
    "TwilioBlueprint": "switchboard.callbacks.handlers",
    "VoiceResponse": "switchboard.callbacks.twiml",
    "MessagingResponse": "switchboard.callbacks.twiml",
    "StoreUnavailable": "switchboard.callbacks.store",
    "ValueRefused": "switchboard.callbacks.store",
    "TwilioClient": "switchboard.api",
    "TwilioError": "switchboard.api",
    "TwilioHTTPError": "switchboard.api",
    "TwilioConnectionError": "switchboard.api",
    "TwilioTimeout": "switchboard.api",
    "ValidationError": "switchboard.api",
    "load_settings": "switchboard.config",
    "Settings": "switchboard.config",
    "ConfigError": "switchboard.config",
}

__all__ = [
    "ConfigError",
    "FlowsRefused",
    "MessagingResponse",
    "Settings",
    "SettingsError",
    "StoreUnavailable",
    "TwilioBlueprint",
    "TwilioClient",
    "TwilioConnectionError",
    "TwilioError",
    "TwilioHTTPError",
    "TwilioTimeout",
    "ValidationError",
    "ValueRefused",
    "VoiceResponse",
    "create_app",
    "get_settings",
    "get_store",
    "init_app",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'switchboard' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
