"""`chronicle-fleet demo`: synthetic feeds, the real fleet under supervisord, one archiver killed early on."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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
from supervisor_app.demo.view import DemoView, output_kept_on_ctrl_c
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
KILLED_VENUE = DEMO_VENUES[0]
KILL_AT_S = 3.0  # early, so that any run of a few seconds, or one stopped by Ctrl-C, shows the kill and the restart
KILL_AT_FRACTION = 0.4  # of a shorter run, which still leaves time to see the restart
TICK_S = 0.25
START_TIMEOUT_S = 30.0
RESTART_TIMEOUT_S = 15.0  # the demo's restart policy brings an archiver back within about a second
CATCH_UP_TIMEOUT_S = 15.0
FLEET_STOP_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class DemoPlan:
    """How long the run phase lasts, and when in it the demo kills an archiver."""

    duration_s: float
    kill_at_s: float  # seconds after every archiver is running

    @classmethod
    def for_duration(cls, duration_s: float) -> DemoPlan:
        return cls(duration_s, min(KILL_AT_S, round(duration_s * KILL_AT_FRACTION, 1)))


@dataclass(frozen=True)
class KillEvent:
    """The archiver the demo killed, and how the supervisor answered."""

    venue: str
    old_pid: int
    at_s: float  # demo time of the kill
    killed_at: float  # time.monotonic() of the kill
    new_pid: int | None = None
    back_after_s: float | None = None


@dataclass(frozen=True)
class DemoResult:
    """What the demo saw, and whether it adds up: an early stop is judged on what ran."""

    workspace: DemoWorkspace
    plan: DemoPlan
    summaries: list[VenueSummary]
    kill: KillEvent | None
    kill_due: bool  # the run reached the kill's time (a Ctrl-C before it is no failure)
    stopped_at_s: float | None  # demo time the run phase ended; None: before every archiver was running
    fleet_exit_code: int | None
    verify_problems: int

    @property
    def restart_ok(self) -> bool:
        return self.kill.new_pid is not None if self.kill else not self.kill_due

    @property
    def ok(self) -> bool:
        return (
            self.fleet_exit_code == 0
            and self.verify_problems == 0
            and all(s.segments > 0 and not s.mismatched and s.verified == s.segments for s in self.summaries)
            and self.restart_ok
        )


class _Watch:
    """The run phase: progress on screen until the duration is up, one archiver killed at the plan's time."""

    def __init__(self, workspace: DemoWorkspace, plan: DemoPlan, view: DemoView) -> None:
        self.workspace = workspace
        self.plan = plan
        self.view = view
        self.started: float | None = None
        self.kill: KillEvent | None = None
        self.kill_due = False

    def elapsed_s(self) -> float | None:
        return None if self.started is None else time.monotonic() - self.started

    def run(self, running: dict[str, dict[str, Any]]) -> None:
        self.started = time.monotonic()  # t=0: every archiver is running
        self.view.say("fleet running: " + ", ".join(f"{v} (pid {running[v]['pid']})" for v in DEMO_VENUES))
        while (elapsed := time.monotonic() - self.started) < self.plan.duration_s:
            statuses = _status(self.workspace)
            if self.kill is None and elapsed >= self.plan.kill_at_s:
                self.kill_due = True
                self.kill = _kill_one(statuses.get(KILLED_VENUE, {}), elapsed, self.view.say)
            elif self.kill is not None and self.kill.new_pid is None:
                self.kill = _notice_restart(self.kill, statuses.get(self.kill.venue), self.view.say)
            self.view.show(elapsed, self.plan.duration_s, statuses, _progress(self.workspace))
            time.sleep(max(0.0, min(TICK_S, self._next_deadline() - (time.monotonic() - self.started))))
        self.view.close()

    def _next_deadline(self) -> float:
        pending_kill = self.kill is None and not self.kill_due
        return self.plan.kill_at_s if pending_kill else self.plan.duration_s


def run_demo(workdir: Path, duration_s: float, out: TextIO) -> DemoResult:
    """Run the whole demo, printing progress to `out`; Ctrl-C ends the run phase early, and what ran is judged."""
    with output_kept_on_ctrl_c(out):
        return _run(create_workspace(workdir), DemoPlan.for_duration(duration_s), DemoView(out, DEMO_VENUES))


def _run(workspace: DemoWorkspace, plan: DemoPlan, view: DemoView) -> DemoResult:
    _introduce(view.say, workspace, plan)
    watch = _Watch(workspace, plan, view)
    with _Processes(workspace) as processes:
        try:
            watch.run(processes.start())
        except KeyboardInterrupt:
            view.say(_interrupted(watch.elapsed_s()))  # an event like the others, above the last status
            view.close()
        with _sigint_ignored():
            stopped_at_s = watch.elapsed_s()
            processes.stop_feeds()
            view.say("feeds stopped; letting the archivers catch up")
            kill = _confirm_restart(workspace, watch.kill, view.say)
            _wait_for_catch_up(workspace)
            statuses = _status(workspace)
            view.say("stopping the fleet (SIGTERM)")
            exit_code = processes.stop_fleet()
    result = _result(workspace, plan, statuses, kill, watch.kill_due, stopped_at_s, exit_code)
    _print_result(result, view.say)
    return result


