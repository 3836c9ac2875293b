"""Switchboard's own CLI commands, each in the module named for it."""

from __future__ import annotations

import copy
from typing import Any

import click

#: ``--host`` values naming a Unix socket (``unix://PATH``), which Werkzeug listens on as given.
UNIX_SOCKET = "unix://"


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
        run_command(),
    ):
        group.add_command(command)


def _host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--host`` checked as ``switchboard emulator`` checks it (a Unix socket as given)."""
    from switchboard.cli import emulator

    if value.startswith(UNIX_SOCKET):
        return value
    return emulator._host(ctx, param, value)


def run_command() -> click.Command:
    """Flask's ``run``, whose ``--host`` and ``--port`` are checked before the app is loaded
    as ``switchboard emulator`` checks them: a port in 0..65535 (0: any free port), a host
    that resolves, an address that can be listened on (else one line naming the option,
    exit status 2). ``--config-ref NAME`` serves the app of that settings profile, as
    ``SWITCHBOARD_PROFILE=NAME`` would. Every ``switchboard.*`` logger's records are made safe
    (:func:`~switchboard.callbacks.logs.filter_switchboard_loggers`), also for an app named
    with ``--app`` that uses the REST client without Switchboard's app."""
    from flask.cli import run_command as flask_run

    from switchboard.cli.common import config_ref_option

    command = copy.copy(flask_run)
    params = []
    for param in flask_run.params:
        if param.name == "port":
            param = copy.copy(param)
            param.type = click.IntRange(0, 65535)
            param.help = "The port to bind to (0: any free port)."
        elif param.name == "host":
            param = copy.copy(param)
            assert isinstance(param, click.Option)
            param.callback = _host
        params.append(param)
    command.params = [*params, config_ref_option()]
    serve = flask_run.callback
    assert serve is not None

    def checked(config_ref: str | None, **options: Any) -> Any:
        # the profile is read from the command's parameters when the app is loaded
        from switchboard.callbacks.logs import filter_switchboard_loggers

        _listenable(options["host"], options["port"])
        filter_switchboard_loggers()
        return serve(**options)

    command.callback = checked
    command.dev_server = True  # type: ignore[attr-defined]  # SIGTERM stops it as Ctrl-C does
    return command


def _listenable(host: str, port: int) -> None:
    """A usage error (one line, exit status 2) when ``host``:``port`` cannot be listened on.
    Not checked in the reloader's child, which is handed the socket its parent listens on."""
    from werkzeug.serving import is_running_from_reloader

    from switchboard.cli.emulator import _cannot_listen, _probe

    if host.startswith(UNIX_SOCKET) or is_running_from_reloader():
        return
    try:
        _probe(host, port)
    except OSError as error:
        raise _cannot_listen(error, host, port) from None
