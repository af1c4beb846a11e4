"""JUnit XML for CI systems: a ``testsuite`` per run, a ``testcase`` per objective.

The layout is the strictest common one, the Apache Ant schema that Jenkins, GitLab, Azure
DevOps and most JUnit consumers accept (Windy Road's ``JUnit.xsd``; the tests validate against
a vendored copy): ``testsuites`` without attributes; each ``testsuite`` with ``package``,
``id``, ``name``, ``timestamp`` (no time zone), ``hostname``, ``tests``, ``failures``,
``errors``, ``time`` and, in this order, ``properties``, ``testcase``\\*, ``system-out``,
``system-err``.

Choices, documented in docs/reports.md:

- a missed objective is a ``failure`` whose message reads like ``rto 42.1s > target 30.0s
  (not recovered during fault)``; its text is the objective's detail; an objective an abort
  left undecided is an ``error`` reading ``rto not measured (aborted) (target 30.0s)``:
  nothing was measured, so nothing failed;
- besides a testcase per objective, a run that did not end cleanly adds one testcase named
  ``run``, so that CI fails the job even when no objective could be listed (a ``not-steady``
  run has none): an aborted run, a run that could not start (``error``, ``not-steady``) or
  tested nothing (``inconclusive``) gets an ``error`` carrying the reason and the caps; a run
  that failed with every objective met (its steady state after the drill failed) gets a
  ``failure``. Objectives graded before an abort, or measured in an inconclusive run, are
  still listed;
- the scoring rules the run was graded with are ``scoring_rule.NN`` properties and close
  ``system-out``; each objective's ``weight.<name>`` and ``critical.<name>``, and the
  ``grade_threshold.<letter>`` and ``critical_cap`` of today's rules, are properties too
  (DESIGN.md "Score": weights, caps and thresholds are printed with every report);
- ``hostname`` is the environment the faults landed in (``embedded``, ``localstack``,
  ``aws``): the result does not record the runner's host, and the host rendering a report is
  not the one that ran it;
- a testcase's ``time`` is the measured seconds of a time objective (RTO, RPO, TTD, latency,
  human TTD/TTM), so CI duration charts plot them drill after drill; other objectives take 0;
- a failed rollback adds a testcase named ``rollback``, first in its suite, with a
  ``failure`` whose message begins ``ROLLBACK FAILED: a fault may still be in force`` and
  holds every problem (each names the fault and the command that removes it); the ``rollback``
  property reads ``complete`` or ``failed``;
- each fault rule adds a ``matched_calls.<rule id>`` property: the calls it matched while in
  force, ``not counted`` (FIS), or ``-`` (never injected);
- a human objective (``human_ttd``, ``human_ttm``) is a testcase like any other: nobody's
  mark is a ``failure`` reading ``human_ttd not detected (target 60.0s)``; a facilitated run
  adds the ``facilitator``, ``marks`` and ``checklist`` properties, and its ``system-out``
  (the terminal summary) lists the marks and the runbook checklist.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime

from gameday.grading import SCORING_RULES, is_cut_short
from gameday.kinds import TIME_OBJECTIVES, ObjectiveKind, RunStatus
from gameday.reports.app_calls import destructive_lines
from gameday.reports.fault_calls import matched_cell
from gameday.reports.people import ticked_count
from gameday.reports.rollback import ROLLBACK_COMPLETE, ROLLBACK_FAILED, rollback_problems
from gameday.reports.suite import RUN_FAILED, duration_s, miss_message, rules_of
from gameday.reports.terminal import render_result
from gameday.result import ObjectiveResult, RunResult

# XML 1.0 allows only these characters (https://www.w3.org/TR/xml/#charsets); a probe's detail
# may carry terminal escapes (ESC) or NUL, which would make the whole file unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _timestamp(iso: str) -> str:
    """The schema's timestamp: UTC, seconds, no zone ('2026-11-22T07:45:01')."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        moment = datetime(1970, 1, 1, tzinfo=UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _classname(result: RunResult) -> str:
    return _x(f"gameday.{result.scenario.name}")


def _objective_case(result: RunResult, objective: ObjectiveResult) -> ET.Element:
    timed = objective.kind in TIME_OBJECTIVES and objective.measured is not None
    case = ET.Element(
        "testcase",
        name=_x(objective.name.strip() or objective.kind.value),
        classname=_classname(result),
        time=_seconds(objective.measured or 0.0) if timed else _seconds(0.0),
    )
    if not objective.met:
        # Not measured is no failed assertion: the test could not run to its end.
        element = "error" if is_cut_short(objective) else "failure"
        failure = ET.SubElement(
            case, element, message=_x(miss_message(objective)), type=objective.kind.value
        )
        failure.text = _x(objective.detail)
        if objective.kind is ObjectiveKind.DESTRUCTIVE_CALLS:
            failure.text += "".join(f"\n{_x(line)}" for line in destructive_lines(result))
    return case


