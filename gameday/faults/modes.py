"""Fault modes: what a matched request gets instead of its answer (DESIGN.md "Fault kinds")."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How a matched request fails."""

    UNAVAILABLE = "unavailable"
    THROTTLE = "throttle"
    INTERNAL = "internal"
    DENIED = "denied"
    EXPIRED_TOKEN = "expired-token"
    LATENCY = "latency"
    BLACKHOLE = "blackhole"
    RESET = "reset"


ERROR_MODES: frozenset[Mode] = frozenset(
    {Mode.UNAVAILABLE, Mode.THROTTLE, Mode.INTERNAL, Mode.DENIED, Mode.EXPIRED_TOKEN}
)
"""Modes answered with a protocol-correct AWS error response."""

CONNECTION_MODES: frozenset[Mode] = frozenset({Mode.BLACKHOLE, Mode.RESET})
"""Modes that act on the connection itself: no response is ever sent."""
