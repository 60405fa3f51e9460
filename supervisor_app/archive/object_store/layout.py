"""Keys of one venue's archive in an object store: the local layout's paths below the root's prefix."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from supervisor_app.archive.layout import (
    ACKNOWLEDGED_FILE_NAME,
    LAYOUT_VERSION,
    META_FILE_NAME,
    MISSING_FILE_NAME,
    QUEUE_RESETS_FILE_NAME,
    validate_venue,
)
from supervisor_app.archive.meta import segment_file_names, sidecar_name
from supervisor_app.archive_root import S3Root


@dataclass(frozen=True)
class SegmentKeys:
    """The keys a segment's `.q`, `.q.zst` and `.q.zst.idx` have in its partition."""

    raw: str
    zst: str
    idx: str


@dataclass(frozen=True)
class ObjectLayout:
    """`<prefix>/raw/v1/<venue>/<YYYY-MM-DD>/raw/<file>`, as on a local disk."""

    root: S3Root
    venue: str

    def __post_init__(self) -> None:
        validate_venue(self.venue)

    @property
    def layout_prefix(self) -> str:
        """Where every venue's prefix starts (with its trailing slash)."""
        return self.root.key("raw", LAYOUT_VERSION) + "/"

    @property
    def venue_prefix(self) -> str:
        """Every key of the venue starts with this (it ends with a slash: venue `a` is not a prefix of `ab`)."""
        return f"{self.layout_prefix}{self.venue}/"

    @property
    def missing_segments_key(self) -> str:
        return self.venue_prefix + MISSING_FILE_NAME

    @property
    def queue_resets_key(self) -> str:
        return self.venue_prefix + QUEUE_RESETS_FILE_NAME

    @property
    def acknowledged_key(self) -> str:
        return self.venue_prefix + ACKNOWLEDGED_FILE_NAME

    def partition_prefix(self, date: dt.date) -> str:
        return f"{self.venue_prefix}{date.isoformat()}/raw/"

    def meta_key(self, date: dt.date) -> str:
        return self.partition_prefix(date) + META_FILE_NAME

    def sidecar_key(self, date: dt.date, segment_id: int) -> str:
        return self.partition_prefix(date) + sidecar_name(segment_id)

    def segment_keys(self, date: dt.date, segment_id: int) -> SegmentKeys:
        prefix = self.partition_prefix(date)
        raw, zst, idx = segment_file_names(segment_id)
        return SegmentKeys(prefix + raw, prefix + zst, prefix + idx)

    def url(self, key: str) -> str:
        return f"s3://{self.root.bucket}/{key}"


def partition_date_of(prefix: str, venue_prefix: str) -> dt.date | None:
    """The date of a `<venue_prefix><YYYY-MM-DD>/` listing prefix, or None for anything else."""
    name = prefix[len(venue_prefix) :].rstrip("/")
    if not prefix.startswith(venue_prefix) or "/" in name:
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None
