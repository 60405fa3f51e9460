"""The engine's decisions against a scripted supervisord: ordering, operator commands, reloads, shutdown."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import structlog

from supervisor_app.config.model import (
    CompressionPolicy,
    FleetConfig,
    RestartPolicy,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.errors import ConfigError, SupervisordError
from supervisor_app.supervision.commands import Reload, Restart, Start, Status, Stop
from supervisor_app.supervision.engine import START_BATCH, Engine
from supervisor_app.supervision.render import RenderedFleet, render
from supervisor_app.supervision.supervisord.client import (
    ChangeBatch,
    ProcessChange,
    ProcessInfo,
)

T0 = 1_800_000_000.0


class FakeSupervisord:
    """supervisord as the engine sees it: a change feed and the calls it was asked to make."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.states: dict[str, str] = {}
        self.pids: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.feed: list[ProcessChange] = []
        self.feed_id = "feed-1"
        self.next_pid = 1000
        self.calls: list[tuple[str, str]] = []
        self.start_batches: list[list[str]] = []
        self.unanswered_batches: frozenset[int] = frozenset()  # 1-based: start_many calls the client gives up on

    def _change(self, name: str, state: str, **extra: Any) -> None:
        change = ProcessChange(
            len(self.feed) + 1,
            name,
            state,
            self.states.get(name, "STOPPED"),
            self.pids.get(name, 0),
            self.started.get(name, 0.0),
            self.now,
            **extra,
        )
        self.states[name] = state
        self.feed.append(change)

    @property
    def now(self) -> float:
        return T0 + self.clock[0]

    def changes(self, since: int) -> ChangeBatch:
        return ChangeBatch(self.feed_id, len(self.feed), True, tuple(self.feed[since:]))

    def processes(self) -> list[ProcessInfo]:
        return [ProcessInfo(n, s, self.pids.get(n, 0), self.started.get(n, 0.0), 0) for n, s in self.states.items()]

    def start(self, name: str) -> bool:
        self.calls.append(("start", name))
        if self.states.get(name) == "RUNNING":
            return False
        self.next_pid += 1
        self.pids[name], self.started[name] = self.next_pid, self.now
        self._change(name, "RUNNING")
        return True

    def start_many(self, names: list[str]) -> list[bool]:
        self.start_batches.append(list(names))
        if len(self.start_batches) in self.unanswered_batches:
            for name in names[:2]:  # supervisord got this far before the client stopped waiting
                self.start(name)
            raise SupervisordError("cannot talk to supervisord: timed out")
        return [self.start(name) for name in names]

    def stop(self, name: str) -> bool:
        self.calls.append(("stop", name))
        if self.states.get(name) != "RUNNING":
            return False
        self.states[name] = "STOPPING"
        return True

    def reread(self) -> tuple[list[str], list[str], list[str]]:
        self.calls.append(("reread", ""))
        return [], [], []

    def add_group(self, name: str) -> None:
        self.calls.append(("add", name))

    def remove_group(self, name: str) -> None:
        self.calls.append(("remove", name))

    def shutdown(self) -> None:
        self.calls.append(("shutdown", ""))

    # what the child processes do
    def finish_stop(self, name: str, code: int = 0) -> None:
        self._change(name, "STOPPED", exitstatus=code, stopped_at=self.now)

    def crash(self, name: str, code: int | None = None, signal: str = "SIGKILL") -> None:
        status = {"exitstatus": -1, "signal": signal} if code is None else {"exitstatus": code}
        self._change(name, "EXITED", stopped_at=self.now, **status)


def _config(root: Path, names: tuple[str, ...] = ("alpha", "beta", "gamma"), **venue_changes: Any) -> FleetConfig:
    venues = tuple(dataclasses.replace(VenueConfig(n, root / n, "queue"), **venue_changes.get(n, {})) for n in names)
    return FleetConfig(
        path=root / "fleet.yaml",
        archive_root=root / "archive",
        venues=venues,
        supervisor=SupervisorSettings(state_dir=root / "state", stop_timeout_s=5.0),
        restart=RestartPolicy(initial_delay_s=1.0, max_delay_s=8.0, healthy_after_s=30.0),
    )


