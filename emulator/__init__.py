"""A local stand-in for Twilio: the REST API 2010-04-01 and the caller side.

``from switchboard.emulator import Emulator`` starts both on a free port of 127.0.0.1::

    with Emulator() as emu:
        client = TwilioClient(emu.account_sid, emu.auth_token, base_url=emu.url)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchboard.emulator.server import Emulator

__all__ = ["Emulator"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that the pytest plugin (which imports this package) stays light.
    if name == "Emulator":
        from switchboard.emulator.server import Emulator

        return Emulator
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
