"""Prometheus metrics of the fleet: on an HTTP listener, in a node_exporter textfile, or both.

A scrape renders the last snapshot, never reads a file: the engine hands its venues over at
each step (at most once a second) and the archive watch's thread reads the archives, so a
scrape at 500 venues costs the rendering alone. Counters are derived from what the archive
and the state directory record (partition summaries, loss records, restart counts), so
they survive a restart of `run`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from supervisor_app import __version__
from supervisor_app.archive.meta import ARCHIVE_SECONDS_BUCKETS
from supervisor_app.archive.totals import VenueTotals
from supervisor_app.chronicle.records import SCANNER_IMPLEMENTATION
from supervisor_app.config.model import MetricsSettings
from supervisor_app.supervision.plugins import FleetView
from supervisor_app.supervision.plugins.archive_watch import VenueWatch
from supervisor_app.supervision.venue_records import VenueRecords

SNAPSHOT_EVERY_S = 1.0
PREFIX = "chronicle_fleet_"


@dataclass(frozen=True)
class _VenueRow:
    """One venue as the metrics show it, frozen at a step of the engine."""

    name: str
    phase: str
    restarts: Mapping[str, int]
    watch: VenueWatch | None


@dataclass(frozen=True)
class _Snapshot:
    venues: tuple[_VenueRow, ...]
    taken_at: float  # wall clock


class FleetMetrics:
    """An engine observer that keeps a snapshot, and the collector a scrape renders it with."""

    def __init__(self, records: VenueRecords, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._records = records
        self._monotonic = monotonic
        self._snapshot = _Snapshot((), 0.0)
        self._last_step: float | None = None

    def on_step(self, fleet: FleetView) -> None:
        now = self._monotonic()
        if self._last_step is not None and now - self._last_step < SNAPSHOT_EVERY_S:
            return
        self._last_step = now
        watched = fleet.archive_snapshot()
        rows = tuple(
            _VenueRow(name, venue.phase, dict(self._records.get(name).restarts), watched.get(name))
            for name, venue in sorted(fleet.venues.items())
        )
        self._snapshot = _Snapshot(rows, time.time())  # one reference swap: scrapes never see half of it

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus_client on each scrape, on its own thread."""
        return _families(self._snapshot)


def _families(snapshot: _Snapshot) -> Iterator[Metric]:
    yield _build_info()
    yield from _lifecycle(snapshot.venues)
    yield from _archive(snapshot.venues)
    yield from _totals(snapshot.venues)
    taken = GaugeMetricFamily(
        PREFIX + "snapshot_timestamp_seconds", "When the metrics were last taken from the engine (unix time)."
    )
    taken.add_metric([], snapshot.taken_at)
    yield taken
    observed = [row.watch.observed_at for row in snapshot.venues if row.watch is not None]
    watched = GaugeMetricFamily(
        PREFIX + "archive_watch_timestamp_seconds", "When the archive watch last finished a round over the venues."
    )
    if observed:
        watched.add_metric([], min(observed))
    yield watched


def _build_info() -> Metric:
    info = GaugeMetricFamily(
        PREFIX + "build_info",
        "chronicle-fleet's version and record scanner (c, or the slow python one).",
        labels=["version", "scanner"],
    )
    info.add_metric([__version__, SCANNER_IMPLEMENTATION], 1)
    return info


def _lifecycle(rows: Iterable[_VenueRow]) -> Iterator[Metric]:
    up = GaugeMetricFamily(PREFIX + "venue_up", "1 while the venue's archiver runs.", labels=["venue"])
    # Only the current state's series (at 500 venues, six series each would be most of a scrape).
    state = GaugeMetricFamily(
        PREFIX + "venue_state",
        "1 for the venue's current state (starting, running, stopping, backoff, held, stopped).",
        labels=["venue", "state"],
    )
    restarts = CounterMetricFamily(
        PREFIX + "venue_restarts",
        "Restarts of the venue's archiver, ever, by why (exit, signal, stalled, spawn, operator, config).",
        labels=["venue", "reason"],
    )
    for row in rows:
        up.add_metric([row.name], 1 if row.phase == "running" else 0)
        state.add_metric([row.name, row.phase], 1)
        for reason, count in sorted(row.restarts.items()):
            restarts.add_metric([row.name, reason], count)
    yield from (up, state, restarts)


