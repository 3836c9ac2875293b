"""deploy/ as an operator meets it: gunicorn.conf.py's environment overrides as gunicorn reads
them, bad values, the exit status systemd sees, a real gunicorn started from another folder,
its logs; the systemd unit through ``systemd-analyze verify``; the nginx site through
``nginx -t`` and as a real nginx in front of a real gunicorn on 127.0.0.1 (skipped, with the
reason, where systemd-analyze, nginx or openssl is not installed, and failed for it under CI,
``CI=true``); and the files read against each other and against docs/deploy.md."""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from lxml import etree

from switchboard.callbacks.security import signed_headers
from switchboard.callbacks.twiml import parse_twiml
from tests.conftest import IN_CI, free_port, stop_process
from tests.server.conftest import TOKEN, call_params, sid, spoken

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONFIG = DEPLOY / "gunicorn.conf.py"
DOCS = ROOT / "docs" / "deploy.md"
EX_CONFIG = 78
HOST = "switchboard.example.com"


@pytest.fixture(autouse=True)
def _no_gunicorn_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config's defaults, whatever the developer's shell exports."""
    for name in list(os.environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any TWILIO_, SWITCHBOARD_ or GUNICORN_ variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "SWITCHBOARD_", "GUNICORN_"))}
    env.update(SWITCHBOARD_DOTENV="0", **extra)
    return env


_LOAD = """
import json, sys
sys.argv = ["gunicorn", "-c", sys.argv[1]]
from gunicorn.app.wsgiapp import WSGIApplication
cfg = WSGIApplication().cfg
names = ["bind", "workers", "threads", "timeout", "graceful_timeout", "keepalive",
         "max_requests", "max_requests_jitter", "accesslog", "errorlog", "loglevel",
         "forwarded_allow_ips", "access_log_format", "wsgi_app"]
