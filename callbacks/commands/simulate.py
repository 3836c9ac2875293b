"""Placeholder until the simulate command lands."""

import click


@click.command("simulate")
def simulate_group() -> None:
    """Not yet available."""
    raise click.ClickException("not yet available")
