"""`chronicle-fleet status` as a table for people: one line per venue, and the fleet's summary above it."""

from __future__ import annotations

from typing import Any

_HEADER = (
    "VENUE",
    "STATE",
    "PID",
    "UPTIME",
    "RESTARTS",
    "LAST EXIT",
    "LAG",
    "HEARTBEAT",
    "LAST ARCHIVED",
    "SHARE OF HOST",
    "NOTE",
)


def status_table(fleet: dict[str, Any], venues: list[dict[str, Any]]) -> str:
    rows = [_HEADER]
    rows += [
        (
            v["venue"],
            v["state"],
            str(v["pid"] or "-"),
            _duration(v["uptime_s"]),
            str(v["restarts"]),
            v["last_exit"]["description"] if v["last_exit"] else "-",
            *_archive_cells(v.get("archive")),
            share_of_host(v.get("resources")),
            note(v),
        )
        for v in venues
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
        for row in rows
    ]
    return "\n".join([summary_line(fleet, venues), *lines])


def summary_line(fleet: dict[str, Any], venues: list[dict[str, Any]]) -> str:
    """`fleet: 12/12 running, 0 at risk; run pid 812, supervisord pid 815, config /etc/...`."""
    return (
        f"fleet: {health_summary(venues)}; run pid {fleet.get('run_pid')},"
        f" supervisord pid {fleet.get('supervisord_pid')}, config {fleet.get('config')}"
    )


def health_summary(venues: list[dict[str, Any]]) -> str:
    running = sum(1 for v in venues if v["state"] == "running")
    at_risk = sum(1 for v in venues if risks(v))
    return f"{running}/{len(venues)} running, {at_risk} at risk"


def healthy(venues: list[dict[str, Any]]) -> bool:
    """Every enabled venue running, none at risk, no loss unacknowledged: status exits 0, else 3."""
    return all(v["state"] == "running" and not risks(v) and not unacknowledged_losses(v) for v in venues)


def unacknowledged_losses(venue: dict[str, Any]) -> int:
    return int((venue.get("archive") or {}).get("losses", {}).get("unacknowledged", 0))


def risks(venue: dict[str, Any]) -> list[str]:
    archive = venue.get("archive")
    if archive is None:
        return ["archive progress not observed yet"]
    return list(archive.get("risks", []))


def note(venue: dict[str, Any]) -> str:
    found = risks(venue)
    if found:
        return "AT RISK: " + "; ".join(found)
    if unacknowledged_losses(venue):
        losses = venue["archive"]["losses"]
        return (
            f"LOSSES: {losses['missing']} missing, {losses['corrupt']} corrupt, {losses['queue_resets']} queue resets"
            f" recorded ({losses['unacknowledged']} not acknowledged: chronicle-fleet verify)"
        )
    if venue["held_reason"]:
        return f"held: {venue['held_reason']}"
    if venue["next_retry_at"]:
        last = venue["last_exit"] or {}
        detail = f"; last error: {last['detail']}" if last.get("detail") else ""
        return (
            f"retry in {venue['next_retry_in_s']:.1f}s (at {venue['next_retry_at']};"
            f" {venue['failures']} failures in a row{detail})"
        )
    return ""


def share_of_host(resources: dict[str, Any] | None) -> str:
    """`nice 10 io be7 cpus 2-3 zstd 2`: what the kernel reports for the running archiver, else what is configured."""
    if resources is None:
        return "-"
    shown = resources.get("applied") or resources
    io = f"be{shown['io_level']}" if shown["io_class"] == "best-effort" else shown["io_class"]
    parts = [f"nice {shown['nice']}", f"io {io}"]
    if resources["cpu_affinity"] is not None:
        parts.append(f"cpus {shown['cpu_affinity']}")
    if resources["compress_threads"] is not None:
        parts.append(f"zstd {resources['compress_threads']}")
    return " ".join(parts)


def _archive_cells(archive: dict[str, Any] | None) -> tuple[str, str, str]:
    if archive is None or archive.get("error") is not None:
        return "?", "?", "?"
    lag = f"{archive['segments_behind']} seg/{archive['bytes_behind'] / 2**20:.1f} MiB"
    age = archive["heartbeat_age_s"]
    heartbeat = "-" if age is None else f"{age:.0f}s ago"
    last = (
        "-"
        if archive["last_archived_segment"] is None
        else f"{archive['last_archived_segment']} at {archive['last_archived_at']}"
    )
    return lag, heartbeat, last


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
