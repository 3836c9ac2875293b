"""The ``switchboard`` command: Flask's CLI plus Switchboard's own commands.

``switchboard run`` is ``flask run`` for the Switchboard app; ``api``, ``provision``, ``call``,
``sms``, ``emulator`` and ``simulate`` are added from :mod:`callbacks.commands`.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException

from callbacks.commands import register_commands
from config import ConfigError


def _create_app() -> Flask:
    """The app for Flask's commands; a settings error is one line (``Error: ...``), also in
    ``--help``, not a traceback."""
    from callbacks import create_app

    try:
        return create_app()
    except ConfigError as error:
        raise NoAppException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Switchboard: a self-hosted Twilio application server."""


register_commands(cli)


def main() -> None:
    cli.main(prog_name="switchboard")