def _archive(rows: Iterable[_VenueRow]) -> Iterator[Metric]:
    at_risk = GaugeMetricFamily(
        PREFIX + "venue_at_risk",
        "1 while retention may delete (or has deleted) segments not archived, by why; absent otherwise.",
        labels=["venue", "reason"],
    )
    segments_behind = GaugeMetricFamily(
        PREFIX + "archive_segments_behind", "Sealed segments not archived yet.", labels=["venue"]
    )
    bytes_behind = GaugeMetricFamily(
        PREFIX + "archive_bytes_behind",
        "How far the archiver's reader is behind the writer, in bytes as the writer's retention counts them.",
        labels=["venue"],
    )
    heartbeat = GaugeMetricFamily(
        PREFIX + "reader_heartbeat_age_seconds",
        "Age of the archiver's reader heartbeat; the writer's retention ignores a reader after 30 s.",
        labels=["venue"],
    )
    last = GaugeMetricFamily(
        PREFIX + "last_archived_timestamp_seconds", "When the venue's last segment was archived.", labels=["venue"]
    )
    for row in rows:
        watch = row.watch
        if watch is None:
            continue
        for reason in sorted({risk.reason for risk in watch.risks}):
            at_risk.add_metric([row.name, reason], 1)
        progress = watch.progress
        if progress is None:
            continue
        segments_behind.add_metric([row.name], progress.segments_behind)
        bytes_behind.add_metric([row.name], progress.bytes_behind)
        if progress.heartbeat_age_s is not None:
            heartbeat.add_metric([row.name], progress.heartbeat_age_s)
        if progress.last_archived_at_ns is not None:
            last.add_metric([row.name], progress.last_archived_at_ns / 1e9)
    yield from (at_risk, segments_behind, bytes_behind, heartbeat, last)


def _totals(rows: Iterable[_VenueRow]) -> Iterator[Metric]:
    segments = CounterMetricFamily(PREFIX + "archived_segments", "Segments archived, ever.", labels=["venue"])
    archived_bytes = CounterMetricFamily(
        PREFIX + "archived_bytes",
        "Bytes archived, ever: raw (the segments) and stored (the files).",
        labels=["venue", "kind"],
    )
    missing = CounterMetricFamily(
        PREFIX + "segments_missing", "Segments deleted from the queue before they were archived.", labels=["venue"]
    )
    corrupt = CounterMetricFamily(
        PREFIX + "segments_corrupt", "Segments archived with bad records or truncated.", labels=["venue"]
    )
    resets = CounterMetricFamily(
        PREFIX + "queue_resets",
        "Times the queue's segment ids restarted below the archiver's position.",
        labels=["venue"],
    )
    unacknowledged = GaugeMetricFamily(
        PREFIX + "losses_unacknowledged",
        "Recorded losses (missing or corrupt segments, queue resets) no operator has acknowledged: verify fails on them.",
        labels=["venue"],
    )
    seconds = HistogramMetricFamily(
        PREFIX + "segment_archive_seconds",
        "Time to archive one segment (staged, made durable, recorded).",
        labels=["venue"],
    )
    for row in rows:
        totals = row.watch.totals if row.watch is not None else None
        if totals is None:
            continue
        segments.add_metric([row.name], totals.segments)
        archived_bytes.add_metric([row.name, "raw"], totals.raw_bytes)
        archived_bytes.add_metric([row.name, "stored"], totals.stored_bytes)
        missing.add_metric([row.name], totals.losses.missing)
        corrupt.add_metric([row.name], totals.losses.corrupt)
        resets.add_metric([row.name], totals.losses.queue_resets)
        unacknowledged.add_metric([row.name], totals.losses.unacknowledged)
        seconds.add_metric([row.name], _buckets(totals), totals.archive_seconds_sum)
    yield from (segments, archived_bytes, missing, corrupt, resets, unacknowledged, seconds)


def _buckets(totals: VenueTotals) -> list[tuple[str, float]]:
    """Cumulative bucket counts, as Prometheus wants them, ending with +Inf."""
    running, buckets = 0, []
    for bound, count in zip(ARCHIVE_SECONDS_BUCKETS, totals.archive_seconds_counts, strict=False):
        running += count
        buckets.append((repr(bound), float(running)))
    buckets.append(("+Inf", float(totals.segments_timed)))
    return buckets


class MetricsExporter:
    """Serves the metrics on the configured listener and/or rewrites the textfile every interval."""

    def __init__(self, settings: MetricsSettings, metrics: FleetMetrics, *, log: Any) -> None:
        self._settings = settings
        self._log = log
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(metrics)
        self._server: Any = None
        self._stop = threading.Event()
        self._textfile_thread: threading.Thread | None = None

    def start(self) -> None:
        if self._settings.listen is not None:
            host, port = self._settings.listen
            try:
                self._server, _ = start_http_server(port, addr=host, registry=self.registry)
            except OSError as error:
                # Archiving matters more than being watched: go on, loudly (the textfile may still work).
                self._log.error("metrics_listen_failed", address=f"{host}:{port}", error=str(error))
            else:
                self._log.info("metrics_listening", address=f"{host}:{port}")
        if self._settings.textfile is not None:
            self.write_textfile()
            self._textfile_thread = threading.Thread(target=self._textfile_loop, name="metrics-textfile", daemon=True)
            self._textfile_thread.start()

    def write_textfile(self) -> None:
        path = self._settings.textfile
        assert path is not None
        try:
            write_to_textfile(str(path), self.registry)  # a temp file renamed into place
        except OSError as error:
            self._log.warning("metrics_textfile_failed", path=str(path), error=str(error))

    def _textfile_loop(self) -> None:
        while not self._stop.wait(self._settings.interval_s):
            self.write_textfile()

    def close(self) -> None:
        self._stop.set()
        if self._textfile_thread is not None:
            self._textfile_thread.join(timeout=10)
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown()
                self._server.server_close()
