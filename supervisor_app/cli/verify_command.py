"""`chronicle-fleet verify`: check an archive against its metadata (sidecars and meta.json), and its recorded losses."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
from typing import TYPE_CHECKING, TextIO

from supervisor_app.archive.layout import ArchiveLayout, validate_venue
from supervisor_app.archive.losses import Acknowledgement, LossSelection, acknowledge_losses, parse_selection
from supervisor_app.archive_root import S3Root
from supervisor_app.cli import exit_codes
from supervisor_app.cli.store_arguments import add_store_arguments, archive_root_arg, store_settings
from supervisor_app.config.problems import counted
from supervisor_app.errors import ChronicleFleetError, InvalidVenueError

if TYPE_CHECKING:
    from supervisor_app.archive.object_store.client import S3Client
    from supervisor_app.archive.verify import Finding, VerifyProgress, VerifyReport

PLAIN_PROGRESS_EVERY_S = 5.0
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check every archived segment against its metadata, and the losses recorded",
        description="Decode every archived segment and compare size and CRC-32 with its sidecar, and each "
        "meta.json's totals with the sidecars; report damaged metadata, missing files, stray .tmp files, "
        "unrecorded files and symbolic links; and report every recorded loss (segments deleted before they "
        "were archived, segments corrupt in the source, queue resets). Exit 1 on any problem, an "
        "unacknowledged loss among them, or when nothing that was asked for was found.",
    )
    parser.add_argument(
        "--archive-root", type=archive_root_arg, required=True, help="root of the archive tree, or s3://bucket/prefix"
    )
    parser.add_argument("--venue", type=_venue, help="only this venue")
    parser.add_argument("--date", type=_date, help="only this partition date (YYYY-MM-DD)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--acknowledge",
        action="append",
        type=_acknowledgement,
        default=[],
        metavar="VENUE:WHAT",
        help="first record that the venue's losses WHAT are acknowledged (then verify reports them as such and "
        "they no longer fail it): segment ids and ranges (3,5-9), 'resets' (queue resets) or 'all'; only "
        "losses recorded by now are covered; repeatable; needs --by",
    )
    parser.add_argument("--by", type=_name, help="who acknowledges (recorded with the acknowledgement)")
    parser.add_argument("--reason", type=_reason, help="why, e.g. a ticket (recorded with the acknowledgement)")
    add_store_arguments(parser)
    parser.set_defaults(handler=run)


def _venue(text: str) -> str:
    try:
        return validate_venue(text)
    except InvalidVenueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _date(text: str) -> str:
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD")


def _acknowledgement(text: str) -> tuple[str, LossSelection]:
    venue, colon, what = text.partition(":")
    if not colon or not what:
        raise argparse.ArgumentTypeError(f"{text!r} is not VENUE:WHAT (e.g. binance:3,5-9 or binance:all)")
    try:
        return _venue(venue), parse_selection(what)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None


def _name(text: str) -> str:
    if not text.strip() or len(text) > 255 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"{text!r} is not a name (1 to 255 printable characters)")
    return text


def _reason(text: str) -> str:
    if len(text) > 1000 or not text.isprintable():
        raise argparse.ArgumentTypeError("a reason is at most 1000 printable characters")
    return text


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
            f"{_bytes_of(progress.bytes_done, progress.bytes_total)} ({rate:.0f} MiB/s)"
        )
        self._stream.write(f"\r{text}\033[K" if self._live else text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._live:
            self._stream.write("\n")


def run(args: argparse.Namespace) -> int:
    if args.acknowledge and args.by is None:
        return _usage("--acknowledge needs --by NAME (who acknowledges)")
    if not args.acknowledge and (args.by is not None or args.reason is not None):
        return _usage("--by and --reason go with --acknowledge")
    written, void = _acknowledge(args)
    progress = ProgressLine(sys.stderr)
    started = time.monotonic()
    try:
        report = _verify(args, progress)
    except ChronicleFleetError as exc:  # an object store that refuses us or does not answer
        print(f"chronicle-fleet verify: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    finally:
        progress.close()
    if args.format == "json":
        print(json.dumps(_as_json(report, written), indent=2))
    else:
        _print_text(report, written, time.monotonic() - started)
    return exit_codes.FAILURE if report.problems or void else exit_codes.OK


def _verify(args: argparse.Namespace, progress: ProgressLine) -> VerifyReport:
    """Verify a local archive, or one in an object store (its client, botocore, loaded only then)."""
    root = args.archive_root
    if not isinstance(root, S3Root):
        # Imported here: the verify chain (seekable zstd, checksums, a thread pool) is ~1 MiB that `run` need not load.
        from supervisor_app.archive.verify import verify_archive

        return verify_archive(root, venue=args.venue, date=args.date, progress=progress)
    from supervisor_app.archive.object_store.verify import verify_object_archive

    client = _client(args)
    try:
        return verify_object_archive(client, venue=args.venue, date=args.date, progress=progress)
    finally:
        client.close()


def _client(args: argparse.Namespace) -> S3Client:
    """A client of the s3:// root's store; botocore is loaded here, and only for such a root."""
    from supervisor_app.archive.object_store.settings import keep_awscrt_out

    keep_awscrt_out()
    from supervisor_app.archive.object_store.client import S3Client
    from supervisor_app.logs import JsonLogger

    return S3Client(args.archive_root, store_settings(args), log=JsonLogger(sys.stderr, component="verify"))


