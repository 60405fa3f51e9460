"""Soak: a live fleet under random faults; every segment the feeds sealed must be archived.

    .venv/bin/python bench/soak_faults.py [--minutes 10] [--venues 4] [--seed N] [--refresh-when-idle 1m] [--keep]

Synthetic feeds (the demo's, with the writer's retention on) write small, fast-rolling
segments while `chronicle-fleet run` archives them. This script plays systemd for `run`
(the shipped unit's RestartSec and WatchdogSec, with a notify socket) and, every few
seconds, injects one fault:

- SIGKILL or SIGSTOP (for up to 45 s) an archiver, SIGKILL supervisord, SIGKILL `run`,
  SIGSTOP `run` until the watchdog acts, SIGTERM `run` (a `systemctl restart`);
- an operator's stop (held for up to 45 s, past the writer's 30 s reader timeout), restart
  or reload with a venue's compression flipped;
- as root: the archive's filesystem (a tmpfs) filled for up to 45 s.

Then the feeds stop, the fleet catches up and stops, and every segment a feed sealed is
looked up in the archive. Prints what was injected and: written, archived (size and CRC-32
match the feed's), recorded missing or corrupt (reported losses), lost (neither archived
nor reported), and `chronicle-fleet verify`'s exit code. Exits 1 unless lost is 0 and
verify passes. A short `--refresh-when-idle` (e.g. 300ms) makes the archivers refresh
(re-exec in place) between the feeds' segments, so the faults land on refreshes too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.progress import archive_progress
from supervisor_app.archive.totals import loss_counts
from supervisor_app.demo.summary import archived_entries, read_ledger
from supervisor_app.demo.workspace import DemoWorkspace
from supervisor_app.supervision.state_files import StateFiles

SEGMENT_SIZE = 256 * 1024
FEED_RATE = 2000  # messages a second: a segment every ~0.7 s per venue
UNIT_FILE = Path(__file__).resolve().parent.parent / "ops" / "systemd" / "chronicle-fleet.service"
HOLD_MAX_S = 45.0  # longer than the writer's 30 s reader timeout
TMPFS_SIZE = "3g"


@dataclass
class Soak:
    """The soak's workspace (laid out as the demo's) and the processes it owns."""

    paths: DemoWorkspace
    venues: list[str]
    rng: random.Random
    refresh_when_idle: str = "1m"
    python: str = sys.executable
    run: subprocess.Popen[bytes] | None = None
    feeds: list[subprocess.Popen[bytes]] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    stop_systemd: threading.Event = field(default_factory=threading.Event)
    last_watchdog: float = field(default_factory=time.monotonic)
    run_starts: int = 0
    watchdog_kills: int = 0
    max_behind: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fleet(self, *args: str, config: bool = True) -> int:
        cmd = [self.python, "-m", "supervisor_app", *args, *(["-c", str(self.paths.config)] if config else [])]
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300).returncode


def unit_seconds(key: str) -> float:
    """A duration the shipped unit sets (WatchdogSec=10s, RestartSec=5): the soak plays that systemd."""
    for line in UNIT_FILE.read_text().splitlines():
        if line.startswith(f"{key}="):
            return float(line.split("=", 1)[1].removesuffix("s"))
    raise SystemExit(f"{UNIT_FILE} sets no {key}")


WATCHDOG_S = unit_seconds("WatchdogSec")
RESTART_S = unit_seconds("RestartSec")


def write_config(soak: Soak, flipped: frozenset[str] = frozenset()) -> None:
    """The fleet: every other venue compressed; `flipped` venues the other way round."""
    venues = []
    for i, venue in enumerate(soak.venues):
        compressed = (i % 2 == 0) != (venue in flipped)
        venues.append({"name": venue, "bus": "soak", "compression": {"codec": "zstd" if compressed else "none"}})
    config = {
        "version": 1,
        "archive_root": str(soak.paths.archive),
        "buses": {"soak": str(soak.paths.root / "bus")},
        "defaults": {
            "compression": {"block_size": "64KiB"},
            "archiver": {"poll_interval": "200ms", "refresh_when_idle": soak.refresh_when_idle},
        },
        "restart": {"initial_delay": "500ms", "max_delay": "5s", "healthy_after": "10s"},
        "supervisor": {"state_dir": str(soak.paths.state), "log_dir": str(soak.paths.logs), "stop_timeout": "10s"},
        "venues": venues,
    }
    tmp = soak.paths.config.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.replace(soak.paths.config)


def start_feed(soak: Soak, venue: str) -> subprocess.Popen[bytes]:
    cmd = [
        soak.python, "-m", "supervisor_app.demo.feed",
        "--queue", str(soak.paths.queue(venue)), "--ledger", str(soak.paths.ledger(venue)),
        "--segment-size", str(SEGMENT_SIZE), "--rate", str(FEED_RATE), "--symbol", venue.upper(),
    ]  # fmt: skip
    return subprocess.Popen(cmd, start_new_session=True)


# --- systemd, played by this script -------------------------------------------------------------


def play_systemd(soak: Soak) -> None:
    """Start `run` with a notify socket; restart it after RESTART_S when it dies; kill it when its watchdog lapses."""
    address = str(soak.paths.root / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(0.5)
        env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}
        while not soak.stop_systemd.is_set():
            with soak.lock:
                soak.run = spawn_run(soak, env)
                soak.run_starts += 1
                soak.last_watchdog = time.monotonic()
            while soak.run.poll() is None and not soak.stop_systemd.is_set():
                read_notifications(soak, sock)
                if time.monotonic() - soak.last_watchdog > WATCHDOG_S:
                    soak.watchdog_kills += 1
                    # systemd: WatchdogSignal (SIGABRT), then SIGKILL to the whole unit (KillMode=mixed).
                    kill_unit(soak)
            if not soak.stop_systemd.is_set():
                soak.stop_systemd.wait(RESTART_S)


def spawn_run(soak: Soak, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (soak.paths.root / "run.jsonl").open("ab")
    with log:
        cmd = [soak.python, "-m", "supervisor_app", "run", "-c", str(soak.paths.config)]
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def read_notifications(soak: Soak, sock: socket.socket) -> None:
    try:
        datagram = sock.recv(4096)
    except TimeoutError:
        return
    if b"WATCHDOG=1" in datagram.split(b"\n"):
        soak.last_watchdog = time.monotonic()


def kill_unit(soak: Soak) -> None:
    """SIGKILL `run` and every process of its session's unit: supervisord and the archivers."""
    pids = [p for p in (run_pid(soak), supervisord_pid(soak), *archiver_pids(soak).values()) if p]
    for pid in pids:
        send(pid, signal.SIGCONT)  # a stopped process must not outlive the kill
        send(pid, signal.SIGKILL)
    if soak.run is not None:
        soak.run.wait()