values = {name: getattr(cfg, name) for name in names}
values["control_socket"] = getattr(cfg, "control_socket", None)
values["control_socket_disable"] = getattr(cfg, "control_socket_disable", None)
values["worker_class"] = cfg.worker_class_str
print(json.dumps(values))
"""


def loaded(env: dict[str, str], *, cwd: Path, cpus: set[int] | None = None) -> dict[str, Any]:
    """deploy/gunicorn.conf.py as gunicorn's own loader reads it, in a fresh process."""

    def pin() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    done = subprocess.run(
        [sys.executable, "-c", _LOAD, str(CONFIG)], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=60, preexec_fn=pin,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- gunicorn.conf.py as gunicorn reads it ------------------------------------------------------


def test_the_defaults(tmp_path: Path) -> None:
    cfg = loaded(clean_env(), cwd=tmp_path)
    cores = len(os.sched_getaffinity(0))
    assert cfg["bind"] == ["127.0.0.1:8000"]
    assert cfg["workers"] == min(2 * cores + 1, 12)
    assert (cfg["worker_class"], cfg["threads"]) == ("sync", 1)
    assert 10 < cfg["timeout"] < 15  # above the handler deadline, under Twilio's 15 s
    assert cfg["graceful_timeout"] == 20
    assert (cfg["accesslog"], cfg["errorlog"], cfg["loglevel"]) == ("-", "-", "info")
    assert cfg["forwarded_allow_ips"] == []
    assert cfg["wsgi_app"] == "switchboard.callbacks.wsgi:app"
    # no query string (%(q)s, %(r)s), header (%({...}i)s), user (%(u)s), referrer or agent
    fmt = cfg["access_log_format"]
    assert not re.search(r"%\((q|r|u|f|a|\{[^}]*\}[ie])\)s", fmt), fmt


def test_every_documented_variable_is_applied(tmp_path: Path) -> None:
    env = clean_env(
        GUNICORN_BIND="127.0.0.1:9001", GUNICORN_WORKERS="3", GUNICORN_TIMEOUT="9",
        GUNICORN_GRACEFUL_TIMEOUT="7", GUNICORN_MAX_REQUESTS="50",
        GUNICORN_MAX_REQUESTS_JITTER="5", GUNICORN_THREADS="4", GUNICORN_KEEPALIVE="3",
        GUNICORN_ACCESSLOG=str(tmp_path / "access.log"),
        GUNICORN_ERRORLOG=str(tmp_path / "error.log"), GUNICORN_LOGLEVEL="debug",
        GUNICORN_FORWARDED_ALLOW_IPS="10.0.0.1",
    )
    cfg = loaded(env, cwd=tmp_path)
    assert cfg["bind"] == ["127.0.0.1:9001"]
    assert (cfg["workers"], cfg["timeout"], cfg["graceful_timeout"]) == (3, 9, 7)
    assert (cfg["max_requests"], cfg["max_requests_jitter"], cfg["keepalive"]) == (50, 5, 3)
    assert (cfg["threads"], cfg["worker_class"]) == (4, "gthread")  # as docs/deploy.md says
    assert cfg["accesslog"] == str(tmp_path / "access.log")
    assert (cfg["errorlog"], cfg["loglevel"]) == (str(tmp_path / "error.log"), "debug")
    assert cfg["forwarded_allow_ips"] == ["10.0.0.1"]
    off = loaded(clean_env(GUNICORN_ACCESSLOG="", GUNICORN_WORKER_CLASS="gthread"), cwd=tmp_path)
    assert off["accesslog"] is None  # empty: no access log (not a file named '')
    assert off["worker_class"] == "gthread"


def test_the_docs_table_names_every_variable_the_config_reads() -> None:
    read = set(re.findall(r"\"(GUNICORN_[A-Z_]+)\"", CONFIG.read_text()))
    documented = set(re.findall(r"`(GUNICORN_[A-Z_]+)`", DOCS.read_text()))
    assert read, "no GUNICORN_ variable found in the config"
    assert read <= documented, sorted(read - documented)


def test_no_shared_control_socket_unless_one_is_named(tmp_path: Path) -> None:
    """gunicorn's default control socket is one path per user: a second gunicorn takes it."""
    cfg = loaded(clean_env(), cwd=tmp_path)
    if cfg["control_socket_disable"] is None:
        pytest.skip("this gunicorn has no control socket (before 25.1)")
    assert cfg["control_socket_disable"] is True
    path = str(tmp_path / "switchboard.ctl")
    named = loaded(clean_env(GUNICORN_CONTROL_SOCKET=path), cwd=tmp_path)
    assert (named["control_socket_disable"], named["control_socket"]) == (False, path)


def test_workers_follow_the_cores_this_process_may_use(tmp_path: Path) -> None:
    """A container's cpuset, taskset or systemd's CPUAffinity: not every core of the host."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        pytest.skip("one core only: pinning to one core changes nothing")
    assert loaded(clean_env(), cwd=tmp_path, cpus={available[0]})["workers"] == 3


def start(env: dict[str, str], cwd: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(CONFIG), *args],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


stop = stop_process


def refused_start(env: dict[str, str], cwd: Path) -> str:
    """Start gunicorn, expect it to stop with status 78 (EX_CONFIG); return its log."""
    log = cwd / "gunicorn.log"
    process = start(env, cwd, log)
    try:
        assert process.wait(30) == EX_CONFIG
    finally:
        stop(process)
    return log.read_text()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("GUNICORN_WORKERS", "abc"), ("GUNICORN_TIMEOUT", "1.5"), ("GUNICORN_THREADS", "0"),
     ("GUNICORN_GRACEFUL_TIMEOUT", "-1")],
)
def test_a_bad_value_is_one_line_and_status_78(tmp_path: Path, variable: str, value: str) -> None:
    env = clean_env(TWILIO_AUTH_TOKEN=TOKEN, GUNICORN_BIND=f"127.0.0.1:{free_port()}",
                    SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    **{variable: value})
    text = refused_start(env, tmp_path)
    assert "Traceback" not in text
    line = f"{variable}: {value!r} is not a whole number of at least 1"
    assert text.strip().splitlines() == [line]


def test_no_auth_token_is_status_78_which_systemd_does_not_restart(tmp_path: Path) -> None:
    env = clean_env(GUNICORN_BIND=f"127.0.0.1:{free_port()}",
                    SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert "TWILIO_AUTH_TOKEN is not set" in refused_start(env, tmp_path)
    unit = (DEPLOY / "switchboard.service").read_text()
    assert re.search(rf"^RestartPreventExitStatus=.*\b{EX_CONFIG}\b", unit, re.MULTILINE)
    assert re.search(r"^Restart=on-failure$", unit, re.MULTILINE)


def test_a_voice_twilio_does_not_take_is_status_78_in_one_line(tmp_path: Path) -> None:
    env = clean_env(TWILIO_AUTH_TOKEN=TOKEN, GUNICORN_BIND=f"127.0.0.1:{free_port()}",
                    SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    SWITCHBOARD_VOICE="Robot")
    text = refused_start(env, tmp_path)
    assert "Traceback" not in text
    assert "SWITCHBOARD_VOICE: 'Robot' is not a <Say> voice Twilio takes" in text


class _Server:
    def __init__(self, timeout: int, worker_class: str = "sync") -> None:
        self.cfg = type("Cfg", (), {"timeout": timeout, "worker_class_str": worker_class})()
        self.log = logging.getLogger("test-deploy")


@pytest.mark.parametrize(
    ("timeout", "handler", "worker_class", "warned"),
    [
        (12, "10", "sync", []),
        (16, "10", "sync", ["not under Twilio's 15 s"]),
        (8, "10", "sync", ["not above SWITCHBOARD_HANDLER_TIMEOUT (10 s)"]),
        (10, "10", "sync", ["not above SWITCHBOARD_HANDLER_TIMEOUT (10 s)"]),
        (30, "10", "gthread", []),  # threads: the timeout does not bound a request
    ],
)
def test_a_worker_timeout_out_of_order_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    timeout: int, handler: str, worker_class: str, warned: list[str],
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv("SWITCHBOARD_HANDLER_TIMEOUT", handler)
    on_starting = runpy.run_path(str(CONFIG))["on_starting"]
    with caplog.at_level(logging.WARNING, logger="test-deploy"):
        on_starting(_Server(timeout, worker_class))
    messages = [r.getMessage() for r in caplog.records if r.name == "test-deploy"]
    assert len(messages) == len(warned), messages
    for part, message in zip(warned, messages, strict=True):
        assert part in message


# -- a real gunicorn, started from another folder -------------------------------------------------


@dataclass
class Running:
    base: str
    process: subprocess.Popen[bytes]
    log: Path


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path,
                 **kw: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()}")
        try:
            if requests.get(base + "/healthz", timeout=5, **kw).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    pytest.fail(f"never healthy:\n{log.read_text()}")


def test_from_another_folder_with_every_log_setting(tmp_path: Path) -> None:
    """Started from a folder that is not the repository, by the config's absolute path; the
    access and error logs where the variables say, at debug level, and neither carries the
    query strings, the signature, the basic-auth password or the token."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    access, errors, out = tmp_path / "access.log", tmp_path / "error.log", tmp_path / "out.log"
    env = clean_env(
        TWILIO_AUTH_TOKEN=TOKEN, SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2", GUNICORN_TIMEOUT="16",
        GUNICORN_ACCESSLOG=str(access), GUNICORN_ERRORLOG=str(errors),
        GUNICORN_LOGLEVEL="debug", GUNICORN_GRACEFUL_TIMEOUT="5",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    process = start(env, elsewhere, out)
    secrets = ["qs-secret-1", "qs-secret-2", "pw-secret-3", "body-secret-4", TOKEN]
    try:
        wait_healthy(base, process, errors)
        params = call_params(Note="body-secret-4")
        url = f"{base}/voice?token=qs-secret-1"
        signature = signed_headers(TOKEN, url, params)
        with requests.Session() as session:
            ok = session.post(url, data=params, headers=signature, timeout=10)
            assert ok.status_code == 200, ok.text
            refused = session.post(f"{base}/voice?token=qs-secret-2", data=params,
                                   auth=("bob", "pw-secret-3"), timeout=10,
                                   headers={"X-Twilio-Signature": "Zm9yZ2VkLXNpZ25hdHVyZQ=="})
            assert refused.status_code == 403
            session.get(f"{base}/healthz?token=qs-secret-2", timeout=10)
        deadline = time.monotonic() + 5
        while access.read_text().count("\n") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop(process)
    assert process.returncode == 0
    access_text, error_text = access.read_text(), errors.read_text()
    assert '"POST /voice HTTP/1.1" 200' in access_text
    assert '"POST /voice HTTP/1.1" 403' in access_text
    assert "[DEBUG]" in error_text
    assert error_text.count("Booting worker with pid") == 2
    assert "not under Twilio's 15 s" in error_text
    assert "Shutting down" in error_text
    for text in (access_text, error_text, out.read_text()):
        for secret in [*secrets, signature["X-Twilio-Signature"], "Zm9yZ2VkLXNpZ25hdHVyZQ=="]:
            assert secret not in text


# -- the systemd unit -----------------------------------------------------------------------------


def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        _missing("systemd-analyze is not installed: the unit is not verified "
                 "(apt-get install systemd)")
    unit = (DEPLOY / "switchboard.service").read_text()
    exec_start = "ExecStart=/opt/switchboard/.venv/bin/gunicorn "
    assert exec_start in unit
    # only the executable, absent here, is replaced
    (tmp_path / "switchboard.service").write_text(unit.replace(exec_start, "ExecStart=/bin/true "))
    done = subprocess.run([analyze, "verify", str(tmp_path / "switchboard.service")],
                          capture_output=True, text=True, timeout=60)
    assert (done.stdout + done.stderr).strip() == ""


def test_the_unit_nginx_docker_and_docs_agree() -> None:
    unit = (DEPLOY / "switchboard.service").read_text()
    site = (DEPLOY / "nginx-switchboard.conf").read_text()
    docker = (DEPLOY / "Dockerfile").read_text()
    procfile = (DEPLOY / "Procfile").read_text()
    docs = DOCS.read_text()
    defaults = runpy.run_path(str(CONFIG))
    # systemd: gunicorn where nginx sends the requests; a stop outlasts the graceful timeout
    assert "Environment=GUNICORN_BIND=127.0.0.1:8000" in unit
    assert re.search(r"^\s*server 127\.0\.0\.1:8000\b", site, re.MULTILINE)
    stop_after = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE).group(1))
    assert stop_after > defaults["graceful_timeout"]
    assert "Environment=SWITCHBOARD_TRUSTED_PROXIES=1" in unit  # one proxy: the nginx site
    assert "/opt/switchboard/deploy/gunicorn.conf.py" in unit
    assert "/opt/switchboard" in docs
    # nginx: reads for as long as gunicorn may take, and no longer than Twilio waits
    read = int(re.search(r"proxy_read_timeout (\d+)s;", site).group(1))
    assert defaults["timeout"] < read < 15
    keep = int(re.search(r"^\s*keepalive_timeout (\d+)s;", site, re.MULTILINE).group(1))
    assert keep < defaults["keepalive"]
    # every X-Forwarded-* header ProxyFix reads is set (or cleared) by the site
    for header in ("For", "Proto", "Host", "Port", "Prefix"):
        assert re.search(rf"proxy_set_header X-Forwarded-{header} ", site), header
    # Docker: nginx (the entrypoint) on the port exposed and health-checked, gunicorn behind it
    assert "ENV PORT=8000" in docker
    assert "EXPOSE 8000" in docker
    assert "http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000')" in docker
    assert 'CMD ["python", "deploy/entrypoint.py"]' in docker
    assert "GUNICORN_BIND=0.0.0.0" not in docker
    for package in ("switchboard", "config", "api", "callbacks", "emulator"):
        assert f"COPY {package} ./{package}" in docker
    assert "-c deploy/gunicorn.conf.py" in procfile
    assert "${PORT" in procfile


