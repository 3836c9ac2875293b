"""Flows from files: the flows folder holds ``NAME.json`` files, each a Studio flow definition
exactly as Studio exports it; the flow's name is the file's stem and its URL ``/flows/NAME``.

:func:`load_flows` loads a whole folder or refuses it with a :class:`~.definition.FlowError`
listing every problem of every file, one line each; :func:`check_files` answers the same
problems without raising, for ``switchboard flows check``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from switchboard.callbacks.studio.check import check_definition, check_flow_name
from switchboard.callbacks.studio.definition import Flow, FlowError, Problem

FLOWS_DIR_VARIABLE = "SWITCHBOARD_FLOWS_DIR"
DEFAULT_FLOWS_DIR = Path("flows")
"""The flows folder when ``SWITCHBOARD_FLOWS_DIR`` is not set: ``flows/`` in the working
folder, when there is one."""


def flows_dir(configured: str | None = None) -> Path | None:
    """The flows folder: the one configured (the ``flows_dir`` setting,
    ``SWITCHBOARD_FLOWS_DIR``) when there is one, else ``flows/`` of the working folder when
    it is a folder, else None (no flows)."""
    if configured:
        return Path(configured).expanduser()
    return DEFAULT_FLOWS_DIR if DEFAULT_FLOWS_DIR.is_dir() else None


@dataclass
class Report:
    """What checking some flow files found: the flows that passed (by name) and every
    problem, errors and warnings, file by file."""

    flows: dict[str, Flow] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if not problem.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.warning]


def flow_files(folder: Path) -> list[Path]:
    """The folder's ``*.json`` files, sorted by name (sub-folders are not searched)."""
    return sorted(path for path in folder.glob("*.json") if path.is_file())


def read_flow(path: Path, name: str | None = None) -> tuple[Flow | None, list[Problem]]:
    """The flow in ``path`` (named ``name``, by default the file's stem) and its problems;
    no flow when there is an error."""
    source = str(path)
    name = path.stem if name is None else name
    problems = check_flow_name(name, source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return None, [*problems, Problem(source, "not UTF-8 text; save the file as UTF-8")]
    except OSError as error:
        return None, [*problems, Problem(source, f"cannot be read: {error.strerror}")]
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [*problems, Problem(
            source, f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}")]
    except RecursionError:
        return None, [*problems, Problem(
            source, "invalid JSON: nested too deeply for a flow definition")]
    except ValueError:
        return None, [*problems, Problem(
            source, "invalid JSON: a number with too many digits to read")]
    problems += check_definition(definition, source)
    if any(not problem.warning for problem in problems):
        return None, problems
    return Flow(name=name, definition=definition, source=source), problems


def check_files(paths: Iterable[Path]) -> Report:
    """Every problem of the flow files ``paths``, each file once; a folder among them stands
    for its ``*.json`` files. Two files with the same stem are one problem (one URL, two
    flows)."""
    report = Report()
    seen: dict[str, Path] = {}
    files: set[Path] = set()
    for given in paths:
        for path in flow_files(given) if given.is_dir() else [given]:
            if path.resolve() in files:
                continue
            files.add(path.resolve())
            report.files += 1
            flow, problems = read_flow(path)
            report.problems += problems
            if path.stem in seen:
                report.problems.append(Problem(
                    str(path), f"a second flow named {path.stem!r} (the first is "
                    f"{seen[path.stem]}); flow names must be unique"))
                continue
            seen[path.stem] = path
            if flow is not None:
                report.flows[flow.name] = flow
    return report


def check_folder(folder: Path) -> Report:
    """:func:`check_files` for the folder's ``NAME.json`` files; a folder that is not there
    is one problem."""
    if not folder.is_dir():
        report = Report()
        report.problems.append(Problem(
            str(folder), "no such folder; set SWITCHBOARD_FLOWS_DIR to the folder of your "
            "flows' NAME.json files"))
        return report
    return check_files([folder])


def load_flows(folder: Path, *, warn: Callable[[Problem], object] | None = None
               ) -> dict[str, Flow]:
    """The flows of ``folder``, by name; :class:`FlowError` listing every error of every file
    if any. Warnings go to ``warn`` (a logger's ``warning``, say) when given."""
    report = check_folder(folder)
    if report.errors:
        raise FlowError(report.errors)
    if warn is not None:
        for problem in report.warnings:
            warn(problem)
    return report.flows


def load_flow(path: Path, name: str | None = None) -> Flow:
    """The one flow in ``path`` (named ``name``, by default the file's stem), or
    :class:`FlowError` with its problems."""
    flow, problems = read_flow(path, name)
    if flow is None:
        raise FlowError([problem for problem in problems if not problem.warning])
    return flow
