"""A host that accepts connections and never answers: a blackholed private endpoint as a runner sees it."""

from __future__ import annotations

import socket
import ssl
import threading

import trustme


class Silent:
    """Accepts TCP connections, keeps them open, answers nothing; counts them.

    With `tls`, it completes the TLS handshake first (a certificate from that CA), then says
    nothing: the request is sent and no reply comes, which only the read timeout ends.
    """

    def __init__(self, tls: trustme.CA | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = self._listener.getsockname()[1]
        self.url = f"https://localhost:{self.port}"
        self.accepted: list[socket.socket] = []
        self.handshakes = 0
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.issue_cert("localhost").configure_cert(self._context)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted.append(connection)
            if self._context is not None:
                threading.Thread(target=self._handshake, args=(connection,), daemon=True).start()

    def _handshake(self, connection: socket.socket) -> None:
        assert self._context is not None
        try:
            wrapped = self._context.wrap_socket(connection, server_side=True)
        except OSError:
            return
        self.handshakes += 1
        self.accepted.append(wrapped)  # held open, never read from or written to

    def __enter__(self) -> Silent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        for connection in self.accepted:
            connection.close()
