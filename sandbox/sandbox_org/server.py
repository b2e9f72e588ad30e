"""The HTTPS server: TLS on a threaded HTTP/1.1 server with keep-alive.

Each connection gets a daemon thread; the TLS handshake happens in that thread (never in the
accept loop). Responses always carry Content-Length and are written in one call. Injected faults
(`faults.py`) are applied here, around the normal dispatch.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import router
from .faults import ERROR_FAULTS, error_body
from .httpio import Request, Response, json_response
from .org import SandboxOrg

logger = logging.getLogger(__name__)

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 300: "Multiple Choices", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 412: "Precondition Failed", 500: "Server Error", 503: "Service Unavailable"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SandboxOrg"
    sys_version = ""
    server: SandboxHTTPServer

    def setup(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(120)
        self.server.count_handshake()
        self.request = self.server.ssl_context.wrap_socket(sock, server_side=True)
        self.server.track(self.request, True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)
            # socketserver only closes the raw socket, which the TLS wrapper has detached
            with contextlib.suppress(OSError):
                self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        request = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()},
                          self._read_body())
        org = self.server.org
        fault = None if path.startswith(router.ADMIN_PREFIX) else router.take_fault(org, request)
        if fault is not None and fault.kind in ERROR_FAULTS:
            status, body = error_body(fault.kind)
            self._send(json_response(status, body))
            return
        if fault is not None and fault.kind == "timeout" and not fault.params.get("apply", True):
            time.sleep(float(fault.params.get("seconds", 30)))
            self.close_connection = True
            return
        response = router.dispatch(org, request, self.server.instance_url)
        if fault is not None and fault.kind == "drop_after_write":
            logger.info("dropping the connection after %s %s", self.command, path)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "timeout":
            time.sleep(float(fault.params.get("seconds", 30)))
        self._send(response)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    def _send(self, response: Response) -> None:
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Status')}",
                 f"Date: {self.date_time_string()}"]
        if response.content_type and response.status != 204:
            lines.append(f"Content-Type: {response.content_type}")
        for key, value in response.headers.items():
            lines.append(f"{key}: {value}")
        body = response.body if response.status != 204 and self.command != "HEAD" else b""
        lines.append(f"Content-Length: {len(body)}")
        if response.close or self.headers.get("Connection", "").lower() == "close":
            lines.append("Connection: close")
            self.close_connection = True
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


class SandboxHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with TLS per connection and tracking of open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], org: SandboxOrg, ssl_context: ssl.SSLContext) -> None:
        self.org = org
        self.ssl_context = ssl_context
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        self.connections_accepted = 0
        self.handshakes_started = 0     # TCP connections that began a TLS handshake (failed ones too)
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host    # typeshed allows bytes; it is a str here
        shown = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.instance_url = f"https://{shown}:{port}"
        org.instance_url = self.instance_url

    def count_handshake(self) -> None:
        with self._open_lock:
            self.handshakes_started += 1

    def track(self, sock: Any, add: bool) -> None:
        with self._open_lock:
            if add:
                self.connections_accepted += 1
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        """Shut every open client connection (used on stop)."""
        with self._open_lock:
            socks = list(self._open)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class ServerThread:
    """Runs a SandboxHTTPServer in a background thread."""

    def __init__(self, server: SandboxHTTPServer) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="sandbox-org-https", daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join(timeout=5)
