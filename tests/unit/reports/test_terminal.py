"""The summary `gameday run` prints: an unattended run as before, a facilitated one with its
marks and runbook checklist, and the closing lines (score, report, how to explain it)."""

from __future__ import annotations

from gameday.grading import describe_rules, display_score
from gameday.kinds import MarkKind, ObjectiveKind, RunStatus
from gameday.reports.suite import suite_of
from gameday.reports.terminal import format_measured, render_closing, render_result
from gameday.result import Mark, RunResult
from tests.unit.reports.runs import (
    HOSTILE_AUTHOR,
    HOSTILE_NOTE,
    HOSTILE_STEP,
    demo_suite,
    facilitated,
    facilitated_unmarked,
    met_and_missed,
    not_steady,
)


def _section(text: str, heading: str) -> list[str]:
    """The rows of the table under ``heading`` (indented four spaces), stripped."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        rows.append(line.strip())
    return rows


def test_an_unattended_run_prints_what_it_always_printed() -> None:
    assert render_result(met_and_missed()) == (
        "identity-loss: failed, score 73.0 (C)\n"
        "  objective                           kind          target     measured  met  credit  "
        "weight\n"
        "  steady                              steady        holds      held      yes  1.00    1\n"
        "  api-rto *                           rto           <= 5.00s   3.00s     yes  1.00    2\n"
        "  credentials-rto                     rto           <= 15.0s   21.5s     NO   0.57    1\n"
        "  availability                        availability  >= 95.00%  90.00%    NO   0.00    1\n"
        "  orders-rpo *                        rpo           <= 0.00s   0.00s     yes  1.00    1\n"
        "  detect-credential-refresh-failures  ttd           <= 10.0s   14.5s     NO   0.55    1\n"
        "  - credentials-rto: impact 0 s after T0; recovered only after the fault was lifted "
        "(1.5 s after Tend): no resilience shown; RTO 21.5 s\n"
        "  - availability: 54 of 60 samples healthy in [T0, Tend + 10s]\n"
        "  - detect-credential-refresh-failures: first matching alert\n"
    )


def test_a_facilitated_run_lists_every_mark_with_its_time_since_t0() -> None:
    text = render_result(facilitated())
    rows = _section(text, "  marks (since T0: from the first injection; at: from the run's start)")
    assert [row.split()[:3] for row in rows] == [
        ["since", "T0", "at"],
        ["-2.0s", "3.00s", "note"],
        ["+4.5s", "9.50s", "step"],
        ["+7.3s", "12.30s", "detected"],
        ["+9.0s", "14.00s", "note"],
        ["+13.5s", "18.50s", "step"],
        ["+16.0s", "21.00s", "mitigation"],
        ["+20.0s", "25.00s", "end"],
        ["+26.5s", "31.50s", "recovered"],
    ]
    flat = [" ".join(row.split()) for row in rows]
    assert flat[2].endswith("step bob step 1: Page the identity on-call")
    assert flat[3] == "+7.3s 12.30s detected bob"
    assert flat[4].endswith(f"note {HOSTILE_AUTHOR} {HOSTILE_NOTE} (via http)")
    assert flat[7].endswith("end alice ended the held faults")


def test_a_facilitated_run_prints_the_checklist_ticked_or_not() -> None:
    rows = _section(render_result(facilitated()), "  runbook checklist")
    assert [" ".join(row.split()) for row in rows] == [
        "step text ticked at since T0 by",
        "1 Page the identity on-call 9.50s +4.5s bob",
        f"2 {HOSTILE_STEP} not ticked - -",
        "3 Switch the app to cached credentials 18.50s +13.5s alice",
        "4 Write the incident note not ticked - -",
    ]


def test_a_facilitated_run_says_who_facilitated_and_how_the_hold_ended() -> None:
    text = render_result(facilitated())
    assert "  facilitator: alice\n" in text
    assert (
        "  hold: faults held until alice ended them at 25.00s (+20.0s); deadline 125.00s\n" in text
    )
    assert (
        "  checklist: 2 of 4 steps ticked, from 'Mitigate' in ../runbooks/identity-loss.md\n"
        in (text)
    )
    assert "  marks API: http://127.0.0.1:8765/marks\n" in text
    unmarked = render_result(facilitated_unmarked())
    assert "  hold: faults held until the hold's deadline (max_duration) at 45.00s (+40.0s)\n" in (
        unmarked
    )


def test_human_objectives_nobody_marked_read_as_such() -> None:
    text = render_result(facilitated_unmarked())
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "human_ttd human_ttd <= 30.0s not detected NO 0.00 1" in rows
    assert "human_ttm human_ttm <= 60.0s no mitigation NO 0.00 1" in rows
    assert "- human_ttd: not detected: nobody marked 'detected' within the observation window" in (
        rows
    )
    human_ttm = next(o for o in facilitated().objectives if o.kind is ObjectiveKind.HUMAN_TTM)
    assert format_measured(human_ttm) == "16.0s"


def test_a_facilitated_run_without_marks_says_so() -> None:
    result = facilitated_unmarked().model_copy(update={"marks": []})
    assert "\n  marks: none\n" in render_result(result)


def test_terminal_escapes_in_marks_are_not_sent_to_the_terminal() -> None:
    result = facilitated()
    red = Mark(at=30.0, kind=MarkKind.NOTE, author="eve\x1b[31m", note="red \x1b[31mALERT\x07")
    text = render_result(result.model_copy(update={"marks": [*result.marks, red]}))
    assert "\x1b" not in text and "\x07" not in text
    assert "+25.0s 30.00s note eve?[31m red ?[31mALERT?" in " ".join(text.split())


def _closing(results: list[RunResult], **kwargs: str) -> list[str]:
    return render_closing(suite_of(results), results, **kwargs).splitlines()


def test_one_drill_closes_with_its_score_and_report_and_no_suite_lines() -> None:
    lines = _closing([met_and_missed()], report="out/report.html", explain="gameday explain x")
    assert lines == [
        "identity-loss: score 73.0 (C)",
        "report: out/report.html",
        "how the score was computed: gameday explain x",
    ]


def test_a_suite_closes_with_its_score_roll_up_and_report_without_the_rules() -> None:
    results = demo_suite()
    suite = suite_of(results)
    lines = _closing(results, report="out/report.html", explain="gameday explain out")
    by_capability = [
        f"  {c.value:<9} {display_score(s)}" for c, s in sorted(suite.by_capability.items())
    ]
    (excluded,) = [line for line in lines if line.startswith("  not graded (")]
    assert excluded.endswith("): region-loss")
    assert lines == [
        f"suite score {display_score(suite.score)} ({suite.grade}) over 3 of 4 drills",
        *by_capability,
        excluded,
        "report: out/report.html",
        "how the score was computed: gameday explain out",
    ]
    assert not any(rule in "\n".join(lines) for rule in describe_rules())


def test_nothing_graded_is_said_in_a_sentence() -> None:
    errored = [
        not_steady(),
        not_steady().model_copy(update={"run_id": "x", "status": RunStatus.ERROR}),
    ]
    for results in ([not_steady()], errored):
        lines = _closing(results, report="out/report.html", explain="gameday explain out")
        assert lines[0].startswith("nothing was graded: region-loss (")
        assert lines[0].endswith("; each drill's reason is above")
        assert lines[1:] == ["report: out/report.html"]  # nothing to explain
        assert "suite score" not in " ".join(lines) and "\N{EM DASH}" not in " ".join(lines)
