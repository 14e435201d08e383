"""A threading HTTP server that can be stopped cleanly: `close()` also ends keep-alive connections
and joins their handler threads, so a stopped server leaves no socket or thread behind (the alert
webhook in a run; the stub servers in the tests)."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class TrackingHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so `close()` can end keep-alive ones and join their threads."""

    daemon_threads = False  # server_close() joins the handler threads
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._closing = False
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection ended mid-request, by the client (reset, broken pipe) or by `close()`, is not
        an error worth a traceback on the terminal; anything else is reported as socketserver does."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError) or (self._closing and isinstance(exc, OSError)):
            return
        super().handle_error(request, client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._conn_lock:
            self.connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close(self) -> None:
        """Stop serving (call from another thread than `serve_forever`'s), end open connections,
        close the socket and join the handler threads."""
        self._closing = True
        self.shutdown()
        with self._conn_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.server_close()


__all__ = ["TrackingHTTPServer"]
