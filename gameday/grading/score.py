"""Measurements -> credits -> scenario and suite scores (DESIGN.md "Score").

The rules live in one structure, ``SCORING_RULES``; the code reads its thresholds from it and
``describe_rules()`` prints it with every report, so the printed rules and the applied rules
cannot drift apart. Scores are stored as full floats; only ``display_score`` rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gameday.grading.aborts import is_guardrail_abort
from gameday.kinds import (
    AT_MOST_OBJECTIVES,
    TIME_OBJECTIVES,
    UNSCORED,
    Capability,
    Grade,
    ObjectiveKind,
    RunStatus,
)
from gameday.result import ObjectiveResult

_GRADE_ORDER = (Grade.A, Grade.B, Grade.C, Grade.D, Grade.F)


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """Every number a score depends on, so that a reader can recompute it."""

    grade_thresholds: tuple[tuple[Grade, float], ...]
    """(grade, minimum score), best first; below the last minimum is F."""
    critical_cap: Grade
    default_weight: float
    steady_after_failure_score: float
    aborted_score: float
    grade_tolerance: float
    """Scores within this much below a threshold reach it: float noise in an exact 90.0 (100 x
    0.9 is 90.00000000000001, 100 x 0.57 is 56.99999999999999) must not change a grade."""
    display_decimals: int


SCORING_RULES = ScoringRules(
    grade_thresholds=((Grade.A, 90.0), (Grade.B, 75.0), (Grade.C, 60.0), (Grade.D, 40.0)),
    critical_cap=Grade.D,
    default_weight=1.0,
    steady_after_failure_score=0.0,
    aborted_score=0.0,
    grade_tolerance=1e-9,
    display_decimals=1,
)


def describe_rules(rules: ScoringRules = SCORING_RULES) -> list[str]:
    """The scoring rules as lines of text, printed with every report."""
    times = ", ".join(sorted(k.value for k in TIME_OBJECTIVES))
    booleans = ", ".join(sorted(k.value for k in ObjectiveKind if k not in AT_MOST_OBJECTIVES))
    counts = ", ".join(sorted(k.value for k in AT_MOST_OBJECTIVES - TIME_OBJECTIVES))
    grades = ", ".join(f"{g.value} >= {m:g}" for g, m in rules.grade_thresholds)
    return [
        f"met: a time objective ({times}) or a count ({counts}) at or under its target; a "
        f"boolean objective ({booleans}) at or over it; nothing measured never meets a target",
        "credit: 1 for a met objective",
        f"credit: a missed time objective ({times}) earns max(0, 1 - (measured - target) / "
        "target): 0 at twice the target, 0 when not recovered or not detected, 0 when the "
        "target is 0",
        f"credit: a missed boolean objective ({booleans}) or count ({counts}) earns 0",
        "scenario score = 100 x sum(weight x credit) / sum(weight) over its objectives "
        f"(weight default {rules.default_weight:g})",
        f"a missed critical objective caps the grade at {rules.critical_cap.value}; the score "
        "is kept",
        "a failed steady state after the drill makes the score "
        f"{rules.steady_after_failure_score:g}",
        f"grades: {grades}, F below {rules.grade_thresholds[-1][1]:g} (thresholds compared "
        f"with a {rules.grade_tolerance:g} tolerance for float noise)",
        f"a guardrail abort is an F: score set to {rules.aborted_score:g}; a run stopped by a "
        "signal (Ctrl-C, SIGTERM) or whose runner died is aborted with no score and no grade: "
        "the stop says nothing about the app",
        "after an abort, an objective not yet decided (no recovery, alert or mark seen, "
        "availability, latency, a count under its target, writes not read back) is not "
        "measured: credit 0",
        "a run that could not start (error, not-steady) or tested nothing (inconclusive: a "
        "fault matched none of the app's calls) has no score and no grade",
        "suite score = weighted mean of the scenario scores (weight default "
        f"{rules.default_weight:g}); runs with no score (error, not-steady, inconclusive, "
        "stopped by a signal) are left out and listed",
        "per capability: the weighted mean of the scenarios covering it; a scenario covering "
        "several capabilities counts in each",
        f"scores are stored unrounded and shown truncated to {rules.display_decimals} decimal(s), "
        "so a shown score never crosses a grade threshold the real one did not",
    ]


def grade_for(score: float, rules: ScoringRules = SCORING_RULES) -> Grade:
    """The letter for a score: A >= 90, B >= 75, C >= 60, D >= 40, F below (so 89.999 is B)."""
    for grade, minimum in rules.grade_thresholds:
        if score + rules.grade_tolerance >= minimum:
            return grade
    return Grade.F


def display_score(score: float | None, rules: ScoringRules = SCORING_RULES) -> str:
    """A score for people: truncated, not rounded, so 89.96 shows 89.9 next to its B.

    None (a run that could not start) shows as an em dash.
    """
    if score is None:
        return "\N{EM DASH}"
    scale = 10**rules.display_decimals
    # The same tolerance as grade_for, so a score graded A never shows as 89.9.
    shown = math.floor((score + rules.grade_tolerance) * scale) / scale
    return f"{shown:.{rules.display_decimals}f}"


def _check_target(kind: ObjectiveKind, target: float, measured: float | None) -> None:
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(f"{kind.value} target must be a finite number >= 0, got {target!r}")
    if measured is not None and math.isnan(measured):
        raise ValueError(f"{kind.value} measured value is NaN")


def credit(kind: ObjectiveKind, met: bool, measured: float | None, target: float) -> float:
    """The credit of one objective, in [0, 1] (DESIGN.md "Score").

    "credit = 1 for a met objective; for a missed time objective, max(0, 1 - (measured -
    target) / target) (0 at twice the target, 0 when not recovered); 0 for a missed boolean
    objective." A missed time objective with target 0 (for example `rpo: 0`, no data loss)
    earns 0: any excess over a zero target is infinitely many targets over. The result is
    also capped at 1, so an inconsistent miss below target cannot earn more than a met one.
    """
    _check_target(kind, target, measured)
    if met:
        return 1.0
    if kind not in TIME_OBJECTIVES or measured is None or target == 0:
        return 0.0
    return min(1.0, max(0.0, 1.0 - (measured - target) / target))


def is_met(kind: ObjectiveKind, measured: float | None, target: float) -> bool:
    """Whether a measurement meets its target.

    Time objectives (rto, rpo, ttd, latency) and counts (destructive_calls) are met at or under
    the target; availability and steady (a ratio, or 1.0 for held) at or over it. Nothing
    measured (not recovered, not detected, no sample, calls nobody counted) never meets a target.
    """
    _check_target(kind, target, measured)
    if measured is None:
        return False
    if kind in AT_MOST_OBJECTIVES:
        return measured <= target
    return measured >= target


def grade_objective(
    name: str,
    kind: ObjectiveKind,
    probe: str,
    target: float,
    measured: float | None,
    *,
    weight: float = SCORING_RULES.default_weight,
    critical: bool = False,
    detail: str = "",
) -> ObjectiveResult:
    """Decide ``met`` with ``is_met`` and ``credit`` with ``credit`` for one measurement."""
    _check_weight(f"objective {name!r}", weight)
    met = is_met(kind, measured, target)
    return ObjectiveResult(
        name=name,
        kind=kind,
        probe=probe,
        target=target,
        measured=measured,
        met=met,
        credit=credit(kind, met, measured, target),
        weight=weight,
        critical=critical,
        detail=detail,
    )


def _check_weight(owner: str, weight: float) -> None:
    if not (math.isfinite(weight) and weight > 0):
        raise ValueError(f"{owner}: weight must be a finite number > 0, got {weight!r}")


@dataclass(frozen=True, slots=True)
class ScenarioScore:
    """A scenario's score and grade, why they were capped, and how the run ended.

    ``score`` and ``grade`` are None when the run could not start (status ``error`` or
    ``not-steady``), tested nothing (``inconclusive``), or was ``aborted`` by something other
    than a guardrail (a signal, a runner that died); ``caps`` lists every rule that lowered or
    explains the score and the grade, in words.
    """

    score: float | None
    grade: Grade | None
    caps: tuple[str, ...]
    status: RunStatus

    def __post_init__(self) -> None:
        _check_scored(f"status {self.status.value!r}", self.status, self.score)
        if (self.score is None) != (self.grade is None):
            raise ValueError(f"status {self.status.value!r}: a score needs a grade, and back")


def _check_scored(owner: str, status: RunStatus, score: float | None) -> None:
    """Unscored statuses never carry a score, passed and failed always do; an abort may be
    either (a guardrail's is scored, a signal's is not)."""
    if status in UNSCORED and score is not None:
        raise ValueError(
            f"{owner}: a run that could not start (error, not-steady) or tested nothing "
            "(inconclusive) has no score"
        )
    if status in (RunStatus.PASSED, RunStatus.FAILED) and score is None:
        raise ValueError(f"{owner}: a run that {status.value} has a score")


def _weighted_credit(objectives: Sequence[ObjectiveResult]) -> float:
    """100 x sum(weight x credit) / sum(weight), within [0, 100]."""
    total_weight = math.fsum(o.weight for o in objectives)
    raw = 100.0 * math.fsum(o.weight * o.credit for o in objectives) / total_weight
    return min(100.0, max(0.0, raw))


def _worse(first: Grade, second: Grade) -> Grade:
    return max(first, second, key=_GRADE_ORDER.index)


def score_scenario(
    objectives: Sequence[ObjectiveResult],
    steady_after_ok: bool,
    rules: ScoringRules = SCORING_RULES,
) -> ScenarioScore:
    """Score a scenario that ran to the end (DESIGN.md "Score").

    "Scenario score = 100 x sum(weight x credit) / sum weight. A missed `critical: true`
    objective caps the grade at D; a failed steady state after the drill makes the score 0."
    Capping keeps the score and lowers only the letter (a 95 with a missed critical objective
    is 95, D). Status is ``passed`` when every objective is met and the steady state held
    after, else ``failed``. Raises ``ValueError`` for no objectives: a drill that measures
    nothing has no score (the scenario model should refuse it first).
    """
    if not objectives:
        raise ValueError("a scenario needs at least one objective to be scored")
    score = _weighted_credit(objectives)
    caps: list[str] = []
    if not steady_after_ok:
        caps.append(
            f"steady state after the drill failed: score set to "
            f"{rules.steady_after_failure_score:g} (was {display_score(score, rules)})"
        )
        score = rules.steady_after_failure_score
    grade = grade_for(score, rules)
    for objective in objectives:
        if objective.critical and not objective.met:
            caps.append(
                f"critical objective {objective.name!r} missed: grade at most "
                f"{rules.critical_cap.value}"
            )
            grade = _worse(grade, rules.critical_cap)
    passed = steady_after_ok and all(o.met for o in objectives)
    status = RunStatus.PASSED if passed else RunStatus.FAILED
    return ScenarioScore(score, grade, tuple(caps), status)


def grade_aborted(
    reason: str,
    objectives: Sequence[ObjectiveResult] = (),
    rules: ScoringRules = SCORING_RULES,
) -> ScenarioScore:
    """An aborted run (status ``aborted``), scored by what stopped it (``reason``).

    A guardrail's abort (its reason begins ``guardrail: ``) is "an F with its reason": score
    ``rules.aborted_score``, the cap saying what ``objectives`` (as graded when the drill
    stopped) would have earned. Any other abort (a signal, a runner that died) has no score
    and no grade: a person or a machine stopped it, and that says nothing about the app.
    """
    if not is_guardrail_abort(reason):
        cap = f"aborted, not by a guardrail ({reason}): not scored, as the stop was not the app's"
        return ScenarioScore(None, None, (cap,), RunStatus.ABORTED)
    cap = f"aborted by guardrail: score set to {rules.aborted_score:g}"
    if objectives:
        cap += f" (was {display_score(_weighted_credit(objectives), rules)})"
    return ScenarioScore(rules.aborted_score, Grade.F, (cap,), RunStatus.ABORTED)


def grade_not_run(status: RunStatus, reason: str) -> ScenarioScore:
    """A run with nothing to grade: "an `error`, not a grade" (no score, no grade).

    ``status`` must be ``error`` (environment failure), ``not-steady`` (steady state before
    did not hold, so no fault was injected) or ``inconclusive`` (a fault matched none of the
    app's calls, so the drill tested nothing).
    """
    if status not in UNSCORED:
        raise ValueError(
            f"a run with nothing to grade is error, not-steady or inconclusive, not {status.value}"
        )
    return ScenarioScore(None, None, (f"{status.value}: {reason}",), status)


@dataclass(frozen=True, slots=True)
class ScenarioEntry:
    """One scenario as the suite sees it; ``score`` None for error / not-steady / inconclusive
    and for an abort that was not a guardrail's."""

    name: str
    score: float | None
    weight: float
    capabilities: frozenset[Capability]
    status: RunStatus

    def __post_init__(self) -> None:
        _check_weight(f"scenario {self.name!r}", self.weight)
        _check_scored(f"scenario {self.name!r}", self.status, self.score)
        if self.score is not None and not 0.0 <= self.score <= 100.0:
            raise ValueError(f"scenario {self.name!r}: score must be in [0, 100]")


@dataclass(frozen=True, slots=True)
class SuiteScore:
    """A suite's weighted mean score, its roll-up per capability, and what it left out.

    ``score`` and ``grade`` are None when no scenario could be counted. A capability covered
    by no counted scenario is absent from ``by_capability``. ``excluded`` names the scenarios
    with no score (they could not start, tested nothing, or were stopped by a signal); when it
    is not empty the suite is ``flagged``.
    """

    score: float | None
    grade: Grade | None
    by_capability: dict[Capability, float]
    counted: tuple[str, ...]
    excluded: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        """True when some scenario has no score: the suite score covers part of the suite."""
        return bool(self.excluded)


def _weighted_mean(entries: Sequence[ScenarioEntry]) -> float:
    total = math.fsum(e.weight * (e.score or 0.0) for e in entries)
    return min(100.0, max(0.0, total / math.fsum(e.weight for e in entries)))


def suite_score(
    scenarios: Sequence[ScenarioEntry], rules: ScoringRules = SCORING_RULES
) -> SuiteScore:
    """DESIGN.md: "Suite score = weighted mean of its scenarios, with a roll-up per capability".

    A guardrail's abort counts with its score (0); error, not-steady and inconclusive runs and
    aborts by a signal have no score, so they are left out of every mean and listed in
    ``excluded``. A scenario counts
    in the roll-up of every capability it covers, with its own weight. Scenario caps do not
    carry into the suite: the mean is over scores, and a capped scenario keeps its score.
    """
    if not scenarios:
        raise ValueError("a suite needs at least one scenario to be scored")
    counted = [e for e in scenarios if e.score is not None]
    excluded = tuple(e.name for e in scenarios if e.score is None)
    by_capability: dict[Capability, float] = {}
    for capability in Capability:
        covering = [e for e in counted if capability in e.capabilities]
        if covering:
            by_capability[capability] = _weighted_mean(covering)
    score = _weighted_mean(counted) if counted else None
    return SuiteScore(
        score=score,
        grade=None if score is None else grade_for(score, rules),
        by_capability=by_capability,
        counted=tuple(e.name for e in counted),
        excluded=excluded,
    )
