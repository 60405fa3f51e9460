"""`chronicle-raw-archiver`: archive one venue's sealed segments; parsing, signals and exit codes only."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from supervisor_app import __version__
from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.compress_slots import CompressSlots
from supervisor_app.archive.object_store.settings import MAX_PART_SIZE, MIN_PART_SIZE, TransferSettings, keep_awscrt_out
from supervisor_app.archive.reader_lease import LIVENESS_TIMEOUT_S
from supervisor_app.archive.seekable_zstd import DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, default_compress_threads
from supervisor_app.archive_root import ArchiveRoot, S3Root
from supervisor_app.chronicle.records import SCANNER_IMPLEMENTATION
from supervisor_app.cli import exit_codes
from supervisor_app.cli.store_arguments import CREDENTIALS_HELP, add_store_arguments, archive_root_arg, store_settings
from supervisor_app.cli.version import version_line
from supervisor_app.errors import ChronicleFleetError, PermanentError, TemporaryError
from supervisor_app.heap import use_one_arena
from supervisor_app.lock_handover import LockHandover, unblock_stop_signals
from supervisor_app.logs import JsonLogger
from supervisor_app.parent_death import die_with_parent
from supervisor_app.process_limits import IO_CLASSES, ProcessLimits, apply_limits, parse_cpus, read_limits
from supervisor_app.units import parse_size, show_size

DEFAULT_REFRESH_WHEN_IDLE_S = 60.0
SUPERVISED_ENV = "SUPERVISOR_ENABLED"  # supervisord sets it in every child's environment
EPILOG = (
    """exit codes:
  0   done (--once), or stopped cleanly by SIGTERM/SIGINT
  2   usage error
  75  temporary failure (I/O error such as ENOSPC or EIO, lock held, archive root missing with
      --require-archive-root, object store down or throttling through every attempt): retry later
  78  permanent failure (bad venue, archive root unusable, permission denied, read-only filesystem,
      a path that is a symbolic link or not what it should be, corrupt segment, damaged metadata,
      archive conflict, object store credentials refused or absent, no such bucket)

