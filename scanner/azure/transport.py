"""azure-core's requests transport with a deadline on each whole reply, not only on each pause.

`--read-timeout` bounds the wait between two bytes of a reply (the socket's timeout). A server
or proxy that trickles a byte every few seconds never trips it, and azure-core has no total
timeout of its own: one such reply held a scan for as long as the trickle lasted. Here every
attempt has a deadline (`CollectOptions.reply_seconds`): when it passes, the connection's socket
is shut down, the read in progress ends, and the attempt fails as a read timeout does (retried,
then a coverage gap or one error line that says the host did not answer in time).

The socket is reached through urllib3's connection class: each connection registers its socket
with the attempt running on its thread when it starts reading the reply (headers included).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import urllib3
from azure.core.exceptions import AzureError, ServiceResponseTimeoutError
from azure.core.pipeline.transport._requests_basic import (  # type: ignore[attr-defined]
    BiggerBlockSizeHTTPAdapter,
    RequestsTransport,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class _Attempt:
    """One request on one thread: the socket it reads from, and whether its deadline passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def hold(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock if isinstance(sock, socket.socket) else None
            late = self.expired
        if late:
            self._cut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
        self._cut()

    def _cut(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            # The plain socket's shutdown: an SSLSocket's own would drop its TLS state under the reader.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._sock = None


class _Held(HTTPConnection):
    """A connection that gives its socket to the attempt on its thread as it starts reading a reply."""

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.hold(self.sock)
        return super().getresponse(*args, **kwargs)


class _Connection(_Held):
    pass


class _TlsConnection(_Held, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


_POOLS = {"http": _Pool, "https": _TlsPool}


class _Adapter(BiggerBlockSizeHTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


class DeadlineTransport(RequestsTransport):
    """`RequestsTransport` whose every attempt must be answered in full within `reply_seconds`."""

    def __init__(self, reply_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reply_seconds = reply_seconds

    def open(self) -> None:
        """Opened again after a close: one set of client options may serve clients made one after another."""
        if self.session is None:
            self._has_been_opened = False
        super().open()  # type: ignore[no-untyped-call]

    def _init_session(self, session: Any) -> None:
        super()._init_session(session)
        retries = urllib3.util.Retry(total=False, redirect=False, raise_on_status=False)
        for prefix in ("http://", "https://"):
            session.mount(prefix, _Adapter(max_retries=retries))

    def send(self, request: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):  # a body read later, outside this call: not bounded here
            return super().send(request, **kwargs)
        attempt = _Attempt(self.reply_seconds)
        _current.attempt = attempt
        attempt.start()
        try:
            return super().send(request, **kwargs)
        except AzureError as exc:
            if attempt.expired:
                raise ServiceResponseTimeoutError(
                    f"no complete reply within {self.reply_seconds:g} s", error=exc
                ) from exc
            raise
        finally:
            attempt.stop()
            _current.attempt = None
