"""The scale-out stack of ``deploy/scale-out/`` on one machine: app hosts (gunicorn with
``deploy/gunicorn.conf.py`` on their own loopback ports), a real nginx with
``deploy/scale-out/nginx-switchboard.conf`` in front of them (TLS with a throw-away
certificate), and PgBouncer from ``deploy/scale-out/pgbouncer.ini`` (:mod:`tests.pgbouncer`)
in front of PostgreSQL. Used by tests/load/test_scale_out.py and the scale-out benchmark.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.load.servers import ACCOUNT_SID, CONFIG, ROOT, TOKEN, Gunicorn, server_env
from tests.pgbouncer import need

SITE = ROOT / "deploy" / "scale-out" / "nginx-switchboard.conf"
HOST = "switchboard.example.com"
INSTALL = "apt-get install nginx-light openssl"
#: The app hosts of the shipped site, as its upstream names them.
SHIPPED_HOSTS = ("10.0.0.11:8000", "10.0.0.12:8000", "10.0.0.13:8000")
LOG_LINE = re.compile(
    r'\S+ \[[^]]*\] "(?P<method>\S+) (?P<path>[^"]*)" (?P<status>\d+) \d+ \S+ '
    r'upstream="(?P<upstream>[^"]*)" upstream_status="(?P<upstream_status>[^"]*)" '
    r"msec=(?P<msec>[0-9.]+)$")


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and the site's name): (cert, key)."""
    openssl = need("openssl", INSTALL)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def render_site(folder: Path, https_port: int, host_ports: list[int]) -> Path:
    """The shipped site on loopback ports, its upstream on ``host_ports``, with a throw-away
    certificate and its log in ``folder``, in a main configuration for a foreground nginx."""
    cert, key = certificate(folder)
    site = SITE.read_text()
    replacements = [
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
        ("listen [::]:80;", ""),
        (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(cert)),
        (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key)),
        ("/var/log/nginx/switchboard.access.log", str(folder / "nginx-access.log")),
    ]
    assert len(host_ports) == len(SHIPPED_HOSTS)
    replacements += [(f"server {shipped} ", f"server 127.0.0.1:{port} ")
                     for shipped, port in zip(SHIPPED_HOSTS, host_ports, strict=True)]
    for old, new in replacements:
        assert site.count(old) == 1, f"the site no longer has {old!r}: update this test"
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site)
    main = folder / "nginx.conf"
    temps = "".join(f"  {name}_temp_path {folder / name};\n"
                    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main.write_text(f"pid {folder / 'nginx.pid'};\nerror_log stderr warn;\n"
                    "worker_processes 1;\nevents { worker_connections 1024; }\n"
                    f"http {{\n{temps}  include {folder / 'site.conf'};\n}}\n")
    return main


@dataclass
class Nginx:
    """A foreground nginx running the shipped scale-out site, in ``folder``."""

    folder: Path
    host_ports: list[int]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def cafile(self) -> Path:
        return self.folder / "cert.pem"

    @property
    def access_log(self) -> Path:
        return self.folder / "nginx-access.log"

    def start(self) -> Nginx:
        nginx = need("nginx", INSTALL)
        self.port = self.port or free_port()
        main = render_site(self.folder, self.port, self.host_ports)
        with (self.folder / "nginx.out").open("wb") as out:
            self.process = subprocess.Popen(
                [nginx, "-c", str(main), "-p", str(self.folder), "-e", "stderr",
                 "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        context = ssl.create_default_context(cafile=str(self.cafile))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited:\n{(self.folder / 'nginx.out').read_text()}")
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=5,
                                                   context=context)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        pytest.fail(f"nginx never answered /healthz:\n{(self.folder / 'nginx.out').read_text()}")

    def log_lines(self) -> list[dict[str, str]]:
        """The access log, one dict a line: method, path, status, upstream (the addresses
        tried, in order, comma-separated), upstream_status (theirs), msec (the time of the
        answer, seconds since the epoch)."""
        if not self.access_log.exists():
            return []
        return [match.groupdict() for match in map(LOG_LINE.match,
                                                   self.access_log.read_text().splitlines())
                if match is not None]

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: answers in flight are finished
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@dataclass
class AppHost(Gunicorn):
    """One app host: gunicorn on its own loopback port, told the public URL of the front
    (the URL Twilio signs) and how many hosts there are."""

    public_url: str = ""
    hosts: int = 3
    runs: list[Path] = field(default_factory=list)

    def start(self, *, healthy: bool = True) -> AppHost:
        self.port = self.port or free_port()
        env = server_env(
            TWILIO_AUTH_TOKEN=self.token, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            SWITCHBOARD_DATABASE_URL=self.database_url,
            SWITCHBOARD_PUBLIC_URL=self.public_url, SWITCHBOARD_HOSTS=str(self.hosts),
            GUNICORN_BIND=f"127.0.0.1:{self.port}", GUNICORN_WORKERS=str(self.workers),
        )
        env.update(self.env)
        self.runs.append(self.log)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), self.app],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        if healthy:
            self.wait_healthy()
        return self

    def kill(self) -> float:
        """SIGKILL the master and its workers at once, as a host that dies does: nothing
        finishes, nothing is written. When (``time.time()``) the first signal went."""
        assert self.process is not None
        pids = [self.process.pid, *self.worker_pids()]
        killed_at = time.time()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids[1:]):
            time.sleep(0.02)
        return killed_at


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


__all__ = ["TOKEN", "AppHost", "Nginx", "render_site"]
