"""The ``switchboard`` command: Flask's CLI plus Switchboard's own commands.

``switchboard run`` is ``flask run`` for the Switchboard app (or for the app named with
``--app``); ``api``, ``provision``, ``call``, ``sms``, ``emulator``, ``simulate`` and ``flows``
are added from :mod:`switchboard.cli.commands`.
"""

from __future__ import annotations

import copy
import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException, ScriptInfo, load_dotenv

from switchboard.cli.commands import register_commands
from switchboard.cli.common import (
    MissingCommand,
    OneLineError,
    command_name,
    flat,
    require_command,
    typed_command,
)
from switchboard.config import ConfigError


def named_app(context: click.Context | None) -> str | None:
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


#: Commands that load the app for its store, not to serve webhooks: what a server logs at
#: start-up (the database down, signatures unchecked) is not theirs to say; they say what
#: concerns them in their own one line. (The ``--config-ref`` of any command, theirs and
#: ``run``'s, picks the app's profile, so that its store is that profile's database.)
CLIENT_COMMANDS = frozenset({"call", "sms", "flows run"})

#: The variable ``create_app()`` reads the profile from when its config names none.
PROFILE_VARIABLE = "SWITCHBOARD_PROFILE"


def config_ref(context: click.Context) -> str | None:
    """The profile the ``--config-ref`` option of the command running in ``context`` names;
    None when the command has no such option or it was not given."""
    for param in context.command.params:
        if isinstance(param, click.Option) and "--config-ref" in param.opts and param.name:
            value = context.params.get(param.name)
            return value if isinstance(value, str) and value else None
    return None


@contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """``os.environ[name]`` set to ``value``, then as it was before."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _create_app() -> Flask:
    """The app for Flask's commands: Switchboard's, or the one named by ``--app`` (loaded as
    ``flask --app`` would). A settings error is one line starting with the command as typed
    (``Error: run: SWITCHBOARD_VOICE: ...``), as its argument errors do, not a traceback.

    The command's ``--config-ref NAME`` selects the app's profile either way: Switchboard's
    app gets it in its config; for a named app, which Flask imports (or whose factory it
    calls with no arguments), ``SWITCHBOARD_PROFILE`` is ``NAME`` from before it is loaded
    until the command ends, so that ``create_app()`` there reads that profile."""
    context = click.get_current_context(silent=True)
    profile = config_ref(context) if context is not None else None
    named = named_app(context)
    if named:
        if context is not None and profile is not None:
            context.with_resource(environment_variable(PROFILE_VARIABLE, profile))
        return load_named_app(named)

    from switchboard.callbacks import create_app

    config: dict[str, object] = {}
    if context is not None and command_name(context) in CLIENT_COMMANDS:
        config["QUIET_START"] = True
    if profile is not None:
        config[PROFILE_VARIABLE] = profile
    from switchboard.callbacks.studio.definition import FlowError

    try:
        return create_app(config or None)
    except (ConfigError, FlowError) as error:
        where = f"{typed_command(context)}: " if context and context.parent else ""
        raise NoAppException(f"{where}{error}") from None


def load_named_app(import_path: str) -> Flask:
    """The app ``--app`` names, loaded as ``flask --app`` loads it. A module that cannot be
    imported, or a factory that raises, is one line naming it and the exception, not a
    traceback; Flask's own one-line errors (no app in the module...) are left as they are."""
    try:
        return ScriptInfo(app_import_path=import_path, set_debug_flag=False).load_app()
    except NoAppException as error:
        raised = error.__context__  # Flask's "While importing ..." holds a whole traceback
        if not isinstance(raised, ImportError):
            raise
        failed: Exception = raised
    except Exception as error:
        failed = error
    message = flat(failed)
    raise NoAppException(f"--app {import_path!r} could not be loaded: "
                         f"{type(failed).__name__}{': ' + message if message else ''}") from None


