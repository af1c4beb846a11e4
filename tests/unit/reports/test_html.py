"""The HTML report read back with Python's HTML parser: self-contained, escaped, complete.

The same page in a real browser is tests/integration/reports/test_html_chromium.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gameday.reports.html import render_html
from gameday.reports.suite import probe_counts, timeline_end
from gameday.result import RunResult
from tests.unit.reports.runs import (
    FACILITATED_MARKS,
    HOSTILE,
    HOSTILE_AUTHOR,
    HOSTILE_NOTE,
    HOSTILE_STEP,
    demo_suite,
    every_result,
    facilitated,
    facilitated_unmarked,
    met_and_missed,
    synthetic,
)

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "h4", "p",
    "section", "table", "thead", "tbody", "tr", "th", "td", "span", "a", "code", "details",
    "summary", "ul", "li", "i", "svg", "g", "rect", "line", "text", "circle", "path",
    "polyline",
}  # fmt: skip


class Page(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, css: str | None = None) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and (css is None or css in (attrs.get("class") or "").split())
        ]


@pytest.fixture(scope="module")
def everything() -> list[RunResult]:
    return list(every_result().values())


def test_the_page_uses_only_its_own_tags_and_no_event_handlers(everything: list[RunResult]) -> None:
    page = Page(render_html(everything))
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    for tag, attrs in page.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)


def test_the_page_fetches_nothing(everything: list[RunResult]) -> None:
    page = Page(render_html(everything))
    for _, attrs in page.tags:
        assert "src" not in attrs
    hrefs = [attrs["href"] or "" for attrs in page.find("a")]
    assert all(not h.startswith(("http:", "https:", "//", "javascript:")) for h in hrefs)
    csp = [a for a in page.find("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp[0]["content"] == "default-src 'none'; style-src 'unsafe-inline'"


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_hostile_strings_are_text_never_markup(key: str) -> None:
    html = render_html([synthetic()["hostile"]])
    page = Page(html)
    text = "".join(page.text)
    shown = HOSTILE[key].replace("\x1b", "\ufffd")
    assert shown in text
    attributes = [value or "" for _, attrs in page.tags for value in attrs.values()]
    if key == "svg":
        # The probe name is also the timeline's data-probe attribute: intact, inside quotes.
        assert HOSTILE["svg"] in attributes
    assert "\x1b" not in html


def test_per_probe_one_timeline_with_its_series_and_fault_windows() -> None:
    result = met_and_missed()
    page = Page(render_html([result]))
    svgs = page.find("svg", "timeline")
    assert [s["data-probe"] for s in svgs] == [p.name for p in result.probes]
    series = page.find("g", "series")
    expected = []
    for probe in result.probes:
        counts = probe_counts(probe)
        expected += [("ok", counts.ok), ("failed", counts.failed), ("missed", counts.missed)]
        if probe.alerts:
            expected.append(("alerts", counts.alerts))
        if probe.markers:
            expected.append(("lost-markers", counts.lost_markers))
        if counts.unverified_markers:
            expected.append(("unverified-markers", counts.unverified_markers))
    assert [(g["data-series"], int(g["data-count"] or 0)) for g in series] == expected
    assert len(page.find("rect", "fault-window")) == len(result.probes) * len(result.faults)


def test_impact_recovery_and_rto_spans_are_marked() -> None:
    page = Page(render_html([synthetic()["never-recovered"], met_and_missed()]))
    assert len(page.find("line", "impact")) == 3  # image-pull, api, credentials
    assert len(page.find("line", "recovery")) == 2  # api, credentials
    assert len(page.find("g", "rto-span")) == 3
    assert len(page.find("g", "open")) == 1  # the span that never ends
    assert len(page.find("g", "ttd-span")) == 1


def test_missed_objectives_link_their_runbook_relative_to_the_report(tmp_path: Path) -> None:
    result = met_and_missed()
    page = Page(render_html([result], report_dir=tmp_path))
    links = page.find("a", "runbook")
    assert len(links) == sum(1 for o in result.objectives if not o.met)
    target = (tmp_path / (links[0]["href"] or "")).resolve()
    assert target == (Path(result.scenario.file).parent / "../runbooks/identity-loss.md").resolve()
    assert len(page.find("tr", "miss")) == len(links)


def test_the_score_shows_its_formula_caps_and_rules() -> None:
    result = synthetic()["never-recovered"]
    text = "".join(Page(render_html([result])).text)
    assert "100 x (1 x 1.00 + 1 x 0.00 + 1 x 1.00 + 1 x 1.00) / 4 = 75.0" in text
    assert "critical objective 'image-pull-rto' missed: grade at most D" in text
    for rule in result.scoring_rules:
        assert rule in text


def test_the_suite_page_has_the_roll_up_and_the_trend() -> None:
    trend = {"identity-loss": [("2026-11-20", 61.0), ("2026-11-21", None), ("2026-11-22", 73.1)]}
    page = Page(render_html(demo_suite(), trend))
    text = "".join(page.text)
    assert page.find("section")[0]["id"] == "suite"
    assert [row for row in page.find("table", "capabilities")]
    assert "not graded (could not run, or tested nothing): region-loss" in text
    assert [s["data-points"] for s in page.find("svg", "trend")] == ["2"]
    assert "+12.1" in text


def test_a_single_run_has_no_suite_section_but_keeps_its_trend() -> None:
    trend = {"identity-loss": [("2026-11-21", 70.0), ("2026-11-22", 73.1)]}
    page = Page(render_html([met_and_missed()], trend))
    assert all(attrs.get("id") != "suite" for attrs in page.find("section"))
    assert len(page.find("svg", "trend")) == 1


def test_runs_that_could_not_start_say_why() -> None:
    text = "".join(Page(render_html([synthetic()["not-steady"]])).text)
    assert "not-steady, not graded: not steady before the drill" in text
    assert "no objective was measured: the run could not start" in text


def test_the_gateway_tally_by_service_and_outcome() -> None:
    html = render_html([met_and_missed()])
    assert "<p>464 call(s)</p>" in html
    gateway = html.split('<table class="gateway">')[1].split("</table>")[0]
    assert "<th>forwarded</th><th>unavailable</th>" in gateway
    assert '<tr><td>sts</td><td class="num">53</td><td class="num">12</td>' in gateway


def test_no_results_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least one result"):
        render_html([])


def _between(html: str, start: str, end: str) -> list[str]:
    """Each piece of ``html`` from a ``start`` to the next ``end``."""
    return [piece.split(end)[0] for piece in html.split(start)[1:]]


def test_every_probe_timeline_draws_a_line_per_mark() -> None:
    result = facilitated()
    svgs = _between(render_html([result]), '<svg class="timeline"', "</svg>")
    assert len(svgs) == len(result.probes)
    for svg in svgs:
        lines = Page(svg).find("line", "mark")
        assert [line["class"] for line in lines] == [f"mark mark-{m.kind}" for m in result.marks]
    page = Page(svgs[0])
    titles = [t for t in page.text if " at " in t]
    assert "detected by bob at +7.3s (12.30s)" in titles
    assert "step by bob at +4.5s (9.50s): step 1: Page the identity on-call" in titles
    assert f"note by {HOSTILE_AUTHOR} at +9.0s (14.00s): {HOSTILE_NOTE} (via http)" in titles


def test_marks_are_placed_on_the_time_axis() -> None:
    result = facilitated()
    svg = _between(render_html([result]), '<svg class="timeline"', "</svg>")[0]
    xs = [float(line["x1"] or 0) for line in Page(svg).find("line", "mark")]
    axis = re.search(r'<g class="axis"><line x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', svg)
    assert axis is not None
    left, right = float(axis.group(1)), float(axis.group(2))
    end_s = timeline_end(result)  # 45 s: the last sample's offset plus its interval
    expected = [left + (right - left) * m.at / end_s for m in FACILITATED_MARKS]
    assert xs == pytest.approx(expected, abs=0.05)


def test_the_marks_table_lists_each_mark_with_its_time_since_t0() -> None:
    html = render_html([facilitated()])
    (table,) = _between(html, '<table class="marks">', "</table>")
    rows = [Page(row).text for row in _between(table, "<tr>", "</tr>")]
    assert rows[0] == ["since T0", "at", "mark", "by", "note"]
    assert rows[1:4] == [
        ["-2.0s", "3.00s", "note", "alice", "bridge open, everyone on the call"],
        ["+4.5s", "9.50s", "step", "bob", "step 1: Page the identity on-call"],
        ["+7.3s", "12.30s", "detected", "bob"],
    ]
    assert rows[4] == ["+9.0s", "14.00s", "note", HOSTILE_AUTHOR, f"{HOSTILE_NOTE} (via http)"]
    assert rows[7] == ["+20.0s", "25.00s", "end", "alice", "ended the held faults"]
    assert len(rows) == 1 + len(FACILITATED_MARKS)
    assert '<span class="mark-kind mark-mitigation">mitigation</span>' in table


def test_the_runbook_checklist_shows_ticked_and_unticked_steps() -> None:
    html = render_html([facilitated()])
    page = Page(html)
    assert len(page.find("tr", "unticked")) == 2
    (table,) = _between(html, '<table class="checklist">', "</table>")
    rows = [Page("<tr" + row).text for row in _between(table, "<tr", "</tr>")]
    assert rows == [
        ["step", "text", "ticked at", "since T0", "by"],
        ["1", "Page the identity on-call", "9.50s", "+4.5s", "bob"],
        ["2", HOSTILE_STEP, "not ticked", "-", "-"],
        ["3", "Switch the app to cached credentials", "18.50s", "+13.5s", "alice"],
        ["4", "Write the incident note", "not ticked", "-", "-"],
    ]


def test_hostile_marks_and_steps_are_text() -> None:
    html = render_html([facilitated()])
    page = Page(html)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert not page.find("b") and not page.find("script")
    text = "".join(page.text)
    for value in (HOSTILE_NOTE, HOSTILE_AUTHOR, HOSTILE_STEP):
        assert value in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_facilitation_facts_and_people_in_the_probe_column() -> None:
    html = render_html([facilitated_unmarked()])
    (facts,) = _between(html, '<table class="facts facilitation">', "</table>")
    assert Page(facts).text == [
        "facilitator",
        "dave",
        "hold",
        "faults held until the hold's deadline (max_duration) at 45.00s (+40.0s)",
        "checklist",
        "0 of 2 steps ticked, from 'Mitigate' in ../runbooks/logging-loss.md",
    ]
    (objectives,) = _between(html, '<table class="objectives">', "</table>")
    rows = [Page(row).text for row in _between(objectives, '<tr class="miss">', "</tr>")]
    assert [row[:5] for row in rows] == [
        ["human_ttd", "human_ttd", "people", "<= 30.0s", "not detected"],
        ["human_ttm", "human_ttm", "people", "<= 60.0s", "no mitigation"],
    ]
    assert rows[0][8].startswith("human_ttd not detected (target 30.0s). not detected: nobody")


def test_an_unattended_run_has_no_marks_or_checklist() -> None:
    html = render_html([met_and_missed()])
    assert 'class="mark' not in html
    assert "Facilitation" not in html and "checklist" not in html
    empty = facilitated_unmarked().model_copy(update={"marks": []})
    assert "nobody marked the timeline" in render_html([empty])


def test_the_legend_names_each_kind_of_mark_only_when_people_marked() -> None:
    legend = re.search(
        r"<p class=\"legend\">people's marks: (.*?)</p>", render_html([facilitated()])
    )
    assert legend is not None
    kinds = re.findall(r'<i class="swatch sw-mark mark-([a-z]+)"></i>\1</span>', legend[1])
    assert kinds == ["detected", "mitigation", "recovered", "note", "step", "end"]
    assert "people's marks" not in render_html([met_and_missed()])
