"""Figures the load and fault tests measure, printed at the end of the run by
``pytest_terminal_summary`` (tests/load/conftest.py), whatever ``-s`` says."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    test: str
    text: str


FIGURES: list[Figure] = []


def report(test: str, text: str) -> None:
    """Keep one line of figures for the summary."""
    FIGURES.append(Figure(test, text))


def markdown() -> str:
    lines = ["| test | figures |", "| --- | --- |"]
    lines += [f"| {f.test} | {f.text} |" for f in FIGURES]
    return "\n".join(lines) + "\n"
