"""Switchboard's own CLI commands, each in the module named for it."""

from __future__ import annotations

import click


def register_commands(group: click.Group) -> None:
    """Add every Switchboard command to ``group`` (the ``switchboard`` FlaskGroup)."""
    from switchboard.cli.api import api_command
    from switchboard.cli.emulator import emulator_command
    from switchboard.cli.flows import flows_group
    from switchboard.cli.outbound import call_command, sms_command
    from switchboard.cli.provision import provision_command
    from switchboard.cli.simulate import simulate_group

    for command in (
        api_command,
        provision_command,
        call_command,
        sms_command,
        emulator_command,
        simulate_group,
        flows_group,
    ):
        group.add_command(command)