# -- nginx in front of gunicorn --------------------------------------------------------------------


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists()
                                  else None)
    if path is None:
        _missing(f"{tool} is not installed: the nginx site is not tried "
                 "(apt-get install nginx-light openssl)")
    return path


def _missing(reason: str) -> None:
    """Skip for want of a tool; under CI (``CI=true``), where .ci/run installs it, fail."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def render_site(tmp_path: Path, https_port: int, http_port: int, upstream_port: int,
                prefix: str | None = None) -> Path:
    """The site as shipped, but for loopback ports, a self-signed certificate and log files
    in ``tmp_path``; wrapped in a main configuration for an unprivileged, foreground nginx.
    With ``prefix``, served below that path as the site's comment says."""
    openssl = _need("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx-switchboard.conf").read_text()
    swaps = [
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{upstream_port} "),
        (f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(cert)),
        (f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key)),
        ("/var/log/nginx/switchboard.access.log", str(tmp_path / "nginx-access.log")),
    ]
    if prefix:
        swaps += [
            ("location / {", f"location {prefix}/ {{"),
            ("proxy_pass http://switchboard;", "proxy_pass http://switchboard/;"),
            ('proxy_set_header X-Forwarded-Prefix "";',
             f"proxy_set_header X-Forwarded-Prefix {prefix};"),
            (f"#     proxy_set_header X-Forwarded-Prefix {prefix};", ""),
        ]
    for old, new in swaps:
        assert site.count(old) == 1, f"the site no longer has {old!r}: update this test"
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main.write_text(
        f"daemon off;\nmaster_process off;\npid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'nginx-error.log'} info;\nevents {{}}\nhttp {{\n"
        + "".join(f"  {name}_temp_path {path};\n"
                  for name, path in [("client_body", temp["body"]), *[
                      (n, temp[n]) for n in ("proxy", "fastcgi", "uwsgi", "scgi")]])
        + f"  include {tmp_path / 'site.conf'};\n}}\n"
    )
    return main


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    nginx = _need("nginx")
    main = render_site(tmp_path, free_port(), free_port(), free_port())
    done = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path),
                           "-e", str(tmp_path / "nginx-error.log")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr
    # nginx 1.25.1 and later deprecate "listen ... http2" for "http2 on;", which older ones
    # (Debian 12's 1.22) do not know: the site keeps the form both accept
    warnings = [line for line in done.stderr.splitlines()
                if "[warn]" in line and '"listen ... http2" directive is deprecated' not in line]
    assert warnings == []
    assert "[emerg]" not in done.stderr, done.stderr


