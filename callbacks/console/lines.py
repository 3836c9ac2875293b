"""Lines the console writes from its own words and the values it shows: a call's timeline
titles, the line of each verb a webhook was answered with, an error page's message.

A :class:`Line` is text (a ``str``: compared, searched and sent as JSON as any other) that
keeps its parts apart: the console's own words, and each value from a request, the store or
an answer as a :class:`Value`. A page writes each value in an element of its own
(``<bdi>``), so that a bidi control in one (U+202E, right-to-left override, or an isolate
opener) reorders neither the console's words nor another value. Where no element can go (a
page's ``<title>``, a confirmation dialog) :func:`isolated_text` isolates a value with the
characters U+2068 and U+2069.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

#: The bidi classes of characters that turn text around them: right-to-left letters, Arabic
#: digits, the explicit embeddings, overrides and isolates, and the separators.
_TURNING = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI",
                      "PDI", "B", "S"})
#: Opens a right-to-left, left-to-right or first-strong isolate (U+2066 to U+2068).
_ISOLATE_OPENERS = frozenset("\u2066\u2067\u2068")
_FIRST_STRONG_ISOLATE = "\u2068"
_POP_DIRECTIONAL_ISOLATE = "\u2069"


class Value(str):
    """A value inside a :class:`Line`: a number, a status, what a caller said or typed, a
    URL; anything that is not the console's own words."""


class Line(str):
    """Text made of the console's words (plain ``str`` parts) and values (:class:`Value`
    parts), in :attr:`parts`. ``+`` and :meth:`join` keep the parts of a Line they are given,
    and take a plain ``str`` as the console's words."""

    parts: tuple[str, ...]

    def __new__(cls, *parts: str) -> Line:
        flat: list[str] = []
        for part in parts:
            if isinstance(part, Line):
                flat.extend(part.parts)
            elif part:
                flat.append(part)
        line = super().__new__(cls, "".join(flat))
        line.parts = tuple(flat)
        return line

    @classmethod
    def of(cls, template: str, *values: object) -> Line:
        """``template`` with each ``{}`` in it filled with the next of ``values``, each a
        :class:`Value` (a Line keeps its own parts): ``Line.of("Dialled {}: {}", to,
        status)``."""
        pieces = template.split("{}")
        if len(pieces) != len(values) + 1:
            raise ValueError(f"{template!r} has {len(pieces) - 1} places for {len(values)} values")
        parts: list[str] = [pieces[0]]
        for value, piece in zip(values, pieces[1:], strict=True):
            parts.append(value if isinstance(value, Line | Value) else Value(value))
            parts.append(piece)
        return cls(*parts)

    def __add__(self, other: str) -> Line:
        return Line(self, other)

    def __radd__(self, other: str) -> Line:
        return Line(other, self)

    def join(self, lines: Iterable[str]) -> Line:
        joined: list[str] = []
        for line in lines:
            if joined:
                joined.append(self)
            joined.append(line)
        return Line(*joined)


def plain(text: str) -> bool:
    """Whether ``text`` holds no right-to-left letter, no Arabic digit, no bidi control and
    no separator: then it reads the same in a left-to-right line isolated or not."""
    if text.isascii() and text.isprintable():
        return True
    return not any(unicodedata.bidirectional(char) in _TURNING for char in text)


def isolated_text(value: str) -> str:
    """``value`` as a run of its own in text where no element can go: between U+2068 (first
    strong isolate) and U+2069 (pop directional isolate), with the isolates it opens closed
    and a U+2069 that would close the one around it dropped; :func:`plain` text as it is."""
    if plain(value):
        return value
    kept: list[str] = []
    depth = 0
    for char in value:
        if char in _ISOLATE_OPENERS:
            depth += 1
        elif char == _POP_DIRECTIONAL_ISOLATE:
            if not depth:
                continue
            depth -= 1
        kept.append(char)
    closing = _POP_DIRECTIONAL_ISOLATE * (depth + 1)
    return f"{_FIRST_STRONG_ISOLATE}{''.join(kept)}{closing}"
