"""Synthetic timelines for grading tests, written as strings so a test reads like its timeline.

``samples("UHHM", start_s=10)`` is one sample per second from offset 10: U unhealthy, H
healthy, M a missed tick. ``markers("DLRN")`` is one marker per second from offset 0: D durable
(acknowledged, found), L lost (acknowledged, missing), R refused, N acknowledged but not read
back.
"""

from __future__ import annotations

from gameday.grading import Marker, Sample

_MARKER_STATES = {
    "D": (True, True),
    "L": (True, False),
    "R": (False, None),
    "N": (True, None),
}


def samples(pattern: str, start_s: float = 0.0, interval_s: float = 1.0) -> list[Sample]:
    """One sample per character of ``pattern`` (H, U or M), ``interval_s`` apart."""
    built = []
    for index, char in enumerate(pattern):
        offset_s = start_s + index * interval_s
        if char == "M":
            built.append(Sample(offset_s, ok=False, latency_s=None, missed=True))
        else:
            built.append(Sample(offset_s, ok=char == "H", latency_s=0.01))
    return built


def markers(pattern: str, start_s: float = 0.0, interval_s: float = 1.0) -> list[Marker]:
    """One marker per character of ``pattern`` (D, L, R or N), seq 0, 1, 2..."""
    built = []
    for seq, char in enumerate(pattern):
        acknowledged, found = _MARKER_STATES[char]
        built.append(Marker(seq, start_s + seq * interval_s, acknowledged, found))
    return built
