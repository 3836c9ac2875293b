"""The container's command: nginx on ``$PORT`` in front of gunicorn on the loopback.

    python deploy/entrypoint.py

gunicorn (``deploy/gunicorn.conf.py``, every ``GUNICORN_*`` variable as documented) listens on
``$GUNICORN_BIND``, ``127.0.0.1:8001`` by default (a loopback address or a ``unix:`` socket:
nothing outside the container reaches it). nginx (``deploy/nginx-container.conf``, with its
``@PORT@``, ``@UPSTREAM@``, ``@RUNTIME@`` and ``@ACCESS_LOG@`` filled in) listens on ``$PORT``,
8000 by default, and hands gunicorn whole requests only. nginx starts once gunicorn listens.

Signals: SIGTERM or SIGINT stops nginx gracefully (requests in flight are answered), then
gunicorn (its workers write the rows they hold); SIGHUP reloads both. When either exits on its
own, the other is stopped and the entrypoint exits with that status: gunicorn's 78 (no
``TWILIO_AUTH_TOKEN``, a bad setting) comes through as 78. A bad ``PORT`` or ``GUNICORN_BIND``
is one line and status 78 too. As the container's first process it also reaps orphans.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
NGINX_CONFIG = DEPLOY / "nginx-container.conf"
GUNICORN_CONFIG = DEPLOY / "gunicorn.conf.py"
DEFAULT_PORT = "8000"
DEFAULT_UPSTREAM = "127.0.0.1:8001"
LOOPBACK = ("127.0.0.1:", "localhost:", "[::1]:")
EX_CONFIG = 78
#: nginx's worker_shutdown_timeout (10 s) and a margin; then gunicorn's graceful timeout.
NGINX_STOP_SECONDS = 15.0


class ConfigError(Exception):
    """A setting the container cannot start with (status 78, one line)."""


def port_of(env: dict[str, str]) -> int:
    raw = env.get("PORT", "").strip() or DEFAULT_PORT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"PORT: {raw!r} is not a port number (1-65535)")
    return int(raw)


def upstream_of(env: dict[str, str]) -> str:
    """gunicorn's address, which nginx proxies to: loopback or a unix socket only."""
    bind = env.get("GUNICORN_BIND", "").strip() or DEFAULT_UPSTREAM
    if bind.startswith("unix:") and len(bind) > len("unix:"):
        return bind
    host_port = bind.rpartition(":")
    if bind.startswith(LOOPBACK) and host_port[2].isascii() and host_port[2].isdigit():
        return bind
    raise ConfigError(f"GUNICORN_BIND: {bind!r} must be a loopback address (127.0.0.1:PORT) or "
                      "a unix: socket in the container: nginx on PORT is the only way in")


def render(template: str, *, port: int, upstream: str, runtime: Path,
           access_log: str = "/dev/stdout switchboard") -> str:
    """``deploy/nginx-container.conf`` with its placeholders filled in."""
    text = (template.replace("@PORT@", str(port)).replace("@UPSTREAM@", upstream)
            .replace("@RUNTIME@", str(runtime)).replace("@ACCESS_LOG@", access_log))
    for line in text.splitlines():
        directive = line.split("#", 1)[0]
        if "@" in directive:
            raise ConfigError(f"{NGINX_CONFIG.name}: a placeholder is left: {line.strip()}")
    return text


def stdout_writable() -> bool:
    """Whether nginx, this user, can open /dev/stdout (the container's log) for its access
    log. Container runtimes hand the standard streams to the container's user; a pipe some
    other user made is not."""
    try:
        with open("/dev/stdout", "ab"):
            return True
    except OSError:
        return False


def listening(upstream: str) -> bool:
    """Whether gunicorn accepts connections at ``upstream`` yet."""
    try:
        if upstream.startswith("unix:"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1)
                sock.connect(upstream.removeprefix("unix:"))
        else:
            host, _, port = upstream.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
                pass
    except OSError:
        return False
    return True


