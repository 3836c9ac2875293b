"""The parameters an execution starts with (``flow.data``, Studio's ``Parameters``): a JSON
object every later step can carry. :func:`check_parameters` is the one check, for the REST
API's ``Parameters`` and for :func:`~switchboard.callbacks.studio.outbound.start_execution`'s
``parameters`` alike: an object, at most :data:`PARAMETERS_DEPTH` levels deep, of JSON's own
values (objects named by strings, arrays, text, numbers, booleans and null: in Python dicts,
lists or tuples, ``str``, ``int``, ``float``, ``bool`` and None; no ``1e400``, no ``NaN``, no
integer too long to write out), and text with no lone UTF-16 surrogate (``"\\ud800"``), which
no message or call could carry either.

:func:`read_json` reads JSON that comes from outside into an execution's context (a web
service's answer, a value Set Variables parses) so that the context only ever holds what JSON
can write back: no ``NaN``, ``Infinity`` or ``-Infinity``."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["PARAMETERS_DEPTH", "SURROGATE", "ParametersError", "check_parameters", "read_json"]

#: How deep the parameters may nest. The execution's context holds them a few levels further
#: down, and a client's JSON decoder gives up near a thousand levels (Python's does).
PARAMETERS_DEPTH = 64
#: A UTF-16 surrogate a ``\uD800`` escape left without its pair: no text, in any encoding.
SURROGATE = re.compile(r"[\ud800-\udfff]")
#: An integer of fewer bits than this has fewer decimal digits than any limit Python sets
#: (``sys.set_int_max_str_digits`` takes 640 at least).
_SHORT_INT_BITS = 2000


class ParametersError(ValueError):
    """Parameters an execution cannot start with: ``str()`` is one line naming them
    (``name``) and saying what is wrong, where, and what to send instead (``problem``)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


def check_parameters(parameters: Any, *, name: str = "parameters") -> dict[str, Any]:
    """``parameters`` as a new ``dict``, checked; :class:`ParametersError` (its message
    starting with ``name``) for anything but a mapping, or one holding what JSON cannot carry
    (see the module's text). Only the top level is copied."""
    if not isinstance(parameters, Mapping):
        raise ParametersError(name, 'must be a JSON object, as {"name": "Zeke"}, not '
                                    f"{_json_kind(parameters)}")
    data = dict(parameters)
    problem = _problem(data)
    if problem is not None:
        raise ParametersError(name, problem)
    return data


def read_json(text: str | bytes) -> Any:
    """``text`` decoded as JSON, as Studio's JavaScript reads it (``JSON.parse``): ``NaN``,
    ``Infinity`` and ``-Infinity``, which Python's decoder takes but JSON has not, raise
    :class:`ValueError`, as does a number past a double's range (``1e400``, which ``JSON.parse``
    reads as ``Infinity``), text that is not JSON (:class:`json.JSONDecodeError`) and an
    integer of more digits than Python reads. :class:`RecursionError` for nesting deeper than
    the decoder follows."""
    return json.loads(text, parse_constant=_not_json, parse_float=_finite)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _finite(digits: str) -> float:
    number = float(digits)
    if math.isinf(number):
        raise ValueError(f"{digits[:40]} is too large for a JSON number")
    return number


def _json_kind(value: Any) -> str:
    kinds = ((bool, "a boolean"), (int | float, "a number"), (str, "a string"),
             (list | tuple, "an array"), (type(None), "null"))
    return next((kind for cls, kind in kinds if isinstance(value, cls)),
                f"a {type(value).__name__}")


def _problem(parameters: dict[str, Any]) -> str | None:
    """What is wrong with ``parameters``, found without recursion; None when nothing is."""
    # each value with its depth and trail: its label and its parent's trail, up to the top
    pending: list[tuple[Any, int, tuple[str, Any] | None]] = [(parameters, 1, None)]
    while pending:
        value, depth, trail = pending.pop()
        if isinstance(value, dict | list | tuple) and depth > PARAMETERS_DEPTH:
            return (f"nests more than {PARAMETERS_DEPTH} levels deep (at {_path(trail)}); "
                    "send flatter data")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return (f"holds a name that is not text ({_json_kind(key)}, in "
                            f"{_path(trail)}); name every value with a string")
                if SURROGATE.search(key):
                    return (f"holds a name with a lone UTF-16 surrogate (in {_path(trail)}); "
                            "send text as UTF-8, or escape it as a surrogate pair")
                pending.append((item, depth + 1, (f".{key}", trail)))
        elif isinstance(value, list | tuple):
            pending.extend((item, depth + 1, (f"[{index}]", trail))
                           for index, item in enumerate(value))
        elif isinstance(value, str):
            if SURROGATE.search(value):
                return (f"holds a lone UTF-16 surrogate at {_path(trail)}; send text as "
                        "UTF-8, or escape it as a surrogate pair")
        elif isinstance(value, float):
            if math.isnan(value):
                return f"holds NaN at {_path(trail)}, which JSON has not; send a number or null"
            if math.isinf(value):
                return (f"holds a number too large for JSON at {_path(trail)}; send a finite "
                        "number, or its digits as a string")
        elif isinstance(value, int):
            if value.bit_length() > _SHORT_INT_BITS and _too_long(value):
                return (f"holds a number of more than {sys.get_int_max_str_digits()} digits "
                        f"at {_path(trail)}; send its digits as a string")
        elif value is not None:
            return (f"holds {_json_kind(value)} at {_path(trail)}, which is not JSON; send "
                    "text, numbers, true or false, null, arrays (lists) and objects (dicts)")
    return None


def _too_long(number: int) -> bool:
    """Whether ``number`` has more digits than Python writes out (and so JSON could hold)."""
    try:
        str(number)
    except ValueError:
        return True
    return False


def _path(trail: tuple[str, Any] | None, limit: int = 80) -> str:
    """``customer.phones[0]`` for the labels of ``trail``: its first ``limit`` characters, a
    character that does not print (a line break in a name) as ``?``."""
    labels: list[str] = []
    while trail is not None:
        label, trail = trail
        labels.append(label)
    path = "".join(reversed(labels)).removeprefix(".")
    if not path:
        return "the top level"
    shown = "".join(char if char.isprintable() else "?" for char in path[:limit])
    return shown if len(path) <= limit else shown + "..."
