"""SupervisordClient's HTTP over a unix socket, against a scripted server: what supervisord never sends on demand.

The happy path against a real supervisord is covered by test_fleet_start.py and tests/cli.
"""

from __future__ import annotations

import socket
import threading
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from supervisor_app.errors import SupervisordError
from supervisor_app.supervision.supervisord.client import Faults, SupervisordClient

RUNNING = xmlrpc.client.dumps(({"statecode": 1, "statename": "RUNNING"},), methodresponse=True).encode()


def reply(body: bytes, *, status: str = "200 OK", headers: str | None = None) -> bytes:
    """An HTTP/1.1 response as medusa writes it (Content-Length unless `headers` says otherwise)."""
    if headers is None:
        headers = f"Content-Length: {len(body)}\r\n"
    return f"HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nServer: Medusa/1.12\r\n{headers}\r\n".encode() + body


def fault(code: int, text: str) -> bytes:
    return reply(xmlrpc.client.dumps(xmlrpc.client.Fault(code, text)).encode())


@dataclass
class Step:
    """The server's answer to one request: bytes to send (None: none, ever), then whether to close the connection."""

    send: bytes | None
    close: bool = False


@dataclass
class ScriptedServer:
    """Reads each request whole and answers it with the next step of its script."""

    path: Path
    script: list[Step]
    accepted: int = 0
    methods: list[str] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, listener: socket.socket) -> None:
        connection: socket.socket | None = None
        for step in self.script:
            request = b""
            while not request:
                if connection is None:
                    connection, _ = listener.accept()
                    connection.settimeout(10)
                    self.accepted += 1
                request = _read_request(connection)
                if not request:  # the client closed this one: it will come back on a new one
                    connection.close()
                    connection = None
            self.requests.append(request)
            self.methods.append(xmlrpc.client.loads(request.partition(b"\r\n\r\n")[2])[1])
            if step.send is None:
                self.stop.wait(10)
            else:
                connection.sendall(step.send)
            if step.close:
                connection.close()
                connection = None
                self.closed.set()
        self.stop.wait(10)
        if connection is not None:
            connection.close()


def _read_request(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += connection.recv(65536)
    return data[: len(head) + 4] + body


@pytest.fixture
def serve(short_dir: Path) -> Iterator[Any]:
    """serve(*steps) -> (server, client): a scripted server on a fresh socket and a client of it (timeout 0.5 s)."""
    started: list[tuple[ScriptedServer, threading.Thread, socket.socket, SupervisordClient]] = []

    def start(*steps: Step) -> tuple[ScriptedServer, SupervisordClient]:
        path = short_dir / f"s{len(started)}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen()
        server = ScriptedServer(path, list(steps))
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        client = SupervisordClient(path, timeout_s=0.5)
        started.append((server, thread, listener, client))
        return server, client

    yield start
    for server, thread, listener, client in started:
        client.close()
        server.stop.set()
        thread.join(10)
        listener.close()


def test_calls_share_one_kept_alive_connection_as_http_1_1_posts_to_rpc2(serve: Any) -> None:
    server, client = serve(Step(reply(RUNNING)), Step(reply(RUNNING)))
    assert client.state() == "RUNNING"
    assert client.state() == "RUNNING"
    assert server.accepted == 1
    assert server.methods == ["supervisor.getState", "supervisor.getState"]
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /RPC2 HTTP/1.1"
    assert b"Content-Length: %d" % len(body) in lines


def test_the_call_s_parameters_reach_the_server_as_sent(serve: Any) -> None:
    results = [True, {"faultCode": Faults.ALREADY_STARTED, "faultString": "ALREADY_STARTED: b"}]
    server, client = serve(Step(reply(xmlrpc.client.dumps((results,), methodresponse=True).encode())))
    assert client.start_many(["a", "b"]) == [True, False]
    params, method = xmlrpc.client.loads(server.requests[0].partition(b"\r\n\r\n")[2])
    assert method == "system.multicall"
    assert params == ([{"methodName": "supervisor.startProcess", "params": [name, False]} for name in "ab"],)


def test_an_ignored_fault_is_the_default_and_keeps_the_connection(serve: Any) -> None:
    server, client = serve(Step(fault(Faults.ALREADY_STARTED, "ALREADY_STARTED: a")), Step(reply(RUNNING)))
    assert client.start("a") is False
    assert client.state() == "RUNNING"
    assert server.accepted == 1


def test_any_other_fault_is_a_supervisord_error_with_supervisord_s_words(serve: Any) -> None:
    _, client = serve(Step(fault(Faults.BAD_NAME, "BAD_NAME: nope")))
    with pytest.raises(SupervisordError, match=r"^supervisord refused: BAD_NAME: nope$"):
        client.add_group("nope")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (reply(b"<html>boom</html>", status="500 Internal Server Error"), "HTTP 500 Internal Server Error"),
        (reply(b"<html>no</html>", status="404 Not Found"), "HTTP 404 Not Found"),
        (reply(b"this is not xml"), "malformed XML-RPC response"),
        (reply(RUNNING[:-40]), "malformed XML-RPC response"),  # a whole HTTP body, a cut XML-RPC one
        (b"SSH-2.0-OpenSSH_9.6\r\n", "not an HTTP reply"),
        (reply(RUNNING, headers="Content-Length: many\r\n"), "bad length 'many'"),
        (reply(RUNNING, headers="Transfer-Encoding: chunked\r\n"), "bad length"),
    ],
)
def test_a_malformed_reply_is_a_supervisord_error_and_the_next_call_reconnects(
    serve: Any, answer: bytes, error: str
) -> None:
    server, client = serve(Step(answer), Step(reply(RUNNING)))
    with pytest.raises(SupervisordError, match=f"^cannot talk to supervisord at {server.path}: .*{error}"):
        client.state()
    assert client.state() == "RUNNING"
    assert server.accepted == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"", "closed before any reply"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "closed in the middle of the reply"),
        (reply(RUNNING, headers=f"Content-Length: {len(RUNNING) + 100}\r\n"), f"after {len(RUNNING)} of the reply's"),
        (reply(b"5\r\n<?xml", headers="Transfer-Encoding: chunked\r\n"), "closed in the middle of the reply"),
    ],
)
def test_a_connection_closed_in_the_middle_of_a_reply_is_a_supervisord_error(
    serve: Any, answer: bytes, error: str
) -> None:
    server, client = serve(Step(answer, close=True), Step(reply(RUNNING)))
    with pytest.raises(SupervisordError, match=error):
        client.state()
    assert client.state() == "RUNNING"
    assert server.accepted == 2


