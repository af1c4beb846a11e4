"""The posture report in its three formats, and the file side: ``gameday report --posture``.

``render_posture`` is pure (a ``Posture`` in, text out); ``produce_posture`` also writes the
text to a file atomically when asked. The JSON document is for other tools: times ISO 8601
UTC, durations in seconds, each objective as ``{name, kind, target, measured, met}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from gameday.reports.posture import (
    GroupPosture,
    KindFigures,
    Measured,
    Posture,
    ScenarioPosture,
    describe_posture_rules,
)
from gameday.reports.posture_html import render_posture_html
from gameday.reports.posture_markdown import render_posture_markdown
from gameday.reports.render import write_text_atomic

POSTURE_SCHEMA_VERSION = 1


class PostureFormat(StrEnum):
    """The formats of ``gameday report --posture --format``."""

    HTML = "html"
    MARKDOWN = "md"
    JSON = "json"


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _measured(figure: Measured | None) -> dict[str, object] | None:
    if figure is None:
        return None
    return {
        "run_id": figure.run_id,
        "scenario": figure.scenario,
        "started_at": _iso(figure.started_at),
        "objective": {
            "name": figure.objective.name,
            "kind": figure.objective.kind.value,
            "target": figure.objective.target,
            "measured": figure.objective.measured,
            "met": figure.objective.met,
        },
    }


def _kind(figures: KindFigures) -> dict[str, object]:
    return {
        "count": figures.count,
        "met": figures.met,
        "not_measured": figures.not_measured,
        "mean_s": figures.mean_s,
        "latest": _measured(figures.latest),
        "best": _measured(figures.best),
    }


def _group(group: GroupPosture) -> dict[str, object]:
    return {
        "name": group.name,
        "scenarios": list(group.scenarios),
        "last_drill": _iso(group.last_drill),
        "age_s": None if group.age is None else group.age.total_seconds(),
        "stale": group.stale,
        "drills": group.drills,
        "unscored": group.unscored,
        "score": group.score,
        "posture": group.posture,
        "grade": group.grade.value if group.grade else None,
        "trend": {
            "direction": group.trend.value,
            "delta": group.trend_delta,
            "line": [{"start": _iso(start), "score": score} for start, score in group.line],
        },
        "objectives": {f.kind.value: _kind(f) for f in group.kinds},
    }


def _scenario(scenario: ScenarioPosture) -> dict[str, object]:
    return {
        "name": scenario.name,
        "owner": scenario.owner,
        "capabilities": [c.value for c in scenario.capabilities],
        "last_drill": _iso(scenario.last_drill),
        "age_s": None if scenario.age is None else scenario.age.total_seconds(),
        "stale": scenario.stale,
        "drills": scenario.drills,
        "unscored": scenario.unscored,
        "latest_score": scenario.latest_score,
        "decay": scenario.decay,
        "posture": scenario.posture,
    }


def posture_document(posture: Posture) -> dict[str, object]:
    """The posture as JSON data: ``{"schema_version", "now", "since", ..., "capabilities",
    "owners", "scenarios", "rules"}``."""
    return {
        "schema_version": POSTURE_SCHEMA_VERSION,
        "now": _iso(posture.now),
        "since": _iso(posture.since),
        "stale_after_s": posture.rules.stale_after.total_seconds(),
        "decay_span_s": posture.rules.span.total_seconds(),
        "runs": posture.runs,
        "capabilities": [_group(g) for g in posture.capabilities],
        "owners": [_group(g) for g in posture.owners],
        "scenarios": [_scenario(s) for s in posture.scenarios],
        "rules": describe_posture_rules(posture.rules),
    }


def render_posture(posture: Posture, fmt: PostureFormat) -> str:
    """The posture report in ``fmt``."""
    match fmt:
        case PostureFormat.HTML:
            return render_posture_html(posture)
        case PostureFormat.MARKDOWN:
            return render_posture_markdown(posture)
        case PostureFormat.JSON:
            return json.dumps(posture_document(posture), indent=2) + "\n"


def produce_posture(posture: Posture, fmt: PostureFormat, out: Path | None = None) -> str:
    """``gameday report --posture``: the report's text, also written to ``out`` if given."""
    text = render_posture(posture, fmt)
    if out is not None:
        write_text_atomic(out, text)
    return text