@dataclass
class Proxied:
    """gunicorn behind nginx: ``public`` is the URL Twilio would sign (nginx's name and port),
    ``local`` where the test connects."""

    public: str
    local: str
    http_port: int
    upstream_port: int
    session: requests.Session
    nginx_log: Path
    gunicorn_log: Path

    def post(self, url: str, params: dict[str, str], *, sign_for: str | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        assert url.startswith(self.public), url
        signed = signed_headers(TOKEN, sign_for or url, params)
        return self.session.post(
            self.local + url.removeprefix(self.public), data=params, timeout=15,
            headers={"Host": urlsplit(self.public).netloc, **signed, **(headers or {})},
        )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    nginx = _need("nginx")
    tmp_path = tmp_path_factory.mktemp("nginx")
    https_port, http_port, upstream = free_port(), free_port(), free_port()
    main = render_site(tmp_path, https_port, http_port, upstream)
    env = clean_env(
        TWILIO_AUTH_TOKEN=TOKEN, SWITCHBOARD_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SWITCHBOARD_TRUSTED_PROXIES="1", SWITCHBOARD_FORWARD_NUMBER="+15550001111",
        GUNICORN_BIND=f"127.0.0.1:{upstream}", GUNICORN_WORKERS="2",
        GUNICORN_GRACEFUL_TIMEOUT="5",
    )
    gunicorn_log, nginx_out = tmp_path / "gunicorn.log", tmp_path / "nginx.out"
    server = start(env, tmp_path, gunicorn_log)
    with nginx_out.open("wb") as out:
        proxy = subprocess.Popen([nginx, "-c", str(main), "-p", str(tmp_path),
                                  "-e", str(tmp_path / "nginx-error.log")],
                                 stdout=out, stderr=subprocess.STDOUT)
    local = f"https://127.0.0.1:{https_port}"
    try:
        wait_healthy(f"http://127.0.0.1:{upstream}", server, gunicorn_log)
        with requests.Session() as session:
            session.trust_env = False  # no CA bundle or proxy from the environment
            session.verify = str(tmp_path / "cert.pem")  # self-signed, for the name and 127.0.0.1
            wait_healthy(local, proxy, nginx_out, verify=session.verify)
            yield Proxied(f"https://{HOST}:{https_port}", local, http_port, upstream, session,
                          tmp_path / "nginx-access.log", gunicorn_log)
    finally:
        stop(proxy)
        stop(server)


def _twiml(response: requests.Response) -> etree._Element:
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("text/xml")
    return parse_twiml(response.content)


def test_the_ivr_walked_through_nginx(proxied: Proxied) -> None:
    """Signed for the public URL (https, nginx's host and port), as Twilio signs it; every
    URL the tree hands out is that public URL, and following it works."""
    call = call_params()
    public = proxied.public

    def press(url: str, **extra: str) -> etree._Element:
        root = _twiml(proxied.post(url, dict(call, **extra)))
        for element in root.iter():
            for name in ("action", "recordingStatusCallback"):
                if element.get(name):
                    assert element.get(name).startswith(public + "/"), element.get(name)
        return root

    welcome = press(public + "/voice")
    menu = welcome.find("Gather").get("action")
    assert menu == public + "/voice/menu"
    assert welcome.find("Redirect").text == menu
    assert "open Monday" in spoken(press(menu, Digits="1"))
    assert "did not get that" in spoken(press(menu))
    record = press(menu, Digits="2").find("Record")
    press(record.get("action"), RecordingSid=sid("RE"), RecordingDuration="4")
    status = {"CallSid": call["CallSid"], "RecordingSid": sid("RE"),
              "RecordingStatus": "completed", "RecordingDuration": "4",
              "RecordingUrl": "https://api.twilio.com/r"}
    assert proxied.post(record.get("recordingStatusCallback"), status).status_code == 204
    dial = press(menu, Digits="3").find("Dial")
    assert "nobody could take" in spoken(press(dial.get("action"), DialCallStatus="busy"))


@pytest.mark.parametrize(
    ("header", "value", "signed_path"),
    [
        ("X-Forwarded-Prefix", "/evil", "/evil/voice"),
        ("X-Forwarded-Proto", "http", None),
        ("X-Forwarded-Host", "evil.example.com", None),
        ("X-Forwarded-Port", "1", None),
    ],
)
def test_a_clients_forwarded_headers_do_not_reach_the_app(
    proxied: Proxied, header: str, value: str, signed_path: str | None
) -> None:
    """The app trusts one proxy's X-Forwarded-*: nginx must set or drop each, or a client
    chooses the URL the signature is checked against (and the URLs handed to Twilio)."""
    public = urlsplit(proxied.public)
    forged = {
        "X-Forwarded-Prefix": f"{public.scheme}://{public.netloc}{signed_path}",
        "X-Forwarded-Proto": f"http://{public.netloc}/voice",
        "X-Forwarded-Host": f"https://{value}:{public.port}/voice",
        "X-Forwarded-Port": f"https://{public.hostname}:1/voice",
    }[header]
    params = call_params()
    refused = proxied.post(proxied.public + "/voice", params, sign_for=forged,
                           headers={header: value})
    assert refused.status_code == 403, refused.text
    accepted = _twiml(proxied.post(proxied.public + "/voice", params, headers={header: value}))
    assert accepted.find("Gather").get("action") == proxied.public + "/voice/menu"


def test_nginx_logs_no_query_string(proxied: Proxied) -> None:
    proxied.session.get(f"{proxied.local}/healthz?token=qs-secret-nginx", timeout=10,
                        headers={"Host": HOST})
    deadline = time.monotonic() + 5
    while "/healthz" not in proxied.nginx_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = proxied.nginx_log.read_text()
    assert '"GET /healthz" 200' in text
    assert "qs-secret-nginx" not in text
    assert "qs-secret-nginx" not in proxied.gunicorn_log.read_text()


def test_plain_http_is_sent_to_https(proxied: Proxied) -> None:
    site = (DEPLOY / "nginx-switchboard.conf").read_text()
    assert "return 301 https://$host$request_uri;" in site
    query = urlencode({"a": "1"})
    moved = proxied.session.get(f"http://127.0.0.1:{proxied.http_port}/voice?{query}",
                                headers={"Host": HOST}, allow_redirects=False, timeout=10)
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"https://{HOST}/voice?{query}"


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGINT])
def test_a_reload_or_a_ctrl_c_writes_the_rows_the_workers_hold(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """``systemctl reload`` (SIGHUP) replaces the workers; Ctrl-C (SIGINT) is gunicorn's quick
    stop. Either way the rows an old worker holds (SWITCHBOARD_RECORD_DELAY, 5 s here) are
    written as it exits, not lost, and after a reload the new workers answer."""
    from switchboard.callbacks.store import Store

    port = free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "gunicorn.log"
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = clean_env(TWILIO_AUTH_TOKEN=TOKEN, SWITCHBOARD_DATABASE_URL=url,
                    SWITCHBOARD_RECORD_DELAY="5", GUNICORN_BIND=f"127.0.0.1:{port}",
                    GUNICORN_WORKERS="1", GUNICORN_GRACEFUL_TIMEOUT="5")
    process = start(env, tmp_path, log)
    calls = [call_params() for _ in range(3)]
    store = Store(url)
    try:
        wait_healthy(base, process, log)
        with requests.Session() as session:
            session.trust_env = False
            for params in calls:
                response = session.post(base + "/voice", data=params, timeout=10,
                                        headers=signed_headers(TOKEN, base + "/voice", params))
                assert response.status_code == 200
            sent = time.monotonic()
            process.send_signal(signum)
            if signum == signal.SIGINT:
                assert process.wait(15) == 0
            deadline = sent + 3  # well before the 5 s the rows may otherwise wait
            while not all(store.get_call(params["CallSid"]) for params in calls):
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            if signum == signal.SIGHUP:
                later = call_params()
                wait_for = time.monotonic() + 15
                while "Booting worker" not in log.read_text().split("Handling signal: hup")[-1]:
                    assert time.monotonic() < wait_for, log.read_text()
                    time.sleep(0.05)
                response = session.post(base + "/voice", data=later, timeout=10,
                                        headers=signed_headers(TOKEN, base + "/voice", later))
                assert response.status_code == 200
    finally:
        stop(process)
        store.close()


def test_the_site_below_a_path_as_its_comment_says(
    proxied: Proxied, tmp_path: Path
) -> None:
    """The commented ``location /phone/``: nginx strips the prefix and sends it in
    X-Forwarded-Prefix; Twilio signs https://host/phone/voice and is handed /phone/ URLs."""
    nginx = _need("nginx")
    https_port = free_port()
    main = render_site(tmp_path, https_port, free_port(), proxied.upstream_port, prefix="/phone")
    out = tmp_path / "nginx.out"
    with out.open("wb") as sink:
        proxy = subprocess.Popen([nginx, "-c", str(main), "-p", str(tmp_path),
                                  "-e", str(tmp_path / "nginx-error.log")],
                                 stdout=sink, stderr=subprocess.STDOUT)
    try:
        with requests.Session() as session:
            session.trust_env, session.verify = False, str(tmp_path / "cert.pem")
            below = Proxied(f"https://{HOST}:{https_port}/phone",
                            f"https://127.0.0.1:{https_port}/phone", 0, proxied.upstream_port,
                            session, proxied.nginx_log, proxied.gunicorn_log)
            wait_healthy(below.local, proxy, out, verify=session.verify)
            call = call_params()
            welcome = _twiml(below.post(below.public + "/voice", call))
            menu = welcome.find("Gather").get("action")
            assert menu == below.public + "/voice/menu"
            record = _twiml(below.post(menu, dict(call, Digits="2"))).find("Record")
            assert record.get("action") == below.public + "/voice/voicemail/saved"
            assert record.get("recordingStatusCallback") == (
                below.public + "/voice/recording-status"
            )
            unprefixed = below.post(below.public + "/voice", call,
                                    sign_for=f"https://{HOST}:{https_port}/voice")
            assert unprefixed.status_code == 403
    finally:
        stop(proxy)
