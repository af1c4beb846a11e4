"""The facilitator's checklist, read from the runbook a scenario links (``metadata.runbook``).

Runbooks stay plain Markdown documents: the steps are the numbered list, or the ``- [ ]``
items, of the section under a heading the scenario names (``metadata.runbook_steps``,
default "Mitigate"). markdown-it-py (CommonMark, already under rich) does the parsing, so a
list inside a code block, a nested list or a lazy continuation line means what it means in
any Markdown viewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from markdown_it.token import Token

DEFAULT_STEPS_HEADING = "Mitigate"

_TASK = re.compile(r"^\[[ xX]\]\s+")


@dataclass(frozen=True, slots=True)
class RunbookStep:
    """One step of the checklist: its number (1-based), its text, its line in the runbook."""

    number: int
    text: str
    line: int


class RunbookStepsError(ValueError):
    """The runbook has no such heading, or no steps under it; the message says which."""


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_steps(markdown: str, heading: str) -> list[RunbookStep]:
    """The steps under ``heading`` (matched case-insensitively, whatever its level): the
    items of the section's first top-level numbered list or, when it has none, its top-level
    ``- [ ]`` / ``- [x]`` items. Raises RunbookStepsError naming the headings there are."""
    # markdown-it takes ~25 ms to import; validate parses only runbooks with runbook_steps.
    from markdown_it import MarkdownIt  # noqa: PLC0415

    tokens = MarkdownIt("commonmark").parse(markdown)
    wanted = _clean(heading).casefold()
    headings: list[str] = []
    start = None
    level = 0
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        title = _clean(tokens[i + 1].content)
        headings.append(title)
        if start is None and title.casefold() == wanted:
            start, level = i + 3, int(token.tag[1:])
    if start is None:
        known = ", ".join(repr(h) for h in headings) or "none"
        raise RunbookStepsError(f"no heading {heading!r} (headings: {known})")
    end = next(
        (
            j
            for j in range(start, len(tokens))
            if tokens[j].type == "heading_open" and int(tokens[j].tag[1:]) <= level
        ),
        len(tokens),
    )
    section = tokens[start:end]
    numbered = _items(section, "ordered_list_open", "ordered_list_close", first_only=True)
    if numbered:
        return [RunbookStep(n, text, line) for n, (text, line) in enumerate(numbered, 1)]
    tasks = [
        (_TASK.sub("", text), line)
        for text, line in _items(section, "bullet_list_open", "bullet_list_close")
        if _TASK.match(text)
    ]
    if tasks:
        return [RunbookStep(n, text, line) for n, (text, line) in enumerate(tasks, 1)]
    raise RunbookStepsError(f"the section {heading!r} has no numbered list and no '- [ ]' items")


def _items(
    tokens: Sequence[Token], opening: str, closing: str, *, first_only: bool = False
) -> list[tuple[str, int]]:
    """(text, 1-based line) of each top-level item of the top-level lists of ``opening``."""
    found: list[tuple[str, int]] = []
    depth = 0
    inside = False
    for i, token in enumerate(tokens):
        if token.type.endswith("_list_open"):
            depth += 1
            if depth == 1 and token.type == opening:
                inside = True
        elif token.type.endswith("_list_close"):
            depth -= 1
            if depth == 0 and inside and token.type == closing:
                inside = False
                if first_only and found:
                    return found
        elif inside and depth == 1 and token.type == "list_item_open":
            line = (token.map[0] + 1) if token.map else 0
            text = next(
                (
                    _clean(t.content)
                    for t in tokens[i + 1 :]
                    if t.type in {"inline", "list_item_close"}
                ),
                "",
            )
            found.append((text, line))
    return found


def load_steps(runbook: Path, heading: str | None) -> list[RunbookStep]:
    """The checklist of ``runbook`` (``heading`` None: "Mitigate"). Raises RunbookStepsError
    for an unreadable file too, so that callers handle one error."""
    try:
        text = runbook.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RunbookStepsError(f"cannot read {runbook}: {error}") from None
    return parse_steps(text, heading or DEFAULT_STEPS_HEADING)
