"""``switchboard flows check|list|show|run``: the Studio flows of the flows folder.

The flows folder is ``SWITCHBOARD_FLOWS_DIR``, else ``flows/`` in the working folder.
``check``, ``list`` and ``show`` work offline: ``check`` exits 1 when a flow has a problem (one
line each, on stderr), ``list`` and ``show`` when the flows they read cannot be loaded. ``run``
starts executions (one, or one per row of a CSV file) in this process, on the app's store and
account. A bad argument is one line and exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from switchboard.cli.common import (
    CommandGroup,
    OneLineCommand,
    OneLineError,
    flat,
    settings_error,
    with_config_ref,
)

if TYPE_CHECKING:
    from flask import Flask

    from switchboard.callbacks.studio.campaigns import Contacts, Summary
    from switchboard.callbacks.studio.definition import Flow, FlowError, Problem

FLOWS_DIR_VARIABLE = "SWITCHBOARD_FLOWS_DIR"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _folder(profile: str | None = None) -> Path:
    """The flows folder (of the settings profile ``profile``); else one line starting with
    the command as typed (``flows run: ...``), as a setting the command cannot use is."""
    from switchboard.callbacks.studio.loader import flows_dir
    from switchboard.config import ConfigError, load_settings

    try:
        folder = flows_dir(load_settings(profile).flows_dir)
    except ConfigError as error:
        raise settings_error(error) from None
    if folder is None:
        raise settings_error(
            f"no flows folder: set {FLOWS_DIR_VARIABLE} or create flows/ in the working "
            "folder, with one NAME.json file per flow")
    if not folder.is_dir():
        raise settings_error(f"{FLOWS_DIR_VARIABLE}: {str(folder)!r} is not a folder")
    return folder


def _refuse(error: FlowError, what: str) -> click.ClickException:
    """Print each line of ``error`` on stderr; the exception ending the command (status 1)."""
    for line in error.lines:
        click.echo(line, err=True)
    count = _plural(len(error.lines), "problem")
    return click.ClickException(f"{what} cannot be loaded ({count}); see `switchboard flows "
                                "check`")


def _echo_warning(problem: Problem) -> None:
    click.echo(f"warning: {problem}", err=True)


@click.group("flows", cls=CommandGroup, no_args_is_help=True)
def flows_group() -> None:
    """Check, list, show and run the Studio flows of the flows folder (SWITCHBOARD_FLOWS_DIR,
    default ./flows)."""


@flows_group.command("check")
@click.argument("files", nargs=-1, metavar="[FILE|FOLDER]...",
                type=click.Path(exists=True, path_type=Path))
def check_command(files: tuple[Path, ...]) -> None:
    """Check flow definitions (default: every NAME.json of the flows folder) as the server
    would at start-up: one line per problem on stderr, exit status 1 if there is any.
    Warnings (a widget Switchboard cannot run on its own, ...) are printed too, but pass."""
    from switchboard.callbacks.studio.loader import check_files

    report = check_files(files or [_folder()])
    for problem in report.errors:
        click.echo(str(problem), err=True)
    for problem in report.warnings:
        _echo_warning(problem)
    checked = _plural(report.files, "flow")
    if report.errors:
        count = _plural(len(report.errors), "problem")
        raise click.ClickException(f"{checked} checked, {count}")
    warnings = f" ({_plural(len(report.warnings), 'warning')})" if report.warnings else ""
    click.echo(f"{checked} checked, no problems{warnings}")


@flows_group.command("list")
def list_command() -> None:
    """List the flows of the flows folder: name, states, the trigger events each one
    answers, its URL path and description."""
    from switchboard.callbacks.studio.definition import FlowError
    from switchboard.callbacks.studio.loader import load_flows

    folder = _folder()
    try:
        flows = load_flows(folder, warn=_echo_warning)
    except FlowError as error:
        raise _refuse(error, f"the flows of {folder}") from None
    if not flows:
        click.echo(f"no flows in {folder} (add NAME.json files exported from Studio)")
        return
    rows = [("NAME", "STATES", "TRIGGERS", "PATH", "DESCRIPTION")]
    rows += [(flow.name, str(len(flow.states)), ", ".join(flow.trigger_events) or "-",
              f"/flows/{flow.name}", flow.description or "-")
             for flow in flows.values()]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths,
                                                                          strict=False)),
                              row[4]]))


def _find(name: str) -> Flow:
    """The flow ``name`` of the flows folder, or the flow in the file ``name`` (a path
    ending in ``.json``)."""
    from switchboard.callbacks.studio.loader import load_flow

    if name.endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise OneLineError(f"flows show: no file {name!r}")
        return load_flow(path)
    folder = _folder()
    path = folder / f"{name}.json"
    if not path.is_file():
        known = ", ".join(sorted(path.stem for path in folder.glob("*.json"))) or "none"
        raise OneLineError(f"flows show: no flow named {name!r} in {folder} (flows: {known})")
    return load_flow(path)


def _condition_text(transition: Mapping[str, Any]) -> str:
    """`` [friendly name; ...]`` of a match transition's conditions, or nothing."""
    texts = []
    for condition in transition.get("conditions") or ():
        if isinstance(condition, Mapping):
            typed = f"{condition.get('type')} {condition.get('value', '')}".strip()
            texts.append(str(condition.get("friendly_name") or typed))
    return f" [{'; '.join(texts)}]" if texts else ""