"""
    + CREDENTIALS_HELP
)
# OSErrors no retry cures: a person must change a permission, a mount or a path first.
PERMANENT_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.EXDEV, errno.ELOOP, errno.EISDIR, errno.ENOTDIR}
)


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"{value} is outside {low:g}..{high:g}")
        return value

    return parse


def _size(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = parse_size(int(text) if text.isdigit() else text)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a size: bytes, or a number with B, KiB, MiB or GiB")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {show_size(low)}..{show_size(high)}")
        return value

    return parse


def _cpus(text: str) -> frozenset[int]:
    try:
        cores = parse_cpus(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if max(cores) > 4095:
        raise argparse.ArgumentTypeError(f"core {max(cores)} is beyond 4095")
    return cores


def _slots(text: str) -> CompressSlots:
    directory, colon, count = text.rpartition(":")
    if not colon or not directory or not count.isdigit() or not 1 <= int(count) <= 1024:
        raise argparse.ArgumentTypeError(f"{text!r} is not DIR:N with N from 1 to 1024")
    return CompressSlots(Path(directory).absolute(), int(count))


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, sized to the terminal without importing shutil (with bz2 and lzma, ~0.5 MiB of every archiver)."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        kwargs.setdefault("width", _terminal_columns() - 2)
        super().__init__(prog, **kwargs)


def _terminal_columns() -> int:
    """As shutil.get_terminal_size: $COLUMNS, else stdout's terminal, else 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(1).columns or 80
    except OSError:
        return 80


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronicle-raw-archiver",
        description="Copy every sealed segment of one venue's chronicle queue into the raw archive.",
        epilog=EPILOG,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--source", type=Path, required=True, help="the venue's queue directory")
    parser.add_argument(
        "--archive-root",
        type=archive_root_arg,
        required=True,
        help="root of the archive tree: a directory, or s3://bucket/prefix",
    )
    parser.add_argument("--venue", required=True, help="venue name (one path component)")
    parser.add_argument(
        "--require-archive-root",
        action="store_true",
        help="exit 75 if the archive root does not exist instead of creating it (a mount that is not up)",
    )
    parser.add_argument("--compress", action="store_true", help="write seekable .q.zst + .q.zst.idx")
    parser.add_argument("--retain-q", action="store_true", help="with --compress, also keep the raw .q")
    parser.add_argument(
        "--block-size",
        type=_size(4096, 256 * 1024 * 1024),
        default=DEFAULT_BLOCK_SIZE,
        metavar="SIZE",
        help="bytes per zstd frame: a number of bytes or, as in the fleet config, 64KiB, 1MiB (default 1MiB)",
    )
    parser.add_argument("--level", type=_bounded_int(1, 22), default=DEFAULT_LEVEL, help="zstd level (default 3)")
    parser.add_argument("--reader-name", default="raw-archiver", help="name of our reader position file")
    parser.add_argument("--once", action="store_true", help="archive what is sealed now, then exit")
    store = add_store_arguments(parser)
    transfer = TransferSettings()
    store.add_argument(
        "--s3-part-size",
        type=_bounded_int(MIN_PART_SIZE, MAX_PART_SIZE),
        default=transfer.part_size,
        help=f"bytes per multipart part (default {transfer.part_size // 2**20} MiB)",
    )
    store.add_argument(
        "--s3-parts-in-flight",
        type=_bounded_int(1, 64),
        default=transfer.parts_in_flight,
        help=f"parts uploading at once; each holds a part in memory (default {transfer.parts_in_flight})",
    )
    store.add_argument(
        "--s3-attempts",
        type=_bounded_int(1, 100),
        default=transfer.attempts,
        help=f"tries per request, with backoff, before exit 75 (default {transfer.attempts})",
    )
    parser.add_argument(
        "--poll-ms", type=_bounded_int(10, 3_600_000), default=1000, help="sleep between passes (default 1000)"
    )
    parser.add_argument(
        "--liveness-timeout",
        type=_seconds(1, 3600),
        default=LIVENESS_TIMEOUT_S,
        metavar="S",
        help="stop the reader heartbeat when the work has not moved for S seconds, so that a hung archiver "
        f"looks hung to the supervisor (default {LIVENESS_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--refresh-when-idle",
        type=_seconds(0, 86400),
        default=DEFAULT_REFRESH_WHEN_IDLE_S,
        metavar="S",
        help="once idle for S seconds after archiving, re-exec itself (same pid, locks kept) to give back the "
        f"memory the work loaded; 0: never (default {DEFAULT_REFRESH_WHEN_IDLE_S:g})",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default="auto",
        help="log format on stderr: JSON lines, or a readable line per event; auto: console on a terminal, else JSON",
    )
    parser.add_argument("--version", action="version", version=version_line("chronicle-raw-archiver"))
    share = parser.add_argument_group("share of the host, for the archiver and all its threads (default: inherited)")
    share.add_argument("--nice", type=_bounded_int(-20, 19), help="CPU niceness, -20 (greedy) to 19 (yields to all)")
    share.add_argument("--io-class", choices=IO_CLASSES, help="I/O scheduling class")
    share.add_argument(
        "--io-level", type=_bounded_int(0, 7), help="with --io-class best-effort: 0 (highest) to 7 (lowest, default)"
    )
    share.add_argument("--cpu-affinity", type=_cpus, metavar="CORES", help="run only on these cores, e.g. 2-3,6")
    share.add_argument(
        "--compress-threads",
        type=_bounded_int(1, 64),
        help="zstd threads (default: the cores it may use, at most 4)",
    )
    share.add_argument(
        "--compress-slots",
        type=_slots,
        metavar="DIR:N",
        help="compress on at most N threads across every archiver given the same DIR:N (N lock files in DIR)",
    )
    return parser


