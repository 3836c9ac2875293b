"""``switchboard emulator``: run the local Twilio (REST API and caller side) in the foreground."""

from __future__ import annotations

import errno
import ipaddress
import socket

import click

from switchboard.cli.common import profile_name, settings_error

EXAMPLE_HOST = "like 127.0.0.1"


def _host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--host``: a name or address, never empty (which would listen on every address), and
    a name that resolves."""
    if not value.strip() or any(ch.isspace() for ch in value):
        raise click.BadParameter(
            f"{value!r} is not a name or address of this machine, {EXAMPLE_HOST} (an empty "
            "one would listen on every address)")
    if not ctx.resilient_parsing:
        problem = _unresolved(value)
        if problem:
            raise click.BadParameter(
                f"{value!r} {problem}; give a name or address of this machine, {EXAMPLE_HOST}")
    return value


def _unresolved(host: str) -> str | None:
    """Why the name ``host`` has no IPv4 address (the family the emulator listens on for a
    name), or None. An address is not looked up; nor is a name under ``.invalid``, which never
    resolves (RFC 6761), so that no resolver is asked about it."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    if name == "invalid" or name.endswith(".invalid"):
        return "does not resolve: names under .invalid never do"
    try:
        socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as error:
        return f"does not resolve to an address ({error.strerror or error})"
    except UnicodeError:  # a label too long for the IDNA codec
        return "is not a host name"
    return None


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, callback=_host,
              help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--fault", "faults", multiple=True, metavar="KIND[:OPTION=VALUE,...]",
              help="Inject faults into API requests, e.g. '503:rate=0.2' or "
                   "'429:count=3,retry_after=2' or 'drop:count=1,after'. Kinds: 429, 500, 503, "
                   "slow, drop. Repeatable.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the fault injection's random choices.")
@click.option("--quiet", is_flag=True, help="Do not log each request.")
@click.option("--config-ref", "profile", default=None, metavar="NAME", callback=profile_name,
              help="Take the main account from this settings profile.")
def emulator_command(host: str, port: int, faults: tuple[str, ...], seed: int, quiet: bool,
                     profile: str | None) -> None:
    """Run a local Twilio: the REST API 2010-04-01 and the caller side.

    Its main account is TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN when they are set (and
    TWILIO_API_KEY_SID / TWILIO_API_KEY_SECRET are accepted too), so the REST client and the
    server work with it from the same settings; otherwise it makes one up and prints it. Point
    the client at it with TWILIO_API_BASE_URL.
    """
    from switchboard.callbacks.logs import filter_switchboard_loggers, secrets_of
    from switchboard.config import ConfigError, load_settings
    from switchboard.emulator import Emulator
    from switchboard.emulator.faults import FaultInjector, parse_fault

    fault_specs = []
    for spec in faults:
        try:
            fault_specs.append(parse_fault(spec))
            FaultInjector().add(**fault_specs[-1])  # checked here, added once it runs
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--fault") from None
    try:
        _probe(host, port)
    except OSError as error:
        raise _cannot_listen(error, host, port) from None
    try:
        settings = load_settings(profile)
    except ConfigError as error:
        raise settings_error(error) from None
    account_sid = settings.account_sid
    token = settings.auth_token.reveal() if settings.auth_token else None
    made_up_token = token is None

    emu = Emulator(account_sid, token, host, port, seed=seed, log=not quiet)
    # what the emulator and the app code it runs log: one line each, no credential (a
    # made-up token included), however logging is set up
    filter_switchboard_loggers(hidden=[*secrets_of(settings), emu.auth_token])
    if settings.api_key_sid and settings.api_key_secret:
        emu.state.add_api_key(key_sid=settings.api_key_sid,
                              secret=settings.api_key_secret.reveal())
    for fault in fault_specs:
        emu.faults.add(**fault)
    try:
        emu.start()
    except OSError as error:  # taken since the probe
        raise _cannot_listen(error, host, port) from None

    click.echo(f"Twilio emulator listening on {emu.url}  (API {emu.url}/2010-04-01)")
    click.echo(f"Account SID: {emu.account_sid}")
    if made_up_token:
        click.echo(f"Auth token:  {emu.auth_token}")
        click.echo("  (made up for this run, shown only here: it is your own local emulator's "
                   "credential; set TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN to keep one)")
    else:
        click.echo("Auth token:  the configured TWILIO_AUTH_TOKEN")
    if settings.api_key_sid and settings.api_key_secret:
        click.echo(f"API key:     {settings.api_key_sid} (the configured TWILIO_API_KEY_SECRET)")
    click.echo(f"Use it:      export TWILIO_API_BASE_URL={emu.url}")
    for spec in faults:
        click.echo(f"Fault:       {spec}")
    click.echo("Press CTRL+C to quit.")
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


def _probe(host: str, port: int) -> None:
    """Listen on ``host``:``port`` as the emulator will, and stop at once: OSError when the
    address cannot be used, before anything is started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family):
        pass


def _cannot_listen(error: OSError, host: str, port: int) -> click.ClickException:
    """The one-line error for ``error``, raised by listening on ``--host``:``--port``: a
    usage error naming the option to change (exit status 2) when one of them is the cause."""
    reason = str(error.strerror or error).split(" (while attempting")[0]
    where = f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return _bad("port", f"{where} is already in use ({reason}); pick another port, or 0 "
                            "for any free port")
    if error.errno == errno.EACCES:
        privileged = "ports below 1024 need privileges; " if port < 1024 else ""
        return _bad("port", f"this user may not listen on {where} ({reason}); {privileged}pick "
                            "another port, like 8080")
    if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        return _bad("host", f"{host!r} is not an address of this machine ({reason}); give "
                            f"one, {EXAMPLE_HOST}")
    return click.ClickException(f"cannot listen on {where} ({reason}); check --host and --port")


def _bad(name: str, message: str) -> click.BadParameter:
    """A usage error about the option ``--NAME`` of the running command."""
    ctx = click.get_current_context()
    param = next(param for param in ctx.command.params if param.name == name)
    return click.BadParameter(message, ctx=ctx, param=param)
