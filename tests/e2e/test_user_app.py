"""Switchboard inside a user's own Flask project: README's handler example saved as ``myapp.py``
in a folder that also holds the user's own ``config.py``, ``api.py``, ``callbacks.py``,
``emulator.py`` and ``utils.py`` (the names every Flask project has), listed with
``flask --app myapp routes``, served with ``flask --app myapp run`` and sent signed webhooks.

The webhooks are signed by ``tests.twilio_signature``, written from Twilio's description, not
with Switchboard's code.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.conftest import free_port, stop_process
from tests.e2e.conftest import subprocess_env
from tests.e2e.test_docs_handlers import README, python_block
from tests.twilio_signature import signature

FLASK = Path(sys.executable).with_name("flask")
TOKEN = "user-app-token-0123456789abcdef"

#: The user's own modules. Each says so when imported, and none has what Switchboard's
#: modules of the same name have (``Secret``, ``TwilioClient``, ``create_app``, ``Emulator``).
USER_MODULES = {
    "config.py": "DEBUG = True\nGREETING = 'from the user config'\n",
    "api.py": "def fetch():\n    return 'the user api'\n",
    "callbacks.py": "HOOKS = []\n",
    "emulator.py": "NAME = 'the user emulator'\n",
    "utils.py": "def helper():\n    return 42\n",
}

#: What the user's app adds after README's example: it reads its own config module, as Flask's
#: documentation shows, and answers a route of its own from its own modules.
USER_TAIL = '''

import api
import utils

app.config.from_object("config")


@app.get("/mine")
def mine():
    return {"api": api.fetch(), "helper": utils.helper(), "greeting": app.config["GREETING"]}
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in USER_MODULES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "myapp.py").write_text(
        python_block(README, "Writing your own handlers") + USER_TAIL)
    return tmp_path


def project_env(project: Path) -> dict[str, str]:
    return subprocess_env({
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{project / 'myapp.sqlite3'}",
        "SWITCHBOARD_DOTENV": "0",
    })


def test_flask_lists_the_user_app_routes(project: Path) -> None:
    result = subprocess.run([str(FLASK), "--app", "myapp", "routes"], cwd=project,
                            env=project_env(project), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    for route in ("/pizza/call", "/pizza/order", "/pizza/text", "/pizza/status", "/mine"):
        assert route in result.stdout


@pytest.fixture
def served(project: Path) -> Iterator[str]:
    port = free_port()
    log = project / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(FLASK), "--app", "myapp", "run", "--port", str(port)], cwd=project,
            env=project_env(project), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            try:
                requests.get(base + "/healthz", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield base
    finally:
        stop_process(server)


def test_the_user_app_answers_a_signed_webhook(served: str) -> None:
    url = served + "/pizza/call"
    params = {"CallSid": "CA" + "1" * 32, "AccountSid": "AC" + "2" * 32,
              "From": "+15555550100", "To": "+15555550199", "CallStatus": "ringing"}
    answer = requests.post(url, data=params, timeout=10,
                           headers={"X-Twilio-Signature": signature(TOKEN, url, params)})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(answer.content)
    assert [child.tag for child in root] == ["Gather", "Redirect"]
    assert "How many pizzas" in "".join(root.itertext())

    unsigned = requests.post(url, data=params, timeout=10)
    assert unsigned.status_code == 403

    assert requests.get(served + "/mine", timeout=10).json() == {
        "api": "the user api", "helper": 42, "greeting": "from the user config"}
