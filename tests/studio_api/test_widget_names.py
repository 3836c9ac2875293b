"""The Studio API takes a flow whose widgets have names that are no URL segment
(``menu/main``, ``100% sure``), and refuses one whose widget's name holds a NUL, which no
URL Twilio comes back by and no database text carries, as it refuses any broken definition
(``81022``, one line naming the state and the property)."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.studio_api.conftest import FLOW_NUMBER, House, definition, trigger, widget


def greeting(name: str) -> dict[str, object]:
    return definition(trigger(request_to=name),
                      widget(name, "send-message", {"body": "Hi", "from": FLOW_NUMBER,
                                                    "to": "{{contact.channel.address}}"},
                             sent=None, failed=None))


def test_names_that_are_no_url_segment_are_taken(house: House) -> None:
    flows = house.studio.studio.v2.flows
    for name in ("menu/main", "100% sure", ".."):
        created = flows.create(friendly_name=name, status="published",
                               definition=greeting(name))
        assert (created.valid, created.errors) == (True, [])


def test_a_name_holding_a_nul_is_refused(house: House) -> None:
    flows = house.studio.studio.v2.flows
    with pytest.raises(TwilioRestException) as raised:
        flows.create(friendly_name="Nul", status="published",
                     definition=greeting("hello\x00there"))
    assert (raised.value.status, raised.value.code) == (400, 81022)
    assert raised.value.msg.endswith(
        "Invalid Flow Definition: definition: state 'hello\\x00there': property 'name': holds "
        "a NUL character (\\u0000), which neither the URLs Twilio comes back to a widget by "
        "nor the database can carry; rename the widget")