class Supervisor:
    """gunicorn and nginx, their signals and their ends."""

    def __init__(self, nginx: str, config: Path, runtime: Path, env: dict[str, str],
                 upstream: str) -> None:
        self.nginx_binary = nginx
        self.config = config
        self.runtime = runtime
        self.env = env
        self.upstream = upstream
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None
        self.stop_signal: int | None = None
        self.reload = False

    def on_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            self.reload = True
        elif self.stop_signal is None:
            self.stop_signal = signum

    def children(self) -> list[subprocess.Popen[bytes]]:
        return [child for child in (self.gunicorn, self.nginx) if child is not None]

    def reap(self) -> None:
        """Collect every child that ended: ours (their status kept) and orphans."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for child in self.children():
                if child.pid == pid:
                    child.returncode = os.waitstatus_to_exitcode(status)

    def wait(self, child: subprocess.Popen[bytes], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while child.returncode is None and time.monotonic() < deadline:
            time.sleep(0.05)
            self.reap()
        return child.returncode is not None

    def end(self, child: subprocess.Popen[bytes] | None, signum: int, seconds: float) -> None:
        """Send ``signum``, wait ``seconds``, then kill."""
        if child is None or child.returncode is not None:
            return
        child.send_signal(signum)
        if not self.wait(child, seconds):
            child.kill()
            self.wait(child, 5)

    def start(self) -> None:
        # Fixed commands (this Python's gunicorn, the nginx found at start), each in a process
        # group of its own: a Ctrl-C in a terminal reaches the entrypoint only, which stops
        # them in order.
        self.gunicorn = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)], env=self.env,
            process_group=0)
        while not listening(self.upstream):
            self.reap()
            if self.gunicorn.returncode is not None or self.stop_signal is not None:
                return
            time.sleep(0.1)
        self.nginx = subprocess.Popen(  # noqa: S603
            [self.nginx_binary, "-c", str(self.config), "-p", str(self.runtime), "-e", "stderr",
             "-g", "daemon off;"], env=self.env, process_group=0)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self.on_signal)
        self.start()
        while self.stop_signal is None:
            self.reap()
            ended = [child for child in self.children() if child.returncode is not None]
            if ended or self.nginx is None:
                return self.after(ended[0] if ended else self.gunicorn)
            if self.reload:
                self.reload = False
                for child in self.children():
                    child.send_signal(signal.SIGHUP)
            time.sleep(0.2)
        return self.shutdown()

    def shutdown(self) -> int:
        """Graceful: nginx first (it answers what it has started), then gunicorn."""
        self.end(self.nginx, signal.SIGQUIT, NGINX_STOP_SECONDS)
        self.end(self.gunicorn, signal.SIGTERM, self.gunicorn_stop_seconds())
        status = self.gunicorn.returncode if self.gunicorn is not None else 0
        return exit_status(status or 0)

    def after(self, ended: subprocess.Popen[bytes] | None) -> int:
        """One of the two ended on its own: stop the other, exit with the first's status."""
        name = "gunicorn" if ended is self.gunicorn else "nginx"
        status = ended.returncode if ended is not None and ended.returncode is not None else 1
        print(f"entrypoint: {name} exited with status {status}: stopping", file=sys.stderr,
              flush=True)
        self.end(self.nginx, signal.SIGQUIT, NGINX_STOP_SECONDS)
        self.end(self.gunicorn, signal.SIGTERM, self.gunicorn_stop_seconds())
        return exit_status(status) or 1

    def gunicorn_stop_seconds(self) -> float:
        """gunicorn's graceful timeout, and a margin."""
        raw = self.env.get("GUNICORN_GRACEFUL_TIMEOUT", "").strip()
        return (int(raw) if raw.isascii() and raw.isdigit() else 20) + 10.0


def exit_status(returncode: int) -> int:
    """A child's return code as a shell would report it (a signal N as 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def main() -> int:
    env = dict(os.environ)
    try:
        port = port_of(env)
        upstream = upstream_of(env)
        nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
        if nginx is None:
            raise ConfigError("nginx is not installed: the image needs it in front of gunicorn")
        template = NGINX_CONFIG.read_text()
        runtime = Path(tempfile.mkdtemp(prefix="switchboard-nginx-"))
        runtime.chmod(0o755)  # nginx's workers run as another user when the master is root
        try:
            config = runtime / "nginx.conf"
            logged = stdout_writable()
            config.write_text(render(template, port=port, upstream=upstream, runtime=runtime,
                                     access_log="/dev/stdout switchboard" if logged else "off"))
        except BaseException:
            shutil.rmtree(runtime, ignore_errors=True)
            raise
    except ConfigError as error:
        print(error, file=sys.stderr, flush=True)
        return EX_CONFIG
    env["GUNICORN_BIND"] = upstream
    if logged:
        env.setdefault("GUNICORN_ACCESSLOG", "")  # nginx logs every request, with its status
    else:
        print("entrypoint: /dev/stdout cannot be opened by this user: nginx keeps no access "
              "log, gunicorn's is on", file=sys.stderr, flush=True)
    try:
        return Supervisor(nginx, config, runtime, env, upstream).run()
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
