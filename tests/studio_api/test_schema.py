"""Every operation of Twilio's description of Studio v2 answers here as described: a walk
through all of them (each answer is checked by the ``house`` fixture against the schemas of
``tests/data/twilio_studio_v2_facts.json``), and none is left out."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.studio_api import schema
from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, REMINDER, House, flow_body


def test_every_operation_answers_as_described(house: House) -> None:
    created = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()
    sid = created["sid"]
    house.number(created["webhook_url"])
    house.raw("GET", "/v2/Flows")
    house.raw("GET", f"/v2/Flows/{sid}")
    house.raw("POST", f"/v2/Flows/{sid}", data={"Status": "published", "CommitMessage": "2"})
    house.raw("GET", f"/v2/Flows/{sid}/Revisions")
    house.raw("GET", f"/v2/Flows/{sid}/Revisions/2")
    house.raw("POST", "/v2/Flows/Validate", data=flow_body("Reminder", REMINDER))
    house.raw("POST", f"/v2/Flows/{sid}/TestUsers", data={"TestUsers": [CONTACT]})
    house.raw("GET", f"/v2/Flows/{sid}/TestUsers")

    runs = f"/v2/Flows/{sid}/Executions"
    execution = house.raw("POST", runs, data={
        "To": CONTACT, "From": FLOW_NUMBER, "Parameters": '{"name": "Ada"}'}).json()["sid"]
    house.raw("GET", runs)
    house.raw("GET", f"{runs}/{execution}")
    house.raw("GET", f"{runs}/{execution}/Context")
    steps = house.raw("GET", f"{runs}/{execution}/Steps").json()["steps"]
    house.raw("GET", f"{runs}/{execution}/Steps/{steps[0]['sid']}")
    house.raw("GET", f"{runs}/{execution}/Steps/{steps[0]['sid']}/Context")
    house.raw("POST", f"{runs}/{execution}", data={"Status": "ended"})
    house.raw("DELETE", f"{runs}/{execution}")
    house.raw("DELETE", f"/v2/Flows/{sid}")

    answered = {(method.lower(), schema.operation_of(urlsplit(url).path))
                for method, url, status, _ in house.http.answers if status < 400}
    described = {(method, path) for path, operations in schema.facts()["paths"].items()
                 for method in operations}
    assert described - answered == set()
    assert house.http.problems() == []