def outline(flow: Flow) -> list[str]:
    """The flow as text: each widget, its type, and where each of its events leads."""
    lines = [f"{flow.name}: {flow.description or '(no description)'}",
             f"source: {flow.source}", f"url: /flows/{flow.name}",
             f"initial state: {flow.initial_state}", ""]
    for name, state in flow.states.items():
        lines.append(f"{name} ({state.get('type')})")
        transitions = flow.transitions(name)
        if not transitions:
            lines.append("  (no transitions)")
        for transition in transitions:
            target = transition.get("next") or "(end)"
            lines.append(f"  {transition.get('event')}{_condition_text(transition)} -> "
                         f"{target}")
    return lines


def _mermaid_text(text: str) -> str:
    """``text`` inside a quoted Mermaid label: quotes and markup characters as entities."""
    for character, entity in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"),
                              (">", "#gt;"), ("|", "#124;")):
        text = text.replace(character, entity)
    return text


def mermaid(flow: Flow) -> list[str]:
    """The flow as a Mermaid flowchart (``flowchart TD``): a node per widget with its type,
    an edge per transition labelled with its event (and a match's condition)."""
    ids = {name: f"s{index}" for index, name in enumerate(flow.states)}
    lines = ["flowchart TD"]
    for name, state in flow.states.items():
        label = f"{_mermaid_text(name)}<br/>{_mermaid_text(str(state.get('type')))}"
        lines.append(f'    {ids[name]}["{label}"]')
    for name in flow.states:
        for transition in flow.transitions(name):
            target = transition.get("next")
            if not target or target not in ids:
                continue
            label = _mermaid_text(f"{transition.get('event')}{_condition_text(transition)}")
            lines.append(f'    {ids[name]} -->|"{label}"| {ids[target]}')
    return lines


@flows_group.command("show")
@click.argument("name")
@click.option("--mermaid", "as_mermaid", is_flag=True,
              help="Print a Mermaid flowchart (for a README's ```mermaid block).")
def show_command(name: str, as_mermaid: bool) -> None:
    """Show the flow NAME (of the flows folder, or a FILE.json): each widget, its type and
    where each event leads."""
    from switchboard.callbacks.studio.definition import FlowError

    try:
        flow = _find(name)
    except FlowError as error:
        raise _refuse(error, f"flow {name!r}") from None
    for line in mermaid(flow) if as_mermaid else outline(flow):
        click.echo(line)


# -- run ---------------------------------------------------------------------------------------

#: Failed rows listed one by one after a campaign, at most.
FAILURES_SHOWN = 20


@flows_group.command("run", cls=OneLineCommand)
@click.argument("name")
@click.option("--to", metavar="E164", help="Start one execution, for this contact.")
@click.option("--from", "from_", required=True, metavar="E164",
              help="The flow's number ({{flow.channel.address}}): your Twilio number.")
@click.option("--parameters", metavar="JSON",
              help='A JSON object, the flow\'s {{flow.data}} (with --contacts: for every row, '
                   'under its own columns).')
@click.option("--contacts", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="A CSV file: a 'to' column, the other columns each row's parameters.")
@click.option("--rate", type=float, default=20.0, show_default=True, metavar="N",
              help="With --contacts: executions started per second, at most.")
@click.option("--campaign", metavar="NAME",
              help="With --contacts: the campaign's name, to resume it (default: the flow's "
                   "name and the file's hash).")
