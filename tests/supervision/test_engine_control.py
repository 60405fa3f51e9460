"""The control socket: request parsing, one JSON line each way, private socket, clear errors."""

from __future__ import annotations

import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor_app.errors import ControlError
from supervisor_app.supervision.commands import Reload, Restart, Start, Status, Stop
from supervisor_app.supervision.control import ControlServer, command_from_request, request


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="cf-ctl-", dir="/tmp"))
    yield path
    shutil.rmtree(path)


def test_requests_become_engine_commands() -> None:
    assert command_from_request({"op": "status"}) == Status()
    assert command_from_request({"op": "start", "venues": ["a", "b"]}) == Start(("a", "b"))
    assert command_from_request({"op": "stop", "venues": ["a"]}) == Stop(("a",))
    assert command_from_request({"op": "restart", "venues": ["a"]}) == Restart(("a",))
    assert command_from_request({"op": "reload", "config": "/x/fleet.yaml"}) == Reload(Path("/x/fleet.yaml"))
    assert command_from_request({"op": "reload"}) == Reload(None)


@pytest.mark.parametrize(
    "bad",
    [
        {"op": "launch"},
        {},
        {"op": "stop"},
        {"op": "stop", "venues": []},
        {"op": "stop", "venues": "a"},
        {"op": "stop", "venues": [1]},
    ],
)
def test_malformed_requests_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ControlError):
        command_from_request(bad)


def test_one_request_one_reply_over_a_private_socket(sock_dir: Path) -> None:
    path = sock_dir / "control.sock"
    path.write_text("stale")  # left by a run that was killed
    seen: list[dict[str, Any]] = []
    server = ControlServer(path, lambda req: seen.append(req) or {"ok": True, "echo": req})
    server.start()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert request(path, {"op": "status"}, timeout_s=5) == {"ok": True, "echo": {"op": "status"}}
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(str(path))
            raw.sendall(b"not json\n")
            assert raw.recv(1000) == b'{"ok": false, "error": "the request is not JSON"}\n'
    finally:
        server.close()
    assert seen == [{"op": "status"}] and not path.exists()


def test_a_fleet_that_is_not_running_is_a_clear_error(sock_dir: Path) -> None:
    with pytest.raises(ControlError, match="the fleet is not running"):
        request(sock_dir / "control.sock", {"op": "status"}, timeout_s=1)