def _run_case(result: RunResult, element: str) -> ET.Element:
    """The ``run`` testcase: an ``error`` for a run that did not complete, a ``failure`` for
    one that failed with every objective met (the steady state after the drill failed)."""
    case = ET.Element("testcase", name="run", classname=_classname(result), time="0.000")
    reason = result.reason or "; ".join(result.caps) or result.status.value
    outcome = ET.SubElement(
        case, element, message=_x(f"{result.status.value}: {reason}"), type=result.status.value
    )
    outcome.text = _x("\n".join([reason, *result.caps]))
    return case


def _rollback_case(result: RunResult) -> ET.Element | None:
    """The ``rollback`` testcase of a run whose rollback failed; None when it was complete."""
    problems = rollback_problems(result)
    if not problems:
        return None
    case = ET.Element("testcase", name="rollback", classname=_classname(result), time="0.000")
    message = f"{ROLLBACK_FAILED}: {'; '.join(problems)}"
    failure = ET.SubElement(case, "failure", message=_x(message), type="rollback")
    failure.text = _x("\n".join(problems))
    return case


def _properties(result: RunResult) -> ET.Element:
    properties = ET.Element("properties")
    values = {
        "run_id": result.run_id,
        "environment": result.environment,
        "status": result.status.value,
        "rollback": ROLLBACK_COMPLETE if result.rollback.complete else "failed",
        "score": "" if result.score is None else f"{result.score:.6g}",
        "grade": result.grade.value if result.grade else "",
        "started_at": result.started_at,
        "ended_at": result.ended_at,
        "scenario_file": result.scenario.file,
        "owner": result.scenario.owner,
        "runbook": result.scenario.runbook or "",
    }
    for fault in result.faults:
        values[f"matched_calls.{fault.id}"] = matched_cell(fault)
    values.update(_scoring_properties(result))
    if result.facilitation is not None:
        values["facilitator"] = result.facilitation.facilitator
        values["marks"] = str(len(result.marks))
        values["checklist"] = ticked_count(result.facilitation)
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_x(value))
    return properties


def _scoring_properties(result: RunResult) -> dict[str, str]:
    """Weights, caps and thresholds beside the score, and the rules it was graded with."""
    values = {}
    for objective in result.objectives:
        values[f"weight.{objective.name}"] = f"{objective.weight:g}"
        values[f"critical.{objective.name}"] = "true" if objective.critical else "false"
    for grade, minimum in SCORING_RULES.grade_thresholds:
        values[f"grade_threshold.{grade.value}"] = f"{minimum:g}"
    values["critical_cap"] = SCORING_RULES.critical_cap.value
    for number, rule in enumerate(rules_of(result), start=1):
        values[f"scoring_rule.{number:02d}"] = rule
    return values


def _system_out(result: RunResult) -> str:
    rules = "\n".join(f"  {rule}" for rule in rules_of(result))
    return f"{render_result(result).rstrip()}\n\nscoring rules:\n{rules}\n"


def _suite(result: RunResult, index: int) -> ET.Element:
    cases = [_objective_case(result, o) for o in result.objectives]
    unmeasured = sum(1 for o in result.objectives if is_cut_short(o))
    missed = sum(1 for o in result.objectives if not o.met) - unmeasured
    errors = unmeasured
    if result.status in RUN_FAILED:
        cases.append(_run_case(result, "error"))
        errors += 1
    elif result.status is RunStatus.FAILED and not missed:
        cases.append(_run_case(result, "failure"))
        missed += 1
    rollback = _rollback_case(result)
    if rollback is not None:
        cases.insert(0, rollback)
        missed += 1
    name = _x(result.scenario.name.strip() or result.run_id)
    suite = ET.Element(
        "testsuite",
        name=name,
        package=name,
        id=str(index),
        timestamp=_timestamp(result.started_at),
        hostname=_x(result.environment.strip() or "localhost"),
        tests=str(len(cases)),
        failures=str(missed),
        errors=str(errors),
        time=_seconds(duration_s(result)),
    )
    suite.append(_properties(result))
    suite.extend(cases)
    ET.SubElement(suite, "system-out").text = _x(_system_out(result))
    ET.SubElement(suite, "system-err").text = ""
    return suite


def render_junit(results: Sequence[RunResult]) -> str:
    """JUnit XML for the runs, one ``testsuite`` each, in the order given."""
    root = ET.Element("testsuites")
    root.extend(_suite(result, index) for index, result in enumerate(results))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