def _usage(message: str) -> int:
    print(f"chronicle-fleet verify: {message}", file=sys.stderr)
    return exit_codes.USAGE


def _acknowledge(args: argparse.Namespace) -> tuple[list[tuple[str, Acknowledgement]], bool]:
    """Record each --acknowledge; return what was written, and whether one of them acknowledged nothing."""
    written, void = [], False
    for venue, selection in args.acknowledge:
        try:
            ack = _acknowledge_one(args, venue, selection)
        except (ChronicleFleetError, OSError) as exc:
            print(f"chronicle-fleet verify: cannot acknowledge {venue}:{selection.text}: {exc}", file=sys.stderr)
            void = True
            continue
        if ack is None:
            print(
                f"chronicle-fleet verify: {venue}:{selection.text}: no unacknowledged loss recorded there; "
                "nothing written",
                file=sys.stderr,
            )
            void = True
        else:
            written.append((venue, ack))
    return written, void


def _acknowledge_one(args: argparse.Namespace, venue: str, selection: LossSelection) -> Acknowledgement | None:
    root, now_ns = args.archive_root, time.time_ns()
    if isinstance(root, S3Root):
        from supervisor_app.archive.object_store.layout import ObjectLayout
        from supervisor_app.archive.object_store.losses import acknowledge_losses_object

        client = _client(args)
        try:
            in_store = ObjectLayout(root, venue)
            return acknowledge_losses_object(client, in_store, selection, by=args.by, reason=args.reason, now_ns=now_ns)
        finally:
            client.close()
    layout = ArchiveLayout(root, venue)
    if not layout.venue_dir.is_dir():
        raise ChronicleFleetError(f"{layout.venue_dir}: no archive for venue {venue!r}")
    return acknowledge_losses(layout, selection, by=args.by, reason=args.reason, now_ns=now_ns)


def _print_text(report: VerifyReport, written: list[tuple[str, Acknowledgement]], elapsed_s: float) -> None:
    for venue, ack in written:
        print(f"acknowledged for {venue} by {ack.by}: {_ack_counts(ack)}")
    for finding in report.problems:
        print(f"{finding.path}: {finding.message}")
    for finding in report.warnings:
        print(f"{finding.path}: warning: {finding.message}")
    for finding in report.acknowledged:
        print(f"{finding.path}: {finding.message}")
    summary = (
        f"verified {counted(report.segments, 'segment')} ({_bytes_of(report.raw_bytes)}) in {elapsed_s:.1f} s: "
        f"{counted(len(report.problems), 'problem')}, {counted(len(report.warnings), 'warning')}"
    )
    if report.acknowledged:
        count = len(report.acknowledged)
        summary += f", {count} acknowledged loss{'' if count == 1 else 'es'}"
    print(summary)


def _ack_counts(ack: Acknowledgement) -> str:
    return ", ".join(
        (
            counted(len(ack.missing), "missing segment"),
            counted(len(ack.corrupt), "corrupt segment"),
            counted(len(ack.resets), "queue reset"),
        )
    )


def _bytes_of(done: int, total: int | None = None) -> str:
    """`256.0 KiB`, or `128.0/256.0 KiB` in the unit that suits the total."""
    unit, size = next(((u, s) for u, s in _UNITS if (done if total is None else total) >= s), ("B", 1))

    def shown(count: int) -> str:
        return str(count) if size == 1 else f"{count / size:.1f}"

    return f"{shown(done)} {unit}" if total is None else f"{shown(done)}/{shown(total)} {unit}"


def _as_json(report: VerifyReport, written: list[tuple[str, Acknowledgement]]) -> dict:
    return {
        "segments": report.segments,
        "raw_bytes": report.raw_bytes,
        "problems": _findings(report.problems),
        "warnings": _findings(report.warnings),
        "acknowledged": _findings(report.acknowledged),
        "acknowledgements_written": [{"venue": venue, **ack.to_json()} for venue, ack in written],
    }


def _findings(findings: tuple[Finding, ...]) -> list[dict[str, str]]:
    return [{"path": str(f.path), "message": f.message} for f in findings]
