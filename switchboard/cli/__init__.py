"""The ``switchboard`` command: Flask's CLI plus Switchboard's own commands.

The group is :mod:`switchboard.cli.group`; each command lives in the module named for it
(:mod:`~switchboard.cli.api`, :mod:`~switchboard.cli.provision`, :mod:`~switchboard.cli.outbound`,
:mod:`~switchboard.cli.emulator`, :mod:`~switchboard.cli.simulate`), and what they share in
:mod:`switchboard.cli.common`.
"""

from switchboard.cli.group import cli, main

__all__ = ["cli", "main"]
