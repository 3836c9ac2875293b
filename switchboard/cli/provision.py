"""``switchboard provision``: point a number, an application or the sandbox at this server.

::

    switchboard provision --number +14155550100 --dry-run
    switchboard provision --number +14155550100

The server's public URL is ``SWITCHBOARD_PUBLIC_URL`` (or ``--public-url``); a local or
plain-http one is refused unless ``--allow-insecure`` (for the emulator).
"""

from __future__ import annotations

import click

from switchboard.cli.common import (
    OneLineCommand,
    OneLineError,
    connect,
    not_sent,
    one_line,
    public_url_option,
    refused,
    server_options,
    usage_error,
)

TARGET_OPTIONS = {"number": "--number", "application": "--application", "sandbox": "--sandbox"}


@click.command("provision", cls=OneLineCommand)
@click.option("--number", metavar="E164|PN...", help="A number of the account, by E.164 or SID.")
@click.option("--application", metavar="AP...", help="An application, by SID.")
@click.option("--sandbox", is_flag=True, help="The developer sandbox (retired by Twilio).")
@click.option("--dry-run", is_flag=True, help="Show the changes against Twilio's current values.")
@server_options
def provision_command(
    number: str | None,
    application: str | None,
    sandbox: bool,
    dry_run: bool,
    config_ref: str | None,
    public_url: str | None,
    allow_insecure: bool,
) -> None:
    """Point a number, an application or the sandbox at this server.

    Sets the voice, voice fallback, SMS, SMS fallback and status callback URLs to
    PUBLIC_URL/voice, /voice/fallback, /sms, /sms/fallback and /voice/status (and an
    application's SMS status callback to /sms/status), all with POST; the sandbox gets the
    voice and SMS URLs only. A number is detached from any application or SIP trunk, which
    would override its URLs. Then reads them back and checks them.
    """
    from switchboard.api import TwilioError, ValidationError
    from switchboard.api.provisioning import (
        ProvisioningError,
        check_target,
        plan,
        resolve_target,
        verify,
        write,
    )
    from switchboard.config.validation import redact_url

    if [bool(number), bool(application), sandbox].count(True) != 1:
        raise OneLineError("give exactly one of --number, --application, --sandbox")
    try:
        check_target(number, application, sandbox)
    except ValidationError as error:
        raise usage_error(error, TARGET_OPTIONS) from None
    settings, client = connect(config_ref)
    base = public_url_option(settings, public_url, allow_insecure)
    with client:
        try:
            target = resolve_target(client, number=number, application=application, sandbox=sandbox)
            changes = plan(client, target, base)
            for line in changes.diff():
                click.echo(line)
            if dry_run:
                click.echo("Dry run: nothing was changed.", err=True)
                return
        except ValidationError as error:
            raise usage_error(error, TARGET_OPTIONS) from None
        except TwilioError as error:  # ProvisioningError included
            raise one_line(error) from None
        again = "the same command with --dry-run shows what it has now"
        try:
            write(client, changes)
        except ValidationError as error:
            raise usage_error(error, TARGET_OPTIONS) from None
        except TwilioError as error:
            if refused(error) or not_sent(error):
                raise one_line(f"{error}; nothing was changed") from None
            raise one_line(
                f"{error}; {target.label} may have been changed all the same: {again}"
            ) from None
        try:
            verify(client, changes)
        except ProvisioningError as error:
            raise one_line(error) from None
        except TwilioError as error:
            raise one_line(
                f"the changes to {target.label} were sent but could not be checked: {error}; "
                f"{again}"
            ) from None
    click.echo(f"Verified: {target.label} points at {redact_url(base)}.")
