"""A real `chronicle-fleet run` for end-to-end tests: config writing, polling, log parsing, cleanup."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from supervisor_app.errors import ControlError
from supervisor_app.journal import priority_prefix
from supervisor_app.supervision.control import request
from supervisor_app.supervision.state_files import StateFiles
from tests.commands import FLEET

T = TypeVar("T")
CLI = FLEET


def wait_until(probe: Callable[[], T], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def json_lines(path: Path, *, finished: bool = False, journal: bool = False) -> list[dict[str, Any]]:
    """Every line of `path` parsed as a JSON object (the test fails on any other line).

    While its writer runs, a line may be half written: it is left for the next read
    unless the writer has `finished`. With `journal`, each line must start with the
    syslog priority of its level (`<3>` for error), which is checked and removed.
    """
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if finished:
        assert not text or text.endswith("\n"), f"{path} ends in a half-written line: {text[-200:]!r}"
    else:
        text = text[: text.rfind("\n") + 1]
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if journal:
            priority, line = line[:3], line[3:]
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        assert isinstance(entry, dict), f"{path}:{number} is not a JSON object: {line!r}"
        if journal:
            assert priority == priority_prefix(entry["level"]), f"{path}:{number}: {priority} for {entry['level']}"
        entries.append(entry)
    return entries


def fleet_yaml(root: Path, venues: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """A fleet declaration under `root`; quick restarts and stops unless overridden."""
    data: dict[str, Any] = {
        "version": 1,
        "archive_root": str(root / "archive"),
        "buses": {"main": str(root / "bus")},
        "restart": {"initial_delay": "200ms", "max_delay": "2s", "healthy_after": "5s"},
        "supervisor": {"state_dir": str(root / "state"), "log_dir": str(root / "logs"), "stop_timeout": "10s"},
        "venues": venues,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class RunningFleet:
    """One `chronicle-fleet run` child and the files it writes."""

    root: Path
    config: Path
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    journal: bool = False  # stdout and stderr are one stream, the "journal": lines start with <priority>
    state_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state_dir = self.root / "state"

    def ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """A control command against this fleet."""
        return cli(args[0], "--state-dir", str(self.state_dir), *args[1:], timeout=timeout)

    def try_status(self) -> dict[str, dict[str, Any]] | None:
        """Every venue's status by name (asked in-process: polling through the CLI costs a Python start-up each time)."""
        try:
            reply = request(StateFiles(self.state_dir).control_socket, {"op": "status"}, timeout_s=10)
        except ControlError:
            return None
        return {v["venue"]: v for v in reply["venues"]} if reply.get("ok") else None

    def status(self) -> dict[str, dict[str, Any]]:
        status = self.try_status()
        assert status is not None, "the fleet does not answer"
        return status

    def wait_running(self, *venues: str, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
        """Status once every named venue runs (with a pid)."""

        def probe() -> dict[str, dict[str, Any]] | None:
            status = self.try_status()
            if status and all(status.get(v, {}).get("state") == "running" and status[v]["pid"] for v in venues):
                return status
            return None

        return wait_until(probe, timeout=timeout, what=f"{venues} running")

    def events(self, event: str | None = None, venue: str | None = None) -> list[dict[str, Any]]:
        """run's own JSON events so far, filtered."""
        return [
            e
            for e in json_lines(self.stderr, journal=self.journal)
            if (event is None or e["event"] == event) and (venue is None or e.get("venue") == venue)
        ]

    def wait_events(
        self, event: str, venue: str | None = None, count: int = 1, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        return wait_until(
            lambda: (found := self.events(event, venue)) and len(found) >= count and found,
            timeout=timeout,
            what=f"{count} x {event} {venue or ''}",
        )

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def log_files(self) -> list[Path]:
        logs = self.root / "logs"
        return sorted(logs.glob("*.log*")) if logs.exists() else []


class FleetLauncher:
    """Starts fleets in short private temp dirs (unix socket paths are limited to 107 bytes)."""

    def __init__(self) -> None:
        self.fleets: list[RunningFleet] = []
        self.roots: list[Path] = []

    def root(self) -> Path:
        root = Path(tempfile.mkdtemp(prefix="cf-", dir="/tmp"))
        self.roots.append(root)
        (root / "archive").mkdir()  # fleet_yaml's archive root; the queues are left missing (archivers wait)
        return root

    def start(
        self,
        root: Path,
        data: dict[str, Any],
        *,
        wait_for: tuple[str, ...] | None = None,
        journal: bool = False,
        wrap: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> RunningFleet:
        """`run` on `data`; with `journal`, stdout and stderr are one file that $JOURNAL_STREAM names, as under systemd.

        `wrap`: a command line `run`'s own is appended to (e.g. `unshare --mount ...`); `env`: its environment.
        """
        config = write_yaml(root / "fleet.yaml", data)
        stdout, stderr = root / "run.stdout", root / ("run.stdout" if journal else "run.stderr")
        with stdout.open("wb") as out, stderr.open("ab") as err:
            env = dict(os.environ if env is None else env)
            if journal:
                info = os.fstat(out.fileno())
                env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
            process = subprocess.Popen(
                [*(wrap or []), *CLI, "run", "-c", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT if journal else err,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        fleet = RunningFleet(root, config, process, stdout, stderr, journal=journal)
        self.fleets.append(fleet)
        names = tuple(v["name"] for v in data["venues"] if v.get("enabled", True)) if wait_for is None else wait_for
        if names:
            fleet.wait_running(*names)
        return fleet

    def stop_all(self) -> None:
        """SIGTERM every run and wait; then kill anything still running from our temp dirs."""
        for fleet in self.fleets:
            try:
                fleet.terminate(timeout=30)
            except subprocess.TimeoutExpired:
                fleet.process.kill()
                fleet.process.wait(5)
        for pid in _pids_mentioning(self.roots):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove_roots(self) -> None:
        for root in self.roots:
            shutil.rmtree(root, ignore_errors=True)


def _pids_mentioning(roots: list[Path]) -> Iterator[int]:
    """Processes whose command line names one of our temp dirs (supervisord, archivers)."""
    marks = [str(root).encode() for root in roots]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(mark in cmdline for mark in marks):
            yield int(entry.name)


def assert_all_json(fleet: RunningFleet) -> None:
    """Every line run wrote (stdout, stderr) and every per-venue log line parses as a JSON object."""
    for path in {fleet.stdout, fleet.stderr}:
        json_lines(path, finished=True, journal=fleet.journal)
    for path in fleet.log_files():
        json_lines(path, finished=True)
