"""Memory per probe sample, for the cap on samples per probe (gameday.scenario.durations).

Not a timed test: run it by hand (`.venv/bin/python bench/probe_samples.py`) and read the
bytes per sample. A run holds every sample of every probe three times at its end: the
recorder's ``Sample`` objects, the result's ``ProbeRecord`` lists, and the result's JSON text
(written to result.json and the history store); the HTML report then draws one bar per
sample. This measures each with tracemalloc, for healthy samples (the common case) and for
failing ones (each with its own detail).
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections.abc import Callable

from gameday.grading.timeline import Sample
from gameday.reports.html import _sample_series
from gameday.result import ProbeRecord


def _grown(build: Callable[[], object]) -> tuple[int, object]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return after - before, kept


def measure(count: int, *, failing: bool) -> dict[str, float]:
    """Bytes per sample held by each stage, for ``count`` samples 10 ms apart."""
    detail = "HTTP 503 from http://127.0.0.1:8080/health: Service Unavailable"

    def samples() -> list[Sample]:
        return [
            Sample(
                i * 0.01, not failing, 0.0021 + i * 1e-9, detail=f"{detail} #{i}" if failing else ""
            )
            for i in range(count)
        ]

    recorder_b, recorded = _grown(samples)
    assert isinstance(recorded, list)

    def record() -> ProbeRecord:
        return ProbeRecord(
            name="api",
            kind="http",
            interval_s=0.01,
            samples=[(s.offset_s, s.ok, s.latency_s) for s in recorded],
            failures=[(s.offset_s, s.detail) for s in recorded if not s.ok],
        )

    record_b, built = _grown(record)
    assert isinstance(built, ProbeRecord)
    json_b, _ = _grown(lambda: built.model_dump_json(indent=2))
    html_b, _ = _grown(lambda: _sample_series(built, count * 0.01))
    total = recorder_b + record_b + json_b + html_b
    return {
        "recorder": recorder_b / count,
        "result": record_b / count,
        "json": json_b / count,
        "html": html_b / count,
        "total": total / count,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200_000, help="samples per measurement")
    args = parser.parse_args()
    for failing in (False, True):
        figures = measure(args.samples, failing=failing)
        label = "failing" if failing else "healthy"
        parts = ", ".join(f"{k} {v:.0f}" for k, v in figures.items())
        print(f"{label} samples, bytes per sample: {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