@with_config_ref
def run_command(name: str, to: str | None, from_: str, parameters: str | None,
                contacts: Path | None, rate: float, campaign: str | None,
                config_ref: str | None) -> None:
    """Start the flow NAME as Studio's REST API does (its trigger's incomingRequest): for one
    contact (--to), or for each row of a CSV file (--contacts), at --rate a second.

    A number that opted out (STOP) is skipped. A run over a file can be stopped (Ctrl-C) and
    run again: no contact gets a second execution. Prints the execution's JSON (--to) or a
    summary; exits 1 when an execution could not be started or its message not sent (such a
    contact is tried again by the next run), 2 when no Twilio account is configured. The
    flows folder, database and account are those of the settings (--config-ref NAME: of
    that profile).
    """
    from switchboard.callbacks.studio.campaigns import ContactsError, read_contacts

    if (to is None) == (contacts is None):
        raise OneLineError("flows run: give --to for one contact or --contacts for a file, "
                           "one of them")
    if contacts is None and campaign is not None:
        raise OneLineError("flows run: --campaign goes with --contacts")
    if not rate > 0 or rate != rate or rate == float("inf"):
        raise OneLineError(f"flows run: --rate: {rate:g} is not a number of executions a "
                           "second above 0")
    if campaign is not None and (not campaign.strip() or campaign != campaign.strip()):
        raise OneLineError(f"flows run: --campaign: {campaign!r} is not a name")
    _check_number("--from", from_)
    if to is not None:
        _check_number("--to", to)
    data = _parameters(parameters)
    flow, flows = _runnable(name, config_ref)
    read: Contacts | None = None
    if contacts is not None:
        try:
            read = read_contacts(contacts)
        except ContactsError as error:
            raise OneLineError(f"flows run: --contacts: {error}") from None
    with _app_context() as app:
        _check_account(app)
        if read is None:
            assert to is not None
            _start_one(app, flow, flows, to=to, from_=from_, parameters=data)
        else:
            _start_all(app, flow, flows, read, from_=from_, parameters=data, rate=rate,
                       campaign=campaign)


def _check_account(app: Flask) -> None:
    """Refuse (one line, status 2) when the app has no account to send through: the flow's
    messages and calls would fail, each contact's execution started all the same."""
    from switchboard.api import TwilioClient, ValidationError
    from switchboard.config import ConfigError

    settings = app.extensions["switchboard"].settings
    try:
        TwilioClient.from_settings(settings=settings).close()
    except (ConfigError, ValidationError) as error:
        raise OneLineError(f"flows run: no Twilio account to send through: {error}") from None


def _check_number(option: str, value: str) -> None:
    from switchboard.config.validation import is_e164

    if not is_e164(value):
        raise OneLineError(f"flows run: {option}: {value!r} is not an E.164 number (like "
                           "+14155550100: '+', country code, number)")