def test_a_chunked_reply_is_read_whole(serve: Any) -> None:
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece) for piece in (RUNNING[:10], RUNNING[10:]))
    answer = reply(chunks + b"0\r\nX-Trailer: yes\r\n\r\n", headers="Transfer-Encoding: chunked\r\n")
    server, client = serve(Step(answer), Step(reply(RUNNING)))
    assert client.state() == "RUNNING"
    assert client.state() == "RUNNING"
    assert server.accepted == 1


def test_a_reply_without_a_length_ends_at_the_close_and_the_next_call_reconnects(serve: Any) -> None:
    server, client = serve(Step(reply(RUNNING, headers="Connection: close\r\n"), close=True), Step(reply(RUNNING)))
    assert client.state() == "RUNNING"
    assert client.state() == "RUNNING"
    assert server.accepted == 2


def test_connection_close_is_honoured_even_with_a_length(serve: Any) -> None:
    headers = f"Content-Length: {len(RUNNING)}\r\nConnection: close\r\n"
    server, client = serve(Step(reply(RUNNING, headers=headers), close=True), Step(reply(RUNNING)))
    assert client.state() == "RUNNING"
    assert server.closed.wait(10)
    assert client.state() == "RUNNING"
    assert server.accepted == 2 and len(server.requests) == 2


def test_a_kept_connection_the_server_has_closed_is_replaced_without_an_error(serve: Any) -> None:
    server, client = serve(Step(reply(RUNNING), close=True), Step(reply(RUNNING)))
    assert client.state() == "RUNNING"
    assert server.closed.wait(10)
    assert client.state() == "RUNNING"  # sent again on a new connection: the first never reached the server
    assert server.accepted == 2
    assert server.methods == ["supervisor.getState", "supervisor.getState"]


def test_a_server_that_never_answers_times_out(serve: Any) -> None:
    server, client = serve(Step(None))
    with pytest.raises(SupervisordError, match=f"^cannot talk to supervisord at {server.path}: timed out$"):
        client.state()


def test_no_server_at_the_path_is_a_supervisord_error(short_dir: Path) -> None:
    client = SupervisordClient(short_dir / "absent.sock", timeout_s=0.5)
    with pytest.raises(SupervisordError, match=r"cannot talk to supervisord at .*absent\.sock: .*No such file"):
        client.state()
