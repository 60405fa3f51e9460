"""Where one venue's archive files live: `<root>/raw/v1/<venue>/<YYYY-MM-DD>/raw/`."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.errors import InvalidVenueError, UnsafePathError

LAYOUT_VERSION = "v1"
META_FILE_NAME = "meta.json"
MISSING_FILE_NAME = "missing-segments.json"
QUEUE_RESETS_FILE_NAME = "queue-resets.json"
ACKNOWLEDGED_FILE_NAME = "acknowledged-losses.json"
STAGING_DIR_NAME = ".staging"
LOCK_FILE_NAME = ".archiver.lock"

_FORBIDDEN_IN_VENUE = ("/", "\\", "\0")
_DATE_NAME = re.compile(r"(\d{4})-(\d\d)-(\d\d)", re.ASCII)
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def validate_venue(venue: str) -> str:
    """Return `venue` if it is one safe path component, else raise InvalidVenueError."""
    if not venue:
        raise InvalidVenueError("venue name is empty")
    if venue in (".", ".."):
        raise InvalidVenueError(f"venue name {venue!r} is not a directory name")
    for forbidden in _FORBIDDEN_IN_VENUE:
        if forbidden in venue:
            raise InvalidVenueError(f"venue name {venue!r} contains {forbidden!r}")
    return venue


def partition_date(earliest_event_ns: int | None, mtime_s: float) -> str:
    """UTC date (YYYY-MM-DD) of the earliest event; a segment without events falls back to its mtime.

    Without datetime: an archiver would keep its ~0.5 MiB for good after dating one segment.
    """
    seconds = earliest_event_ns // 1000000000 if earliest_event_ns is not None else int(mtime_s)
    day = time.gmtime(seconds)
    if not 1 <= day.tm_year <= 9999:  # as datetime refused: no YYYY-MM-DD names it, and scans skip what is not one
        raise ValueError(f"year {day.tm_year} is out of range (timestamp {seconds} s)")
    return f"{day.tm_year:04d}-{day.tm_mon:02d}-{day.tm_mday:02d}"


@dataclass(frozen=True)
class SegmentFiles:
    """The three archive file names of one segment inside its partition directory."""

    raw: Path
    zst: Path
    idx: Path


@dataclass(frozen=True)
class ArchiveLayout:
    """Paths of one venue's archive under an archive root."""

    root: Path
    venue: str

    def __post_init__(self) -> None:
        validate_venue(self.venue)

    @property
    def venue_dir(self) -> Path:
        return self.root / "raw" / LAYOUT_VERSION / self.venue

    @property
    def staging_dir(self) -> Path:
        # Same filesystem as every partition, so a staged file renames into place atomically.
        return self.venue_dir / STAGING_DIR_NAME

    @property
    def lock_path(self) -> Path:
        return self.venue_dir / LOCK_FILE_NAME

    @property
    def missing_segments_path(self) -> Path:
        return self.venue_dir / MISSING_FILE_NAME

    @property
    def queue_resets_path(self) -> Path:
        return self.venue_dir / QUEUE_RESETS_FILE_NAME

    @property
    def acknowledged_path(self) -> Path:
        return self.venue_dir / ACKNOWLEDGED_FILE_NAME

    def partition_dir(self, date: str) -> Path:
        """The partition of `date`, YYYY-MM-DD."""
        return self.venue_dir / date / "raw"

    def meta_path(self, date: str) -> Path:
        return self.partition_dir(date) / META_FILE_NAME

    def segment_files(self, date: str, segment_id: int) -> SegmentFiles:
        base = self.partition_dir(date) / f"{segment_id:09d}.q"
        return SegmentFiles(
            raw=base, zst=base.with_name(base.name + ".zst"), idx=base.with_name(base.name + ".zst.idx")
        )

    def partition_dirs(self) -> list[Path]:
        """Every existing partition directory, oldest date first; never one reached through a symbolic link."""
        if not _is_real_dir(self.venue_dir):
            return []
        return sorted(p / "raw" for p in self.venue_dir.iterdir() if _is_date_dir(p) and _is_real_dir(p / "raw"))

    def refuse_symlinks(self, path: Path) -> None:
        """UnsafePathError if `path` or a directory between it and the archive root is a symbolic link.

        The archiver writes only into real directories under the root: a link there could
        take its files (or its removal of stale temp files) anywhere.
        """
        for component in reversed([path, *path.parents]):
            if component == self.root or self.root not in component.parents:
                continue
            if component.is_symlink():
                raise UnsafePathError(
                    f"{component}: is a symbolic link (to {os.readlink(component)}); the archiver writes only "
                    f"into real directories under the archive root {self.root}"
                )


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _is_date_dir(path: Path) -> bool:
    return is_partition_name(path.name) and _is_real_dir(path)


def is_partition_name(name: str) -> bool:
    """Whether `name` is a real date as YYYY-MM-DD (checked without loading datetime, see partition_date)."""
    match = _DATE_NAME.fullmatch(name)
    if match is None:
        return False
    year, month, day = (int(part) for part in match.groups())
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return year >= 1 and 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1] + (month == 2 and leap)
