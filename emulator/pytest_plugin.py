"""pytest fixtures for the emulator (registered as the ``pytest11`` entry point
``switchboard_emulator``, so any project that installs Switchboard has them):

- ``twilio_emulator``: a started :class:`emulator.Emulator` on a free port of 127.0.0.1;
  ``emu.url``, ``emu.account_sid``, ``emu.auth_token``, ``emu.state``, ``emu.faults``,
  ``emu.phone``.
- ``switchboard_stack``: the emulator and the Switchboard server together
  (:class:`switchboard.emulator.stack.SwitchboardStack`), with an SQLite database in ``tmp_path``.

Imports stay inside the fixtures: loading this plugin costs nothing and never fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def twilio_emulator() -> Iterator[Any]:
    """A running emulator, stopped (after its background work) when the test ends."""
    from switchboard.emulator import Emulator

    emu = Emulator().start()
    try:
        yield emu
    finally:
        if emu.phone is not None:
            emu.phone.wait_idle(5)
        emu.stop()


@pytest.fixture
def switchboard_stack(tmp_path: Path) -> Iterator[Any]:
    """The emulator and the Switchboard app on real sockets, configured for each other."""
    from switchboard.emulator.stack import SwitchboardStack

    stack = SwitchboardStack(instance_path=tmp_path).start()
    try:
        yield stack
    finally:
        stack.stop()
