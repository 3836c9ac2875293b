"""The ``switchboard`` command: Flask's CLI plus Switchboard's own commands.

``switchboard run`` is ``flask run`` for the Switchboard app (or for the app named with
``--app``); ``api``, ``provision``, ``call``, ``sms``, ``emulator`` and ``simulate`` are added
from :mod:`callbacks.commands`.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException, ScriptInfo

from callbacks.commands import register_commands
from config import ConfigError


def _named_app(context: click.Context | None) -> str | None:
    """The app named with ``--app`` on the command line, if any.

    ``FLASK_APP`` in the environment is left to the ``flask`` command: ``switchboard`` serves
    Switchboard unless told otherwise where it is typed.
    """
    if context is None:
        return None
    root = context.find_root()
    if root.get_parameter_source("app") is not click.core.ParameterSource.COMMANDLINE:
        return None
    return root.ensure_object(ScriptInfo).app_import_path


def _create_app() -> Flask:
    """The app for Flask's commands: Switchboard's, or the one named by ``--app`` (loaded as
    ``flask --app`` would). A settings error is one line (``Error: ...``), not a traceback."""
    named = _named_app(click.get_current_context(silent=True))
    if named:
        return ScriptInfo(app_import_path=named, set_debug_flag=False).load_app()

    from callbacks import create_app

    try:
        return create_app()
    except ConfigError as error:
        raise NoAppException(str(error)) from None


class SwitchboardGroup(FlaskGroup):
    """Flask's command group; listing the commands (``switchboard --help``) loads an app only
    when ``--app`` names one: the Switchboard app adds no commands of its own, and loading it
    opens the database and checks the settings, which help should not."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        if not _named_app(ctx):
            self._load_plugin_commands()
            return sorted(super(FlaskGroup, self).list_commands(ctx))
        return super().list_commands(ctx)


@click.group(cls=SwitchboardGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Switchboard: a self-hosted Twilio application server."""


register_commands(cli)


def main() -> None:
    cli.main(prog_name="switchboard")
