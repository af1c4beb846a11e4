"""Guardrails: conditions that abort the drill at once (DESIGN.md "Safety", rules 5 and 8)."""

from __future__ import annotations

from collections.abc import Sequence

from gameday.grading import GUARDRAIL_PREFIX
from gameday.recorder import Recorder
from gameday.result import DestructiveCall
from gameday.scenario.models import AbortWhen, DestructiveCallsObjective, Scenario

GUARDRAIL = GUARDRAIL_PREFIX
"""How every guardrail's reason begins: an abort the app caused, not a person or a signal
(grading scores such an abort F, and only it)."""

MIN_SAMPLES_FOR_RATIO = 10
"""``max_unhealthy`` is judged on at least this many samples since injection, so that one bad
first sample (a ratio of 1.0) does not abort a drill that has barely begun."""


def check_guardrails(
    scenario: Scenario,
    recorder: Recorder,
    drill_start: float,
    destructive: Sequence[DestructiveCall] = (),
) -> str | None:
    """The reason to abort now, or None. Checked on every observation tick; ``destructive``
    holds the app's destructive calls seen so far (``watches_calls``)."""
    rails = scenario.guardrails
    elapsed = recorder.now() - drill_start
    if elapsed > rails.max_duration:
        return f"{GUARDRAIL}max_duration {rails.max_duration:g}s exceeded"
    t0 = recorder.t0
    if t0 is None:
        return None
    destroyed = destructive_guard(scenario, t0, destructive)
    if destroyed is not None:
        return destroyed
    for guard in rails.abort_when:
        if not isinstance(guard, AbortWhen):
            continue
        observed = [s for s in recorder.samples.get(guard.probe, ()) if not s.missed]
        since = [s for s in observed if s.offset_s >= t0]
        if guard.consecutive_failures is not None:
            tail = since[-guard.consecutive_failures :]
            if len(tail) == guard.consecutive_failures and not any(s.ok for s in tail):
                return (
                    f"{GUARDRAIL}probe {guard.probe!r} failed "
                    f"{guard.consecutive_failures} times in a row"
                )
        if guard.max_unhealthy is not None and len(since) >= MIN_SAMPLES_FOR_RATIO:
            ratio = sum(not s.ok for s in since) / len(since)
            if ratio > guard.max_unhealthy:
                return (
                    f"{GUARDRAIL}probe {guard.probe!r} unhealthy {ratio:.0%} of samples since "
                    f"injection (max {guard.max_unhealthy:.0%})"
                )
    return None


def destructive_guard(
    scenario: Scenario, t0: float | None, destructive: Sequence[DestructiveCall]
) -> str | None:
    """The reason to abort for ``abort_when: [{destructive_calls: N}]``: N destructive calls
    since the first injection, naming the last one; None before T0 or below N."""
    limit = scenario.guardrails.destructive_limit
    if limit is None or t0 is None:
        return None
    since = [call for call in destructive if call.at is None or call.at >= t0]
    if len(since) < limit:
        return None
    return (
        f"{GUARDRAIL}the app made {len(since)} destructive call(s) (abort at {limit}), "
        f"the last {describe_call(since[-1])}"
    )


def describe_call(call: DestructiveCall) -> str:
    """``dynamodb DeleteTable orders at t=3.2 s (denied)``."""
    what = f"{call.service} {call.operation}" + (f" {call.resource}" if call.resource else "")
    when = f" at t={call.at:.1f} s" if call.at is not None else ""
    return f"{what}{when} ({call.outcome})"


def watches_calls(scenario: Scenario) -> bool:
    """Whether the drill must see the app's destructive calls as they happen: a guardrail
    on them, an objective counting them, or a target that refuses them."""
    return (
        scenario.guardrails.destructive_limit is not None
        or scenario.target.deny_destructive
        or any(isinstance(o, DestructiveCallsObjective) for o in scenario.objectives)
    )
