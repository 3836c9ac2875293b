"""The ``switchboard`` command: Flask's CLI plus Switchboard's own commands.

``switchboard run`` is ``flask run`` for the Switchboard app; ``api``, ``provision``, ``call``,
``sms``, ``emulator`` and ``simulate`` are added from :mod:`callbacks.commands`.
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from callbacks.commands import register_commands


def _create_app():
    from callbacks import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Switchboard: a self-hosted Twilio application server."""


register_commands(cli)


def main() -> None:
    cli.main(prog_name="switchboard")
