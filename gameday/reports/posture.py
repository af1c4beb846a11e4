"""The posture of a fleet from its history: ``gameday report --posture`` (the quarterly review).

Per capability and per owner: when it was last drilled, how often in the period, the latest and
best measured RTO, RPO and TTD against their targets, the trend, and staleness, with a posture
score that decays once a scenario has not been drilled for ``stale_after``. Rows in, figures
out: the caller reads the rows from the history store (``HistoryStore.runs``, whose
``HistoryRow`` is a ``PostureRun``) and the renderers (``posture_render``) print the figures.

The rules live in ``PostureRules`` and ``describe_posture_rules`` prints them with every
posture report, as ``describe_rules`` prints the score's: the code reads its numbers from the
same structure, so the printed rule and the applied one cannot drift apart.

Usage::

    posture = build_posture(rows, now=now, since=now - timedelta(days=90))
    print(describe_posture_rules(posture.rules))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from gameday.grading import display_score, format_seconds, grade_for
from gameday.kinds import Capability, Grade, ObjectiveKind, RunStatus
from gameday.reports.suite import format_delta
from gameday.reports.terminal import format_measured
from gameday.result import ObjectiveResult

DRILL_STATUSES = frozenset(
    {RunStatus.PASSED.value, RunStatus.FAILED.value, RunStatus.ABORTED.value}
)
"""Runs that count as drills when they have a score (a guardrail's abort is a drill scored
0; an abort by a signal or a dead runner has no score, and is unscored)."""

UNSCORED_STATUSES = frozenset(
    {RunStatus.ERROR.value, RunStatus.NOT_STEADY.value, RunStatus.INCONCLUSIVE.value}
)
"""Finished runs that could not start or tested nothing: counted apart, never a drill."""

POSTURE_KINDS = (ObjectiveKind.RTO, ObjectiveKind.RPO, ObjectiveKind.TTD)
"""The measured times the posture shows against their targets."""

DEFAULT_STALE_AFTER = timedelta(days=30)
DEFAULT_SINCE = timedelta(days=90)
NO_OWNER = "(no owner)"
"""How a scenario without ``metadata.owner`` is shown among the owners."""


class PostureObjective(Protocol):
    """One measured objective of a run as the posture reads it (``ObjectiveResult`` is one;
    so is the store's narrow ``StoredObjective``)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> ObjectiveKind: ...
    @property
    def target(self) -> float: ...
    @property
    def measured(self) -> float | None: ...
    @property
    def met(self) -> bool: ...


class PostureRun(Protocol):
    """One stored run as the posture reads it; ``status`` is a run status or ``running``,
    ``started_at`` ISO 8601 UTC text; ``owner`` and ``capabilities`` as the run's result
    recorded them (empty when unknown)."""

    @property
    def run_id(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def started_at(self) -> str: ...
    @property
    def score(self) -> float | None: ...
    @property
    def owner(self) -> str: ...
    @property
    def capabilities(self) -> Sequence[Capability]: ...
    @property
    def measurements(self) -> Sequence[PostureObjective]: ...


@dataclass(frozen=True, slots=True)
class PostureRules:
    """Every number the posture depends on, printed with it (``describe_posture_rules``)."""

    stale_after: timedelta = DEFAULT_STALE_AFTER
    """A group not drilled within this is stale; a scenario's score starts decaying after it."""
    decay_span: timedelta | None = None
    """How long after ``stale_after`` the decay takes to reach 0 (None: ``stale_after`` again)."""
    trend_steady_points: float = 2.0
    """A trend within this many points either way is steady."""
    trend_bucket: timedelta = timedelta(days=7)
    """The width of one point of the trend line, from the start of the period."""

    @property
    def span(self) -> timedelta:
        """The decay's length: ``decay_span``, or ``stale_after`` when not given."""
        return self.decay_span or self.stale_after


def format_age(age: timedelta) -> str:
    """An age as people give it on the command line: '30d', '2w', '12h', '90m'."""
    minutes = int(age.total_seconds() // 60)
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60)):
        if minutes and minutes % size == 0 and (unit != "w" or minutes // size > 1):
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def describe_posture_rules(rules: PostureRules) -> list[str]:
    """The posture's rules as lines of text, printed with every posture report."""
    stale, span = format_age(rules.stale_after), format_age(rules.span)
    zero = format_age(rules.stale_after + rules.span)
    kinds = ", ".join(k.value for k in POSTURE_KINDS)
    bucket = format_age(rules.trend_bucket)
    return [
        "a drill is a run that passed, failed or was aborted by a guardrail (scored 0); a run "
        "that could not start or tested nothing (error, not-steady, inconclusive) or was "
        "stopped by a signal or a dead runner (aborted, no score) is counted apart as "
        "unscored and never makes a capability fresh; an aborted drill's objectives with no "
        "measurement (cut short) are left out of the figures below",
        "a scenario counts for the owner and the capabilities of its latest run that names "
        "them; a scenario covering several capabilities counts in each",
        "last drill: the newest drill of the group's scenarios at any time; drills: those "
        "started in the period",
        f"stale: no drill within stale-after ({stale}) before the report's time, or never drilled",
        f"decay: a scenario's posture is its latest drill's score x decay(age of that drill); "
        f"decay = 1 up to {stale}, then max(0, 1 - (age - {stale}) / {span}): linear down to 0 "
        f"at {zero}",
        "posture of a capability or owner: the mean of its scenarios' postures (a scenario "
        "never drilled counts 0), graded as a score; score: the same mean without decay, over "
        "its scenarios drilled at least once; none without a scenario",
        f"latest {kinds}: of the group's newest drill in the period that measured it, its "
        "worst objective of that kind (not recovered first, then the most seconds over "
        "target); best: the objective of that kind in the period with the fewest seconds over "
        "its target (a measurement that never came is never best)",
        f"mean: of the measured {kinds} values in the period (the mean of rto is the measured "
        "MTTR); met: how many of that kind met their target, of all measured or not",
        f"trend: the mean drill score of the second half of the period minus that of the first "
        f"half; improving above +{rules.trend_steady_points:g} points, worsening below "
        f"-{rules.trend_steady_points:g}, steady between; the line: the mean drill score of "
        f"each {bucket} from the start of the period",
    ]


class TrendDirection(StrEnum):
    """Where a group's drill scores went over the period."""

    IMPROVING = "improving"
    WORSENING = "worsening"
    STEADY = "steady"
    UNKNOWN = "unknown"
    """Not a drill in both halves of the period."""


@dataclass(frozen=True, slots=True)
class Measured:
    """One objective of one drill, with where it came from."""

    run_id: str
    scenario: str
    started_at: datetime
    objective: PostureObjective


@dataclass(frozen=True, slots=True)
class KindFigures:
    """One measured time (rto, rpo, ttd) of a group over the period."""

    kind: ObjectiveKind
    latest: Measured | None
    best: Measured | None
    count: int
    """Objectives of this kind in the period's drills, measured or not."""
    met: int
    not_measured: int
    """Of ``count``, those with no measurement (not recovered, not detected)."""
    mean_s: float | None
    """The mean of the measured values; None without one."""


@dataclass(frozen=True, slots=True)
class ScenarioPosture:
    """One scenario: its owner and capabilities (from its latest run naming them), its latest
    drill and the posture it earns now."""

    name: str
    owner: str
    capabilities: tuple[Capability, ...]
    last_drill: datetime | None
    latest_score: float | None
    drills: int
    """Drills in the period."""
    unscored: int
    """Finished runs in the period that could not start or tested nothing."""
    age: timedelta | None
    stale: bool
    decay: float
    posture: float
    """``latest_score`` x ``decay``; 0 for a scenario never drilled."""


@dataclass(frozen=True, slots=True)
class GroupPosture:
    """A capability or an owner: the figures of the quarterly review."""

    name: str
    scenarios: tuple[str, ...]
    last_drill: datetime | None
    age: timedelta | None
    stale: bool
    drills: int
    unscored: int
    score: float | None
    """Mean latest score of its drilled scenarios, without decay."""
    posture: float | None
    """Mean posture of its scenarios (decayed); None without a scenario."""
    trend_delta: float | None
    trend: TrendDirection
    line: tuple[tuple[datetime, float], ...]
    """(start of the bucket, mean drill score) for each bucket of the period with a drill."""
    kinds: tuple[KindFigures, ...]

    @property
    def grade(self) -> Grade | None:
        """The posture's letter, as a score's (None without a posture)."""
        return None if self.posture is None else grade_for(self.posture)

    def figures(self, kind: ObjectiveKind) -> KindFigures:
        """The figures of one of ``POSTURE_KINDS``."""
        return next(f for f in self.kinds if f.kind is kind)


@dataclass(frozen=True, slots=True)
class Posture:
    """The whole posture view at ``now`` over the period from ``since``."""

    now: datetime
    since: datetime
    rules: PostureRules
    capabilities: tuple[GroupPosture, ...]
    owners: tuple[GroupPosture, ...]
    scenarios: tuple[ScenarioPosture, ...]
    runs: int
    """How many stored runs the posture was computed from."""


def parse_time(text: str) -> datetime:
    """A stored ``started_at`` (ISO 8601, 'Z' or an offset; naive taken as UTC) as UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def decay(age: timedelta | None, rules: PostureRules) -> float:
    """The factor on a scenario's latest score: 1 up to ``stale_after``, then linear to 0
    over ``rules.span``; 0 for a scenario never drilled (``age`` None)."""
    if age is None:
        return 0.0
    over = age - rules.stale_after
    if over <= timedelta(0):
        return 1.0
    return max(0.0, 1.0 - over / rules.span)


@dataclass(slots=True)
class _Drill:
    run_id: str
    scenario: str
    at: datetime
    score: float
    measurements: Sequence[PostureObjective]
    aborted: bool = False


@dataclass(slots=True)
class _Scenario:
    """What is gathered of one scenario in one pass over the rows."""

    name: str
    owner: str = ""
    owner_at: datetime | None = None
    capabilities: tuple[Capability, ...] = ()
    capabilities_at: datetime | None = None
    last: _Drill | None = None
    period: list[_Drill] = field(default_factory=list)
    unscored: int = 0


def _gather(rows: Iterable[PostureRun], since: datetime) -> tuple[dict[str, _Scenario], int]:
    scenarios: dict[str, _Scenario] = {}
    count = 0
    for row in rows:
        count += 1
        at = parse_time(row.started_at)
        seen = scenarios.setdefault(row.scenario, _Scenario(row.scenario))
        # The latest run naming an owner or capabilities wins: ownership is today's.
        if row.owner and (seen.owner_at is None or at >= seen.owner_at):
            seen.owner, seen.owner_at = row.owner, at
        if row.capabilities and (seen.capabilities_at is None or at >= seen.capabilities_at):
            seen.capabilities, seen.capabilities_at = tuple(row.capabilities), at
        status = str(row.status)
        in_period = at >= since
        unscored = status in UNSCORED_STATUSES or (status in DRILL_STATUSES and row.score is None)
        if unscored and in_period:
            seen.unscored += 1
        if status not in DRILL_STATUSES or row.score is None:
            continue
        aborted = status == RunStatus.ABORTED.value
        drill = _Drill(row.run_id, row.scenario, at, row.score, row.measurements, aborted)
        if seen.last is None or (at, row.run_id) > (seen.last.at, seen.last.run_id):
            seen.last = drill
        if in_period:
            seen.period.append(drill)
    for seen in scenarios.values():
        seen.period.sort(key=lambda d: (d.at, d.run_id))
    return scenarios, count


def _age(now: datetime, at: datetime | None) -> timedelta | None:
    return None if at is None else max(timedelta(0), now - at)


def _scenario_posture(seen: _Scenario, now: datetime, rules: PostureRules) -> ScenarioPosture:
    last = seen.last
    age = _age(now, None if last is None else last.at)
    factor = decay(age, rules)
    return ScenarioPosture(
        name=seen.name,
        owner=seen.owner,
        capabilities=seen.capabilities,
        last_drill=None if last is None else last.at,
        latest_score=None if last is None else last.score,
        drills=len(seen.period),
        unscored=seen.unscored,
        age=age,
        stale=age is None or age > rules.stale_after,
        decay=factor,
        posture=0.0 if last is None else last.score * factor,
    )


def _worst_key(objective: PostureObjective) -> tuple[int, float]:
    if objective.measured is None:
        return (1, 0.0)
    return (0, objective.measured - objective.target)


def _kind_figures(kind: ObjectiveKind, drills: Sequence[_Drill]) -> KindFigures:
    """``drills`` oldest first."""
    latest: Measured | None = None
    best: Measured | None = None
    best_excess = math.inf
    count = met = 0
    values: list[float] = []
    for drill in drills:
        # An abort cut the observation short: no measurement there is no "not recovered".
        of_kind = [
            o
            for o in drill.measurements
            if o.kind is kind and not (drill.aborted and o.measured is None)
        ]
        if not of_kind:
            continue
        worst = max(of_kind, key=_worst_key)
        latest = Measured(drill.run_id, drill.scenario, drill.at, worst)
        for objective in of_kind:
            count += 1
            met += objective.met
            if objective.measured is None:
                continue
            values.append(objective.measured)
            excess = objective.measured - objective.target
            if excess < best_excess:
                best, best_excess = (
                    Measured(drill.run_id, drill.scenario, drill.at, objective),
                    excess,
                )
    return KindFigures(kind, latest, best, count, met, count - len(values), _mean(values))


def _trend_delta(drills: Sequence[_Drill], now: datetime, since: datetime) -> float | None:
    middle = since + (now - since) / 2
    first = _mean([d.score for d in drills if d.at < middle])
    second = _mean([d.score for d in drills if d.at >= middle])
    return None if first is None or second is None else second - first


def _line(
    drills: Sequence[_Drill], since: datetime, bucket: timedelta
) -> tuple[tuple[datetime, float], ...]:
    buckets: dict[int, list[float]] = {}
    for drill in drills:
        buckets.setdefault(int((drill.at - since) // bucket), []).append(drill.score)
    return tuple(
        (since + index * bucket, math.fsum(scores) / len(scores))
        for index, scores in sorted(buckets.items())
    )


def _direction(delta: float | None, rules: PostureRules) -> TrendDirection:
    if delta is None:
        return TrendDirection.UNKNOWN
    if delta > rules.trend_steady_points:
        return TrendDirection.IMPROVING
    if delta < -rules.trend_steady_points:
        return TrendDirection.WORSENING
    return TrendDirection.STEADY


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _group(
    name: str,
    members: Sequence[_Scenario],
    postures: dict[str, ScenarioPosture],
    now: datetime,
    since: datetime,
    rules: PostureRules,
) -> GroupPosture:
    drills = sorted((d for s in members for d in s.period), key=lambda d: (d.at, d.run_id))
    lasts = [s.last.at for s in members if s.last is not None]
    last = max(lasts) if lasts else None
    age = _age(now, last)
    delta = _trend_delta(drills, now, since)
    mine = [postures[s.name] for s in members]
    return GroupPosture(
        name=name,
        scenarios=tuple(s.name for s in members),
        last_drill=last,
        age=age,
        stale=age is None or age > rules.stale_after,
        drills=len(drills),
        unscored=sum(s.unscored for s in members),
        score=_mean([p.latest_score for p in mine if p.latest_score is not None]),
        posture=_mean([p.posture for p in mine]),
        trend_delta=delta,
        trend=_direction(delta, rules),
        line=_line(drills, since, rules.trend_bucket),
        kinds=tuple(_kind_figures(kind, drills) for kind in POSTURE_KINDS),
    )


def build_posture(
    rows: Iterable[PostureRun],
    *,
    now: datetime,
    since: datetime,
    rules: PostureRules | None = None,
) -> Posture:
    """The posture at ``now`` of the runs in ``rows`` (all of the store's, any order), with
    the period from ``since``: every capability (drilled or not), every owner, every scenario.
    """
    if now.tzinfo is None or since.tzinfo is None:
        raise ValueError("now and since must carry a time zone")
    rules = rules or PostureRules()
    scenarios, count = _gather(rows, since)
    ordered = sorted(scenarios.values(), key=lambda s: s.name)
    postures = {s.name: _scenario_posture(s, now, rules) for s in ordered}
    by_capability = [
        _group(c.value, [s for s in ordered if c in s.capabilities], postures, now, since, rules)
        for c in Capability
    ]
    owners = sorted({s.owner for s in ordered}, key=lambda o: (o == "", o))
    by_owner = [
        _group(o or NO_OWNER, [s for s in ordered if s.owner == o], postures, now, since, rules)
        for o in owners
    ]
    return Posture(
        now=now.astimezone(UTC),
        since=since.astimezone(UTC),
        rules=rules,
        capabilities=tuple(by_capability),
        owners=tuple(by_owner),
        scenarios=tuple(postures.values()),
        runs=count,
    )


def format_when(moment: datetime | None) -> str:
    """A drill's time for a table: '2026-11-22 07:45 UTC', or 'never'."""
    return "never" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_days(age: timedelta | None) -> str:
    """An age in days with one decimal: '12.3 d'; '-' for none."""
    return "-" if age is None else f"{age / timedelta(days=1):.1f} d"


def figure_text(figure: Measured | None) -> str:
    """'42.5 s (target 60 s)', 'not recovered (target 60 s)', with ', missed' when missed."""
    if figure is None:
        return "-"
    objective = figure.objective
    if objective.measured is None:
        # The words of every report for a measurement that never came ('not recovered').
        unmeasured = ObjectiveResult(
            name=objective.name,
            kind=objective.kind,
            probe="",
            target=objective.target,
            measured=None,
            met=False,
            credit=0.0,
        )
        value = format_measured(unmeasured)
    else:
        value = format_seconds(objective.measured)
    missed = "" if objective.met else ", missed"
    return f"{value} (target {format_seconds(objective.target)}{missed})"


def trend_text(group: GroupPosture) -> str:
    """'improving (+7.9)', 'steady (-0.4)', 'unknown'."""
    if group.trend_delta is None:
        return group.trend.value
    return f"{group.trend.value} ({format_delta(group.trend_delta)})"


GROUP_HEAD = (
    "scenarios", "last drill", "age", "state", "drills", "unscored", "score", "posture", "grade"
)  # fmt: skip
"""The columns of a capability's or an owner's row, after its name (then the trend)."""
GROUP_NUMERIC = frozenset({0, 2, 4, 5, 6, 7})


def group_cells(group: GroupPosture) -> list[str]:
    """A capability's or an owner's row under ``GROUP_HEAD``."""
    return [
        str(len(group.scenarios)),
        format_when(group.last_drill),
        format_days(group.age),
        "stale" if group.stale else "fresh",
        str(group.drills),
        str(group.unscored),
        display_score(group.score),
        display_score(group.posture),
        group.grade.value if group.grade else "-",
    ]


KIND_HEAD = ("latest", "best", "mean", "met")
KIND_NUMERIC = frozenset({2, 3})


def kind_cells(figures: KindFigures) -> list[str]:
    """One measured time of a group under ``KIND_HEAD``."""
    return [
        figure_text(figures.latest),
        figure_text(figures.best),
        "-" if figures.mean_s is None else format_seconds(figures.mean_s),
        f"{figures.met} of {figures.count}",
    ]


SCENARIO_HEAD = (
    "scenario", "owner", "capabilities", "last drill", "age", "drills", "unscored",
    "latest score", "decay", "posture", "state",
)  # fmt: skip
SCENARIO_NUMERIC = frozenset({4, 5, 6, 7, 8, 9})


def scenario_cells(scenario: ScenarioPosture) -> list[str]:
    """A scenario's row under ``SCENARIO_HEAD``."""
    return [
        scenario.name,
        scenario.owner or NO_OWNER,
        ", ".join(c.value for c in scenario.capabilities) or "-",
        format_when(scenario.last_drill),
        format_days(scenario.age),
        str(scenario.drills),
        str(scenario.unscored),
        display_score(scenario.latest_score),
        f"{scenario.decay:.2f}",
        display_score(scenario.posture),
        "stale" if scenario.stale else "fresh",
    ]


def period_text(posture: Posture) -> str:
    """The header line every format prints: when, over which period, with which stale-after."""
    return (
        f"At {format_when(posture.now)}, period from {format_when(posture.since)} "
        f"({format_days(posture.now - posture.since)}), stale after "
        f"{format_age(posture.rules.stale_after)}; {posture.runs} stored run(s), "
        f"{len(posture.scenarios)} scenario(s)."
    )