def _parameters(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    from switchboard.callbacks.studio.parameters import ParametersError, check_parameters

    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise OneLineError(f"flows run: --parameters: not JSON ({error.msg} at column "
                           f"{error.colno})") from None
    except ValueError:  # an integer longer than Python reads
        raise OneLineError("flows run: --parameters: a number has more than "
                           f"{sys.get_int_max_str_digits()} digits; send it as a string"
                           ) from None
    except RecursionError:
        raise OneLineError("flows run: --parameters: nested too deeply to read; send "
                           "flatter JSON") from None
    if not isinstance(value, dict):
        raise OneLineError("flows run: --parameters: a JSON object is needed, like "
                           '\'{"name": "Ada"}\'')
    try:
        return check_parameters(value)
    except ParametersError as error:
        raise OneLineError(f"flows run: --parameters: {error.problem}") from None


def _runnable(name: str, profile: str | None) -> tuple[Flow, dict[str, Flow]]:
    """The flow ``name`` of the flows folder (of the profile ``profile``), and all of them,
    for its subflows, checked to start on a REST API request."""
    from switchboard.callbacks.studio.definition import FlowError
    from switchboard.callbacks.studio.loader import load_flows

    folder = _folder(profile)
    try:
        flows = load_flows(folder, warn=_echo_warning)
    except FlowError as error:
        raise _refuse(error, f"flows run: the flows of {folder}") from None
    flow = flows.get(name)
    if flow is None:
        known = ", ".join(sorted(flows)) or "none"
        raise OneLineError(f"flows run: no flow named {name!r} in {folder} (flows: {known})")
    if "incomingRequest" not in flow.trigger_events:
        raise OneLineError(f"flows run: flow {name!r} does not start on a REST API request: "
                           "its trigger has no 'incomingRequest' transition")
    return flow, flows


@contextlib.contextmanager
def _app_context() -> Iterator[Flask]:
    """The app of the command line (Switchboard's, or ``--app``'s) and its context; its store
    closed at the end, so that the rows it writes after its work (the steps) are written."""
    from flask.cli import ScriptInfo

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    try:
        with app.app_context():
            yield app
    finally:
        switchboard = app.extensions.get("switchboard")
        if switchboard is not None:
            switchboard.store.close()


def _start_one(app: Flask, flow: Flow, flows: dict[str, Flow], *, to: str, from_: str,
               parameters: dict[str, Any]) -> None:
    from switchboard.callbacks.store import StoreUnavailable
    from switchboard.callbacks.studio.campaigns import SendFailures
    from switchboard.callbacks.studio.outbound import AlreadyActive, start_execution
    from switchboard.callbacks.studio.runtime import rest_client
    from switchboard.cli.outbound import _refuse_opted_out, _store

    store = _store()
    _refuse_opted_out(store, to, from_, "starting the flow")
    settings = app.extensions["switchboard"].settings
    sends = SendFailures(rest_client)
    try:
        execution = start_execution(store, flow, to=to, from_=from_, parameters=parameters,
                                    settings=settings, flows=flows, client_factory=sends)
    except AlreadyActive:
        raise click.ClickException(f"{to} has an active execution of flow {flow.name} "
                                   "already; it must end before another starts") from None
    except StoreUnavailable as error:
        raise click.ClickException(f"the execution was not started: {flat(error)}") from None
    click.echo(json.dumps(execution.as_resource(), indent=2, default=_iso,
                          ensure_ascii=False))
    if sends.reasons:  # the execution stands, as the flow left it: its JSON is printed first
        raise click.ClickException(f"execution {execution.sid}: not sent: {sends.reasons[0]}")


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _start_all(app: Flask, flow: Flow, flows: dict[str, Flow], contacts: Contacts, *,
               from_: str, parameters: dict[str, Any], rate: float,
               campaign: str | None) -> None:
    from switchboard.callbacks.store import StoreUnavailable
    from switchboard.callbacks.studio.campaigns import (
        campaign_id,
        contacts_counted,
        run_campaign,
    )
    from switchboard.cli.outbound import _store

    store = _store()
    settings = app.extensions["switchboard"].settings
    name = campaign or campaign_id(flow, contacts)
    count = len(contacts.rows)
    click.echo(f"campaign {name}: {contacts_counted(count)} at {rate:g} a second at most; "
               "Ctrl-C stops it, and the same command goes on from there", err=True)
    with _interruptible() as stopping, click.progressbar(
        length=count, label=f"flow {flow.name}", file=sys.stderr, show_pos=True,
        show_eta=True,
    ) as bar:
        try:
            summary = run_campaign(
                store, flow, contacts.rows, campaign=name, from_=from_, settings=settings,
                parameters=parameters, flows=flows, rate=rate,
                progress=lambda _contact: bar.update(1), stopping=stopping.is_set,
            )
        except StoreUnavailable as error:
            raise click.ClickException(
                f"stopped: {flat(error)}; run the same command again once the database is "
                "back: it goes on where this one stopped") from None
    _report(summary)


@contextlib.contextmanager
def _interruptible() -> Iterator[threading.Event]:
    """An event set by the first Ctrl-C (the run stops after the contact in hand); a second
    one interrupts at once."""
    stopping = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return

    def interrupt(signum: int, frame: Any) -> None:
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield stopping
    finally:
        signal.signal(signal.SIGINT, previous)


def _report(summary: Summary) -> None:
    from switchboard.callbacks.studio.campaigns import contacts_counted

    shown = summary.failures[:FAILURES_SHOWN]
    for row, number, reason in shown:
        click.echo(f"row {row}: {number}: {reason}", err=True)
    if len(summary.failures) > len(shown):
        click.echo(f"... and {len(summary.failures) - len(shown)} more failed rows", err=True)
    pace = ""
    if summary.started > 1 and summary.seconds > 0:
        pace = f" in {summary.seconds:.1f} s ({summary.started / summary.seconds:.1f} a second)"
    click.echo(summary.line() + pace)
    if summary.interrupted:
        exception = click.ClickException(
            f"interrupted after {summary.done} of {summary.total} contacts; run the same "
            "command again to go on")
        exception.exit_code = 130
        raise exception
    if summary.failed:
        raise click.ClickException(f"{contacts_counted(summary.failed)} got no execution; "
                                   "run the same command again to try them again")
