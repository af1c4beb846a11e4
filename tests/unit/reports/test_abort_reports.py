"""Aborted runs in every report: an abort by a signal is not graded and stays out of suite
means, history and posture; a guardrail's abort says its score was set to 0 and from what;
objectives the abort left undecided read "not measured (aborted)", never met."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gameday.grading import cut_short, grade_aborted
from gameday.history import HistoryStore
from gameday.kinds import Capability, ObjectiveKind, RunStatus
from gameday.reports.explain import render_explanation
from gameday.reports.history_table import render_history_table
from gameday.reports.posture import POSTURE_KINDS, build_posture
from gameday.reports.suite import (
    headline,
    miss_message,
    not_graded,
    objective_cells,
    score_formula,
    suite_of,
)
from gameday.result import RunResult
from tests.unit.reports.runs import (
    T0,
    Run,
    availability,
    build,
    fault,
    met_and_missed,
    probe_record,
    rto,
    steady,
)

SIGNAL = "signal SIGTERM"
GUARDRAIL = "guardrail: probe 'api' failed 4 times in a row"


def _aborted(name: str, pattern: str, reason: str) -> RunResult:
    """``name`` aborted for ``reason`` at the end of ``pattern`` (one sample per 0.5 s from
    0; the fault was injected at 5 s for 20 s), graded as the engine grades an abort."""
    api = probe_record("api", "http", pattern)
    at = len(pattern) * 0.5
    graded = [steady("steady", "api", held=True), rto("api-rto", api, 5.0)]
    objectives = cut_short([*graded, availability("availability", api, 0.9)], at)
    verdict = grade_aborted(reason, objectives)
    run = Run(
        name=name,
        day=23,
        capabilities=(Capability.IDENTITY,),
        probes=[api],
        objectives=objectives,
        faults=[fault("sts-down", "identity-loss", ("sts",), removed_at=at)],
        events=((T0, "inject", "sts-down"), (at, "abort", reason)),
    )
    return build(
        run,
        status=verdict.status,
        score=verdict.score,
        grade=verdict.grade,
        caps=verdict.caps,
        reason=reason,
        tend=at,
    )


def stopped_by_signal() -> RunResult:
    """Ctrl-C 2 s into a 20 s fault the app had not yet felt."""
    return _aborted("ctrl-c", "H" * 14, SIGNAL)


def stopped_by_guardrail() -> RunResult:
    """The app failed 4 samples in a row after the injection: the guardrail stopped it."""
    return _aborted("guarded", "H" * 10 + "U" * 4, GUARDRAIL)


def test_a_signal_abort_is_not_graded_and_left_out_of_the_suite() -> None:
    stopped, graded = stopped_by_signal(), met_and_missed()
    assert (stopped.status, stopped.score, stopped.grade) == (RunStatus.ABORTED, None, None)
    suite = suite_of([graded, stopped])
    assert (suite.score, suite.counted, suite.excluded) == (graded.score, ("identity-loss",),
                                                            ("ctrl-c",))  # fmt: skip
    assert score_formula(stopped) is None
    assert headline(stopped) == "aborted, not graded"
    assert not_graded(stopped) == "the drill was stopped (signal SIGTERM), not by a guardrail"


def test_objectives_a_signal_cut_short_are_neither_met_nor_missed() -> None:
    by_name = {o.name: o for o in stopped_by_signal().objectives}
    # Measured on 2 s of a 20 s fault they read RTO 0, 100 %: nothing was decided.
    for name in ("api-rto", "availability"):
        cells = dict(zip(("name", "kind", "probe", "target", "measured", "met"),
                         objective_cells(by_name[name]), strict=False))  # fmt: skip
        assert (cells["measured"], cells["met"]) == ("not measured (aborted)", "-")
    assert miss_message(by_name["api-rto"]) == "rto not measured (aborted) (target 5.00s)"
    assert objective_cells(by_name["steady"])[4:6] == ["held", "yes"]


def test_explain_says_a_signal_abort_is_not_scored() -> None:
    stopped = stopped_by_signal()
    lines = render_explanation([stopped]).splitlines()
    assert lines[:3] == [
        f"ctrl-c (run {stopped.run_id}): aborted, not graded: no score and no grade",
        "  reason: signal SIGTERM",
        "  aborted, not by a guardrail (signal SIGTERM): not scored, as the stop was not the app's",
    ]


def test_explain_says_a_guardrail_set_the_score_to_zero_and_from_what() -> None:
    guarded = stopped_by_guardrail()
    lines = render_explanation([guarded]).splitlines()
    assert lines[0] == f"guarded (run {guarded.run_id}): aborted, score 0.0 (F)"
    formula = lines.index("  score = 100 x (1 x 1.00 + 1 x 0.00 + 1 x 0.00) / 3 = 33.3")
    assert lines[formula + 1 : formula + 4] == [
        "  cap: aborted by guardrail: score set to 0 (was 33.3)",
        "  score: 0.0",
        "  grade: F",
    ]
    rows = [line for line in lines if line.startswith(("  api-rto", "  availability"))]
    assert len(rows) == 2
    for row in rows:
        assert row.endswith("not measured (aborted)  1       not measured (aborted): 0"), row


def test_history_leaves_a_signal_abort_out_of_the_change_and_the_trend(tmp_path: Path) -> None:
    earlier = met_and_missed(day=21)
    stopped = stopped_by_signal().model_copy(update={"scenario": earlier.scenario})
    later = met_and_missed(day=24)
    with HistoryStore(tmp_path / "history.db") as store:
        for result in (earlier, stopped, later):
            store.finish_run(result)
        rows = store.runs()
        trend = store.trend()["identity-loss"]
    assert [row.score for row in rows] == [later.score, None, earlier.score]
    assert rows[0].delta == 0.0  # against the earlier scored run, not a 0 in between
    assert [score for _, score in trend] == [earlier.score, None, later.score]
    table = render_history_table(rows).splitlines()
    (line,) = [text for text in table if " aborted " in text]
    assert "signal SIGTERM, steady held, api-rto not measured (aborted), availability not " \
           "measured (aborted)" in line  # fmt: skip
    assert "(missed)" not in line


def test_the_posture_counts_a_signal_abort_as_unscored_and_skips_cut_short_figures(
    tmp_path: Path,
) -> None:
    graded, guarded = met_and_missed(day=20), stopped_by_guardrail()
    stopped = stopped_by_signal()
    same = {"scenario": graded.scenario}
    with HistoryStore(tmp_path / "history.db") as store:
        store.finish_run(graded)
        store.finish_run(guarded.model_copy(update=same))
        store.finish_run(stopped.model_copy(update=same))
        rows = store.finished_runs(POSTURE_KINDS)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    posture = build_posture(rows, now=now, since=now - timedelta(days=90))
    (scenario,) = posture.scenarios
    # The guardrail's abort is a drill scored 0; the Ctrl-C is no drill.
    assert (scenario.drills, scenario.unscored, scenario.latest_score) == (2, 1, 0.0)
    identity = next(g for g in posture.capabilities if g.name == "identity")
    rto_figures = identity.figures(ObjectiveKind.RTO)
    # Only the graded run's two RTOs: the aborted drill's cut-short RTO is no "not recovered".
    assert (rto_figures.count, rto_figures.not_measured) == (2, 0)
    assert rto_figures.latest is not None and rto_figures.latest.run_id == graded.run_id


@pytest.mark.parametrize("result", [stopped_by_signal(), stopped_by_guardrail()])
def test_every_undecided_objective_of_an_abort_is_cut_short(result: RunResult) -> None:
    cut = [o.name for o in result.objectives if o.measured is None]
    assert cut == ["api-rto", "availability"]
