"""An HTTP proxy in front of the real store that meddles around requests it passes on.

`before(method, path)` runs before a request is forwarded (to abort an upload in the real
store, say); `lie(method, path)` picks forwarded requests whose success is answered with
a 500 InternalError, as a store that did the work and failed to say so. Requests reach
SeaweedFS unchanged, Host header included, so their signatures hold.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

INTERNAL_ERROR = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


def never(method: str, path: str) -> bool:
    return False


def nothing(method: str, path: str) -> None:
    pass


class MeddlingProxy:
    """Forwards every request to `upstream`; see the module's docstring for `before` and `lie`."""

    def __init__(
        self,
        upstream: str,
        *,
        before: Callable[[str, str], None] = nothing,
        lie: Callable[[str, str], bool] = never,
    ) -> None:
        netloc = urlsplit(upstream).netloc
        lock = threading.Lock()
        self.lies: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                with lock:
                    before(self.command, self.path)
                upstream_conn = http.client.HTTPConnection(netloc, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in NOT_FORWARDED}
                    upstream_conn.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream_conn.getresponse()
                    data = response.read()
                finally:
                    upstream_conn.close()
                with lock:
                    lying = response.status == 200 and lie(self.command, self.path)
                    if lying:
                        proxy.lies.append(f"{self.command} {self.path}")
                if lying:
                    self._reply(500, [], INTERNAL_ERROR, len(INTERNAL_ERROR))
                else:
                    length = len(data) if self.command != "HEAD" else int(response.getheader("Content-Length") or 0)
                    self._reply(response.status, response.getheaders(), data, length)

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes, length: int) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in NOT_FORWARDED:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def __enter__(self) -> MeddlingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
