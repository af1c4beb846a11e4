"""Say so when a probe's own timeout, not the app, decided an objective.

A sample not answered within its probe's timeout is unhealthy (DESIGN.md "Probes"). When most
of an objective's unhealthy samples are timeouts and the app answered later in the window, the
app was slow rather than down: the measured RTO or availability is the timeout's verdict, and
the timeout (2 s by default) may be stricter than the service's own SLO. The note says how
many, after how long, and which field to raise.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.grading.timeline import TIMEOUT_PREFIX, Sample


def timeout_note(
    samples: Sequence[Sample], start_s: float, end_s: float, timeout_s: float, field: str
) -> str | None:
    """``14 of 22 failed samples were timeouts after 2 s; ...`` for the samples in
    [start_s, end_s], when timeouts are most of the failed samples and a healthy sample
    follows the first of them; None otherwise.

    ``field``: where the timeout is set, e.g. ``probes[0]``."""
    window = [s for s in samples if start_s <= s.offset_s <= end_s and not s.missed]
    failed = [s for s in window if not s.ok]
    timeouts = [s for s in failed if s.detail.startswith(TIMEOUT_PREFIX)]
    if not timeouts or 2 * len(timeouts) <= len(failed):
        return None
    first = timeouts[0].offset_s
    if not any(s.ok and s.offset_s > first for s in window):
        return None
    return (
        f"{len(timeouts)} of {len(failed)} failed samples were timeouts after {timeout_s:g} s; "
        f"raise {field}.timeout if your SLO allows slower answers"
    )
