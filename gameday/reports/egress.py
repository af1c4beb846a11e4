"""Connections an isolated drill refused, in the words every format says them in.

``RunResult.egress`` lists each target the app or a probe tried to reach past loopback (the
egress guard refused it: DESIGN.md "Isolation"). An empty list adds nothing to a report.
"""

from __future__ import annotations

from gameday.result import EgressRecord, RunResult

EGRESS_HEADING = "Refused connections past loopback"

_WHO = {"app": "the app", "probe": "a probe"}


def egress_line(record: EgressRecord) -> str:
    """'the app tried to reach sts.us-east-1.amazonaws.com:443 directly: 3 attempts
    (refused)'."""
    who = _WHO.get(record.source, "the app or a probe")
    host = f"[{record.host}]" if ":" in record.host else record.host
    plural = "attempt" if record.attempts == 1 else "attempts"
    first = f", first at {record.first_at:.2f}s" if record.first_at is not None else ""
    return (
        f"{who} tried to reach {host}:{record.port} directly: "
        f"{record.attempts} {plural} (refused{first})"
    )


def egress_lines(result: RunResult) -> list[str]:
    """One line per refused target, first attempted first; [] when nothing tried."""
    return [egress_line(record) for record in result.egress]