class NoWait:
    """The harness steps the engine by hand: nothing to wait for."""

    def poke(self) -> None:
        pass

    def wait(self, timeout_s: float) -> None:
        pass


class Harness:
    """An engine on a fake clock, with a fake supervisord and a record of what it logged."""

    def __init__(self, root: Path, config: FleetConfig, *, unanswered_batches: frozenset[int] = frozenset()) -> None:
        self.clock = [0.0]
        self.fake = FakeSupervisord(self.clock)
        self.fake.unanswered_batches = unanswered_batches
        self.next_config: FleetConfig | ConfigError | None = None
        self.installed: list[FleetConfig] = []
        self.log = structlog.testing.LogCapture()
        logger = structlog.wrap_logger(None, processors=[self.log])
        self.engine = Engine(
            config,
            render(config),
            self.fake,
            config_path=root / "fleet.yaml",
            prepare=self._prepare,
            install=lambda config, rendered, path: self.installed.append(config),
            supervisord_alive=lambda: True,
            waker=NoWait(),
            log=logger,
            clock=lambda: self.clock[0],
            wall=lambda: T0 + self.clock[0],
        )
        self.engine.start()
        self.step()

    def _prepare(self, path: Path) -> tuple[FleetConfig, RenderedFleet]:
        if isinstance(self.next_config, ConfigError):
            raise self.next_config
        assert self.next_config is not None
        return self.next_config, render(self.next_config)

    def step(self, advance: float = 0.0) -> None:
        self.clock[0] += advance
        self.engine.step()

    def status(self) -> dict[str, dict[str, Any]]:
        future = self.engine.submit(Status())
        self.step()
        return {v["venue"]: v for v in future.result(0)["venues"]}

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.log.entries if e["event"] == name]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path, _config(tmp_path))


def test_start_spawns_every_enabled_venue(tmp_path: Path) -> None:
    h = Harness(tmp_path, _config(tmp_path, names=("alpha", "off"), off={"enabled": False}))
    assert h.fake.calls == [("start", "alpha")]
    assert h.status()["alpha"]["state"] == "running" and "off" not in h.status()


def test_a_big_fleet_is_started_in_bounded_batches_in_order(tmp_path: Path) -> None:
    names = tuple(f"v{i:03d}" for i in range(2 * START_BATCH + 5))
    h = Harness(tmp_path, _config(tmp_path, names=names))
    assert [len(batch) for batch in h.fake.start_batches] == [START_BATCH, START_BATCH, 5]
    assert [name for batch in h.fake.start_batches for name in batch] == list(names)
    assert {v["state"] for v in h.status().values()} == {"running"}


def test_a_start_batch_supervisord_does_not_answer_is_retried_not_fatal(tmp_path: Path) -> None:
    names = tuple(f"v{i:03d}" for i in range(3 * START_BATCH))
    h = Harness(tmp_path, _config(tmp_path, names=names), unanswered_batches=frozenset({2}))
    assert len(h.fake.start_batches) == 2  # the third batch is not sent to a supervisord that is not answering
    status = h.status()
    late = names[START_BATCH + 2 :]  # the unanswered batch after the two it did spawn, and the whole third batch
    assert {status[n]["state"] for n in names[: START_BATCH + 2]} == {"running"}
    assert {status[n]["state"] for n in late} == {"backoff"}
    assert "did not answer the start" in status[late[-1]]["last_exit"]["description"]
    [unanswered] = h.events("start_unanswered")
    assert unanswered["venues"] == 2 * START_BATCH and unanswered["log_level"] == "warning"

    h.step(advance=1.0)  # the policy's first retry
    assert {v["state"] for v in h.status().values()} == {"running"}
    # Each venue was spawned once: the two supervisord did spawn are taken from its feed, not started again.
    assert all(h.fake.calls.count(("start", n)) == 1 for n in names)


