"""A server on 127.0.0.1 that cuts its answers short, for the REST client's tests.

Each request is read whole, then answered ``200`` with ``Content-Length: 1000`` and only
:data:`START`, the first bytes of that JSON body, before the connection closes. With ``cuts``
set, only the first ``cuts`` requests are cut short; the rest get :data:`WHOLE`, a whole body::

    with CuttingServer(cuts=1) as server:
        TwilioClient(sid, token, base_url=server.url).request("GET", path)
        assert server.requests == 2

``content_type``, ``start`` and ``length`` cut another kind of answer short (media, say).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from types import TracebackType

#: What a cut-short answer sends of its 1000-byte body.
START = b'{"calls": [{"sid": "CA'
#: A whole answer, once the cuts are spent.
WHOLE = b'{"calls": [], "next_page_uri": null}'


class CuttingServer:
    """Answers the first ``cuts`` requests (every request when ``cuts`` is ``None``) with
    ``start`` of a ``length``-byte ``content_type`` body, then closes the connection
    (``reset``: resets it a moment later; ``stall``: sends nothing more for that many seconds
    first); the rest with :data:`WHOLE`. Counts the requests."""

    def __init__(
        self,
        *,
        cuts: int | None = None,
        reset: bool = False,
        stall: float = 0,
        content_type: str = "application/json",
        start: bytes = START,
        length: int = 1000,
    ) -> None:
        self.cuts = cuts
        self.reset = reset
        self.stall = stall
        self.content_type = content_type
        self.start = start
        self.length = length
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def __enter__(self) -> CuttingServer:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                read_request(conn)
                self.requests += 1
                if self.cuts is not None and self.requests > self.cuts:
                    conn.sendall(head("application/json", len(WHOLE)) + WHOLE)
                    continue
                conn.sendall(head(self.content_type, self.length) + self.start)
                time.sleep(self.stall)
                if self.reset:
                    time.sleep(0.2)  # the client is reading the body by now
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def head(content_type: str, length: int) -> bytes:
    """The head of a ``200`` answer that promises ``length`` bytes and closes the connection."""
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode("latin-1")


def read_request(conn: socket.socket) -> None:
    """Read a whole request, its body included: a socket closed with unread data resets the
    connection rather than closing it."""
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += (chunk := conn.recv(65536))
        if not chunk:
            return
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length and (chunk := conn.recv(65536)):
        body += chunk