#: click's own "a group called with no arguments" error (click 8.2 and later; none in 8.1).
_NO_ARGS_IS_HELP: tuple[type[Exception], ...] = tuple(
    error for error in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if error)


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    """Turn click's usage errors (a bad or missing argument, an unknown command) into one line,
    ``Error: COMMAND: what is wrong``, with the usage exit status 2 and no usage block; an app
    that cannot be loaded is its own line as it is (a wrong setting after the command,
    :func:`_create_app`; an ``--app`` that raises, naming it). A group called with no command
    still shows its help, on stderr, with exit status 2."""
    try:
        yield
    except (MissingCommand, *_NO_ARGS_IS_HELP):
        raise
    except click.UsageError as error:
        context = error.ctx
        where = ""
        if (context is not None and context.parent is not None
                and not isinstance(error, NoAppException)):
            where = context.command_path.partition(" ")[2] + ": "
        raise OneLineError(where + error.format_message()) from None


def _env_file_callback(context: click.Context, param: click.Parameter, value: str | None
                       ) -> str | None:
    """Flask's ``--env-file``, refusing a file python-dotenv cannot parse (Flask only warns,
    then runs without the lines it skipped)."""
    from switchboard.config.loader import check_dotenv

    if value is not None:
        try:
            check_dotenv(value)
        except ConfigError as error:
            raise click.BadParameter(str(error), ctx=context, param=param) from None
    if value is not None or context.ensure_object(ScriptInfo).load_dotenv_defaults:
        load_dotenv(value, load_defaults=context.ensure_object(ScriptInfo).load_dotenv_defaults)
    return value


def _strict(env_file: click.Parameter) -> click.Parameter:
    """A copy of Flask's ``--env-file`` option (shared with the ``flask`` command) that
    refuses a file it cannot parse."""
    option = copy.copy(env_file)
    option.callback = _env_file_callback
    return option


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _show_version(context: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``: Switchboard's version, then Python's, Flask's and Werkzeug's (Flask's
    own option shows only the last three)."""
    if not value or context.resilient_parsing:
        return
    click.echo(
        f"Switchboard {_version('switchboard')}\n"
        f"Python {platform.python_version()}\n"
        f"Flask {_version('flask')}\n"
        f"Werkzeug {_version('werkzeug')}",
        color=context.color,
    )
    context.exit()


def _own_version(version: click.Parameter) -> click.Parameter:
    """A copy of Flask's ``--version`` option that shows Switchboard's version first."""
    option = copy.copy(version)
    option.callback = _show_version
    option.help = "Show the versions of Switchboard, Python, Flask and Werkzeug."
    return option


class SwitchboardGroup(FlaskGroup):
    """Flask's command group, where every command's argument errors take one line
    (:func:`one_line_usage_errors`) and ``--env-file`` refuses a file it cannot parse.

    Listing the commands (``switchboard --help``) or looking one up loads an app only when
    ``--app`` names one: the Switchboard app adds no commands of its own, and loading it opens
    the database and checks the settings, which help and "No such command" should not."""

    def __init__(self, **extra: Any) -> None:
        super().__init__(**extra)
        own = {"env_file": _strict, "version": _own_version}
        self.params = [own[param.name](param) if param.name in own else param
                       for param in self.params]

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        with one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        require_command(ctx, args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_usage_errors():
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        if not named_app(ctx):
            self._load_plugin_commands()
            return sorted(super(FlaskGroup, self).list_commands(ctx))
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        own = super(FlaskGroup, self).get_command(ctx, cmd_name)
        if own is not None or not named_app(ctx):
            return own
        # one of the named app's commands, if it loads: else its one line, not Flask's two
        ctx.ensure_object(ScriptInfo).load_app()
        return super().get_command(ctx, cmd_name)


@click.group(cls=SwitchboardGroup, create_app=_create_app, load_dotenv=False)
def cli() -> None:
    """Switchboard: a self-hosted Twilio application server."""


register_commands(cli)


def main() -> None:
    cli.main(prog_name="switchboard")