# --- finding and signalling processes ------------------------------------------------------------


def cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def processes(marker: bytes) -> list[tuple[int, list[bytes]]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = cmdline(int(entry.name))
            if marker in argv:
                found.append((int(entry.name), argv))
    return found


def archiver_pids(soak: Soak) -> dict[str, int]:
    """venue -> pid of each archiver of this soak (by its --archive-root)."""
    pids = {}
    for pid, argv in processes(b"supervisor_app.cli.archiver"):
        if str(soak.paths.archive).encode() in argv:
            pids[argv[argv.index(b"--venue") + 1].decode()] = pid
    return pids


def supervisord_pid(soak: Soak) -> int | None:
    conf = str(StateFiles(soak.paths.state).supervisord_conf).encode()
    return next((pid for pid, argv in processes(b"supervisor.supervisord") if conf in argv), None)


def run_pid(soak: Soak) -> int | None:
    return soak.run.pid if soak.run is not None and soak.run.poll() is None else None


def send(pid: int | None, sig: int) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def later(delay_s: float, action: Callable[[], Any]) -> None:
    timer = threading.Timer(delay_s, action)
    timer.daemon = True
    timer.start()


def until_ok(action: Callable[[], int], timeout_s: float = 300.0) -> None:
    """An operator repeats a command until the fleet takes it (it may be restarting just then)."""
    deadline = time.monotonic() + timeout_s
    while action() != 0 and time.monotonic() < deadline:
        time.sleep(2.0)


# --- faults ---------------------------------------------------------------------------------------


def kill_archiver(soak: Soak, venue: str) -> None:
    send(archiver_pids(soak).get(venue), signal.SIGKILL)


def stop_archiver(soak: Soak, venue: str) -> None:
    pid = archiver_pids(soak).get(venue)
    send(pid, signal.SIGSTOP)
    later(soak.rng.uniform(5, HOLD_MAX_S), lambda: send(pid, signal.SIGCONT))


def kill_supervisord(soak: Soak, venue: str) -> None:
    send(supervisord_pid(soak), signal.SIGKILL)


def kill_run(soak: Soak, venue: str) -> None:
    send(run_pid(soak), signal.SIGKILL)


def hang_run(soak: Soak, venue: str) -> None:
    pid = run_pid(soak)
    send(pid, signal.SIGSTOP)  # the watchdog lapses; kill_unit sends SIGCONT before SIGKILL
    later(WATCHDOG_S + 5, lambda: send(pid, signal.SIGCONT))


def restart_service(soak: Soak, venue: str) -> None:
    send(run_pid(soak), signal.SIGTERM)  # exits 0: systemd would not restart it, `systemctl restart` does


def operator_stop(soak: Soak, venue: str) -> None:
    until_ok(lambda: soak.fleet("stop", venue))
    later(soak.rng.uniform(5, HOLD_MAX_S), lambda: until_ok(lambda: soak.fleet("start", venue)))


def operator_restart(soak: Soak, venue: str) -> None:
    soak.fleet("restart", venue)


def operator_reload(soak: Soak, venue: str) -> None:
    write_config(soak, flipped=frozenset({venue}) if soak.rng.random() < 0.5 else frozenset())
    soak.fleet("reload")


def fill_disk(soak: Soak, venue: str) -> None:
    ballast = soak.paths.archive / "ballast"
    with contextlib.suppress(OSError), ballast.open("wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
    later(soak.rng.uniform(5, HOLD_MAX_S), lambda: ballast.unlink(missing_ok=True))


# Each fault with its weight: faults that restart the whole service are rarer, so that the
# engine's own watchdogs (a stalled archiver is killed after 10 s) get the time to act.
FAULTS: dict[str, tuple[Callable[[Soak, str], None], int]] = {
    "kill_archiver": (kill_archiver, 3),
    "stop_archiver": (stop_archiver, 3),
    "kill_supervisord": (kill_supervisord, 1),
    "kill_run": (kill_run, 1),
    "hang_run": (hang_run, 1),
    "restart_service": (restart_service, 1),
    "operator_stop": (operator_stop, 2),
    "operator_restart": (operator_restart, 2),
    "operator_reload": (operator_reload, 2),
}


def inject_faults(soak: Soak, seconds: float, with_disk: bool) -> None:
    faults = dict(FAULTS, fill_disk=(fill_disk, 2)) if with_disk else FAULTS
    names = sorted(faults)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(soak.rng.uniform(3, 8))
        name = soak.rng.choices(names, weights=[faults[n][1] for n in names])[0]
        venue = soak.rng.choice(soak.venues)
        soak.faults[name] += 1
        print(f"  {time.strftime('%H:%M:%S')} {name} {venue}", flush=True)
        # Operator commands wait for their answer: off the main thread, as a person in another terminal.
        threading.Thread(target=faults[name][0], args=(soak, venue), daemon=True).start()
        note_lag(soak)


def note_lag(soak: Soak) -> None:
    now = time.time_ns()
    for venue in soak.venues:
        progress = archive_progress(
            soak.paths.queue(venue), "raw-archiver", ArchiveLayout(soak.paths.archive, venue), now
        )
        soak.max_behind = max(soak.max_behind, progress.segments_behind)


# --- the run and its outcome ------------------------------------------------------------------------


def caught_up(soak: Soak) -> bool:
    now = time.time_ns()
    for venue in soak.venues:
        progress = archive_progress(
            soak.paths.queue(venue), "raw-archiver", ArchiveLayout(soak.paths.archive, venue), now
        )
        if progress.segments_behind or progress.position_segment is None:
            return False
    return True


def settle(soak: Soak) -> None:
    """Faults over: the feeds stop, every venue runs again, the fleet catches up and stops."""
    for feed in soak.feeds:
        feed.send_signal(signal.SIGTERM)
    for feed in soak.feeds:
        feed.wait(timeout=30)
    (soak.paths.archive / "ballast").unlink(missing_ok=True)
    time.sleep(HOLD_MAX_S + 1)  # the pending SIGCONTs and starts have landed
    for venue in soak.venues:
        until_ok(lambda v=venue: soak.fleet("start", v))  # type: ignore[misc]
    deadline = time.monotonic() + 300
    while not caught_up(soak) and time.monotonic() < deadline:
        time.sleep(1.0)
    soak.stop_systemd.set()
    with soak.lock:
        if soak.run is not None and soak.run.poll() is None:
            soak.run.send_signal(signal.SIGTERM)
            soak.run.wait(timeout=120)


def restart_counts(soak: Soak) -> Counter[str]:
    """Restarts by reason, as the fleet persisted them."""
    path = soak.paths.state / "venues.json"
    counts: Counter[str] = Counter()
    if path.exists():
        for record in json.loads(path.read_text()).get("venues", {}).values():
            counts.update(record.get("restarts", {}))
    return counts


def loud_events(soak: Soak) -> Counter[str]:
    """How often `run` logged each warning or error: what an operator was told."""
    return Counter(e["event"] for e in logged(soak) if e.get("level") in ("warning", "error", "critical"))


def logged(soak: Soak) -> list[dict[str, object]]:
    """Every JSON event of `run` and the archivers."""
    events = []
    for path in [soak.paths.root / "run.jsonl", *sorted((soak.paths.logs).glob("*.log*"))]:
        for line in path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line[line.find("{") :])
                if isinstance(entry, dict):
                    events.append(entry)
    return events


def report(soak: Soak, seconds: float) -> bool:
    written = archived = mismatched = reported = lost = 0
    for venue in soak.venues:
        ledger = read_ledger(soak.paths.ledger(venue))
        entries = {e.segment_id: e for e in archived_entries(soak.paths.archive, venue)}
        losses = loss_counts(ArchiveLayout(soak.paths.archive, venue))
        written += len(ledger)
        for segment_id, (size, crc) in ledger.items():
            entry = entries.get(segment_id)
            if entry is None:
                continue
            if (entry.raw_size, entry.raw_crc32) == (size, crc):
                archived += 1
            else:
                mismatched += 1
        reported += losses.missing + losses.corrupt
        lost += max(0, len(ledger) - archived - mismatched - losses.missing - losses.corrupt)
    verify_cmd = [soak.python, "-m", "supervisor_app", "verify", "--archive-root", str(soak.paths.archive)]
    verified = subprocess.run(verify_cmd, capture_output=True, text=True, timeout=600)
    verify = verified.returncode
    print(f"\nsoak of {seconds / 60:.1f} min, {len(soak.venues)} venues, {SEGMENT_SIZE // 1024} KiB segments")
    print("faults injected:", ", ".join(f"{k} {v}" for k, v in sorted(soak.faults.items())))
    print(f"run started {soak.run_starts} times, {soak.watchdog_kills} by the watchdog")
    print("restarts by reason:", dict(sorted(restart_counts(soak).items())))
    print("warnings and errors logged:", ", ".join(f"{k} {v}" for k, v in loud_events(soak).most_common(12)))
    print(f"most segments behind at any fault: {soak.max_behind}")
    refreshes = Counter(str(e["event"]) for e in logged(soak) if str(e.get("event")).startswith("archiver_refresh"))
    print("archiver refreshes:", dict(sorted(refreshes.items())))
    print(f"segments written {written}, archived {archived}, mismatched {mismatched}, reported lost {reported}")
    print(f"lost silently: {lost}")
    print(f"verify exit code: {verify}")
    if verify != 0:  # what it found, for whoever reads the soak's output
        print(verified.stdout[-4000:], verified.stderr[-2000:], sep="\n")
    return lost == 0 and mismatched == 0 and verify == 0


@contextlib.contextmanager
def archive_filesystem(root: Path, with_disk: bool) -> Any:
    """As root, the archive on its own small tmpfs, so that it can be filled."""
    (root / "archive").mkdir()
    if with_disk:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(root / "archive")], check=True)
    try:
        yield
    finally:
        if with_disk:
            subprocess.run(["umount", "-l", str(root / "archive")], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--venues", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--refresh-when-idle", default="1m", help="the archivers' refresh_when_idle (default 1m)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"seed {seed}")
    root = Path(tempfile.mkdtemp(prefix="soak-", dir="/tmp"))  # short: unix socket paths are limited
    with_disk = os.geteuid() == 0 and shutil.which("mount") is not None
    soak = Soak(
        DemoWorkspace(root), [f"venue-{i}" for i in range(args.venues)], random.Random(seed), args.refresh_when_idle
    )
    ok = False
    try:
        with archive_filesystem(root, with_disk):
            (root / "feeds").mkdir()
            for venue in soak.venues:
                soak.paths.queue(venue).parent.mkdir(parents=True)
            write_config(soak)
            soak.feeds = [start_feed(soak, v) for v in soak.venues]
            systemd = threading.Thread(target=play_systemd, args=(soak,), daemon=True)
            systemd.start()
            time.sleep(5)
            inject_faults(soak, args.minutes * 60, with_disk)
            settle(soak)
            systemd.join(timeout=30)
            ok = report(soak, args.minutes * 60)
    finally:
        for proc in soak.feeds:
            send(proc.pid, signal.SIGKILL)
        kill_unit(soak)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
