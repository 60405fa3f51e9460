"""The fleet's start against a real supervisord and real archivers, when supervisord answers too late."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import yaml

from supervisor_app.errors import SupervisordError
from supervisor_app.logs import JsonLogger
from supervisor_app.supervision.commands import Status
from supervisor_app.supervision.engine import START_BATCH, Engine
from supervisor_app.supervision.install import install
from supervisor_app.supervision.prepare_child import prepare_in_child
from supervisor_app.supervision.supervisord.client import SupervisordClient
from supervisor_app.supervision.supervisord.process import SupervisordProcess
from supervisor_app.supervision.wakeup import Wakeup

CLIENT_TIMEOUT_S = 0.5  # `run` waits 10 s; the stall below is twice this, as 256 venues' start was on 2 cores
STALL_S = 2 * CLIENT_TIMEOUT_S


class StallingClient(SupervisordClient):
    """A real client; supervisord is stopped (SIGSTOP) for STALL_S as the fleet's first start call reaches it."""

    def __init__(self, socket_path: Path, timeout_s: float) -> None:
        super().__init__(socket_path, timeout_s)
        self.supervisord_pid = 0
        self.start_calls = 0

    def start_many(self, names: list[str]) -> list[bool]:
        self.start_calls += 1
        if self.start_calls == 1:
            os.kill(self.supervisord_pid, signal.SIGSTOP)
            threading.Timer(STALL_S, os.kill, (self.supervisord_pid, signal.SIGCONT)).start()
        return super().start_many(names)


def test_a_start_supervisord_answers_too_late_does_not_end_run_and_every_venue_comes_up(short_dir: Path) -> None:
    root = short_dir
    names = [f"venue-{i:02d}" for i in range(START_BATCH + 4)]
    config_path = root / "fleet.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "archive_root": str(root / "archive"),
                "buses": {"main": str(root / "bus")},  # no queues: the archivers wait for theirs
                "restart": {"initial_delay": "200ms", "max_delay": "1s", "healthy_after": "5s"},
                "supervisor": {"state_dir": str(root / "state"), "log_dir": str(root / "logs"), "stop_timeout": "5s"},
                "venues": [{"name": name, "bus": "main"} for name in names],
            }
        )
    )
    (root / "archive").mkdir()
    config, rendered = prepare_in_child(config_path)
    files = install(config, rendered, config_path)
    lines = io.StringIO()
    log = JsonLogger(lines, json_lines=True)
    wakeup = Wakeup(files.wake_socket)
    daemon = SupervisordProcess.start(files, log, stdout=io.BytesIO())
    client = StallingClient(files.supervisord_socket, CLIENT_TIMEOUT_S)
    client.supervisord_pid = daemon.pid
    try:
        daemon.wait_ready(client, 20.0, files.supervisord_log)
        engine = Engine(
            config,
            rendered,
            client,
            config_path=config_path,
            prepare=prepare_in_child,
            install=install,
            supervisord_alive=daemon.alive,
            waker=wakeup,
            log=log,
        )
        engine.start()  # before the fix: SupervisordError, and `run` exited 75
        running = _step_until_running(engine, names, timeout_s=30.0)
        assert running == set(names)
        assert len(set(engine.running_pids().values())) == len(names)
        events = [json.loads(line) for line in lines.getvalue().splitlines()]
        [unanswered] = [e for e in events if e["event"] == "start_unanswered"]
        assert unanswered["venues"] == len(names) and "timed out" in unanswered["error"]
        engine.request_shutdown()
        deadline = time.monotonic() + 30.0
        while not engine.finished and time.monotonic() < deadline:
            engine.step()
        assert engine.finished
    finally:
        if daemon.alive():
            os.kill(daemon.pid, signal.SIGCONT)
            try:
                client.shutdown()
            except SupervisordError:
                daemon.kill()
        daemon.wait(15.0)
        client.close()
        wakeup.close()


def _step_until_running(engine: Engine, names: list[str], timeout_s: float) -> set[str]:
    deadline = time.monotonic() + timeout_s
    running: set[str] = set()
    while time.monotonic() < deadline:
        engine.step()
        reply = engine.submit(Status())
        engine.step()
        running = {v["venue"] for v in reply.result(0)["venues"] if v["state"] == "running" and v["pid"]}
        if running == set(names):
            break
    return running
