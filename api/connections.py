"""The connection pool: requests' :class:`~requests.adapters.HTTPAdapter`, with urllib3 pools
that do not hand a request that is never retried (a ``POST``) a connection that has been idle
for long.

A server closes a keep-alive connection that has been idle for its timeout. urllib3 notices a
pooled connection that was closed before a request is sent (``is_connection_dropped``) and
opens a new one; but when the server closes it just as the request goes out (its FIN still on
the way), the request is lost and the answer is ``RemoteDisconnected`` or a reset. urllib3's
:class:`~urllib3.util.Retry` then sends a ``GET`` again, but not a ``POST``: the client cannot
tell a request the server never read from one it acted on before the connection broke, and a
``POST`` sent twice places a call twice. So a request the retry policy would not send again
(a ``POST``; any request when retries are turned off, ``retries=0``, or used up) does not go
out on a connection idle for more than :data:`WRITE_IDLE_LIMIT` seconds, less than any
server's keep-alive timeout in common use (gunicorn's 2 s, Apache's and Node's 5 s, nginx's
75 s, load balancers' 60 s): it gets a new connection instead. Back-to-back requests still
share their connection.

The pools are urllib3's own (or a SOCKS proxy manager's) with ``_get_conn``, ``_put_conn`` and
``urlopen`` extended; those have kept their signatures through urllib3 2.x. The request being
sent is known to ``_get_conn`` through a thread-local, as a client is shared between threads.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ClosedPoolError
from urllib3.util import Retry

__all__ = ["WRITE_IDLE_LIMIT", "PoolAdapter", "fresh_pool_class", "resends_lost_requests"]

#: Seconds a pooled connection may have been idle and still carry a request that would not be
#: sent again (a ``POST``); an older one is closed and a new connection opened.
WRITE_IDLE_LIMIT = 1.0

_current = threading.local()


def resends_lost_requests(retries: Retry, method: str) -> bool:
    """Whether ``retries`` sends a ``method`` request again when its connection breaks before
    an answer (a read error to urllib3): then it may go out on any pooled connection."""
    if retries.total is False or retries.read is False:
        return False
    if retries.allowed_methods and method.upper() not in retries.allowed_methods:
        return False
    return all(count is None or count >= 1 for count in (retries.total, retries.read))


class _FreshForWrites:
    """A urllib3 pool whose connections remember when they were put back, and which closes
    an old one rather than sending on it a request that would not be sent again if the
    connection broke (a ``POST``; any request once the retries are used up or turned off)."""

    def urlopen(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: Any = None,
        retries: Retry | bool | int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        policy = Retry.from_int(retries, default=self.retries)  # type: ignore[attr-defined]
        outer = getattr(_current, "fresh", False)
        _current.fresh = not resends_lost_requests(policy, method)
        try:
            return super().urlopen(  # type: ignore[misc]
                method, url, body, headers, retries, *args, **kwargs
            )
        finally:
            _current.fresh = outer

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        idle_since = getattr(conn, "switchboard_idle_since", None)
        if (
            idle_since is not None
            and getattr(_current, "fresh", False)
            and time.monotonic() - idle_since > WRITE_IDLE_LIMIT
        ):
            conn.close()  # reconnected when the request is sent, as urllib3 does a dropped one
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.switchboard_idle_since = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]


@functools.cache
def fresh_pool_class(pool_class: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    """``pool_class`` (urllib3's, or a proxy manager's own, such as a SOCKS pool that connects
    through the proxy) with the idle limit above for requests that are never retried."""
    if issubclass(pool_class, _FreshForWrites):
        return pool_class
    return type(f"Fresh{pool_class.__name__}", (_FreshForWrites, pool_class), {})


def _fresh_pools(manager: Any) -> None:
    """Give ``manager`` (a urllib3 pool manager) the pools above, each built on the pool class
    it would have used: a SOCKS proxy manager keeps its SOCKS connections."""
    manager.pool_classes_by_scheme = {
        scheme: fresh_pool_class(pool_class)
        for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }


#: The pools a direct connection (or an HTTP or HTTPS proxy) uses.
POOL_CLASSES = {
    "http": fresh_pool_class(HTTPConnectionPool),
    "https": fresh_pool_class(HTTPSConnectionPool),
}


class PoolAdapter(HTTPAdapter):
    """requests' adapter with the pools above, direct or through a proxy (HTTP, HTTPS or
    SOCKS). Once closed it sends nothing more (requests' own adapter would open new pools):
    a request raises ``requests.ConnectionError`` over urllib3's ``ClosedPoolError``, as does
    one whose pool was closed under it (a retry waiting while another thread closed)."""

    closed = False

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        if self.closed:
            raise requests.ConnectionError(
                ClosedPoolError(None, "the connection pool is closed"),  # type: ignore[arg-type]
                request=request,
            )
        return super().send(request, *args, **kwargs)

    def close(self) -> None:
        """Close every pool, not only forget it as urllib3 2 does (a request waiting to be
        retried would send again on a pool forgotten but still open)."""
        self.closed = True
        pools = [
            pool
            for manager in (self.poolmanager, *self.proxy_manager.values())
            for key in manager.pools.keys()  # noqa: SIM118 (the container is not iterable)
            if (pool := manager.pools.get(key)) is not None
        ]
        super().close()
        for pool in pools:
            pool.close()  # a connection in use is closed when it is put back

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _fresh_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _fresh_pools(manager)
        return manager
