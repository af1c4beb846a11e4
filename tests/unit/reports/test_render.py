"""The one entry point for every format, report files, and what `gameday report` reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import HistoryStore, past_runs, stored_result
from gameday.reports.render import (
    FILE_NAMES,
    TREND_RUNS,
    ReportFormat,
    load_results,
    produce_report,
    render,
    write_junit,
    write_reports,
)
from gameday.result import RunResult, read_result, write_result
from tests.unit.reports.runs import (
    REPO,
    demo_suite,
    facilitated,
    facilitated_unmarked,
    met_and_missed,
    never_recovered,
)


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_renders_a_suite(fmt: ReportFormat) -> None:
    text = render(demo_suite(), fmt)
    assert text.endswith("\n")
    assert "identity-loss" in text


def test_json_of_one_result_is_the_result(tmp_path: Path) -> None:
    result = met_and_missed()
    path = tmp_path / "report.json"
    path.write_text(render([result], ReportFormat.JSON))
    assert read_result(path) == result


def test_json_of_several_results_carries_the_suite() -> None:
    document = json.loads(render(demo_suite(), ReportFormat.JSON))
    assert document["schema_version"] == 1
    assert document["suite"]["counted"] == ["identity-loss", "registry-loss", "logging-loss"]
    assert document["suite"]["excluded"] == ["region-loss"]
    assert document["suite"]["grade"] == "D"
    assert [r["run_id"] for r in document["results"]] == [r.run_id for r in demo_suite()]


def test_no_results_is_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="no results to report on"):
        render([], ReportFormat.HTML)


def test_write_reports_writes_one_file_per_format_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    formats = [ReportFormat.HTML, ReportFormat.JUNIT, ReportFormat.HTML, ReportFormat.PROM]
    written = write_reports(demo_suite(), out, formats)
    assert written == [out / "report.html", out / "junit.xml", out / "metrics.prom"]
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "metrics.prom", "report.html"]
    html = (out / "report.html").read_text()
    # Runbook links are relative to the folder the report is in.
    hrefs = set(re.findall(r'class="runbook" href="([^"]+)"', html))
    assert {(out / href).resolve().relative_to(REPO).as_posix() for href in hrefs} == {
        "runbooks/identity-loss.md",
        "runbooks/registry-loss.md",
        "runbooks/logging-loss.md",
    }


def test_write_junit(tmp_path: Path) -> None:
    path = tmp_path / "ci" / "junit.xml"
    write_junit([never_recovered()], path)
    assert path.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>')
    assert [p.name for p in path.parent.iterdir()] == ["junit.xml"]


def _report_dir(root: Path, results: list[RunResult]) -> None:
    for result in results:
        write_result(result, root / result.run_id / "result.json")


def test_load_results_from_a_file_a_folder_or_a_run_id(tmp_path: Path) -> None:
    results = demo_suite()
    _report_dir(tmp_path / "out", list(reversed(results)))
    first = tmp_path / "out" / results[0].run_id / "result.json"
    assert load_results(str(first)) == [results[0]]
    loaded = load_results(str(tmp_path / "out"))
    assert sorted(r.run_id for r in loaded) == sorted(r.run_id for r in results)
    found: list[str] = []

    def find_run(run_id: str) -> RunResult:
        found.append(run_id)
        return results[1]

    assert load_results(results[1].run_id, find_run) == [results[1]]
    assert found == [results[1].run_id]  # asked only for what is neither a file nor a folder
    assert load_results(str(first), find_run) == [results[0]]
    assert found == [results[1].run_id]


def test_load_results_says_what_it_could_not_find(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError) as caught:
        load_results(str(tmp_path / "empty"))
    assert caught.value.message == f"{tmp_path / 'empty'}: no result.json in this folder"
    with pytest.raises(InvalidInputError) as caught:
        load_results("20261122T020000Z-x-0000")
    assert caught.value.message == "'20261122T020000Z-x-0000' is not a file or a folder"
    # With the history store's lookup, as `gameday report` passes it.
    store = tmp_path / "history.db"
    HistoryStore(store).close()
    with pytest.raises(InvalidInputError) as caught:
        load_results("20261122T020000Z-x-0000", lambda run_id: stored_result(run_id, store))
    assert caught.value.message == (
        f"'20261122T020000Z-x-0000' is not a file, a folder or a finished run in {store}"
    )


def test_produce_report_shows_the_trend_and_counts_it_is_given(tmp_path: Path) -> None:
    store = tmp_path / "history.db"
    older = met_and_missed(day=21).model_copy(update={"score": 61.0})
    with HistoryStore(store) as history:
        for result in (older, *demo_suite()):
            history.finish_run(result)
    past = past_runs(store, [r.scenario.name for r in demo_suite()], limit=TREND_RUNS)
    out = tmp_path / "site" / "index.html"
    text = produce_report(
        demo_suite(), ReportFormat.HTML, out=out, history=past.trend, run_counts=past.run_counts
    )
    assert out.read_text() == text
    assert 'data-points="2"' in text
    prom = produce_report(demo_suite(), ReportFormat.PROM, run_counts=past.run_counts)
    assert 'gameday_runs_total{scenario="identity-loss",status="failed"} 2.0' in prom
    alone = produce_report(demo_suite(), ReportFormat.PROM)
    assert 'gameday_runs_total{scenario="identity-loss",status="failed"} 1.0' in alone


def test_file_names_cover_every_format() -> None:
    assert set(FILE_NAMES) == set(ReportFormat)


def test_report_json_round_trips_a_facilitated_result(tmp_path: Path) -> None:
    # `gameday report RESULT --format json` is produce_report; no history store here.
    result = facilitated()
    write_result(result, tmp_path / "run" / "result.json")
    loaded = load_results(str(tmp_path / "run" / "result.json"))
    text = produce_report(loaded, ReportFormat.JSON)
    back = RunResult.model_validate_json(text)
    assert back == result
    assert back.facilitation is not None and back.facilitation.steps[1].ticked_at is None
    assert [m.kind.value for m in back.marks] == [
        "note", "step", "detected", "note", "step", "mitigation", "end", "recovered"
    ]  # fmt: skip


def test_report_json_of_a_folder_round_trips_facilitated_results(tmp_path: Path) -> None:
    results = [facilitated(), facilitated_unmarked()]
    _report_dir(tmp_path / "out", results)
    text = produce_report(load_results(str(tmp_path / "out")), ReportFormat.JSON)
    document = json.loads(text)
    back = [RunResult.model_validate(r) for r in document["results"]]
    assert sorted(back, key=lambda r: r.run_id) == sorted(results, key=lambda r: r.run_id)


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_renders_a_facilitated_run(fmt: ReportFormat) -> None:
    text = render([facilitated(), facilitated_unmarked()], fmt)
    assert text.endswith("\n")
    if fmt in {ReportFormat.HTML, ReportFormat.MARKDOWN, ReportFormat.JUNIT}:
        assert "ended the held faults" in text and "not ticked" in text
