"""Twilio's error answers for what is not there: a 404 names the resource by its path below
``/v2``, as Twilio's product APIs do; a revision that is not one is Twilio's 81021 whatever its
characters, and a revision number no flow reaches is a 404 (never a server error); ``OPTIONS``
and a 405 say the path's methods in ``Allow``, whatever the method (``TRACE`` and made-up ones
included); a 204 has no ``Content-Type``."""

from __future__ import annotations

import requests

from tests.studio_api.conftest import CONTACT, FLOW_NUMBER, REMINDER, House, flow_body

UNKNOWN_FLOW = "FW" + "0" * 32


def test_a_404_names_the_resource_below_v2(house: House) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    execution = house.raw("POST", f"/v2/Flows/{flow}/Executions",
                          data={"To": CONTACT, "From": FLOW_NUMBER}).json()["sid"]
    for path in (f"/Flows/{UNKNOWN_FLOW}",
                 f"/Flows/{flow}/Executions/FN{'0' * 32}",
                 f"/Flows/{flow}/Executions/{execution}/Steps/FT{'0' * 32}/Context",
                 "/Elsewhere"):
        answer = house.raw("GET", "/v2" + path).json()
        assert answer == {"code": 20404, "status": 404,
                          "message": f"The requested resource {path} was not found",
                          "more_info": "https://www.twilio.com/docs/errors/20404"}


def test_a_revision_that_is_not_a_number_is_81021_and_one_past_any_flow_a_404(
        house: House) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    for revision in ("%C2%B2", "%D9%A3", "1.0", "-1"):  # superscript two, Arabic-Indic three
        answer = house.raw("GET", f"/v2/Flows/{flow}/Revisions/{revision}")
        assert (answer.status_code, answer.json()["code"]) == (400, 81021), revision
    for revision in ("0", "2", "99999999999", "9" * 400):
        answer = house.raw("GET", f"/v2/Flows/{flow}/Revisions/{revision}")
        assert (answer.status_code, answer.json()["code"]) == (404, 20404), revision


def test_options_and_a_405_say_the_methods_of_the_path(house: House) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    for path, allow in (("/v2/Flows", "GET, HEAD, POST, OPTIONS"),
                        (f"/v2/Flows/{flow}", "GET, HEAD, POST, DELETE, OPTIONS"),
                        (f"/v2/Flows/{flow}/Revisions", "GET, HEAD, OPTIONS"),
                        ("/v2/Flows/Validate", "POST, OPTIONS")):
        options = requests.options(house.url + path, auth=house.auth, timeout=20)
        assert (options.status_code, options.headers["Allow"]) == (204, allow), path
        refused = house.raw("PATCH", path)
        assert (refused.status_code, refused.headers["Allow"]) == (405, allow), path
    assert house.raw("PUT", "/v2/Flows/Validate").json()["message"] == (
        "Method PUT is not allowed on /Flows/Validate; it takes POST")
    assert requests.options(house.url + "/v2/Nowhere", auth=house.auth,
                            timeout=20).status_code == 404
    assert requests.options(house.url + "/v2/Flows", timeout=20).status_code == 401


def test_a_method_no_route_takes_is_twilios_405_with_allow(house: House) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    for method, path, allow in (("TRACE", "/v2/Flows", "GET, HEAD, POST, OPTIONS"),
                                ("FOO", "/v2/Flows", "GET, HEAD, POST, OPTIONS"),
                                ("TRACE", f"/v2/Flows/{flow}", "GET, HEAD, POST, DELETE, OPTIONS"),
                                ("PROPFIND", "/v2/Flows/Validate", "POST, OPTIONS")):
        refused = house.raw(method, path)
        assert (refused.status_code, refused.headers["Allow"]) == (405, allow), (method, path)
        assert refused.headers["Content-Type"] == "application/json"
        takes = allow.removesuffix(", OPTIONS").replace(", HEAD", "").replace(", ", " and ")
        assert refused.json() == {
            "code": 20004, "status": 405,
            "message": f"Method {method} is not allowed on {path.removeprefix('/v2')}; "
                       f"it takes {takes}",
            "more_info": "https://www.twilio.com/docs/errors/20004"}
    assert house.raw("TRACE", "/v2/Nowhere").json()["code"] == 20404
    anonymous = requests.request("TRACE", house.url + "/v2/Flows", timeout=20)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, 20003)
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'


def test_a_method_no_route_takes_outside_v2_is_left_to_the_app(house: House) -> None:
    answer = requests.request("TRACE", house.url + "/healthz", timeout=20)
    assert answer.status_code == 405
    assert "code" not in answer.text


def test_a_204_has_no_content_type(house: House) -> None:
    flow = house.raw("POST", "/v2/Flows", data=flow_body("Reminder", REMINDER)).json()["sid"]
    house.number(house.url + f"/flows/{flow}")
    execution = house.raw("POST", f"/v2/Flows/{flow}/Executions",
                          data={"To": CONTACT, "From": FLOW_NUMBER}).json()["sid"]
    answers = [requests.options(house.url + "/v2/Flows", auth=house.auth, timeout=20),
               house.raw("DELETE", f"/v2/Flows/{flow}/Executions/{execution}"),
               house.raw("DELETE", f"/v2/Flows/{flow}")]
    for answer in answers:
        assert answer.status_code == 204, answer.request.method
        assert "Content-Type" not in answer.headers, answer.request.method
        assert answer.content == b""
