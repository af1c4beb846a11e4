"""Guardrails: conditions that abort the drill at once (DESIGN.md "Safety", rule 5)."""

from __future__ import annotations

from gameday.recorder import Recorder
from gameday.scenario.models import Scenario

MIN_SAMPLES_FOR_RATIO = 10
"""``max_unhealthy`` is judged on at least this many samples since injection, so that one bad
first sample (a ratio of 1.0) does not abort a drill that has barely begun."""


def check_guardrails(scenario: Scenario, recorder: Recorder, drill_start: float) -> str | None:
    """The reason to abort now, or None. Checked on every observation tick."""
    rails = scenario.guardrails
    elapsed = recorder.now() - drill_start
    if elapsed > rails.max_duration:
        return f"guardrail: max_duration {rails.max_duration:g}s exceeded"
    t0 = recorder.t0
    if t0 is None:
        return None
    for guard in rails.abort_when:
        observed = [s for s in recorder.samples.get(guard.probe, ()) if not s.missed]
        since = [s for s in observed if s.offset_s >= t0]
        if guard.consecutive_failures is not None:
            tail = since[-guard.consecutive_failures :]
            if len(tail) == guard.consecutive_failures and not any(s.ok for s in tail):
                return (
                    f"guardrail: probe {guard.probe!r} failed "
                    f"{guard.consecutive_failures} times in a row"
                )
        if guard.max_unhealthy is not None and len(since) >= MIN_SAMPLES_FOR_RATIO:
            ratio = sum(not s.ok for s in since) / len(since)
            if ratio > guard.max_unhealthy:
                return (
                    f"guardrail: probe {guard.probe!r} unhealthy {ratio:.0%} of samples since "
                    f"injection (max {guard.max_unhealthy:.0%})"
                )
    return None
