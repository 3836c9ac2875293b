"""Placeholder until the api command lands."""

import click


@click.command("api")
def api_command() -> None:
    """Not yet available."""
    raise click.ClickException("not yet available")
