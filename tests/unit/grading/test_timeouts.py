"""The note that says a probe's timeout, not the app, decided an objective."""

from __future__ import annotations

from gameday.grading.timeline import Sample, timeout_detail
from gameday.grading.timeouts import timeout_note


def _timeline(pattern: str, timeout_s: float = 2.0) -> list[Sample]:
    """One sample per second: H healthy, T timed out, U failed otherwise, M missed."""
    built = []
    for offset, char in enumerate(pattern):
        if char == "M":
            built.append(Sample(float(offset), ok=False, latency_s=None, missed=True))
        elif char == "T":
            built.append(Sample(float(offset), False, timeout_s, detail=timeout_detail(timeout_s)))
        elif char == "U":
            built.append(Sample(float(offset), False, 0.01, detail="status 503, expected 200"))
        else:
            built.append(Sample(float(offset), True, 0.01))
    return built


def test_mostly_timeouts_then_answers_says_so() -> None:
    note = timeout_note(_timeline("HHTTMTUTHHH"), 0.0, 10.0, 2.0, "probes[0]")
    assert note == (
        "4 of 5 failed samples were timeouts after 2 s; raise probes[0].timeout if your SLO "
        "allows slower answers"
    )


def test_retried_timeouts_count_too() -> None:
    retried = [
        Sample(1.0, False, 2.1, detail=f"{timeout_detail(1)} (attempt 2 of 2)"),
        Sample(2.0, True, 0.01),
    ]
    assert timeout_note(retried, 0.0, 5.0, 1.0, "probes[3]") == (
        "1 of 1 failed samples were timeouts after 1 s; raise probes[3].timeout if your SLO "
        "allows slower answers"
    )


def test_no_note_when_errors_are_most_of_the_failures() -> None:
    assert timeout_note(_timeline("HTUUHH"), 0.0, 10.0, 2.0, "probes[0]") is None


def test_no_note_when_the_app_never_answered_after() -> None:
    assert timeout_note(_timeline("HHTTTT"), 0.0, 10.0, 2.0, "probes[0]") is None


def test_only_the_window_counts() -> None:
    samples = _timeline("TTHUUH")
    assert timeout_note(samples, 3.0, 10.0, 2.0, "probes[0]") is None
    assert timeout_note(samples, 0.0, 2.0, 2.0, "probes[0]") is not None
