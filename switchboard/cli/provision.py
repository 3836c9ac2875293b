"""``switchboard provision``: point a number, an application or the sandbox at this server.

::

    switchboard provision --number +14155550100 --dry-run
    switchboard provision --number +14155550100
    switchboard provision --number +14155550100 --flow ivr_voicemail

The server's public URL is ``SWITCHBOARD_PUBLIC_URL`` (or ``--public-url``); a local or
plain-http one is refused unless ``--allow-insecure`` (for the emulator).

``--flow NAME`` points the voice and SMS URLs at a Studio flow, ``/flows/NAME``. The flow
must be one the server would serve with the same settings, checked before any request: a
``NAME.json`` of the flows folder (``SWITCHBOARD_FLOWS_DIR``, else ``./flows``) that loads, or
the SID (``FW...``) of a flow of that folder or of the database (a flow made through the Studio
API). Anything else is one line and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from switchboard.cli.common import (
    OneLineCommand,
    argument_error,
    connect,
    flat,
    not_sent,
    one_line,
    public_url_option,
    refused,
    server_options,
    settings_error,
    typed_command,
    usage_error,
)

if TYPE_CHECKING:
    from switchboard.callbacks.studio.definition import Flow
    from switchboard.config import Settings

TARGET_OPTIONS = {
    "number": "--number", "application": "--application", "sandbox": "--sandbox",
    "flow": "--flow",
}

#: What a flow's trigger must lead somewhere on, for each kind of traffic it is given, and
#: what that traffic meets otherwise.
TRIGGERS = {
    "incomingCall": ("calls", "a call hears nothing and hangs up"),
    "incomingMessage": ("messages", "a message gets no reply"),
}


def _known(folder: Path) -> str:
    names = sorted(path.stem for path in folder.glob("*.json") if path.is_file())
    return ", ".join(names) or "none"


def _folder_flow(name: str, folder: Path | None) -> Flow | None:
    """The flow ``name`` of the flows folder (by name, or by SID among the folder's flows
    that load); None when there is no such file. A file that cannot run is one line."""
    from switchboard.callbacks.studio.context import flow_sid
    from switchboard.callbacks.studio.loader import check_folder, read_flow

    if folder is None or not folder.is_dir():
        return None
    path = folder / f"{name}.json"
    if path.is_file():
        flow, problems = read_flow(path)
        errors = [problem for problem in problems if not problem.warning]
        if flow is None:
            count = f"{len(errors)} problem{'' if len(errors) == 1 else 's'}"
            raise argument_error(f"--flow: {path} cannot run ({count}: {errors[0]}); see "
                                 f"`switchboard flows check {path}`")
        return flow
    if name.startswith("FW"):
        for flow in check_folder(folder).flows.values():
            if flow_sid(flow) == name:
                return flow
    return None


def _database_flow(sid: str, config_ref: str | None) -> Flow | None:
    """The revision of the database's flow ``sid`` that runs for callers (the latest published
    one, else the latest, which runs only for its test users: a warning); None when the
    database has no such flow. The store is the one the app makes from the same settings."""
    from switchboard.callbacks import create_app
    from switchboard.callbacks.store import StoreUnavailable
    from switchboard.callbacks.studio.flows_store import LATEST_PUBLISHED, get_flow, get_revision
    from switchboard.config import ConfigError

    config: dict[str, object] = {"QUIET_START": True, "BUNDLED_FLOWS": False,
                                 "STUDIO_FLOWS": False}
    if config_ref:
        config["SWITCHBOARD_PROFILE"] = config_ref
    try:
        store = create_app(config).extensions["switchboard"].store
    except ConfigError as error:
        raise settings_error(error) from None
    try:
        found = get_flow(store, sid)
        if found is None:
            return None
        if found.published_revision is None:
            click.echo(f"warning: flow {sid} was never published: it runs only for its test "
                       "users until it is", err=True)
            return found.latest.flow()
        revision = get_revision(store, sid, LATEST_PUBLISHED)
        return (revision or found.latest).flow()
    except StoreUnavailable as error:
        where = typed_command(click.get_current_context())
        raise one_line(f"{where}: --flow: cannot look flow {sid} up: {flat(error)}") from None
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def check_flow(name: str, settings: Settings, config_ref: str | None) -> Flow:
    """The Studio flow ``--flow NAME`` names, as the server with ``settings`` would serve it at
    ``/flows/NAME``: a ``NAME.json`` of the flows folder, or a flow's SID (the folder's flows,
    then the database's). Checked before any request; anything else is one line, exit
    status 2. A flow whose trigger answers no calls or no messages is a warning."""
    from switchboard.api import ValidationError
    from switchboard.api.provisioning import check_flow_name
    from switchboard.callbacks.studio.flows_store import FLOW_SID
    from switchboard.callbacks.studio.loader import FLOWS_DIR_VARIABLE, flows_dir

    try:
        check_flow_name(name)
    except ValidationError as error:
        raise usage_error(error, TARGET_OPTIONS) from None
    folder = flows_dir(settings.flows_dir)
    if folder is not None and not folder.is_dir() and not FLOW_SID.fullmatch(name):
        raise argument_error(f"--flow: {FLOWS_DIR_VARIABLE} {str(folder)!r} is not a folder")
    flow = _folder_flow(name, folder)
    if flow is None and FLOW_SID.fullmatch(name):
        flow = _database_flow(name, config_ref)
        if flow is None:
            raise argument_error(f"--flow: no flow {name} in the flows folder or the database")
    if flow is None:
        if folder is None:
            raise argument_error(
                f"--flow: no flow named {name!r}: there is no flows folder (set "
                f"{FLOWS_DIR_VARIABLE}, or run this where flows/ holds NAME.json)")
        raise argument_error(
            f"--flow: no flow named {name!r} in {folder} (flows: {_known(folder)}); a flow of "
            "the Studio API goes by its SID, FW...")
    events = flow.trigger_events
    for event, (traffic, outcome) in TRIGGERS.items():
        if event not in events:
            click.echo(f"warning: flow {name} answers no {traffic}: its trigger's {event!r} "
                       f"leads to no widget ({outcome})", err=True)
    return flow


@click.command("provision", cls=OneLineCommand)
@click.option("--number", metavar="E164|PN...", help="A number of the account, by E.164 or SID.")
@click.option("--application", metavar="AP...", help="An application, by SID.")
@click.option("--sandbox", is_flag=True, help="The developer sandbox (retired by Twilio).")
@click.option("--flow", metavar="NAME|FW...",
              help="Send calls and messages to this Studio flow (/flows/NAME) instead of the "
                   "bundled routes.")
@click.option("--dry-run", is_flag=True, help="Show the changes against Twilio's current values.")
@server_options
def provision_command(
    number: str | None,
    application: str | None,
    sandbox: bool,
    flow: str | None,
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

    With --flow NAME, the voice and SMS URLs are the Studio flow's, PUBLIC_URL/flows/NAME;
    the fallbacks and status callbacks stay the server's. NAME is a flow of the flows folder
    (SWITCHBOARD_FLOWS_DIR, else ./flows) or a flow's SID (FW...), checked before any request.
    """
    from switchboard.api import TwilioError, ValidationError
    from switchboard.api.provisioning import (
        ProvisioningError,
        check_target,
        flow_url,
        plan,
        resolve_target,
        verify,
        write,
    )
    from switchboard.config.validation import redact_url

    if [bool(number), bool(application), sandbox].count(True) != 1:
        raise argument_error("give exactly one of --number, --application, --sandbox")
    try:
        check_target(number, application, sandbox)
    except ValidationError as error:
        raise usage_error(error, TARGET_OPTIONS) from None
    settings, client = connect(config_ref)
    base = public_url_option(settings, public_url, allow_insecure)
    if flow is not None:
        check_flow(flow, settings, config_ref)
    with client:
        try:
            target = resolve_target(client, number=number, application=application, sandbox=sandbox)
            changes = plan(client, target, base, flow=flow)
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
    if flow is not None:
        click.echo(f"Verified: {target.label} points at flow {flow}, "
                   f"{redact_url(flow_url(base, flow))}.")
        return
    click.echo(f"Verified: {target.label} points at {redact_url(base)}.")
