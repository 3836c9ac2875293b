"""The connection pool: requests' :class:`~requests.adapters.HTTPAdapter`, with urllib3 pools
that do not hand a request that is never retried (a ``POST``) a connection that has been idle
for long.

A server closes a keep-alive connection that has been idle for its timeout. urllib3 notices a
pooled connection that was closed before a request is sent (``is_connection_dropped``) and
opens a new one; but when the server closes it just as the request goes out (its FIN still on
the way), the request is lost and the answer is ``RemoteDisconnected`` or a reset. urllib3's
:class:`~urllib3.util.Retry` then sends a ``GET`` again, but not a ``POST``: the client cannot
tell a request the server never read from one it acted on before the connection broke, and a
``POST`` sent twice places a call twice. So a ``POST`` does not go out on a connection idle for
more than :data:`WRITE_IDLE_LIMIT` seconds, less than any server's keep-alive timeout in
common use (gunicorn's 2 s, Apache's and Node's 5 s, nginx's 75 s, load balancers' 60 s): it
gets a new connection instead. Back-to-back requests still share their connection.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from api.retry import IDEMPOTENT_METHODS

__all__ = ["WRITE_IDLE_LIMIT", "PoolAdapter"]

#: Seconds a pooled connection may have been idle and still carry a request that is not
#: retried (a ``POST``); an older one is closed and a new connection opened.
WRITE_IDLE_LIMIT = 1.0

_current = threading.local()


class _FreshForWrites:
    """A urllib3 pool whose connections remember when they were put back, and which closes
    an old one rather than sending a request of a method that is never retried on it."""

    def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_current, "method", None)
        _current.method = method.upper()
        try:
            return super().urlopen(method, url, *args, **kwargs)  # type: ignore[misc]
        finally:
            _current.method = outer

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(conn, "switchboard_idle_since", None)
        if (
            idle_since is not None
            and getattr(_current, "method", None) not in IDEMPOTENT_METHODS
            and time.monotonic() - idle_since > WRITE_IDLE_LIMIT
        ):
            conn.close()  # reconnected when the request is sent, as urllib3 does a dropped one
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.switchboard_idle_since = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]


class _HTTPPool(_FreshForWrites, HTTPConnectionPool):
    pass


class _HTTPSPool(_FreshForWrites, HTTPSConnectionPool):
    pass


POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


class PoolAdapter(HTTPAdapter):
    """requests' adapter with the pools above, direct or through a proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager
