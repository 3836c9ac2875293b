"""Switchboard callbacks: the Flask app Twilio calls.

``flask --app switchboard.callbacks run`` (or ``switchboard run``) serves :func:`create_app`'s
app. The app is imported lazily, so ``import switchboard.callbacks.twiml`` (the emulator, the
CLI) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchboard.callbacks.app import (
        FlowsRefused,
        SettingsError,
        Switchboard,
        create_app,
        get_settings,
        get_store,
        init_app,
    )

__all__ = [
    "FlowsRefused", "SettingsError", "Switchboard", "create_app", "get_settings", "get_store",
    "init_app",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from switchboard.callbacks import app

        return getattr(app, name)
    raise AttributeError(f"module 'switchboard.callbacks' has no attribute {name!r}")
