"""An HTTP proxy in front of the real store that meddles around requests it passes on.

`before(method, path)` runs before a request is forwarded (to abort an upload in the real
store, say); `lie(method, path)` picks forwarded requests whose success is answered with
a 500 InternalError, as a store that did the work and failed to say so. Requests reach
SeaweedFS unchanged, Host header included, so their signatures hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

from tests.s3.forwarding_proxy import ForwardingProxy, reply, store_error

INTERNAL_ERROR = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"


def never(method: str, path: str) -> bool:
    return False


def nothing(method: str, path: str) -> None:
    pass


class MeddlingProxy(ForwardingProxy):
    """Forwards every request to `upstream`; see the module's docstring for `before` and `lie`."""

    def __init__(
        self,
        upstream: str,
        *,
        before: Callable[[str, str], None] = nothing,
        lie: Callable[[str, str], bool] = never,
    ) -> None:
        super().__init__(upstream)
        self._before = before
        self._lie = lie
        self._lock = threading.Lock()
        self.lies: list[str] = []

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        with self._lock:
            self._before(request.command, request.path)
        answer = self.forward(request, body)
        with self._lock:
            lying = answer.status == 200 and self._lie(request.command, request.path)
            if lying:
                self.lies.append(f"{request.command} {request.path}")
        reply(request, store_error(500, INTERNAL_ERROR) if lying else answer)
