"""An HTTP proxy in front of the real store that answers some requests itself: 503 SlowDown, 500 InternalError.

SeaweedFS never throttles, so this stands in for a store under load. Requests it lets
through reach SeaweedFS unchanged, Host header included, so their signatures still hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from tests.s3.forwarding_proxy import ForwardingProxy, reply, store_error

FAULTS = {
    503: b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    500: b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
}


class ThrottlingProxy(ForwardingProxy):
    """`fault(method, path, number)` returns a status to answer with (503, 500) or None to pass the request on."""

    def __init__(self, upstream: str, fault: Callable[[str, str, int], int | None]) -> None:
        super().__init__(upstream)
        self._fault = fault
        self._lock = threading.Lock()
        self.requests = 0
        self.faults = 0

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        status = self._decide(request.command, request.path)
        reply(request, self.forward(request, body) if status is None else store_error(status, FAULTS[status]))

    def _decide(self, method: str, path: str) -> int | None:
        with self._lock:
            self.requests += 1
            status = self._fault(method, path, self.requests)
            if status is not None:
                self.faults += 1
            return status
