"""An HTTP proxy in front of the real store that answers some requests itself: 503 SlowDown, 500 InternalError.

SeaweedFS never throttles, so this stands in for a store under load. Requests it lets
through reach SeaweedFS unchanged, Host header included, so their signatures still hold.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = {
    503: b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    500: b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class ThrottlingProxy:
    """`fault(method, path, number)` returns a status to answer with (503, 500) or None to pass the request on."""

    def __init__(self, upstream: str, fault: Callable[[str, str, int], int | None]) -> None:
        self._upstream = urlsplit(upstream).netloc
        self._fault = fault
        self._lock = threading.Lock()
        self.requests = 0
        self.faults = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                status = proxy._decide(self.command, self.path)
                if status is not None:
                    payload = FAULTS[status] if self.command != "HEAD" else b""
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(FAULTS[status])))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(proxy._upstream, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header(
                        "Content-Length",
                        str(len(data) if self.command != "HEAD" else response.getheader("Content-Length") or 0),
                    )
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _decide(self, method: str, path: str) -> int | None:
        with self._lock:
            self.requests += 1
            status = self._fault(method, path, self.requests)
            if status is not None:
                self.faults += 1
            return status

    def __enter__(self) -> ThrottlingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
