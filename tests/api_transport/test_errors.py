"""Each way a request can fail, and how it reads; every exception the client raises is a
:class:`TwilioError`."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import switchboard.api
from switchboard.api import (
    ProvisioningError,
    ResourceNotFound,
    RetiredResource,
    TwilioClient,
    TwilioConnectionError,
    TwilioError,
    TwilioHTTPError,
    TwilioInvalidResponse,
    TwilioTimeout,
    ValidationError,
    retry_policy,
)
from tests.api_transport.conftest import ACCOUNT_SID, AUTH_TOKEN, StubServer
from tests.conftest import free_port

CALL_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/CA{'1' * 32}.json"


def test_twilio_error_body(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(
        404,
        {
            "code": 20404,
            "message": "The requested resource was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404,
        },
        headers={"Twilio-Request-Id": "RQ123"},
    )
    with pytest.raises(TwilioHTTPError) as info:
        client.request("GET", CALL_PATH)
    err = info.value
    assert (err.status, err.code, err.method) == (404, 20404, "GET")
    assert err.message == "The requested resource was not found"
    assert err.more_info == "https://www.twilio.com/docs/errors/20404"
    assert err.url == stub.url + CALL_PATH
    assert err.request_id == "RQ123"
    assert str(err) == (
        f"HTTP 404 from GET {CALL_PATH}: The requested resource was not found "
        "(Twilio error 20404, https://www.twilio.com/docs/errors/20404)"
    )
    assert isinstance(err, TwilioError)


def test_error_without_a_twilio_body_uses_the_reason(
    client: TwilioClient, stub: StubServer
) -> None:
    stub.reply(400, {"status": 400})
    with pytest.raises(TwilioHTTPError) as info:
        client.request("POST", "/2010-04-01/x.json", data={"A": "b"})
    assert info.value.code is None
    assert str(info.value) == "HTTP 400 from POST /2010-04-01/x.json: Bad Request"


def test_non_json_error_body(client: TwilioClient, stub: StubServer) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>" + b" " * 5000
    stub.reply(502, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    stub.reply(502, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    stub.reply(502, body=page, headers={"Content-Type": "text/html; charset=utf-8"})
    with pytest.raises(TwilioInvalidResponse) as info:
        client.request("GET", "/2010-04-01/x.json")
    err = info.value
    assert err.status == 502
    assert isinstance(err, TwilioHTTPError)
    assert err.snippet.startswith("<html><body><h1>502 Bad Gateway</h1> <p>nginx</p>")
    assert len(err.snippet) <= 200
    text = str(err)
    assert text.startswith("HTTP 502 from GET /2010-04-01/x.json: the body is not JSON (text/html,")
    assert len(text) < 400


def test_non_json_success_body(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(200, body=b"<Response/>", headers={"Content-Type": "application/xml"})
    with pytest.raises(TwilioInvalidResponse, match=r"not JSON \(application/xml, 11 bytes\)"):
        client.request("GET", "/2010-04-01/x.json")


def test_read_timeout(stub: StubServer) -> None:
    stub.reply(200, {}, delay=5)
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(1, 0.2), retries=0) as c,
        pytest.raises(TwilioTimeout) as info,
    ):
        c.request("POST", "/2010-04-01/x.json", data={"A": "1"})
    assert info.value.phase == "read"
    assert str(info.value).startswith(
        "timed out after 0.2 s waiting for the answer to POST /2010-04-01/x.json from 127.0.0.1:"
    )


def test_read_timeout_after_retries_is_still_a_timeout(stub: StubServer) -> None:
    for _ in range(3):
        stub.reply(200, {}, delay=5)
    retries = retry_policy(1, backoff_factor=0, backoff_jitter=0)
    with (
        TwilioClient(
            ACCOUNT_SID, AUTH_TOKEN, base_url=stub.url, timeout=(1, 0.1), retries=retries
        ) as c,
        pytest.raises(TwilioTimeout),
    ):
        c.request("GET", "/2010-04-01/x.json")
    assert len(stub.received) == 2


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=url, retries=0) as c,
        pytest.raises(TwilioConnectionError) as info,
    ):
        c.request("GET", "/2010-04-01/x.json")
    err = info.value
    assert err.host == url.removeprefix("http://")
    assert str(err) == (
        f"could not reach {err.host} for GET /2010-04-01/x.json: Connection refused"
    )


def test_dropped_connection(client: TwilioClient, stub: StubServer) -> None:
    stub.reply(drop=True)
    with pytest.raises(TwilioConnectionError, match="RemoteDisconnected"):
        client.request("POST", "/2010-04-01/x.json", data={"A": "1"})


def test_validation_error_is_a_value_error_and_a_twilio_error() -> None:
    err = ValidationError("to", "'+1' is not an E.164 number")
    assert isinstance(err, ValueError)
    assert isinstance(err, TwilioError)
    assert str(err) == "to: '+1' is not an E.164 number"
    assert err.argument == "to"


def test_errors_survive_pickling() -> None:
    import pickle

    errors = [
        TwilioHTTPError(404, 20404, "Not found", "https://x", "GET", "https://h/2010-04-01/a.json"),
        TwilioInvalidResponse(
            502, "GET", "https://h/a.json", body=b"<html>", content_type="text/html"
        ),
        TwilioTimeout("POST", "https://h/a.json", phase="read", seconds=30.0),
        TwilioConnectionError("POST", "https://h/a.json", reason="Connection refused"),
        ValidationError("to", "'+1' is not an E.164 number"),
    ]
    for err in errors:
        copy = pickle.loads(pickle.dumps(err))  # noqa: S301 (our own bytes)
        assert type(copy) is type(err)
        assert str(copy) == str(err)
        assert vars(copy) == vars(err)


def test_urls_in_errors_lose_any_user_info() -> None:
    err = TwilioHTTPError(401, 20003, "Authenticate", None, "GET", "https://AC1:tok@h/a.json")
    assert err.url == "https://h/a.json"
    assert "tok" not in repr(err)


# -- every exception under one base class -------------------------------------------------------

#: What ``switchboard.api`` raises that is not a TwilioError, and why: programming errors
#: Python itself would answer with, the settings layer's own error, and the transport's
#: internal one. Anything else raised or defined must be a TwilioError.
NOT_TWILIO_ERRORS = {
    ("switchboard.api", "AttributeError"): "a name the package does not have (module __getattr__)",
    ("switchboard.api.client", "ConfigError"):
        "from_settings: a setting is missing or wrong, as load_settings itself says",
    ("switchboard.api.connections", "requests.ConnectionError"):
        "inside the transport adapter; the client turns it into TwilioConnectionError",
    ("switchboard.api.operations", "TypeError"): "an unknown keyword argument",
    ("switchboard.api.operations", "ValueError"): "an attribute of unknown kind in the table",
    ("switchboard.api.resources.base", "TypeError"): "an unknown keyword argument",
    ("switchboard.api.retry", "ValueError"):
        "retry_policy(-1); TwilioClient(retries=-1) raises ValidationError",
}


def _api_modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(switchboard.api.__path__,
                                                         "switchboard.api.")]
    return [switchboard.api, *(importlib.import_module(name) for name in names)]


def _resolve(module: ModuleType, tree: ast.Module, dotted: str) -> object:
    """What the name ``dotted`` means in ``module``: a global, a builtin, or a name a function
    imports for itself; None for a local variable (a caught exception raised again)."""
    first, *rest = dotted.split(".")
    found = vars(module).get(first, getattr(builtins, first, None))
    if found is None:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if (alias.asname or alias.name) == first:
                        found = getattr(importlib.import_module(node.module), alias.name)
    for part in rest:
        found = getattr(found, part, None)
    return found


def _raised(module: ModuleType) -> list[tuple[str, object]]:
    """Every ``raise X(...)`` / ``raise f(...)`` of ``module``: the expression and what it is."""
    tree = ast.parse(inspect.getsource(module))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name | ast.Attribute):
                name = ast.unparse(target)
                found.append((name, _resolve(module, tree, name)))
    return found


def test_every_exception_defined_in_the_client_is_a_twilio_error() -> None:
    defined = [
        value
        for module in _api_modules()
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    ]
    assert ProvisioningError in defined
    assert ResourceNotFound in defined
    assert [cls for cls in defined if not issubclass(cls, TwilioError)] == []


def test_every_exception_the_client_raises_is_a_twilio_error() -> None:
    wrong = []
    checked = 0
    for module in _api_modules():
        for name, value in _raised(module):
            if isinstance(value, type):
                raised = value
            elif callable(value):  # raise retired(...): what the function returns
                raised = inspect.get_annotations(value, eval_str=True).get("return")
            else:
                continue
            checked += 1
            if (module.__name__, name) in NOT_TWILIO_ERRORS:
                continue
            if not (isinstance(raised, type) and issubclass(raised, TwilioError)):
                wrong.append(f"{module.__name__}: raise {name}")
    assert checked > 50
    assert wrong == []


def test_the_errors_moved_into_errors_keep_their_old_homes_and_bases() -> None:
    from switchboard.api import errors, provisioning
    from switchboard.api.resources import ResourceNotFound as from_resources
    from switchboard.api.resources import base

    assert provisioning.ProvisioningError is errors.ProvisioningError is ProvisioningError
    assert base.ResourceNotFound is from_resources is errors.ResourceNotFound is ResourceNotFound
    assert base.RetiredResource is errors.RetiredResource is RetiredResource
    assert issubclass(ResourceNotFound, LookupError)
    assert issubclass(RetiredResource, TwilioHTTPError)
    for name in ("ProvisioningError", "ResourceNotFound", "RetiredResource"):
        assert name in switchboard.api.__all__
        assert name in errors.__all__


def test_a_number_the_account_does_not_have_is_a_twilio_error_and_a_lookup_error() -> None:
    error = ResourceNotFound("+14155550199 is not one of this account's numbers")
    with pytest.raises(TwilioError):
        raise error
    with pytest.raises(LookupError):
        raise error
