"""Unverified markers (issue 15) in every report: counted apart from lost ones in the terminal
summary, Markdown, HTML and the JSON result, next to where lost markers already show."""

from __future__ import annotations

import json

from gameday.grading import Marker
from gameday.reports.html import render_html
from gameday.reports.markdown import render_markdown
from gameday.reports.terminal import render_result
from gameday.result import ReadBackRecord, RunResult
from tests.unit.reports.runs import met_and_missed, probe_record, rpo


def _unverified_run() -> RunResult:
    """met_and_missed with an orders probe of 45 acknowledged markers: 40 read back, 2 lost
    (markers 20, 21), 3 unverified (30..32), after a failed flush."""
    states = {20: False, 21: False, 30: None, 31: None, 32: None}
    markers = tuple(Marker(i, float(i), True, states.get(i, True)) for i in range(45))
    orders = probe_record("orders", "data", "H" * 90, markers=markers).model_copy(
        update={
            "read_back": ReadBackRecord(
                read=40, lost=2, unverified=3, settle_s=2.0, deadline_s=10.0, flushed=False
            )
        }
    )
    result = met_and_missed()
    probes = [orders if p.name == "orders" else p for p in result.probes]
    objectives = [
        rpo("orders-rpo", orders, 0.0, critical=True) if o.name == "orders-rpo" else o
        for o in result.objectives
    ]
    return result.model_copy(update={"probes": probes, "objectives": objectives})


def test_the_terminal_names_the_unverified_markers() -> None:
    text = render_result(_unverified_run())
    assert (
        "  read-back orders: 45 acknowledged marker(s): 40 read back, 2 lost, 3 unverified "
        "(settle 2s, deadline 10s, flush failed)"
    ) in text.splitlines()
    # The missed RPO's detail says the counts too.
    (detail,) = [line for line in text.splitlines() if line.startswith("  - orders-rpo: ")]
    assert "; 40 read back, 2 lost, 3 unverified; RPO between " in detail


def test_a_read_back_that_found_everything_adds_no_terminal_line() -> None:
    assert "read-back" not in render_result(met_and_missed())


def test_markdown_counts_and_marks_unverified_markers() -> None:
    text = render_markdown([_unverified_run()])
    assert "45 marker(s) lost" not in text
    assert "2 marker(s) lost, 3 unverified (not read back by the deadline)" in text
    assert "`U` marker unverified" in text
    (row,) = [line for line in text.splitlines() if line.startswith("orders ")]
    assert "U" in row and "L" in row


def test_html_draws_unverified_markers_apart_from_lost_ones() -> None:
    page = render_html([_unverified_run()])
    assert 'data-series="lost-markers" data-count="2"' in page
    assert 'data-series="unverified-markers" data-count="3"' in page
    assert "marker 31 written at 31.00s unverified: not read back by the deadline" in page
    assert "2 marker(s) lost, 3 unverified (not read back by the deadline)" in page


def test_the_json_result_holds_the_counts_apart() -> None:
    saved = json.loads(_unverified_run().model_dump_json())
    (orders,) = [p for p in saved["probes"] if p["name"] == "orders"]
    assert orders["read_back"] == {
        "read": 40,
        "lost": 2,
        "unverified": 3,
        "settle_s": 2.0,
        "deadline_s": 10.0,
        "flushed": False,
    }
    assert RunResult.model_validate(saved) == _unverified_run()