def test_a_crash_is_retried_after_the_backoff_delay(harness: Harness) -> None:
    harness.fake.crash("alpha")
    harness.step()
    status = harness.status()["alpha"]
    assert (status["state"], status["next_retry_in_s"], status["last_exit"]["signal"]) == ("backoff", 1.0, "SIGKILL")
    harness.step(advance=0.9)
    assert harness.fake.calls.count(("start", "alpha")) == 1
    harness.step(advance=0.1)
    assert harness.fake.calls.count(("start", "alpha")) == 2
    status = harness.status()["alpha"]
    assert (status["state"], status["restarts"], status["failures"]) == ("running", 1, 1)
    assert [e["delay_s"] for e in harness.events("restart_scheduled")] == [1.0]


def test_an_operator_stop_during_backoff_cancels_the_retry(harness: Harness) -> None:
    harness.fake.crash("alpha", code=75)
    harness.step()
    stopping = harness.engine.submit(Stop(("alpha",)))
    harness.step()
    assert stopping.result(0)["ok"] is True
    harness.step(advance=60.0)
    assert harness.fake.calls.count(("start", "alpha")) == 1
    assert harness.status()["alpha"]["state"] == "stopped"


def test_exit_78_holds_until_an_operator_starts_the_venue(harness: Harness) -> None:
    harness.fake.crash("alpha", code=78)
    harness.step()
    harness.step(advance=3600.0)
    status = harness.status()["alpha"]
    assert (status["state"], status["next_retry_at"]) == ("held", None)
    assert harness.fake.calls.count(("start", "alpha")) == 1
    [held] = harness.events("held")
    assert held["log_level"] == "error" and "exit code 78" in held["reason"]

    started = harness.engine.submit(Start(("alpha",)))
    harness.step()
    assert started.result(0)["ok"] is True
    assert harness.status()["alpha"]["held_reason"] is None


def test_restart_touches_only_the_named_venue_and_answers_once_it_runs_again(harness: Harness) -> None:
    before = {n: v["pid"] for n, v in harness.status().items()}
    harness.fake.calls.clear()
    reply = harness.engine.submit(Restart(("beta",)))
    harness.step()
    assert harness.fake.calls == [("stop", "beta")] and not reply.done()
    harness.fake.finish_stop("beta")
    harness.step()
    assert harness.fake.calls == [("stop", "beta"), ("start", "beta")]
    answer = reply.result(0)
    assert answer["ok"] is True and answer["venues"][0]["pid"] not in (None, before["beta"])
    after = {n: v["pid"] for n, v in harness.status().items()}
    assert (after["alpha"], after["gamma"]) == (before["alpha"], before["gamma"])
    assert harness.events("exited") == []


def test_unknown_venues_are_refused_before_anything_moves(harness: Harness) -> None:
    harness.fake.calls.clear()
    reply = harness.engine.submit(Stop(("alpha", "nope")))
    harness.step()
    assert reply.result(0) == {"ok": False, "error": "unknown venue 'nope' (enabled venues: alpha, beta, gamma)"}
    assert harness.fake.calls == []


def test_a_stop_from_outside_is_a_stop_not_a_crash(harness: Harness) -> None:
    harness.fake.finish_stop("gamma", code=0)  # e.g. supervisorctl on the socket
    harness.step(advance=60.0)
    assert harness.status()["gamma"]["state"] == "stopped"
    assert harness.fake.calls.count(("start", "gamma")) == 1


def test_a_long_run_resets_the_backoff(harness: Harness) -> None:
    for _ in range(3):
        harness.fake.crash("alpha", code=75)
        harness.step(advance=0.01)
        harness.step(advance=10.0)
    assert harness.status()["alpha"]["failures"] == 3
    harness.step(advance=30.0)
    assert harness.status()["alpha"]["failures"] == 0
    assert len(harness.events("backoff_reset")) == 1


