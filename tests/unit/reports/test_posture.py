"""The posture's rules with fixed clocks: staleness at its boundary, the decay and its printed
rule, the owner and capabilities a scenario counts for, latest and best measurements, the
trend; and the three formats from the same figures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gameday.grading import credit, is_met
from gameday.kinds import Capability, ObjectiveKind
from gameday.reports.posture import (
    Posture,
    PostureRules,
    TrendDirection,
    build_posture,
    decay,
    describe_posture_rules,
    format_age,
)
from gameday.reports.posture_render import PostureFormat, posture_document, render_posture
from gameday.result import ObjectiveResult

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _objective(kind: ObjectiveKind, target: float, measured: float | None) -> ObjectiveResult:
    met = is_met(kind, measured, target)
    return ObjectiveResult(
        name=kind.value,
        kind=kind,
        probe="api",
        target=target,
        measured=measured,
        met=met,
        credit=credit(kind, met, measured, target),
    )


@dataclass(frozen=True)
class Row:
    run_id: str
    scenario: str
    started_at: str
    score: float | None
    status: str = "passed"
    owner: str = "payments"
    capabilities: Sequence[Capability] = (Capability.IDENTITY,)
    measurements: Sequence[ObjectiveResult] = field(default_factory=tuple)


def _at(age: timedelta) -> str:
    return (NOW - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _posture(rows: Sequence[Row], since: timedelta = 90 * DAY, **rules: Any) -> Posture:
    return build_posture(rows, now=NOW, since=NOW - since, rules=PostureRules(**rules))


def test_decay_is_1_within_stale_after_then_linear_to_0_at_twice_it() -> None:
    rules = PostureRules(stale_after=30 * DAY)
    assert decay(0 * DAY, rules) == 1.0
    assert decay(30 * DAY, rules) == 1.0
    assert decay(45 * DAY, rules) == pytest.approx(0.5)
    assert decay(54 * DAY, rules) == pytest.approx(0.2)
    assert decay(60 * DAY, rules) == 0.0
    assert decay(400 * DAY, rules) == 0.0
    assert decay(None, rules) == 0.0
    # An explicit decay span: zero at stale-after + span.
    assert decay(40 * DAY, PostureRules(stale_after=30 * DAY, decay_span=20 * DAY)) == 0.5


def test_the_printed_rule_carries_the_numbers_applied() -> None:
    lines = describe_posture_rules(PostureRules(stale_after=14 * DAY))
    decay_line = next(line for line in lines if line.startswith("decay:"))
    assert "decay = 1 up to 2w, then max(0, 1 - (age - 2w) / 2w): linear down to 0 at 4w" in (
        decay_line
    )
    assert "stale: no drill within stale-after (2w)" in "\n".join(lines)
    default = "\n".join(describe_posture_rules(PostureRules()))
    assert "(age - 30d) / 30d): linear down to 0 at 60d" in default
    assert "improving above +2 points, worsening below -2" in default


def test_format_age_reads_back_as_given() -> None:
    assert [format_age(a) for a in (30 * DAY, 14 * DAY, 7 * DAY, timedelta(hours=12))] == [
        "30d",
        "2w",
        "7d",
        "12h",
    ]
    assert format_age(timedelta(minutes=90)) == "90m"


def test_staleness_at_its_boundary_and_the_decayed_posture() -> None:
    rows = [
        Row("a1", "fresh", _at(30 * DAY), 80.0),
        Row("b1", "stale", _at(30 * DAY + timedelta(seconds=1)), 80.0, owner="edge",
            capabilities=(Capability.LOGGING,)),
        Row("c1", "half", _at(45 * DAY), 60.0, owner="edge", capabilities=(Capability.REGISTRY,)),
    ]  # fmt: skip
    posture = _posture(rows)
    by_name = {s.name: s for s in posture.scenarios}
    assert (by_name["fresh"].stale, by_name["fresh"].decay, by_name["fresh"].posture) == (
        False,
        1.0,
        80.0,
    )
    assert by_name["stale"].stale and by_name["stale"].decay == pytest.approx(1 - 1 / (30 * 86400))
    assert by_name["half"].posture == pytest.approx(30.0)
    capabilities = {g.name: g for g in posture.capabilities}
    assert not capabilities["identity"].stale
    assert capabilities["logging"].stale
    assert capabilities["registry"].score == 60.0
    assert capabilities["registry"].posture == pytest.approx(30.0)
    assert (
        capabilities["registry"].grade is not None and capabilities["registry"].grade.value == "F"
    )
    # Region has no scenario: never drilled, stale, no score and no posture.
    region = capabilities["region"]
    assert (region.last_drill, region.stale, region.score, region.posture, region.scenarios) == (
        None,
        True,
        None,
        None,
        (),
    )
    owners = {g.name: g for g in posture.owners}
    assert owners["edge"].posture == pytest.approx((by_name["stale"].posture + 30.0) / 2)


def test_a_shorter_stale_after_makes_the_same_history_stale() -> None:
    rows = [Row("a1", "s", _at(10 * DAY), 90.0)]
    assert not _posture(rows).capabilities[0].stale
    tight = _posture(rows, stale_after=7 * DAY)
    assert tight.capabilities[0].stale
    assert tight.scenarios[0].posture == pytest.approx(90.0 * (1 - 3 / 7))


def test_only_scored_runs_are_drills_and_unscored_ones_are_counted_apart() -> None:
    rows = [
        Row("a1", "s", _at(100 * DAY), 70.0),
        Row("a2", "s", _at(2 * DAY), None, status="error"),
        Row("a3", "s", _at(1 * DAY), None, status="inconclusive"),
        Row("a4", "s", _at(0 * DAY), None, status="running"),
        Row("a5", "s", _at(50 * DAY), 0.0, status="aborted"),
    ]
    (scenario,) = _posture(rows).scenarios
    assert scenario.last_drill == NOW - 50 * DAY
    assert (scenario.drills, scenario.unscored, scenario.latest_score) == (1, 2, 0.0)
    assert scenario.stale
    never = _posture([Row("b1", "n", _at(DAY), None, status="not-steady")])
    assert never.scenarios[0].posture == 0.0 and never.scenarios[0].last_drill is None
    assert never.capabilities[0].posture == 0.0 and never.capabilities[0].score is None


def test_a_scenario_counts_for_its_latest_named_owner_and_capabilities() -> None:
    rows = [
        Row("a1", "s", _at(20 * DAY), 50.0, owner="legacy", capabilities=(Capability.REGION,)),
        Row("a2", "s", _at(10 * DAY), 60.0, owner="payments"),
        # A run that died before its result names nobody: it does not change ownership.
        Row("a3", "s", _at(1 * DAY), 0.0, status="aborted", owner="", capabilities=()),
    ]
    posture = _posture(rows)
    assert [g.name for g in posture.owners] == ["payments"]
    (scenario,) = posture.scenarios
    assert scenario.capabilities == (Capability.IDENTITY,)
    assert posture.owners[0].drills == 3
    assert {g.name: g.drills for g in posture.capabilities}["region"] == 0
    nobody = _posture([Row("b1", "t", _at(DAY), 10.0, owner="")])
    assert [g.name for g in nobody.owners] == ["(no owner)"]


def test_latest_is_the_worst_of_the_newest_drill_and_best_the_most_under_target() -> None:
    rto = ObjectiveKind.RTO
    rows = [
        Row("a1", "s", _at(30 * DAY), 90.0, measurements=(_objective(rto, 60, 12.0),)),
        Row("a2", "s", _at(20 * DAY), 50.0, measurements=(_objective(rto, 10, 9.0),)),
        Row("a3", "s", _at(10 * DAY), 40.0,
            measurements=(_objective(rto, 60, 30.0), _objective(rto, 60, 75.0))),
        Row("a4", "s", _at(5 * DAY), 20.0,
            measurements=(_objective(rto, 60, 20.0), _objective(rto, 60, None))),
        Row("a5", "s", _at(1 * DAY), 100.0, measurements=(_objective(ObjectiveKind.TTD, 5, 1),)),
        Row("old", "s", _at(200 * DAY), 100.0, measurements=(_objective(rto, 60, 0.5),)),
    ]  # fmt: skip
    group = _posture(rows).capabilities[0]
    figures = group.figures(rto)
    assert figures.latest is not None and figures.latest.run_id == "a4"
    assert figures.latest.objective.measured is None
    assert figures.best is not None and figures.best.run_id == "a1"  # 48 s under its target
    assert (figures.count, figures.met, figures.not_measured) == (6, 4, 1)
    assert figures.mean_s == pytest.approx((12 + 9 + 30 + 75 + 20) / 5)
    assert group.figures(ObjectiveKind.RPO).latest is None
    assert group.figures(ObjectiveKind.RPO).mean_s is None


def test_the_trend_compares_the_halves_of_the_period() -> None:
    def rows(first: float, second: float) -> list[Row]:
        return [Row("a", "s", _at(80 * DAY), first), Row("b", "s", _at(10 * DAY), second)]

    assert _posture(rows(60, 70)).capabilities[0].trend is TrendDirection.IMPROVING
    assert _posture(rows(70, 60)).capabilities[0].trend is TrendDirection.WORSENING
    steady = _posture(rows(70, 71.5)).capabilities[0]
    assert (steady.trend, steady.trend_delta) == (TrendDirection.STEADY, pytest.approx(1.5))
    assert _posture(rows(70, 80)[1:]).capabilities[0].trend is TrendDirection.UNKNOWN
    line = _posture(rows(60, 70)).capabilities[0].line
    assert [score for _, score in line] == [60, 70]
    assert line[0][0] == NOW - 90 * DAY + 7 * DAY  # the bucket of day 10 of the period


def test_the_three_formats_say_the_same_figures() -> None:
    rows = [
        Row("a1", "drill-<b>", _at(3 * DAY), 72.25, owner="team|x",
            measurements=(_objective(ObjectiveKind.RTO, 60, 42.5),)),
        Row("a2", "other", _at(40 * DAY), 90.0, owner="edge", capabilities=(Capability.REGION,)),
    ]  # fmt: skip
    posture = _posture(rows)
    document = json.loads(render_posture(posture, PostureFormat.JSON))
    assert document == json.loads(json.dumps(posture_document(posture)))
    assert [g["name"] for g in document["capabilities"]] == [c.value for c in Capability]
    region = document["capabilities"][3]
    assert (region["stale"], region["posture"]) == (True, pytest.approx(90.0 * 2 / 3))
    identity = document["capabilities"][0]
    assert identity["objectives"]["rto"]["latest"]["objective"]["measured"] == 42.5
    assert document["rules"] == describe_posture_rules(posture.rules)

    markdown = render_posture(posture, PostureFormat.MARKDOWN)
    assert "| identity | 1 | 2026-11-28 12:00 UTC | 3.0 d | fresh | 1 | 0 | 72.2 | 72.2 | C |" in (
        markdown
    )
    assert "42.5 s (target 60 s)" in markdown
    assert "team\\|x" in markdown and "drill-&lt;b&gt;" in markdown
    assert "**Stale capabilities: logging, registry, region.**" in markdown
    html = render_posture(posture, PostureFormat.HTML)
    assert "drill-&lt;b&gt;" in html and "<b>" not in html
    assert html.count('data-stale="true"') == 3 + 1  # three capabilities and owner edge
    for rule in describe_posture_rules(posture.rules):
        assert rule.replace("'", "&#x27;") in html
