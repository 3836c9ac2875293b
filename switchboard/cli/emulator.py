"""``switchboard emulator``: run the local Twilio (REST API and caller side) in the foreground."""

from __future__ import annotations

import errno

import click

from switchboard.cli.common import profile_name


def _host(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--host``: a name or address, never empty (which would listen on every address)."""
    if not value.strip() or any(ch.isspace() for ch in value):
        raise click.BadParameter(
            f"{value!r} is not a name or address of this machine, like 127.0.0.1 (an empty "
            "one would listen on every address)")
    return value


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
    from switchboard.config import ConfigError, load_settings
    from switchboard.emulator import Emulator
    from switchboard.emulator.faults import parse_fault

    try:
        settings = load_settings(profile)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    account_sid = settings.account_sid
    token = settings.auth_token.reveal() if settings.auth_token else None
    made_up_token = token is None

    emu = Emulator(account_sid, token, host, port, seed=seed, log=not quiet)
    if settings.api_key_sid and settings.api_key_secret:
        emu.state.add_api_key(key_sid=settings.api_key_sid,
                              secret=settings.api_key_secret.reveal())
    for spec in faults:
        try:
            emu.faults.add(**parse_fault(spec))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--fault") from None
    try:
        emu.start()
    except OSError as error:
        reason = (error.strerror or str(error)).split(" (while attempting")[0]
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({reason}): {_advice(error)}") from None

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


def _advice(error: OSError) -> str:
    """The option that fixes ``error``, raised by listening on ``--host``:``--port``."""
    if error.errno is not None and error.errno < 0:  # getaddrinfo's EAI_*: the host
        return "--host must be a name or address of this machine, like 127.0.0.1"
    if error.errno == errno.EADDRNOTAVAIL:
        return "--host must be an address of this machine, like 127.0.0.1"
    if error.errno == errno.EACCES:
        return "ports below 1024 need privileges; pick another port with --port"
    if error.errno == errno.EADDRINUSE:
        return "pick another port with --port (0: any free port)"
    return "check --host and --port"
