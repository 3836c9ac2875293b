"""``switchboard flows check|list|show``: the Studio flows of the flows folder, offline.

The flows folder is ``SWITCHBOARD_FLOWS_DIR``, else ``flows/`` in the working folder.
``check`` exits 1 when a flow has a problem (one line each, on stderr), ``list`` and ``show``
when the flows they read cannot be loaded; a bad argument is one line and exit status 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from switchboard.cli.common import CommandGroup, OneLineError

if TYPE_CHECKING:
    from switchboard.callbacks.studio.definition import Flow, FlowError, Problem

FLOWS_DIR_VARIABLE = "SWITCHBOARD_FLOWS_DIR"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _folder() -> Path:
    from switchboard.callbacks.studio.loader import flows_dir
    from switchboard.config import ConfigError, load_settings

    try:
        folder = flows_dir(load_settings().flows_dir)
    except ConfigError as error:
        raise OneLineError(str(error)) from None
    if folder is None:
        raise OneLineError(
            f"no flows folder: set {FLOWS_DIR_VARIABLE} or create flows/ in the working "
            "folder, with one NAME.json file per flow")
    if not folder.is_dir():
        raise OneLineError(f"{FLOWS_DIR_VARIABLE}: {str(folder)!r} is not a folder")
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
    """Check, list and show the Studio flows of the flows folder (SWITCHBOARD_FLOWS_DIR,
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
