"""A recording HTTPS proxy: every host a client asks for is logged; chosen hosts tunnel to the fake.

With `HTTPS_PROXY` pointing here, a test sees each host the scanner's process tried to reach,
including ones it should never contact (the public cloud's authority, instance discovery).
Hosts in `tunnel` reach the fake, whose certificate covers the real clouds' host names.
"""

from __future__ import annotations

import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RecordingProxy:
    def __init__(self, tunnel: dict[str, int] | None = None) -> None:
        self.tunnel = {host.lower(): port for host, port in (tunnel or {}).items()}
        self.hosts: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, host: str) -> None:
        with self._lock:
            self.hosts.append(host.lower())


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    sockets = [client, upstream]
    while True:
        readable, _, broken = select.select(sockets, [], sockets, 30)
        if broken or not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (upstream if sock is client else client).sendall(data)


def _handler(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_CONNECT(self) -> None:
            host, _, port = self.path.rpartition(":")
            proxy.record(host)
            target = proxy.tunnel.get(host.lower())
            if target is None or port != "443":
                self.send_error(403, "not a host this test allows")
                return
            with socket.create_connection(("127.0.0.1", target)) as upstream:
                self.send_response(200, "Connection established")
                self.end_headers()
                _relay(self.connection, upstream)
            self.close_connection = True

        def _refuse(self) -> None:  # plain-http requests through the proxy (e.g. IMDS)
            proxy.record(self.path.split("/")[2] if "://" in self.path else self.path)
            self.send_error(403, "not a host this test allows")

        do_GET = do_POST = _refuse

    return Handler
