"""What a reload changes: venues added, removed, changed or left alone, by name."""

from __future__ import annotations

from dataclasses import dataclass

from supervisor_app.config.model import FleetConfig
from supervisor_app.supervision.render import RenderedFleet


@dataclass(frozen=True)
class FleetDiff:
    """Enabled venues, sorted by name in each group."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def touched(self) -> tuple[str, ...]:
        return (*self.added, *self.removed, *self.changed)


def diff_fleets(
    old: FleetConfig, old_rendered: RenderedFleet, new: FleetConfig, new_rendered: RenderedFleet
) -> FleetDiff:
    """A venue changed when any field of its VenueConfig or anything in its program section differs.

    Comparing the rendered section too catches fleet-wide settings that reach every
    archiver (archive root, log directory, stop timeout) without listing them here.
    """
    before = {venue.name: venue for venue in old.enabled_venues}
    after = {venue.name: venue for venue in new.enabled_venues}
    both = before.keys() & after.keys()
    changed = {
        name
        for name in both
        if before[name] != after[name] or old_rendered.programs[name] != new_rendered.programs[name]
    }
    return FleetDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(sorted(changed)),
        unchanged=tuple(sorted(both - changed)),
    )
