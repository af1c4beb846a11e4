"""One entry point for every report format, and the file side of reports.

``render`` is pure (results in, text out). ``write_reports`` and ``write_junit`` write files
atomically (a reader, a CI uploader or a web server never sees half a report).
``load_results`` and ``produce_report`` are what ``gameday report`` needs: results from a
file or a folder, or from the caller's lookup of a run id (the history store's); the trend and
run counts of past runs come from the caller too, as data.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.reports.html import render_html
from gameday.reports.iam import render_iam
from gameday.reports.junit import render_junit
from gameday.reports.markdown import render_markdown
from gameday.reports.prom import RunCounts, render_prom
from gameday.reports.suite import Trend, suite_of
from gameday.result import SCHEMA_VERSION, RunResult, read_result

TREND_RUNS = 10
"""How many past runs of each scenario the suite page's trend shows."""


class ReportFormat(StrEnum):
    """The formats of ``gameday report --format`` and ``gameday run --format``."""

    HTML = "html"
    MARKDOWN = "md"
    JUNIT = "junit"
    JSON = "json"
    PROM = "prom"
    IAM = "iam"


FILE_NAMES: dict[ReportFormat, str] = {
    ReportFormat.HTML: "report.html",
    ReportFormat.MARKDOWN: "report.md",
    ReportFormat.JUNIT: "junit.xml",
    ReportFormat.JSON: "report.json",
    ReportFormat.PROM: "metrics.prom",
    ReportFormat.IAM: "least-privilege.json",
}
"""The file each format is written to by ``write_reports``."""


def render_json(results: Sequence[RunResult]) -> str:
    """One result: the result itself (``read_result`` reads it back). Several: the suite
    score and every result, as ``{"schema_version", "suite", "results"}``."""
    if len(results) == 1:
        return results[0].model_dump_json(indent=2) + "\n"
    suite = suite_of(results)
    document = {
        "schema_version": SCHEMA_VERSION,
        "suite": {
            "score": suite.score,
            "grade": suite.grade.value if suite.grade else None,
            "by_capability": {c.value: s for c, s in sorted(suite.by_capability.items())},
            "counted": list(suite.counted),
            "excluded": list(suite.excluded),
        },
        "results": [r.model_dump(mode="json") for r in results],
    }
    return json.dumps(document, indent=2) + "\n"


def render(
    results: Sequence[RunResult],
    fmt: ReportFormat,
    history: Trend | None = None,
    *,
    report_dir: Path | None = None,
    run_counts: RunCounts | None = None,
) -> str:
    """The report of ``results`` in ``fmt``.

    ``history`` is the trend of past runs (``HistoryStore.trend``) for the HTML and Markdown
    suite pages; ``report_dir`` is where the report will be written, so that runbook links can
    be relative to it; ``run_counts`` (``HistoryStore.outcome_counts``) makes the Prometheus
    runs counter the store's all-time count.
    """
    if not results:
        raise InvalidInputError("no results to report on")
    match fmt:
        case ReportFormat.HTML:
            return render_html(results, history, report_dir=report_dir)
        case ReportFormat.MARKDOWN:
            return render_markdown(results, history, report_dir=report_dir)
        case ReportFormat.JUNIT:
            return render_junit(results)
        case ReportFormat.JSON:
            return render_json(results)
        case ReportFormat.PROM:
            return render_prom(results, run_counts)
        case ReportFormat.IAM:
            return render_iam(results)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_reports(
    results: Sequence[RunResult],
    out_dir: Path,
    formats: Sequence[ReportFormat],
    history: Trend | None = None,
    run_counts: RunCounts | None = None,
) -> list[Path]:
    """Write one file per format into ``out_dir`` (names in ``FILE_NAMES``); the paths written.

    Runbook links in HTML and Markdown are relative to ``out_dir``.
    """
    written = []
    for fmt in dict.fromkeys(formats):
        path = out_dir / FILE_NAMES[fmt]
        text = render(results, fmt, history, report_dir=out_dir, run_counts=run_counts)
        write_text_atomic(path, text)
        written.append(path)
    return written


def write_junit(results: Sequence[RunResult], path: Path) -> None:
    """Write the JUnit XML of ``results`` to ``path`` (for ``gameday run --junit FILE``)."""
    write_text_atomic(path, render_junit(results))


def load_results(
    source: str, find_run: Callable[[str], RunResult] | None = None
) -> list[RunResult]:
    """Results for ``gameday report SOURCE``, oldest first.

    SOURCE is a result file, a folder (every ``result.json`` under it, as ``gameday run
    --report-dir`` lays them out), or else a run id given to ``find_run`` (``gameday report``
    passes the history store's ``stored_result``; it raises when there is no such run).
    """
    path = Path(source)
    if path.is_file():
        return [read_result(path)]
    if path.is_dir():
        results = [read_result(found) for found in sorted(path.rglob("result.json"))]
        if not results:
            raise InvalidInputError(
                f"{path}: no result.json in this folder",
                hint="give a folder written by `gameday run --report-dir`, or a result file",
            )
        return sorted(results, key=lambda r: r.started_at)
    if find_run is None:
        raise InvalidInputError(
            f"{source!r} is not a file or a folder",
            hint="give a result.json or a folder written by `gameday run --report-dir`",
        )
    return [find_run(source)]


def produce_report(
    results: Sequence[RunResult],
    fmt: ReportFormat,
    *,
    out: Path | None = None,
    history: Trend | None = None,
    run_counts: RunCounts | None = None,
) -> str:
    """``gameday report``: render ``results`` in ``fmt``, write it to ``out`` if given.

    Returns the report text (the CLI prints it when ``out`` is None). ``history`` and
    ``run_counts`` are as for ``render`` (the caller reads them from the history store).
    """
    # Printed to stdout, the report may land anywhere: absolute runbook links then.
    report_dir = out.parent if out is not None else None
    text = render(results, fmt, history, report_dir=report_dir, run_counts=run_counts)
    if out is not None:
        write_text_atomic(out, text)
    return text