def test_reload_adds_removes_and_replaces_only_what_changed(tmp_path: Path, harness: Harness) -> None:
    before = {n: v["pid"] for n, v in harness.status().items()}
    harness.fake.calls.clear()
    harness.next_config = _config(
        tmp_path, names=("alpha", "beta", "delta"), alpha={"compression": CompressionPolicy(level=9)}
    )
    reply = harness.engine.submit(Reload(tmp_path / "fleet-2.yaml"))
    harness.step()
    assert harness.fake.calls == [
        ("reread", ""),
        ("stop", "gamma"),
        ("stop", "alpha"),
        ("add", "delta"),
        ("start", "delta"),
    ]
    harness.fake.finish_stop("gamma")
    harness.fake.finish_stop("alpha")
    harness.step()
    assert harness.fake.calls[5:] == [("remove", "gamma"), ("remove", "alpha"), ("add", "alpha"), ("start", "alpha")]
    answer = reply.result(0)
    assert (answer["ok"], answer["added"], answer["changed"], answer["removed"], answer["unchanged"]) == (
        True,
        ["delta"],
        ["alpha"],
        ["gamma"],
        ["beta"],
    )
    after = {n: v["pid"] for n, v in harness.status().items()}
    assert (
        sorted(after) == ["alpha", "beta", "delta"]
        and after["beta"] == before["beta"]
        and after["alpha"] != before["alpha"]
    )


def test_a_rejected_reload_changes_nothing(harness: Harness) -> None:
    harness.fake.calls.clear()
    harness.next_config = ConfigError(
        "fleet.yaml: invalid fleet configuration (1 problem)\nfleet.yaml:3:1: ...", ["fleet.yaml:3:1: ..."]
    )
    reply = harness.engine.submit(Reload(None))
    harness.step()
    assert reply.result(0) == {
        "ok": False,
        "error": "fleet.yaml: invalid fleet configuration (1 problem)",
        "problems": ["fleet.yaml:3:1: ..."],
    }
    assert harness.fake.calls == [] and harness.installed == []


def test_a_reload_may_not_move_the_state_directory(tmp_path: Path, harness: Harness) -> None:
    harness.next_config = dataclasses.replace(
        _config(tmp_path), supervisor=SupervisorSettings(state_dir=tmp_path / "elsewhere")
    )
    reply = harness.engine.submit(Reload(None))
    harness.step()
    assert reply.result(0)["ok"] is False and "state_dir cannot change" in reply.result(0)["error"]
    assert harness.installed == []


def test_shutdown_stops_everyone_and_finishes_when_they_have_ended(harness: Harness) -> None:
    harness.fake.crash("gamma", code=75)
    harness.step()
    harness.engine.request_shutdown()
    harness.step()
    assert sorted(c for c in harness.fake.calls if c[0] == "stop") == [("stop", "alpha"), ("stop", "beta")]
    assert not harness.engine.finished
    harness.fake.finish_stop("alpha")
    harness.fake.finish_stop("beta")
    harness.step(advance=60.0)
    assert harness.engine.finished
    assert harness.fake.calls.count(("start", "gamma")) == 1  # its retry was cancelled
    late = harness.engine.submit(Start(("alpha",)))
    harness.step()
    assert late.result(0) == {"ok": False, "error": "the fleet is shutting down"}


def test_lost_changes_are_recovered_from_supervisord_s_view(harness: Harness) -> None:
    harness.fake.feed_id = "feed-2"  # a new feed: what happened in between is unknown
    harness.fake.states["beta"] = "EXITED"
    harness.step()
    assert harness.status()["beta"]["state"] == "backoff"
    assert harness.events("state_changes_lost")


def test_a_start_supervisord_does_not_answer_is_retried_not_fatal(harness: Harness) -> None:
    harness.fake.crash("alpha")
    harness.step()
    real_start = harness.fake.start

    def slow_start(name: str) -> bool:
        raise SupervisordError("timed out")

    harness.fake.start = slow_start  # type: ignore[method-assign]
    harness.step(advance=1.0)  # the retry is due; supervisord does not answer it
    status = harness.status()["alpha"]
    assert status["state"] == "backoff" and "did not answer the start" in status["last_exit"]["description"]
    assert harness.status()["beta"]["state"] == "running"
    harness.fake.start = real_start  # type: ignore[method-assign]
    harness.step(advance=2.0)
    assert harness.status()["alpha"]["state"] == "running"
