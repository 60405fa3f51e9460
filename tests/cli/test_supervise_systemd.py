"""`run` under systemd: the notify protocol on a real datagram socket, as Type=notify and WatchdogSec= expect."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, write_yaml
from tests.commands import FLEET

pytestmark = pytest.mark.slow


class NotifySocket:
    """The socket systemd would listen on: every datagram `run` sends, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def collect(self, until: float) -> None:
        while time.monotonic() < until:
            try:
                self.messages += self.sock.recv(4096).decode().split("\n")
            except TimeoutError:
                continue

    def wait_for(self, wanted: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while wanted not in self.messages and time.monotonic() < deadline:
            self.collect(time.monotonic() + 0.2)
        assert wanted in self.messages, f"{wanted} never came: {self.messages}"


def test_ready_status_watchdog_and_stopping(launcher: FleetLauncher) -> None:
    root = launcher.root()
    notify = NotifySocket(root / "notify.sock")
    config = write_yaml(root / "fleet.yaml", fleet_yaml(root, [{"name": n, "bus": "main"} for n in ("a", "b")]))
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1500000"}
    run = subprocess.Popen(
        [*FLEET, "run", "-c", str(config)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        notify.wait_for("READY=1")
        assert any(m.startswith("STATUS=") and m.endswith(" running, 0 at risk") for m in notify.messages)
        pings_before = notify.messages.count("WATCHDOG=1")
        notify.collect(time.monotonic() + 3.0)
        # WATCHDOG_USEC 1.5 s: pinged at a third of it, so several times in 3 s.
        assert notify.messages.count("WATCHDOG=1") - pings_before >= 3
        assert "STATUS=2/2 running, 0 at risk" in notify.messages
        ready_at = notify.messages.index("READY=1")
        assert not any(m == "STOPPING=1" for m in notify.messages[:ready_at])
        stop = subprocess.run([*FLEET, "stop", "b", "-c", str(config)], capture_output=True, timeout=60)
        assert stop.returncode == 0
        notify.wait_for("STATUS=1/2 running, 0 at risk")  # the line stays current
        run.terminate()
        notify.wait_for("STOPPING=1")
        assert run.wait(30) == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)
