"""The ``switchboard`` command: Flask's CLI plus Switchboard's own commands.

``switchboard run`` is ``flask run`` for the Switchboard app; ``api``, ``provision``, ``call``,
``sms``, ``emulator`` and ``simulate`` are added from :mod:`callbacks.commands`.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException, ScriptInfo

from callbacks.commands import register_commands
from config import ConfigError


def _create_app() -> Flask:
    """The app for Flask's commands: Switchboard's, or the one named by ``--app`` (loaded as
    ``flask --app`` would). A settings error is one line (``Error: ...``), not a traceback."""
    context = click.get_current_context(silent=True)
    named = context.find_object(ScriptInfo) if context is not None else None
    if named is not None and named.app_import_path:
        return ScriptInfo(app_import_path=named.app_import_path, set_debug_flag=False).load_app()

    from callbacks import create_app

    try:
        return create_app()
    except ConfigError as error:
        raise NoAppException(str(error)) from None


class SwitchboardGroup(FlaskGroup):
    """Flask's command group; listing the commands (``switchboard --help``) loads an app only
    when one is named (``--app``, ``FLASK_APP``): the Switchboard app adds no commands of its
    own, and loading it opens the database and checks the settings, which help should not."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        if ctx.ensure_object(ScriptInfo).app_import_path is None:
            self._load_plugin_commands()
            return sorted(super(FlaskGroup, self).list_commands(ctx))
        return super().list_commands(ctx)


@click.group(cls=SwitchboardGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Switchboard: a self-hosted Twilio application server."""


register_commands(cli)


def main() -> None:
    cli.main(prog_name="switchboard")
