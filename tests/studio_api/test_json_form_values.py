"""The JSON the API takes in a form value (an execution's ``Parameters``, a flow's
``Definition``): an integer of more digits than Python reads (4,300) is a 400 in Twilio's error
shape saying so, and one of 4,300 digits is taken."""

from __future__ import annotations

import sys

import pytest

from switchboard.callbacks.studio import executions as store
from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, REMINDER, House, flow_body

LIMIT = sys.get_int_max_str_digits()


def refused(name: str) -> dict[str, object]:
    return {"code": 20001, "status": 400,
            "message": f"{name} holds a number too long to read (more than {LIMIT} digits); "
                       "send it as a string",
            "more_info": "https://www.twilio.com/docs/errors/20001"}


@pytest.mark.parametrize("sign", ["", "-"])
def test_parameters_with_a_number_too_long_to_read_are_refused(house: House,
                                                                sign: str) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    path = f"/v2/Flows/{flow}/Executions"
    answer = house.raw("POST", path, data={
        "To": CONTACT, "From": FLOW_NUMBER,
        "Parameters": f'{{"order": {{"id": {sign}{"7" * (LIMIT + 1)}}}}}'})
    assert (answer.status_code, answer.json()) == (400, refused("Parameters"))
    assert store.list_executions(house.stack.store) == []

    longest = house.raw("POST", path, data={"To": CONTACT, "From": FLOW_NUMBER,
                                            "Parameters": f'{{"id": {sign}{"7" * LIMIT}}}'})
    assert longest.status_code == 201
    assert longest.json()["context"]["flow"]["data"] == {"id": int(sign + "7" * LIMIT)}


def test_a_definition_with_a_number_too_long_to_read_is_refused(house: House) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    definition = (f'{{"description": "x", "initial_state": "Trigger", "states": [], '
                  f'"flags": {{"allow_concurrent_calls": true}}, "n": {"1" * (LIMIT + 1)}}}')
    for path in ("/v2/Flows", "/v2/Flows/Validate", f"/v2/Flows/{flow}"):
        answer = house.raw("POST", path, data={**flow_body("x", REMINDER, status="draft"),
                                               "Definition": definition})
        assert (answer.status_code, answer.json()) == (400, refused("Definition")), path
    assert house.studio.studio.v2.flows(flow).fetch().revision == 1
