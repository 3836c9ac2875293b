"""The bundled flows: an IVR phone tree, an SMS bot, the status and fallback routes.

Each is a :class:`~callbacks.handlers.TwilioBlueprint` written with the public handler API,
so they double as examples. ``create_app()`` mounts them unless ``BUNDLED_FLOWS`` is False.
"""

from __future__ import annotations

from flask import Flask


def register_flows(app: Flask) -> None:
    """Mount the bundled blueprints on ``app``."""
    from switchboard.callbacks.flows import ivr, sms_bot, status

    for module in (ivr, status, sms_bot):
        app.register_blueprint(module.bp)
