"""What each data probe's read-back found, in the words every format says it in.

``ProbeRecord.read_back`` counts the acknowledged markers read back, lost and *unverified*
(still unreadable at the read-back deadline: neither kept nor lost, docs/measurements.md),
and how read-back waited for the app (``read.settle``, ``read.flush_url``).
"""

from __future__ import annotations

from gameday.result import ProbeRecord, RunResult
from gameday.scenario.durations import format_duration


def read_back_summary(probe: ProbeRecord) -> str | None:
    """'42 acknowledged marker(s): 40 read back, 1 lost, 1 unverified (settle 2s, deadline
    10s, flushed)'; None for a probe that read nothing back."""
    record = probe.read_back
    if record is None:
        return None
    acknowledged = record.read + record.lost + record.unverified
    waited = (
        f"settle {format_duration(record.settle_s)}, deadline {format_duration(record.deadline_s)}"
    )
    if record.flushed is not None:
        waited += ", flushed" if record.flushed else ", flush failed"
    return (
        f"{acknowledged} acknowledged marker(s): {record.read} read back, {record.lost} lost, "
        f"{record.unverified} unverified ({waited})"
    )


def read_back_lines(result: RunResult) -> list[str]:
    """'orders: <summary>' for each data probe whose read-back lost or could not verify a
    marker, or whose flush failed; [] when every read-back found everything."""
    lines = []
    for probe in result.probes:
        record = probe.read_back
        if record is None or not (record.lost or record.unverified or record.flushed is False):
            continue
        lines.append(f"{probe.name}: {read_back_summary(probe)}")
    return lines
