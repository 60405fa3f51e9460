"""An HTTP proxy on loopback in front of the real store; subclasses meddle with what passes through.

Requests reach SeaweedFS unchanged, Host header included, so their signatures hold.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


@dataclass(frozen=True)
class Answer:
    """What the store answered (or what the proxy answers instead)."""

    status: int
    headers: list[tuple[str, str]]
    data: bytes
    length: int  # of the body; for HEAD, what the store said it would be


class ForwardingProxy:
    """Forwards every request to `upstream` as it is; `handle` is where a subclass steps in."""

    def __init__(self, upstream: str) -> None:
        self._upstream = urlsplit(upstream).netloc
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                proxy.handle(self, self.rfile.read(length) if length else b"")

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        reply(request, self.forward(request, body))

    def forward(self, request: BaseHTTPRequestHandler, body: bytes) -> Answer:
        upstream = http.client.HTTPConnection(self._upstream, timeout=120)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in NOT_FORWARDED}
            upstream.request(request.command, request.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        length = len(data) if request.command != "HEAD" else int(response.getheader("Content-Length") or 0)
        return Answer(response.status, response.getheaders(), data, length)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def reply(request: BaseHTTPRequestHandler, answer: Answer) -> None:
    request.send_response(answer.status)
    for key, value in answer.headers:
        if key.lower() not in NOT_FORWARDED:
            request.send_header(key, value)
    request.send_header("Content-Length", str(answer.length))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(answer.data)


def store_error(status: int, body: bytes) -> Answer:
    """An S3 error document answered by the proxy itself."""
    return Answer(status, [("Content-Type", "application/xml")], body, len(body))
