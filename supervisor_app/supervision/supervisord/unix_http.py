"""HTTP/1.1 POSTs over a unix socket, kept alive: how `run` reaches supervisord's XML-RPC.

Ours rather than `http.client`'s, which imports `ssl`: OpenSSL costs `run` ~4 MiB of RSS
for a socket that never needs it. It reads what supervisord's medusa server can send: a
body of Content-Length bytes, chunked, or up to the close; any status but 200 is an error.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import BinaryIO

_MAX_LINE = 65536
_MAX_HEADERS = 100


class HttpError(Exception):
    """The server's reply is not a whole HTTP response, or not a 200."""


class UnixHttpConnection:
    """One connection, kept between posts and reopened by the next post after any error; use it from one thread.

    Every socket operation (connect, each send, each receive) times out after `timeout_s`.
    """

    def __init__(self, path: Path, timeout_s: float) -> None:
        self._path = path
        self._timeout_s = timeout_s
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def post(self, target: str, body: bytes, content_type: str) -> bytes:
        """POST `body` to `target`; the reply's body. OSError or HttpError on failure, and the connection is closed."""
        head = f"POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body
        try:
            return self._read_reply(self._send(request))
        except BaseException:
            self.close()  # it may be half-used: the next post starts on a fresh one
            raise

    def _send(self, request: bytes) -> bytes:
        """Send `request`, return the reply's status line; on a kept connection the server had closed, once more."""
        if self._reader is not None:
            try:
                line = self._exchange(request)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                line = b""
            if line:
                return line
            self.close()  # closed before any reply: the request was not read, sending it again is safe
        self._connect()
        return self._exchange(request)

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._timeout_s)
        try:
            sock.connect(str(self._path))
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self._reader = sock.makefile("rb")

    def _exchange(self, request: bytes) -> bytes:
        assert self._socket is not None and self._reader is not None
        self._socket.sendall(request)
        return self._reader.readline(_MAX_LINE + 1)

    def _read_reply(self, status_line: bytes) -> bytes:
        version, status, reason = _status(status_line)
        headers = self._headers()
        if status != 200:
            raise HttpError(f"HTTP {status} {reason}".rstrip())
        connection = headers.get("connection", "").lower()
        keep = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        elif "content-length" in headers:
            body = self._exactly(_length(headers["content-length"]))
        else:
            body = self._line_source().read()  # the server ends such a reply by closing the connection
            keep = False
        if not keep:
            self.close()
        return body

    def _line_source(self) -> BinaryIO:
        assert self._reader is not None
        return self._reader

    def _line(self) -> bytes:
        return _whole(self._line_source().readline(_MAX_LINE + 1))

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n"):
                return headers
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise HttpError(f"malformed header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        raise HttpError(f"more than {_MAX_HEADERS} headers in the reply")

    def _exactly(self, size: int) -> bytes:
        data = self._line_source().read(size)
        if len(data) < size:
            raise HttpError(f"the connection closed after {len(data)} of the reply's {size} bytes")
        return data

    def _chunked(self) -> bytes:
        chunks = []
        while size := _length(self._line().split(b";")[0].decode("latin-1"), base=16):
            chunks.append(self._exactly(size))
            if self._line() not in (b"\r\n", b"\n"):
                raise HttpError("a chunk of the reply does not end where its size says")
        while self._line() not in (b"\r\n", b"\n"):
            pass  # trailer headers: none that matter here
        return b"".join(chunks)


def _whole(line: bytes) -> bytes:
    """`line` as readline() gave it, if it is a whole line."""
    if len(line) > _MAX_LINE:
        raise HttpError(f"a line of the reply is longer than {_MAX_LINE} bytes")
    if not line.endswith(b"\n"):
        raise HttpError("the connection closed in the middle of the reply")
    return line


def _status(line: bytes) -> tuple[str, int, str]:
    """(version, status, reason) of the reply's first line."""
    if not line:
        raise HttpError("the connection closed before any reply")
    version, _, rest = _whole(line).decode("latin-1").strip().partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise HttpError(f"not an HTTP reply: {line[:80]!r}")
    return version, int(code), reason


def _length(text: str, base: int = 10) -> int:
    try:
        value = int(text.strip(), base)
    except ValueError:
        raise HttpError(f"bad length {text.strip()[:40]!r} in the reply") from None
    if value < 0:
        raise HttpError(f"negative length {value} in the reply")
    return value
