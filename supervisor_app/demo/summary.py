"""The demo's per-venue figures: what was archived, how well it compressed, and whether it matches the feed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.meta import SegmentEntry, partition_entries


@dataclass(frozen=True)
class VenueSummary:
    venue: str
    segments: int
    raw_bytes: int
    stored_bytes: int
    restarts: int
    lag_segments: int
    lag_bytes: int
    verified: int  # archived segments whose size and CRC-32 match what the feed sealed
    mismatched: tuple[int, ...]

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.stored_bytes if self.stored_bytes else 0.0


def archived_entries(archive_root: Path, venue: str) -> list[SegmentEntry]:
    """Every segment entry the venue's archive records (sidecars, or a v1 meta.json's list)."""
    entries: list[SegmentEntry] = []
    for partition in ArchiveLayout(archive_root, venue).partition_dirs():
        entries += partition_entries(partition)
    return sorted(entries, key=lambda e: e.segment_id)


def read_ledger(path: Path) -> dict[int, tuple[int, int]]:
    """segment id -> (size, CRC-32) of every segment the feed sealed and could read back."""
    if not path.exists():
        return {}
    lines = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {item["segment_id"]: (item["size"], int(item["crc32"], 16)) for item in lines}


def summarize_venue(
    venue: str,
    entries: list[SegmentEntry],
    ledger: dict[int, tuple[int, int]],
    *,
    restarts: int,
    lag_segments: int,
    lag_bytes: int,
) -> VenueSummary:
    matched = [e for e in entries if ledger.get(e.segment_id) == (e.raw_size, e.raw_crc32)]
    return VenueSummary(
        venue=venue,
        segments=len(entries),
        raw_bytes=sum(e.raw_size for e in entries),
        stored_bytes=sum(e.stored_bytes for e in entries),
        restarts=restarts,
        lag_segments=lag_segments,
        lag_bytes=lag_bytes,
        verified=len(matched),
        mismatched=tuple(e.segment_id for e in entries if e not in matched),
    )


def format_table(rows: list[VenueSummary]) -> str:
    header = ("venue", "segments", "archived", "stored", "ratio", "restarts", "lag", "matches feed")
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.venue,
                str(r.segments),
                f"{r.raw_bytes / 2**20:.1f} MiB",
                f"{r.stored_bytes / 2**20:.1f} MiB",
                f"{r.ratio:.2f}x",
                str(r.restarts),
                f"{r.lag_segments} seg / {r.lag_bytes / 2**10:.0f} KiB",
                f"{r.verified}/{r.segments}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)
