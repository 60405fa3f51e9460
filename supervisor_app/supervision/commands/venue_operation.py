"""What start, stop and restart share: refuse unknown venues, apply one event to each, answer once settled."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.supervision.commands import Fleet, Reply, answer
from supervisor_app.supervision.venue import Event


def operate(
    fleet: Fleet, kind: str, venues: tuple[str, ...], event: Event, future: Future[Reply] | None, *, every: bool = False
) -> bool:
    """Apply `event` to each named venue (or every one); False (and the refusal answered) when it cannot run."""
    names = tuple(sorted(fleet.venues)) if every else tuple(dict.fromkeys(venues))
    problem = refusal(fleet, names)
    if problem:
        answer(future, {"ok": False, "error": problem})
        return False
    fleet.log.info(f"{kind}_requested", venues=list(names))
    for name in names:
        fleet.decide(name, event)
    fleet.wait_for(kind, names, future)
    return True


def refusal(fleet: Fleet, names: tuple[str, ...]) -> str | None:
    """Why the command cannot run at all, or None."""
    if fleet.shutting_down:
        return "the fleet is shutting down"
    for name in names:
        if name not in fleet.venues:
            disabled = any(v.name == name and not v.enabled for v in fleet.config.venues)
            known = ", ".join(sorted(fleet.venues)) or "none"
            return (
                f"venue {name!r} is disabled in the config"
                if disabled
                else f"unknown venue {name!r} (enabled venues: {known})"
            )
    return None
