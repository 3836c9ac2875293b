"""Placeholder until the outbound commands land."""

import click


@click.command("provision")
def provision_command() -> None:
    """Not yet available."""
    raise click.ClickException("not yet available")


@click.command("call")
def call_command() -> None:
    """Not yet available."""
    raise click.ClickException("not yet available")


@click.command("sms")
def sms_command() -> None:
    """Not yet available."""
    raise click.ClickException("not yet available")
