"""A broken flow in the flows folder stops the server before any caller meets it: gunicorn
exits 78 (as for a bad setting) and ``switchboard run`` says so, one line per problem naming
the file, the state and the property; a good folder's flows answer at ``/flows/NAME``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import free_port, stop_process
from tests.e2e.conftest import ROOT, SWITCHBOARD, subprocess_env
from tests.twilio_signature import signature

GUNICORN = Path(sys.executable).with_name("gunicorn")
EXAMPLES = ROOT / "flows" / "examples"
TOKEN = "flows-start-up-token-0123456789abcdef"


def broken_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(EXAMPLES, folder)
    flow = json.loads((folder / "ivr_voicemail.json").read_text())
    flow["states"][1]["transitions"][0]["next"] = "gone"
    (folder / "ivr_voicemail.json").write_text(json.dumps(flow))
    return folder


def env(tmp_path: Path, folder: Path) -> dict[str, str]:
    return subprocess_env({
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'switchboard.sqlite3'}",
        "SWITCHBOARD_FLOWS_DIR": str(folder),
    })


def test_gunicorn_refuses_a_broken_flow_with_status_78(tmp_path: Path) -> None:
    folder = broken_folder(tmp_path)
    result = subprocess.run(
        [str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{free_port()}"],
        cwd=tmp_path, env=env(tmp_path, folder), capture_output=True, text=True, timeout=60)
    assert result.returncode == 78, result.stderr
    assert f"{folder / 'ivr_voicemail.json'}: state '" in result.stderr
    assert "property 'next': no state named 'gone'" in result.stderr
    assert "Traceback" not in result.stderr


def test_switchboard_run_refuses_a_broken_flow(tmp_path: Path) -> None:
    folder = broken_folder(tmp_path)
    result = subprocess.run([str(SWITCHBOARD), "run", "--port", str(free_port())],
                            cwd=tmp_path, env=env(tmp_path, folder), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "no state named 'gone'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_good_folder_is_served(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(SWITCHBOARD), "run", "--port", str(port)], cwd=tmp_path,
                                  env=env(tmp_path, EXAMPLES), stdout=out,
                                  stderr=subprocess.STDOUT)
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
        url = base + "/flows/sms_reply_loop"
        text = {"MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "2" * 32,
                "From": "+15555550100", "To": "+15555550199", "Body": "hello"}
        answer = requests.post(url, data=text, timeout=10,
                               headers={"X-Twilio-Signature": signature(TOKEN, url, text)})
        assert answer.status_code == 200, answer.text
        assert b">Hi, this is Corner Books! Reply 1" in answer.content
        assert requests.post(url, data=text, timeout=10).status_code == 403
    finally:
        stop_process(server)
