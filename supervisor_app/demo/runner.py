"""`chronicle-fleet demo`: synthetic feeds, the real fleet under supervisord, one archiver killed midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.progress import ArchiveProgress, archive_progress
from supervisor_app.archive.verify import verify_archive
from supervisor_app.demo.summary import (
    VenueSummary,
    archived_entries,
    format_table,
    read_ledger,
    summarize_venue,
)
from supervisor_app.demo.workspace import (
    DEMO_SYMBOLS,
    DEMO_VENUES,
    SEGMENT_SIZE,
    DemoWorkspace,
    create_workspace,
)
from supervisor_app.errors import ControlError
from supervisor_app.supervision import control
from supervisor_app.supervision.state_files import StateFiles

FEED_RATE = 2500  # messages a second per venue: about one 1 MiB segment a second
READER_NAME = "raw-archiver"
START_TIMEOUT_S = 30.0
CATCH_UP_TIMEOUT_S = 15.0
FLEET_STOP_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class KillEvent:
    """The archiver the demo killed, and how the supervisor answered."""

    venue: str
    old_pid: int
    new_pid: int | None = None
    back_after_s: float | None = None


@dataclass(frozen=True)
class DemoResult:
    workspace: DemoWorkspace
    summaries: list[VenueSummary]
    kill: KillEvent | None
    fleet_exit_code: int | None
    verify_problems: int

    @property
    def ok(self) -> bool:
        return (
            self.fleet_exit_code == 0
            and self.verify_problems == 0
            and all(s.segments > 0 and not s.mismatched and s.verified == s.segments for s in self.summaries)
            and self.kill is not None
            and self.kill.new_pid is not None
        )


def run_demo(workdir: Path, duration_s: float, out: TextIO) -> DemoResult:
    """Run the whole demo, printing progress to `out`; Ctrl-C ends the run phase early."""
    workspace = create_workspace(workdir)
    say = _printer(out)
    say(f"demo directory: {workspace.root}")
    feeds = {venue: _start_feed(workspace, venue) for venue in DEMO_VENUES}
    fleet = _start_fleet(workspace)
    kill: KillEvent | None = None
    statuses: dict[str, dict[str, Any]] = {}
    try:
        statuses = _wait_until_running(workspace, fleet)
        say("fleet running: " + ", ".join(f"{venue} (pid {status['pid']})" for venue, status in statuses.items()))
        kill = _watch(workspace, duration_s, _ProgressView(out), say)
    except KeyboardInterrupt:
        say("interrupted: stopping everything cleanly")
    finally:
        _stop_all(feeds.values())
    say("feeds stopped; letting the archivers catch up")
    _wait_for_catch_up(workspace)
    statuses = _status(workspace) or statuses
    say("stopping the fleet (SIGTERM)")
    exit_code = _stop_fleet(fleet)
    result = _result(workspace, statuses, kill, exit_code)
    _print_result(result, say)
    return result


def _printer(out: TextIO) -> Callable[[str], None]:
    def say(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    return say


def _start_feed(workspace: DemoWorkspace, venue: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "supervisor_app.demo.feed",
        "--queue", str(workspace.queue(venue)),
        "--ledger", str(workspace.ledger(venue)),
        "--segment-size", str(SEGMENT_SIZE),
        "--rate", str(FEED_RATE),
        "--symbol", DEMO_SYMBOLS[venue],
    ]  # fmt: skip
    # Own sessions: a Ctrl-C reaches only the demo, which then stops everything in order.
    return subprocess.Popen(cmd, start_new_session=True)


def _start_fleet(workspace: DemoWorkspace) -> subprocess.Popen[bytes]:
    log = workspace.supervisor_log.open("ab")
    cmd = [sys.executable, "-m", "supervisor_app", "run", "-c", str(workspace.config)]
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def _status(workspace: DemoWorkspace) -> dict[str, dict[str, Any]]:
    try:
        reply = control.request(StateFiles(workspace.state).control_socket, {"op": "status"}, 5.0)
    except ControlError:
        return {}
    return {v["venue"]: v for v in reply.get("venues", [])}


def _wait_until_running(workspace: DemoWorkspace, fleet: subprocess.Popen[bytes]) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if fleet.poll() is not None:
            raise RuntimeError(f"the fleet exited with code {fleet.returncode}; see {workspace.supervisor_log}")
        statuses = _status(workspace)
        if len(statuses) == len(DEMO_VENUES) and all(s["state"] == "running" and s["pid"] for s in statuses.values()):
            return statuses
        time.sleep(0.2)
    raise RuntimeError(f"the archivers were not all running after {START_TIMEOUT_S:.0f} s; see {workspace.logs}")


def _watch(
    workspace: DemoWorkspace, duration_s: float, view: _ProgressView, say: Callable[[str], None]
) -> KillEvent | None:
    """Show progress until the duration is up; kill one archiver about halfway through."""
    started = time.monotonic()
    kill_at = started + duration_s * 0.4
    kill: KillEvent | None = None
    killed_at = 0.0
    while (now := time.monotonic()) < started + duration_s:
        statuses = _status(workspace)
        if kill is None and now >= kill_at:
            kill, killed_at = _kill_one(statuses, say), now
        elif kill is not None and kill.new_pid is None:
            kill = _notice_restart(kill, statuses.get(kill.venue), now - killed_at, say)
        view.show(now - started, statuses, _progress(workspace))
        time.sleep(1.0)
    view.close()
    return kill


def _kill_one(statuses: dict[str, dict[str, Any]], say: Callable[[str], None]) -> KillEvent | None:
    venue = DEMO_VENUES[0]
    pid = statuses.get(venue, {}).get("pid")
    if not pid:
        return None
    os.kill(pid, signal.SIGKILL)
    say(f"killed the {venue} archiver (pid {pid}) with SIGKILL; the supervisor should restart it")
    return KillEvent(venue, pid)


def _notice_restart(
    kill: KillEvent, status: dict[str, Any] | None, since_s: float, say: Callable[[str], None]
) -> KillEvent:
    if status and status["state"] == "running" and status["pid"] and status["pid"] != kill.old_pid:
        say(f"{kill.venue} archiver is back as pid {status['pid']} (seen {since_s:.1f} s after the kill)")
        return KillEvent(kill.venue, kill.old_pid, status["pid"], round(since_s, 1))
    return kill


def _progress(workspace: DemoWorkspace) -> dict[str, ArchiveProgress]:
    now = time.time_ns()
    return {
        v: archive_progress(workspace.queue(v), READER_NAME, ArchiveLayout(workspace.archive, v), now)
        for v in DEMO_VENUES
    }


def _stop_all(processes: Any) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in processes:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_catch_up(workspace: DemoWorkspace) -> None:
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(p.segments_behind == 0 and p.position_segment is not None for p in _progress(workspace).values()):
            return
        time.sleep(0.2)


def _stop_fleet(fleet: subprocess.Popen[bytes]) -> int | None:
    if fleet.poll() is None:
        fleet.send_signal(signal.SIGTERM)
    try:
        return fleet.wait(timeout=FLEET_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        fleet.kill()
        fleet.wait()
        return None


def _result(
    workspace: DemoWorkspace, statuses: dict[str, dict[str, Any]], kill: KillEvent | None, exit_code: int | None
) -> DemoResult:
    progress = _progress(workspace)
    summaries = [
        summarize_venue(
            venue,
            archived_entries(workspace.archive, venue),
            read_ledger(workspace.ledger(venue)),
            restarts=int(statuses.get(venue, {}).get("restarts", 0)),
            lag_segments=progress[venue].segments_behind,
            lag_bytes=progress[venue].bytes_behind,
        )
        for venue in DEMO_VENUES
    ]
    problems = len(verify_archive(workspace.archive).problems)
    return DemoResult(workspace, summaries, kill, exit_code, problems)


def _print_result(result: DemoResult, say: Callable[[str], None]) -> None:
    ws = result.workspace
    say("")
    say(format_table(result.summaries))
    say("")
    if result.kill and result.kill.new_pid:
        say(
            f"restart: {result.kill.venue} killed (pid {result.kill.old_pid}), running again as pid {result.kill.new_pid} within {result.kill.back_after_s} s"
        )
    else:
        say("restart: not observed")
    say(f"fleet exit code: {result.fleet_exit_code}    verify: {result.verify_problems} problems")
    say(f"archive:    {ws.archive}")
    say(f"JSON logs:  {ws.logs}  (per venue: <venue>.log; supervisor: {ws.supervisor_log.name})")
    say(f"config:     {ws.config}")
    say(f"check it:   chronicle-fleet verify --archive-root {ws.archive}")
    say("demo " + ("OK" if result.ok else "FAILED"))


class _ProgressView:
    """A live table on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._drawn = 0
        self._last_plain = -10.0

    def show(self, elapsed_s: float, statuses: dict[str, dict[str, Any]], progress: dict[str, ArchiveProgress]) -> None:
        rows = [self._row(v, statuses.get(v, {}), progress[v]) for v in DEMO_VENUES]
        if self._live:
            self._out.write(f"\033[{self._drawn}F" if self._drawn else "")
            lines = [f"t={elapsed_s:4.0f}s", *rows]
            self._out.write("".join(line + "\033[K\n" for line in lines))
            self._drawn = len(lines)
        elif elapsed_s - self._last_plain >= 3.0:
            self._last_plain = elapsed_s
            self._out.write(f"t={elapsed_s:.0f}s " + " | ".join(rows) + "\n")
        self._out.flush()

    @staticmethod
    def _row(venue: str, status: dict[str, Any], progress: ArchiveProgress) -> str:
        archived = "-" if progress.last_archived_segment is None else str(progress.last_archived_segment)
        return (
            f"{venue}: {status.get('state', '?')} pid {status.get('pid') or '-'} restarts {status.get('restarts', 0)}, "
            f"last archived {archived}, lag {progress.segments_behind} seg"
        )

    def close(self) -> None:
        self._drawn = 0
