"""``start_execution(..., parameters=...)`` from Python: parameters an execution cannot carry
are refused with :class:`ParametersError` (a ``ValueError``, one line saying what and where)
before anything is written or sent, as the REST API refuses its ``Parameters``; a mapping of
JSON's values starts the flow with them (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from switchboard.callbacks.studio import executions
from switchboard.callbacks.studio.outbound import ParametersError, start_execution
from switchboard.config import Settings
from tests.studio_timers import NUMBER, FakeTwilio, ask_flow, contact

SETTINGS = Settings(account_sid="AC" + "1" * 32, handler_timeout=3.0)


def nested(depth: int) -> dict[str, Any]:
    """A dict ``depth`` levels deep: ``{"a": {"a": ... 1}}``."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return dict(value)


def start(store: Any, twilio: FakeTwilio, to: str, parameters: Any) -> executions.Execution:
    return start_execution(store, ask_flow(), to=to, from_=NUMBER, parameters=parameters,
                           settings=SETTINGS, client_factory=twilio.factory)


@pytest.mark.parametrize(("parameters", "message"), [
    (["Ada"], 'parameters must be a JSON object, as {"name": "Zeke"}, not an array'),
    ("Ada", 'parameters must be a JSON object, as {"name": "Zeke"}, not a string'),
    (nested(65), "parameters nests more than 64 levels deep (at a.a.a.a"),
    ({"order": {"lines": [1, 2, math.inf]}},
     "parameters holds a number too large for JSON at order.lines[2]; send a finite number, "
     "or its digits as a string"),
    ({"ratio": math.nan}, "parameters holds NaN at ratio, which JSON has not; send a number "
                          "or null"),
    ({"id": 10 ** 5000}, "parameters holds a number of more than 4300 digits at id; send its "
                         "digits as a string"),
    ({"names": ["Ada", "\ud800"]},
     "parameters holds a lone UTF-16 surrogate at names[1]; send text as UTF-8, or escape it "
     "as a surrogate pair"),
    ({"who": {"\udc00": 1}}, "parameters holds a name with a lone UTF-16 surrogate (in who)"),
    ({"customer": {7: "Ada"}},
     "parameters holds a name that is not text (a number, in customer); name every value "
     "with a string"),
    ({"when": datetime(2024, 5, 1, tzinfo=UTC)},
     "parameters holds a datetime at when, which is not JSON; send text, numbers, true or "
     "false, null, arrays (lists) and objects (dicts)"),
])
def test_parameters_an_execution_cannot_carry_are_refused_before_anything_starts(
        store: Any, parameters: Any, message: str) -> None:
    twilio, to = FakeTwilio(), contact()
    with pytest.raises(ParametersError) as caught:
        start(store, twilio, to, parameters)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert [e for e in executions.list_executions(store) if e.contact_channel_address == to] == []
    assert twilio.sent == []


def test_a_mapping_of_json_values_as_deep_as_allowed_starts_and_one_level_more_does_not(
        store: Any) -> None:
    twilio, to = FakeTwilio(), contact()
    parameters = MappingProxyType({"name": "Ada", "deep": nested(63), "pair": "\U0001f600",
                                   "items": (1, 2.5, None, True)})
    execution = start(store, twilio, to, parameters)
    assert twilio.to(to) == ["Hello Ada, reply YES."]
    (stored,) = [e for e in executions.list_executions(store) if e.contact_channel_address == to]
    assert stored.sid == execution.sid
    assert stored.context["flow"]["data"] == {"name": "Ada", "deep": nested(63),
                                              "pair": "\U0001f600", "items": [1, 2.5, None, True]}

    deeper, other = FakeTwilio(), contact()
    with pytest.raises(ParametersError, match=r"^parameters nests more than 64 levels deep"):
        start(store, deeper, other, {**parameters, "deep": nested(64)})
    assert deeper.sent == []
