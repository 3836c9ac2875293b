"""A ``PROMETHEUS_MULTIPROC_DIR`` that cannot hold the metrics: one clear line at start-up,
never a traceback, and a folder that goes away later costs the counts, never a webhook."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.load.servers import ACCOUNT_SID, TOKEN, server_env

from .scraping import TOKEN as METRICS_TOKEN

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("gunicorn_conf.py")
APP = "tests.metrics.gunicorn_app:app"


def env(tmp_path: Path, folder: Path) -> dict[str, str]:
    return server_env(
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'switchboard.sqlite3'}",
        SWITCHBOARD_METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    )


def run_python(tmp_path: Path, folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a new interpreter: prometheus-client picks its mode at its first import."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          env=env(tmp_path, folder), capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_gunicorn_refuses_a_folder_it_cannot_make_in_one_line(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "metrics"
    not_a_folder.write_text("a file where the folder should be")
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), APP],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**env(tmp_path, not_a_folder / "prometheus"),
             "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 78, output
    assert "Traceback" not in output
    assert "PROMETHEUS_MULTIPROC_DIR: the folder" in output
    assert METRICS_TOKEN not in output


def test_create_app_refuses_a_missing_folder_with_a_config_error(tmp_path: Path) -> None:
    done = run_python(tmp_path, tmp_path / "missing" / "prometheus", """
        from switchboard.callbacks import create_app
        from switchboard.config import ConfigError
        try:
            create_app()
        except ConfigError as error:
            print("refused:", error)
    """)
    assert done.returncode == 0, done.stderr
    assert "refused: PROMETHEUS_MULTIPROC_DIR: the folder" in done.stdout
    assert "No such file or directory" in done.stdout


def test_webhooks_answer_and_the_scrape_says_503_when_the_folder_goes(tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    done = run_python(tmp_path, folder, f"""
        import shutil
        from switchboard.callbacks import create_app
        from tests.server.conftest import TOKEN, Twilio, call_params

        app = create_app({{"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN}})
        twilio = Twilio(app.test_client())
        shutil.rmtree({str(folder)!r})
        print("voice", twilio.post("/voice", call_params()).status_code)
        answer = app.test_client().get(
            "/metrics", headers={{"Authorization": "Bearer {METRICS_TOKEN}"}})
        print("metrics", answer.status_code)
    """)
    assert done.returncode == 0, done.stderr
    assert "voice 200" in done.stdout
    assert "metrics 503" in done.stdout
    assert "PROMETHEUS_MULTIPROC_DIR: the folder" in done.stderr
    assert "Traceback" not in done.stderr
