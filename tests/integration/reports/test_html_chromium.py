"""The HTML report in a real browser: Debian's headless Chromium loads every report from disk,
with no network; the console stays clean, the timelines are drawn with their series and shaded
fault windows, hostile strings are text. Screenshots go to test-artifacts/ (gitignored);
docs/img/report.png comes from a real `make demo` run instead (scripts/report-screenshot.sh).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

import pytest

from gameday.reports.render import ReportFormat, write_reports
from gameday.reports.suite import probe_counts
from gameday.result import RunResult
from tests.integration.reports.chromium import CHROMIUM, Visit, visit_pages
from tests.unit.reports.runs import (
    HOSTILE,
    HOSTILE_AUTHOR,
    HOSTILE_NOTE,
    HOSTILE_STEP,
    REPO,
    ROLLBACK_PROBLEM,
    demo_suite,
    every_result,
    facilitated,
    met_and_missed,
    recorded,
    rollback_failed,
)

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium): add "
        "`apt-get install -y chromium` to .ci/run",
        allow_module_level=True,
    )

ARTIFACTS = REPO / "test-artifacts"
DOCS_HEIGHT_PX = 2100

DOM = """(() => {
  const all = (selector, root = document) => Array.from(root.querySelectorAll(selector));
  const style = (element, property) =>
    element ? getComputedStyle(element).getPropertyValue(property) : null;
  return {
    scripts: all('script').length,
    handlers: all('*').filter(e => Array.from(e.attributes).some(a => a.name.startsWith('on')))
      .length,
    tags: Array.from(new Set(all('*').map(e => e.localName))).sort(),
    text: document.body.innerText,
    allText: document.body.textContent,
    sections: all('section.scenario').map(section => ({
      status: section.dataset.status,
      timelines: all('svg.timeline', section).map(svg => ({
        probe: svg.dataset.probe,
        width: svg.getBoundingClientRect().width,
        series: all('g.series', svg).map(g => [g.dataset.series, g.childElementCount]),
        windows: all('rect.fault-window', svg).map(r => r.getBBox().width),
        windowFill: style(svg.querySelector('rect.fault-window'), 'fill'),
        windowOpacity: style(svg.querySelector('rect.fault-window'), 'fill-opacity'),
        failedFill: style(svg.querySelector('g.series.failed rect'), 'fill'),
        impact: all('line.impact', svg).length,
        recovery: all('line.recovery', svg).length,
        rto: all('g.rto-span', svg).map(g => g.textContent),
        marks: all('.mark', svg).map(line => ({
          kind: line.getAttribute('class'),
          title: line.textContent,
          stroke: style(line, 'stroke'),
          height: line.getBBox().height,
        })),
      })),
      rows: Object.fromEntries(['marks', 'checklist'].map(name => [name,
        all(`table.${name} tbody tr`, section).map(tr =>
          Array.from(tr.cells).map(td => td.textContent))])),
      unticked: all('table.checklist tr.unticked', section).length,
    })),
    trends: all('svg.trend').map(svg => svg.querySelectorAll('circle').length),
    rollback: (() => {
      const banner = document.getElementById('rollback-failed');
      if (!banner) return null;
      const box = banner.getBoundingClientRect();
      const below = all('main > *').filter(e => e !== banner)
        .map(e => e.getBoundingClientRect().top);
      return {
        first: document.querySelector('main').firstElementChild === banner,
        top: box.top + window.scrollY, height: box.height, width: box.width,
        above: below.filter(top => top < box.top).length,
        visible: style(banner, 'display') !== 'none' && style(banner, 'visibility') === 'visible',
        background: style(banner, 'background-color'), color: style(banner, 'color'),
        heading: style(banner.querySelector('h2'), 'font-size'),
        text: banner.innerText,
      };
    })(),
  };
})()"""


def _expected_series(result: RunResult) -> list[list[tuple[str, int]]]:
    expected = []
    for probe in result.probes:
        counts = probe_counts(probe)
        series = [("ok", counts.ok), ("failed", counts.failed), ("missed", counts.missed)]
        if probe.alerts:
            series.append(("alerts", counts.alerts))
        if probe.markers:
            series.append(("lost-markers", counts.lost_markers))
        if counts.unverified_markers:
            series.append(("unverified-markers", counts.unverified_markers))
        expected.append(series)
    return expected


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[RunResult], Path]]:
    root = tmp_path_factory.mktemp("html")
    sets = {name: [result] for name, result in every_result().items()}
    # The docs picture: the recorded unattended runs when there are some, else the built suite.
    unattended = [r for r in recorded().values() if r.facilitation is None and r.rollback.complete]
    sets["demo-suite"] = unattended or demo_suite()
    sets["suite-with-a-failed-rollback"] = [*demo_suite(), rollback_failed()]
    trend = {"identity-loss": [("2026-11-08", 58.5), ("2026-11-15", 66.0), ("2026-11-21", 61.2),
                               ("2026-11-22", 73.0)]}  # fmt: skip
    built = {}
    for name, results in sets.items():
        (path,) = write_reports(results, root / name, [ReportFormat.HTML], history=trend)
        built[name] = (results, path)
    return built


@pytest.fixture(scope="module")
def visits(pages: dict[str, tuple[list[RunResult], Path]]) -> dict[str, Visit]:
    wanted: dict[Path, float | None] = {path: math.inf for _, path in pages.values()}
    done = visit_pages(wanted, DOM)
    ARTIFACTS.mkdir(exist_ok=True)
    for name, (_, path) in pages.items():
        png = done[path].png
        assert png is not None
        (ARTIFACTS / f"report-{name}.png").write_bytes(png)
    return {name: done[path] for name, (_, path) in pages.items()}


def test_no_console_errors_and_no_dialogs(visits: dict[str, Visit]) -> None:
    for name, visit in visits.items():
        assert (name, visit.console_errors, visit.dialogs) == (name, [], [])


def test_the_browser_would_report_a_script_that_slipped_through(tmp_path: Path) -> None:
    # The check above is only worth something if an injected script does show up: under the
    # report's CSP an inline script is refused, and Chromium logs that refusal as an error.
    (page,) = write_reports([met_and_missed()], tmp_path, [ReportFormat.HTML])
    page.write_text(page.read_text().replace("</main>", "<script>alert(1)</script></main>"))
    (visit,) = visit_pages({page: None}, "1").values()
    assert visit.dialogs == []
    assert any("Content Security Policy" in error for error in visit.console_errors)


def test_every_probe_has_a_timeline_with_its_series(
    pages: dict[str, tuple[list[RunResult], Path]], visits: dict[str, Visit]
) -> None:
    for name, (results, _) in pages.items():
        sections: list[dict[str, Any]] = visits[name].dom["sections"]
        assert [s["status"] for s in sections] == [r.status.value for r in results]
        for section, result in zip(sections, results, strict=True):
            timelines = section["timelines"]
            assert [t["probe"] for t in timelines] == [p.name for p in result.probes]
            drawn = [[tuple(s) for s in t["series"]] for t in timelines]
            assert drawn == _expected_series(result), name
            assert all(t["width"] > 600 for t in timelines)


def test_fault_windows_are_shaded_where_faults_were_in_force(
    pages: dict[str, tuple[list[RunResult], Path]], visits: dict[str, Visit]
) -> None:
    for name, (results, _) in pages.items():
        for section, result in zip(visits[name].dom["sections"], results, strict=True):
            injected = [f for f in result.faults if f.injected_at is not None]
            for timeline in section["timelines"]:
                assert len(timeline["windows"]) == len(injected)
                assert all(width > 1 for width in timeline["windows"])
                if injected:
                    assert timeline["windowFill"] == "rgb(255, 152, 0)"
                    assert float(timeline["windowOpacity"]) == pytest.approx(0.18)


def test_impact_recovery_and_rto_are_marked(visits: dict[str, Visit]) -> None:
    api, credentials, _, pager = visits["met-and-missed"].dom["sections"][0]["timelines"]
    assert (api["impact"], api["recovery"], api["rto"]) == (1, 1, ["api-rto: RTO 3.00s"])
    assert credentials["rto"] == ["credentials-rto: RTO 21.5s"]
    assert credentials["failedFill"] == "rgb(229, 57, 53)"
    (never,) = visits["never-recovered"].dom["sections"][0]["timelines"]
    assert (never["impact"], never["recovery"]) == (1, 0)
    assert never["rto"] == ["image-pull-rto: RTO not recovered"]
    assert pager["series"][3] == ["alerts", 2]


def test_hostile_strings_are_text_in_the_browser(visits: dict[str, Visit]) -> None:
    dom = visits["hostile"].dom
    assert (dom["scripts"], dom["handlers"]) == (0, 0)
    assert not {"script", "img", "iframe", "b", "object", "embed"} & set(dom["tags"])
    for key, value in HOSTILE.items():
        shown = value.replace("\x1b", "\ufffd")
        # textContent: the text of collapsed <details> and SVG <title> tooltips counts too.
        assert " ".join(shown.split()) in " ".join(dom["allText"].split()), key


def test_every_timeline_draws_a_line_per_mark(
    pages: dict[str, tuple[list[RunResult], Path]], visits: dict[str, Visit]
) -> None:
    for name, (results, _) in pages.items():
        for section, result in zip(visits[name].dom["sections"], results, strict=True):
            for timeline in section["timelines"]:
                drawn = [mark["kind"] for mark in timeline["marks"]]
                assert drawn == [f"mark mark-{m.kind}" for m in result.marks], name
                assert all(mark["height"] > 50 for mark in timeline["marks"])
    (api,) = visits["facilitated"].dom["sections"][0]["timelines"]
    strokes = {mark["kind"]: mark["stroke"] for mark in api["marks"]}
    assert len(set(strokes.values())) == len(strokes) == 6  # one colour per kind of mark
    assert strokes["mark mark-detected"] == "rgb(21, 101, 192)"
    titles = [" ".join(mark["title"].split()) for mark in api["marks"]]
    assert titles[2] == "detected by bob at +7.3s (12.30s)"
    assert titles[3] == f"note by {HOSTILE_AUTHOR} at +9.0s (14.00s): {HOSTILE_NOTE} (via http)"


def test_a_facilitated_run_shows_its_marks_and_checklist_as_text(
    visits: dict[str, Visit],
) -> None:
    dom = visits["facilitated"].dom
    assert (dom["scripts"], dom["handlers"]) == (0, 0)
    assert not {"script", "b", "img"} & set(dom["tags"])
    (section,) = dom["sections"]
    marks = section["rows"]["marks"]
    assert len(marks) == len(facilitated().marks)
    assert marks[3] == ["+9.0s", "14.00s", "note", HOSTILE_AUTHOR, f"{HOSTILE_NOTE} (via http)"]
    assert marks[5] == ["+16.0s", "21.00s", "mitigation", "alice", "cached credentials on"]
    assert section["rows"]["checklist"] == [
        ["1", "Page the identity on-call", "9.50s", "+4.5s", "bob"],
        ["2", HOSTILE_STEP, "not ticked", "-", "-"],
        ["3", "Switch the app to cached credentials", "18.50s", "+13.5s", "alice"],
        ["4", "Write the incident note", "not ticked", "-", "-"],
    ]
    assert section["unticked"] == 2
    for value in (HOSTILE_AUTHOR, HOSTILE_NOTE, HOSTILE_STEP):
        assert value in dom["text"]


def test_the_suite_page_shows_the_trend(
    pages: dict[str, tuple[list[RunResult], Path]], visits: dict[str, Visit]
) -> None:
    dom = visits["demo-suite"].dom
    scenarios = {r.scenario.name for r in pages["demo-suite"][0]}
    assert dom["trends"] == ([4] if "identity-loss" in scenarios else [])
    assert "By capability" in dom["text"]


def test_the_docs_screenshot(pages: dict[str, tuple[list[RunResult], Path]]) -> None:
    # The top of the demo suite's report: the suite, then the first drill down to its timelines.
    (visit,) = visit_pages({pages["demo-suite"][1]: DOCS_HEIGHT_PX}, "1").values()
    png = visit.png
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (1280, DOCS_HEIGHT_PX)
    (ARTIFACTS / "docs-report.png").write_bytes(png)


def test_a_failed_rollback_is_a_visible_banner_at_the_top(visits: dict[str, Visit]) -> None:
    for name in ("recorded-rollback-failed", "suite-with-a-failed-rollback"):
        banner = visits[name].dom["rollback"]
        assert banner is not None, name
        assert (banner["first"], banner["above"], banner["visible"]) == (True, 0, True), name
        assert banner["top"] < 40 and banner["height"] > 60 and banner["width"] > 600, name
        assert (banner["background"], banner["color"]) == ("rgb(183, 28, 28)", "rgb(255, 255, 255)")
        assert banner["heading"] == "20px"
        text = " ".join(banner["text"].split())
        assert text.startswith("ROLLBACK FAILED: a fault may still be in force"), name
        assert ROLLBACK_PROBLEM in text, name
    suite = " ".join(visits["suite-with-a-failed-rollback"].dom["rollback"]["text"].split())
    assert "1 of 5 drill(s) left a fault behind:" in suite


def test_a_complete_rollback_shows_no_banner(visits: dict[str, Visit]) -> None:
    for name, visit in visits.items():
        if name not in ("recorded-rollback-failed", "suite-with-a-failed-rollback"):
            assert visit.dom["rollback"] is None, name
