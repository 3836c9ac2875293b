"""Switchboard's own CLI commands, each in the module named for it."""

from __future__ import annotations

import click


def register_commands(group: click.Group) -> None:
    """Add every Switchboard command to ``group`` (the ``switchboard`` FlaskGroup)."""
    from callbacks.commands.api import api_command
    from callbacks.commands.emulator import emulator_command
    from callbacks.commands.outbound import call_command, provision_command, sms_command
    from callbacks.commands.simulate import simulate_group

    for command in (
        api_command,
        provision_command,
        call_command,
        sms_command,
        emulator_command,
        simulate_group,
    ):
        group.add_command(command)