def process_limits(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ProcessLimits:
    if args.io_level is not None and args.io_class != "best-effort":
        parser.error("--io-level goes with --io-class best-effort")
    level = 7 if args.io_level is None else args.io_level
    return ProcessLimits(nice=args.nice, io_class=args.io_class, io_level=level, cpu_affinity=args.cpu_affinity)


def main(argv: Sequence[str] | None = None) -> int:
    handover = LockHandover.from_environment(os.environ)  # locks a previous image of this process still holds
    parser = build_parser()
    args = parser.parse_args(argv)
    use_one_arena()  # before any thread starts: see heap.py
    limits = process_limits(args, parser)
    json_logs = {"auto": None, "json": True, "console": False}[args.log_format]
    log = JsonLogger(sys.stderr, json_lines=json_logs, venue=args.venue)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    unblock_stop_signals()  # one that came during a refresh's exec is delivered now
    if os.environ.get(SUPERVISED_ENV):  # under supervisord: never outlive it (a clean stop when it dies)
        die_with_parent(signal.SIGTERM, parent_marker=b"supervisord")
    root: ArchiveRoot = args.archive_root
    if isinstance(root, S3Root):
        keep_awscrt_out()
    config = ArchiverConfig(
        source=args.source.absolute(),
        archive_root=root if isinstance(root, S3Root) else root.absolute(),
        venue=args.venue,
        compress=args.compress,
        retain_raw=args.retain_q,
        level=args.level,
        block_size=args.block_size,
        reader_name=args.reader_name,
        poll_ms=args.poll_ms,
        archive_root_must_exist=args.require_archive_root,
        liveness_timeout_s=args.liveness_timeout,
        compress_threads=args.compress_threads,
        compress_slots=args.compress_slots if args.compress else None,  # copy mode takes no slots
        object_store=store_settings(args) if isinstance(root, S3Root) else None,
        transfer=TransferSettings(args.s3_part_size, args.s3_parts_in_flight, args.s3_attempts),
        refresh_when_idle_s=args.refresh_when_idle or None,
    )
    return run(config, log, stop, once=args.once, limits=limits, handover=handover)


def run(
    config: ArchiverConfig,
    log: JsonLogger,
    stop: threading.Event,
    *,
    once: bool,
    limits: ProcessLimits | None = None,
    handover: LockHandover | None = None,
) -> int:
    """Apply `limits` (before any thread starts), run the archiver and turn its outcome into an exit code."""
    try:
        notes = apply_limits(limits or ProcessLimits())
        if config.compress_threads is None:  # the default follows the cores the affinity left us
            config = dataclasses.replace(config, compress_threads=default_compress_threads())
        archiver = RawArchiver(config, log=log, stop=stop, handover=handover)
        log.info(
            "archiver_started",
            source=str(config.source),
            archive_root=str(config.archive_root),
            compress=config.compress,
            once=once,
            version=__version__,
            scanner=SCANNER_IMPLEMENTATION,
            resources=applied_resources(config),
            refreshed=handover is not None and handover.inherited,
        )
        for note in notes:
            log.warning(
                "resources_not_applied",
                reason=note,
                action="give the service CAP_SYS_NICE (AmbientCapabilities=), or a nice value at or above the inherited one",
            )
        if SCANNER_IMPLEMENTATION != "c":
            log.warning(
                "scanner_slow",
                scanner=SCANNER_IMPLEMENTATION,
                reason="the C record scanner was not built (no C compiler at install): scanning is ~20x slower",
                action="install a C compiler and reinstall chronicle-fleet",
            )
        if once:
            archiver.run_once()
        else:
            archiver.run_loop()
    except PermanentError as exc:
        log.error("archiver_failed", error=str(exc), error_type=type(exc).__name__, permanent=True)
        return exit_codes.CONFIG
    except OSError as exc:
        permanent = exc.errno in PERMANENT_ERRNOS
        log.error("archiver_failed", error=str(exc), error_type=type(exc).__name__, permanent=permanent)
        return exit_codes.CONFIG if permanent else exit_codes.TEMPFAIL
    except TemporaryError as exc:
        log.error("archiver_failed", error=str(exc), error_type=type(exc).__name__, permanent=False)
        return exit_codes.TEMPFAIL
    except ChronicleFleetError as exc:
        log.error("archiver_failed", error=str(exc), error_type=type(exc).__name__, permanent=True)
        return exit_codes.CONFIG
    log.info("archiver_stopped")
    return exit_codes.OK


def applied_resources(config: ArchiverConfig) -> dict[str, Any]:
    """What the kernel says this process has (every thread inherits it), and how it compresses."""
    applied = read_limits(os.getpid()).as_dict()
    if config.compress:
        applied["compress_threads"] = config.compress_threads
        slots = config.compress_slots
        applied["compress_slots"] = None if slots is None else {"directory": str(slots.directory), "count": slots.count}
    return applied


if __name__ == "__main__":
    sys.exit(main())
