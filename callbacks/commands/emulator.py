"""Placeholder until the emulator command lands."""

import click


@click.command("emulator")
def emulator_command() -> None:
    """Not yet available."""
    raise click.ClickException("not yet available")
