"""Twilio's retries of a webhook across hosts: two apps of one deployment on one database,
each served on 127.0.0.1, reached at one public URL, posting signed webhooks with an
``I-Twilio-Idempotency-Token`` of the test's choosing."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import requests

from switchboard.callbacks.security import signed_headers
from tests.server.conftest import TOKEN

TOKEN_HEADER = "I-Twilio-Idempotency-Token"
#: Both hosts are reached at one public URL (a load balancer before them): their TwiML is alike.
PUBLIC_URL = "https://switchboard.example.com"


class Hosts:
    """Two hosts of one deployment, on one database, reached over HTTP; ``store`` is the
    first host's."""

    def __init__(self, first: str, second: str, store: Any = None) -> None:
        self.bases = (first, second)
        self.store = store

    def post(self, host: int, path: str, params: dict[str, str], token: str | None
             ) -> requests.Response:
        """``params`` signed for ``path`` at the public URL, posted to host 0 or 1 with the
        idempotency ``token`` (None: no header); answered 200."""
        headers = dict(signed_headers(TOKEN, PUBLIC_URL + path, params))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if token is not None:
            headers[TOKEN_HEADER] = token
        response = requests.post(self.bases[host] + path, data=urlencode(params), timeout=10,
                                 headers=headers)
        assert response.status_code == 200, response.text
        return response


def new_caller() -> str:
    """A number no other test of the run calls from."""
    return "+1555" + str(uuid.uuid4().int)[:7]


def new_token() -> str:
    """A new ``I-Twilio-Idempotency-Token``."""
    return str(uuid.uuid4())