def _introduce(say: Callable[[str], None], workspace: DemoWorkspace, plan: DemoPlan) -> None:
    say(f"chronicle-fleet demo, about {plan.duration_s:g} s (Ctrl-C stops it early; what ran is still checked):")
    say(f"  - three synthetic feeds ({', '.join(DEMO_VENUES)}) each write about 1 MiB of queue segments a second")
    say("  - the fleet (chronicle-fleet run under supervisord) archives every sealed segment, zstd-compressed")
    say(f"  - at t={plan.kill_at_s:g}s the {KILLED_VENUE} archiver is killed with SIGKILL; the supervisor restarts it")
    say(
        "  - then the feeds stop, the archivers catch up, the fleet stops, and the archive is checked against the feeds"
    )
    say(f"demo directory: {workspace.root}")


def _interrupted(elapsed_s: float | None) -> str:
    when = "before the fleet was running" if elapsed_s is None else f"at t={elapsed_s:.1f}s"
    return f"Ctrl-C {when}: stopping everything cleanly (a few seconds; further Ctrl-C is ignored until then)"


class _Processes:
    """The feeds and the fleet; whatever happens, none of them outlives the demo."""

    def __init__(self, workspace: DemoWorkspace) -> None:
        self._workspace = workspace
        self._feeds: list[subprocess.Popen[bytes]] = []
        self._fleet: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        with _sigint_ignored():
            self.stop_feeds()
            self.stop_fleet()

    def start(self) -> dict[str, dict[str, Any]]:
        """Start the feeds and the fleet; the fleet's status once every archiver is running."""
        for venue in DEMO_VENUES:
            self._feeds.append(_start_feed(self._workspace, venue))
        self._fleet = _start_fleet(self._workspace)
        return _wait_until_running(self._workspace, self._fleet)

    def stop_feeds(self) -> None:
        _stop_all(self._feeds)

    def stop_fleet(self) -> int | None:
        return None if self._fleet is None else _stop_fleet(self._fleet)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    # A second Ctrl-C must not cut the shutdown short and leave the fleet running without us.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def _kill_one(status: dict[str, Any], elapsed_s: float, say: Callable[[str], None]) -> KillEvent | None:
    pid = status.get("pid")
    if not pid:
        return None
    os.kill(pid, signal.SIGKILL)
    say(
        f"t={elapsed_s:.1f}s  killed the {KILLED_VENUE} archiver (pid {pid}) with SIGKILL; the supervisor should restart it"
    )
    return KillEvent(KILLED_VENUE, pid, round(elapsed_s, 1), time.monotonic())


def _notice_restart(kill: KillEvent, status: dict[str, Any] | None, say: Callable[[str], None]) -> KillEvent:
    if not (status and status["state"] == "running" and status["pid"] and status["pid"] != kill.old_pid):
        return kill
    since_s = round(time.monotonic() - kill.killed_at, 1)
    say(
        f"t={kill.at_s + since_s:.1f}s  {kill.venue} archiver is back as pid {status['pid']} ({since_s:.1f} s after the kill)"
    )
    return replace(kill, new_pid=status["pid"], back_after_s=since_s)


def _confirm_restart(workspace: DemoWorkspace, kill: KillEvent | None, say: Callable[[str], None]) -> KillEvent | None:
    """Wait for a restart the run phase ended too soon to see (a short run, a Ctrl-C)."""
    while kill is not None and kill.new_pid is None and time.monotonic() < kill.killed_at + RESTART_TIMEOUT_S:
        time.sleep(TICK_S)
        kill = _notice_restart(kill, _status(workspace).get(kill.venue), say)
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
    workspace: DemoWorkspace,
    plan: DemoPlan,
    statuses: dict[str, dict[str, Any]],
    kill: KillEvent | None,
    kill_due: bool,
    stopped_at_s: float | None,
    exit_code: int | None,
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
    return DemoResult(workspace, plan, summaries, kill, kill_due, stopped_at_s, exit_code, problems)


def _print_result(result: DemoResult, say: Callable[[str], None]) -> None:
    ws = result.workspace
    say("")
    say(format_table(result.summaries))
    say("")
    say("restart: " + _restart_outcome(result))
    say(f"fleet exit code: {result.fleet_exit_code}    verify: {result.verify_problems} problems")
    say(f"archive:    {ws.archive}")
    say(f"JSON logs:  {ws.logs}  (per venue: <venue>.log; supervisor: {ws.supervisor_log.name})")
    say(f"config:     {ws.config}")
    say(f"check it:   {fleet_command()} verify --archive-root {shlex.quote(str(ws.archive))}")
    say("demo " + ("OK" if result.ok else "FAILED"))


def _restart_outcome(result: DemoResult) -> str:
    kill = result.kill
    if kill is not None and kill.new_pid is not None:
        return (
            f"{kill.venue} killed at t={kill.at_s:.1f}s (pid {kill.old_pid}), "
            f"running again as pid {kill.new_pid} {kill.back_after_s:.1f} s later"
        )
    if kill is not None:
        return f"not observed: {kill.venue} (pid {kill.old_pid}) was not running again {RESTART_TIMEOUT_S:g} s after the kill"
    if result.kill_due:
        return f"not shown: the fleet reported no pid for {KILLED_VENUE} to kill"
    stopped = "before the fleet was running" if result.stopped_at_s is None else f"at t={result.stopped_at_s:.1f}s"
    return f"not shown: stopped {stopped}, before the kill due at t={result.plan.kill_at_s:g}s"


def fleet_command() -> str:
    """`chronicle-fleet` as the user can type it: bare when their PATH finds ours, else by its full path."""
    ours = Path(sys.executable).parent / "chronicle-fleet"
    found = shutil.which("chronicle-fleet")
    if found and ours.exists() and Path(found).resolve() == ours.resolve():
        return "chronicle-fleet"
    if ours.exists():
        return shlex.quote(str(ours))
    return f"{shlex.quote(sys.executable)} -m supervisor_app"
