"""The Markdown report, rendered by a real CommonMark parser (markdown-it-py, with GFM tables and
inline HTML allowed, as GitHub and most wikis do) and read back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from gameday.reports.markdown import render_markdown
from gameday.reports.suite import timeline_end
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
    assert "Not graded (could not run, or tested nothing): region-loss" in markdown


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


def _rows_after(markdown: str, heading: str) -> list[str]:
    """The table lines of the first table after ``heading``."""
    lines = markdown.split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next(i for i, line in enumerate(lines[start:], start) if not line.startswith("|"))
    return lines[start:end]


def test_the_marks_table_with_times_since_t0_and_escaped_text() -> None:
    rows = _rows_after(render_markdown([facilitated()]), "### Marks")
    assert rows[:5] == [
        "| since T0 | at | mark | by | note |",
        "| --- | --- | --- | --- | --- |",
        "| -2.0s | 3.00s | note | alice | bridge open, everyone on the call |",
        "| +4.5s | 9.50s | step | bob | step 1: Page the identity on-call |",
        "| +7.3s | 12.30s | detected | bob |  |",
    ]
    assert rows[5] == (
        "| +9.0s | 14.00s | note | &lt;b&gt;carol&lt;/b&gt; \\[c\\](javascript:alert(5)) | "
        "&lt;script&gt;alert(1)&lt;/script&gt; \\| \\*\\*x\\*\\* \\]\\]&gt; (via http) |"
    )
    assert rows[8] == "| +20.0s | 25.00s | end | alice | ended the held faults |"
    assert len(rows) == 2 + len(FACILITATED_MARKS)


def test_the_runbook_checklist_table() -> None:
    rows = _rows_after(render_markdown([facilitated()]), "### Runbook checklist")
    assert rows == [
        "| step | text | ticked at | since T0 | by |",
        "| --- | --- | --- | --- | --- |",
        "| 1 | Page the identity on-call | 9.50s | +4.5s | bob |",
        "| 2 | Check &lt;https://health.aws.amazon.com&gt; \\| run \\`aws sts "
        "get-caller-identity\\` | not ticked | - | - |",
        "| 3 | Switch the app to cached credentials | 18.50s | +13.5s | alice |",
        "| 4 | Write the incident note | not ticked | - | - |",
    ]


def test_hostile_marks_render_as_text() -> None:
    page = Page(to_html(render_markdown([facilitated()])))
    assert {tag for tag, _ in page.tags} <= RENDERED_TAGS
    assert page.find("a") == []  # the author's [c](javascript:...) is no link
    text = " ".join("".join(page.text).split())
    for value in (HOSTILE_NOTE, HOSTILE_AUTHOR, HOSTILE_STEP):
        assert value in text


def test_the_timeline_has_a_row_of_marks() -> None:
    result = facilitated()
    markdown = render_markdown([result])
    block = markdown.split("```text\n")[1].split("\n```\n")[0].splitlines()
    faults = next(line for line in block if line.startswith("faults "))
    (row,) = [line for line in block if line.startswith("marks ")]
    # Columns count from where the drawing starts: the fault's first '#' sits at T0's column.
    end_s = timeline_end(result)
    start = faults.index("#") - int(5.0 / end_s * 60)
    letter = {"detected": "D", "mitigation": "M", "recovered": "R", "note": "N", "step": "S",
              "end": "E"}  # fmt: skip
    expected = {start + min(59, int(m.at / end_s * 60)): letter[m.kind] for m in result.marks}
    assert {i: c for i, c in enumerate(row) if i >= start and c != " "} == expected
    assert len(expected) == len(result.marks)  # no two marks share a column here
    assert "people's marks: `D` detected, `M` mitigation" in markdown
    assert "people's marks" not in render_markdown([met_and_missed()])


def test_human_objectives_and_the_facilitation_facts() -> None:
    markdown = render_markdown([facilitated_unmarked()])
    assert (
        "| human\\_ttd | human\\_ttd | people | &lt;= 30.0s | not detected | **NO** | 0.00 | 1 |  |"
        in markdown
    )
    assert "- **human\\_ttd**: human\\_ttd not detected (target 30.0s). not detected: nobody" in (
        markdown
    )
    assert (
        "| hold | faults held until the hold's deadline (max\\_duration) at 45.00s (+40.0s) |"
        in markdown
    )
    assert (
        "| checklist | 0 of 2 steps ticked, from 'Mitigate' in ../runbooks/logging-loss.md |"
        in (markdown)
    )
    assert "### Facilitation" not in render_markdown([met_and_missed()])
