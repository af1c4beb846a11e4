"""The Markdown report, rendered by a real CommonMark parser (markdown-it-py, with GFM tables and
inline HTML allowed, as GitHub and most wikis do) and read back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from gameday.reports.markdown import render_markdown
from gameday.result import RunResult
from tests.unit.reports.runs import HOSTILE, demo_suite, every_result, met_and_missed, synthetic
from tests.unit.reports.test_html import Page

RENDERED_TAGS = {
    "h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "code", "pre",
    "ul", "li", "a", "details", "summary",
}  # fmt: skip


def to_html(markdown: str) -> str:
    rendered: str = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    return rendered


@pytest.mark.parametrize("name", sorted(every_result()))
def test_renders_to_plain_document_markup(name: str) -> None:
    page = Page(to_html(render_markdown([every_result()[name]])))
    assert {tag for tag, _ in page.tags} <= RENDERED_TAGS
    for _, attrs in page.tags:
        assert set(attrs) <= {"href", "class"}


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_hostile_strings_come_out_as_text(key: str, tmp_path: Path) -> None:
    page = Page(to_html(render_markdown([synthetic()["hostile"]], report_dir=tmp_path)))
    text = " ".join("".join(page.text).split())
    assert " ".join(HOSTILE[key].replace("\x1b", " ").split()) in text
    hrefs = [attrs.get("href") or "" for attrs in page.find("a")]
    assert len(hrefs) == 1
    assert hrefs[0].endswith("/scenarios/javascript%3Aalert%287%29")


def _cells(line: str) -> int:
    """Cell separators of a table line: pipes not escaped by a backslash."""
    count, escaped = 0, False
    for char in line:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            count += 1
    return count


@pytest.mark.parametrize("name", sorted(every_result()))
def test_every_table_row_has_its_header_s_cells(name: str) -> None:
    lines = render_markdown([every_result()[name], met_and_missed()]).splitlines()
    tables: list[list[str]] = []
    for previous, line in zip(["", *lines], lines, strict=False):
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(line)
    assert len(tables) >= 4
    for table in tables:
        assert {_cells(row) for row in table} == {_cells(table[0])}, table


def test_objectives_table_and_missed_objectives_with_runbook(tmp_path: Path) -> None:
    markdown = render_markdown([met_and_missed()], report_dir=tmp_path)
    assert (
        "| credentials-rto | rto | credentials | &lt;= 15.0s | 21.5s | **NO** | 0.57 | 1 |  |"
        in markdown
    )
    missed = [line for line in markdown.splitlines() if "[runbook](" in line]
    assert len(missed) == 3
    assert missed[0].startswith(
        "- **credentials-rto**: rto 21.5s &gt; target 15.0s (not recovered during fault)."
    )
    link = re.search(r"\[runbook\]\(([^)]+)\)", missed[0])
    assert link is not None
    assert (tmp_path / link.group(1)).resolve().name == "identity-loss.md"


def test_the_timeline_is_a_closed_fenced_block() -> None:
    result = met_and_missed()
    markdown = render_markdown([result])
    block = markdown.split("```text\n")[1].split("\n```\n")[0].splitlines()
    labels = [line.split()[0] for line in block[1:] if line[:1] != " "]
    assert labels == ["faults", *(p.name for p in result.probes)]
    api = next(line for line in block if line.startswith("api "))
    assert "x" in api and "." in api and "?" in api
    assert block[block.index(api) + 1].strip().startswith("I--")


def test_the_suite_lists_scores_capabilities_and_trend() -> None:
    trend = {"identity-loss": [("2026-11-20", 61.0), ("2026-11-22", 73.1)]}
    markdown = render_markdown(demo_suite(), trend)
    assert "**Score 49.3 (D)** over 3 graded scenario(s)" in markdown
    assert "| identity | 73.0 | C |" in markdown
    assert "| identity-loss | failed | 73.0 | C | 3 | 61.0 → 73.1 | +12.1 |" in markdown
    assert "Not graded (could not run): region-loss" in markdown


def test_score_formula_and_rules_are_printed() -> None:
    result = synthetic()["never-recovered"]
    markdown = render_markdown([result])
    assert "`100 x (1 x 1.00 + 1 x 0.00 + 1 x 1.00 + 1 x 1.00) / 4 = 75.0`" in markdown
    assert "- critical objective 'image-pull-rto' missed: grade at most D" in markdown
    assert "## How the score is computed" in markdown


def test_runs_that_could_not_start(tmp_path: Path) -> None:
    results: list[RunResult] = [synthetic()["aborted"], synthetic()["not-steady"]]
    markdown = render_markdown(results)
    assert "## logging-loss: aborted, score 0.0 (F)" in markdown
    assert "**Reason:** guardrail: probe api failed 12 consecutive samples (limit 12)" in markdown
    assert "## region-loss: not-steady, not graded" in markdown
    assert "Not graded: the run could not start." in markdown
