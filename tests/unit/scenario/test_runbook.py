"""The facilitator's checklist, read from a runbook section as any Markdown viewer shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario.loader import load_scenario
from gameday.scenario.runbook import RunbookStep, RunbookStepsError, load_steps, parse_steps

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.md"))


def _texts(markdown: str, heading: str = "Mitigate") -> list[str]:
    return [step.text for step in parse_steps(markdown, heading)]


def test_the_numbered_list_under_the_heading_with_numbers_and_lines() -> None:
    markdown = (
        "# Runbook\n"
        "\n"
        "## Detect\n"
        "\n"
        "1. Look at the alarms.\n"
        "\n"
        "## Mitigate\n"
        "\n"
        "Work top to bottom.\n"
        "\n"
        "1. Declare an incident.\n"
        "2. Fail over to `us-west-2`.\n"
        "3. Tell the customers.\n"
    )
    assert parse_steps(markdown, "Mitigate") == [
        RunbookStep(1, "Declare an incident.", 11),
        RunbookStep(2, "Fail over to `us-west-2`.", 12),
        RunbookStep(3, "Tell the customers.", 13),
    ]


def test_the_heading_matches_at_any_level_ignoring_case_and_spacing() -> None:
    markdown = "# Drill\n#### mitigate   NOW\n1. a\n# Other\n1. b\n"
    assert _texts(markdown, "Mitigate now") == ["a"]
    setext = "Mitigate\n========\n\n1. a\n"
    assert _texts(setext) == ["a"]


def test_the_first_heading_of_that_name_counts() -> None:
    markdown = "## Mitigate\n1. first\n## Mitigate\n1. second\n"
    assert _texts(markdown) == ["first"]


def test_the_section_stops_at_the_next_heading_of_the_same_or_a_higher_level() -> None:
    empty = "the section 'Mitigate' has no numbered list and no '- [ ]' items"
    same = "## Mitigate\nNothing yet.\n## Recover\n1. not a mitigation step\n"
    with pytest.raises(RunbookStepsError, match=re.escape(empty)):
        parse_steps(same, "Mitigate")
    higher = "### Mitigate\nNothing yet.\n# Appendix\n1. not a mitigation step\n"
    with pytest.raises(RunbookStepsError, match=re.escape(empty)):
        parse_steps(higher, "Mitigate")


def test_a_subheading_belongs_to_the_section_so_its_list_counts() -> None:
    markdown = (
        "## Mitigate\n"
        "### Access\n"
        "1. Use break-glass users.\n"
        "2. Use the regional endpoint.\n"
        "### Data\n"
        "1. Promote the replica.\n"
        "## Recover\n"
        "1. Fail back.\n"
    )
    # The section's first top-level numbered list is the one under "Access": later lists of
    # the section, under other subheadings, are not part of the checklist.
    assert parse_steps(markdown, "Mitigate") == [
        RunbookStep(1, "Use break-glass users.", 3),
        RunbookStep(2, "Use the regional endpoint.", 4),
    ]


def test_only_the_first_numbered_list_of_the_section_counts() -> None:
    markdown = "## Mitigate\n1. one\n2. two\n\nThen, if that fails:\n\n1. three\n"
    assert _texts(markdown) == ["one", "two"]


def test_nested_lists_are_not_steps() -> None:
    markdown = (
        "## Mitigate\n"
        "1. Sign in:\n"
        "   - through the regional endpoint\n"
        "   1. or break-glass\n"
        "2. Fail over.\n"
        "   - [ ] check the replica\n"
    )
    assert parse_steps(markdown, "Mitigate") == [
        RunbookStep(1, "Sign in:", 2),
        RunbookStep(2, "Fail over.", 5),
    ]


def test_multi_line_items_are_joined_on_one_line() -> None:
    markdown = (
        "## Mitigate\n"
        "1. Promote data in the secondary Region.\n"
        "   Aurora: failover-global-cluster\n"
        "lazy continuation\n"
        "\n"
        "2.   Move   traffic.\n"
    )
    assert parse_steps(markdown, "Mitigate") == [
        RunbookStep(
            1,
            "Promote data in the secondary Region. Aurora: failover-global-cluster lazy "
            "continuation",
            2,
        ),
        RunbookStep(2, "Move traffic.", 6),
    ]


def test_the_steps_are_numbered_from_one_whatever_the_list_starts_at() -> None:
    assert parse_steps("## Mitigate\n5. five\n6. six\n", "Mitigate") == [
        RunbookStep(1, "five", 2),
        RunbookStep(2, "six", 3),
    ]


def test_task_items_when_there_is_no_numbered_list() -> None:
    markdown = (
        "## Mitigate\n"
        "- [ ] Declare an incident.\n"
        "- [x] Fail over.\n"
        "  - [ ] nested, not a step\n"
        "- a plain bullet is not a step\n"
        "- [X] Tell the customers.\n"
        "\n"
        "Some text.\n"
        "\n"
        "* [ ] A second list's task.\n"
    )
    assert parse_steps(markdown, "Mitigate") == [
        RunbookStep(1, "Declare an incident.", 2),
        RunbookStep(2, "Fail over.", 3),
        RunbookStep(3, "Tell the customers.", 6),
        RunbookStep(4, "A second list's task.", 10),
    ]


def test_a_numbered_list_wins_over_task_items() -> None:
    markdown = "## Mitigate\n- [ ] a task\n\n1. a step\n"
    assert _texts(markdown) == ["a step"]


def test_a_list_in_a_code_block_is_not_a_step() -> None:
    markdown = (
        "## Mitigate\n"
        "```\n"
        "1. in a fenced block\n"
        "- [ ] in a fenced block\n"
        "```\n"
        "\n"
        "    1. in an indented block\n"
        "\n"
        "1. the real step\n"
    )
    assert parse_steps(markdown, "Mitigate") == [RunbookStep(1, "the real step", 9)]


def test_a_missing_heading_lists_the_headings_there_are() -> None:
    markdown = "# Runbook\n## Detect\n1. a\n##  Recover   now\n"
    with pytest.raises(RunbookStepsError) as caught:
        parse_steps(markdown, "Mitigate")
    assert str(caught.value) == (
        "no heading 'Mitigate' (headings: 'Runbook', 'Detect', 'Recover now')"
    )


def test_a_runbook_without_headings() -> None:
    with pytest.raises(RunbookStepsError) as caught:
        parse_steps("1. a\n", "Mitigate")
    assert str(caught.value) == "no heading 'Mitigate' (headings: none)"


def test_a_section_without_steps() -> None:
    markdown = (
        "## Mitigate\nCall someone.\n\n- a plain bullet\n```\n1. code\n```\n## Recover\n1. a\n"
    )
    with pytest.raises(RunbookStepsError) as caught:
        parse_steps(markdown, "Mitigate")
    assert str(caught.value) == ("the section 'Mitigate' has no numbered list and no '- [ ]' items")


def test_load_steps_reads_the_default_heading(tmp_path: Path) -> None:
    runbook = tmp_path / "runbook.md"
    runbook.write_text("## Detect\n1. look\n## Mitigate\n1. act\n", encoding="utf-8")
    assert load_steps(runbook, None) == [RunbookStep(1, "act", 4)]
    assert load_steps(runbook, "detect") == [RunbookStep(1, "look", 2)]


def test_load_steps_turns_an_unreadable_file_into_the_same_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.md"
    with pytest.raises(RunbookStepsError) as caught:
        load_steps(missing, None)
    assert str(caught.value) == (
        f"cannot read {missing}: [Errno 2] No such file or directory: '{missing}'"
    )
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes(b"## Mitigate\n1. caf\xe9\n")
    with pytest.raises(RunbookStepsError) as caught:
        load_steps(latin1, None)
    assert str(caught.value) == (
        f"cannot read {latin1}: 'utf-8' codec can't decode byte 0xe9 in position 18: "
        "invalid continuation byte"
    )


def test_there_are_shipped_runbooks() -> None:
    assert len(RUNBOOKS) >= 5


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.name)
def test_every_shipped_runbook_has_a_mitigate_checklist(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    heading = lines.index("## Mitigate")
    first = next(
        n for n, line in enumerate(lines[heading:], heading + 1) if re.match(r"1\. ", line)
    )
    steps = load_steps(path, None)
    assert len(steps) >= 5
    assert [s.number for s in steps] == list(range(1, len(steps) + 1))
    assert steps[0].line == first
    assert steps[0].text.startswith(lines[first - 1].removeprefix("1. ").strip())
    assert all(s.text and "\n" not in s.text for s in steps)
    assert [s.line for s in steps] == sorted(s.line for s in steps)


def _scenario_with_runbook(tmp_path: Path, runbook: str, heading: str) -> Path:
    (tmp_path / "runbook.md").write_text(runbook, encoding="utf-8")
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        f"metadata: {{name: drill, runbook: runbook.md, runbook_steps: {heading}}}\n"
        "faults: [{kind: identity-loss, mode: unavailable, duration: 5s}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health'}]\n"
        "objectives: [{kind: human_ttm, target: 5m}]\n",
        encoding="utf-8",
    )
    return path


def test_a_scenario_naming_a_section_with_steps_validates(tmp_path: Path) -> None:
    path = _scenario_with_runbook(tmp_path, "# R\n## Recover\n- [ ] Fail back.\n", "recover")
    assert load_scenario(path).scenario.metadata.runbook_steps == "recover"


def test_a_scenario_naming_a_section_without_steps_is_invalid(tmp_path: Path) -> None:
    path = _scenario_with_runbook(tmp_path, "# R\n## Recover\nWait.\n", "Recover")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:2:61: metadata.runbook_steps: runbook 'runbook.md': the section 'Recover' "
        "has no numbered list and no '- [ ]' items"
    ]
