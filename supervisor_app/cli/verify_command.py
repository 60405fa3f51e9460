"""`chronicle-fleet verify`: check an archive against its metadata (sidecars and meta.json)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from supervisor_app.cli import exit_codes
from supervisor_app.errors import InvalidVenueError

if TYPE_CHECKING:
    from supervisor_app.archive.verify import VerifyProgress, VerifyReport

PLAIN_PROGRESS_EVERY_S = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check every archived segment against its metadata",
        description="Decode every archived segment and compare size and CRC-32 with its sidecar, and each "
        "meta.json's totals with the sidecars; report damaged metadata, missing files, stray .tmp files and "
        "unrecorded files. Exit 1 on any problem.",
    )
    parser.add_argument("--archive-root", type=Path, required=True, help="root of the archive tree")
    parser.add_argument("--venue", help="only this venue")
    parser.add_argument("--date", help="only this partition date (YYYY-MM-DD)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=run)


class ProgressLine:
    """A live line on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = stream.isatty()
        self._started = time.monotonic()
        self._last_plain = self._started

    def __call__(self, progress: VerifyProgress) -> None:
        now = time.monotonic()
        if (
            not self._live
            and now - self._last_plain < PLAIN_PROGRESS_EVERY_S
            and progress.segments_done < progress.segments_total
        ):
            return
        self._last_plain = now
        rate = progress.bytes_done / max(now - self._started, 1e-9) / 2**20
        text = (
            f"verified {progress.segments_done}/{progress.segments_total} segments, "
            f"{progress.bytes_done / 2**20:.0f}/{progress.bytes_total / 2**20:.0f} MiB ({rate:.0f} MiB/s)"
        )
        self._stream.write(f"\r{text}\033[K" if self._live else text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._live:
            self._stream.write("\n")


def run(args: argparse.Namespace) -> int:
    from supervisor_app.archive.verify import verify_archive  # loaded by `verify` alone

    progress = ProgressLine(sys.stderr)
    started = time.monotonic()
    try:
        report = verify_archive(args.archive_root, venue=args.venue, date=args.date, progress=progress)
    except InvalidVenueError as exc:
        print(f"chronicle-fleet verify: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    finally:
        progress.close()
    if args.format == "json":
        print(json.dumps(_as_json(report), indent=2))
    else:
        _print_text(report, time.monotonic() - started)
    return exit_codes.FAILURE if report.problems else exit_codes.OK


def _print_text(report: VerifyReport, elapsed_s: float) -> None:
    for finding in report.problems:
        print(f"{finding.path}: {finding.message}")
    for finding in report.warnings:
        print(f"{finding.path}: warning: {finding.message}")
    print(
        f"verified {report.segments} segments ({report.raw_bytes / 2**20:.1f} MiB) in {elapsed_s:.1f} s: "
        f"{len(report.problems)} problems, {len(report.warnings)} warnings"
    )


def _as_json(report: VerifyReport) -> dict:
    return {
        "segments": report.segments,
        "raw_bytes": report.raw_bytes,
        "problems": [{"path": str(f.path), "message": f.message} for f in report.problems],
        "warnings": [{"path": str(f.path), "message": f.message} for f in report.warnings],
    }
