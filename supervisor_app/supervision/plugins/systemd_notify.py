"""systemd's notify protocol: READY=1 once the fleet is up, a STATUS= line kept current, WATCHDOG=1, STOPPING=1.

One datagram per message on the unix socket systemd names in $NOTIFY_SOCKET (sd_notify(3));
nothing is sent when it is absent. WATCHDOG=1 comes from the engine's own step, so a hung
engine stops the pings and systemd restarts the service (WatchdogSec= in the unit).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping

from supervisor_app.supervision.plugins import FleetView
from supervisor_app.supervision.plugins.archive_watch import VenueWatch
from supervisor_app.supervision.venue import Venue

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
STATUS_EVERY_S = 10.0  # a STATUS line is resent at least this often, and at once when it changes


def fleet_summary(venues: Mapping[str, Venue], watched: Mapping[str, VenueWatch]) -> str:
    """`12/12 running, 0 at risk`: the line `systemctl status` shows."""
    running = sum(1 for venue in venues.values() if venue.phase == "running")
    at_risk = sum(1 for name in venues if name in watched and watched[name].risks)
    return f"{running}/{len(venues)} running, {at_risk} at risk"


class SystemdNotifier:
    """Sends the fleet's state to systemd; a no-op outside a Type=notify unit."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        env = os.environ if environ is None else environ
        self._address = _address(env.get(NOTIFY_SOCKET_ENV, ""))
        usec = env.get(WATCHDOG_USEC_ENV, "")
        # Ping at a third of the watchdog interval: a slow step or two must not trip it.
        self._ping_every_s = int(usec) / 3e6 if usec.isdigit() and int(usec) > 0 else None
        self._monotonic = monotonic
        self._socket: socket.socket | None = None
        self._ready = self._stopping = False
        self._status: tuple[str, float] | None = None
        self._last_ping: float | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def on_step(self, fleet: FleetView) -> None:
        """Called by the engine at every step of its loop."""
        if not self.enabled:
            return
        now = self._monotonic()
        messages = []
        if fleet.shutting_down and not self._stopping:
            self._stopping = True
            messages.append("STOPPING=1")
        elif not self._ready and not any(v.phase == "starting" for v in fleet.venues.values()):
            self._ready = True
            messages.append("READY=1")  # every enabled venue has been spawned (or has failed to be)
        status = fleet_summary(fleet.venues, fleet.archive_snapshot())
        if self._status is None or self._status[0] != status or now - self._status[1] >= STATUS_EVERY_S:
            self._status = (status, now)
            messages.append(f"STATUS={status}")
        if self._ping_every_s is not None and (self._last_ping is None or now - self._last_ping >= self._ping_every_s):
            self._last_ping = now
            messages.append("WATCHDOG=1")
        if messages:
            self._send("\n".join(messages))

    def _send(self, message: str) -> None:
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):  # systemd gone or busy: the service goes on
            self._socket.sendto(message.encode(), self._address)  # type: ignore[arg-type]

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


def _address(text: str) -> str | bytes | None:
    """$NOTIFY_SOCKET as a socket address: a path, or '@name' for the abstract namespace."""
    if not text:
        return None
    return b"\0" + text[1:].encode() if text.startswith("@") else text
