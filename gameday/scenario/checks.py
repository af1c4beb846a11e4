"""Rules that need the whole scenario: names, references, windows, blast-radius limits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import ScenarioError
from gameday.faults.catalog import services_for
from gameday.kinds import ObjectiveKind
from gameday.scenario.durations import too_many_samples
from gameday.scenario.locate import Loc
from gameday.scenario.models import (
    AbortWhen,
    DestructiveCallsObjective,
    HumanObjective,
    ProbeKind,
    Scenario,
)
from gameday.scenario.role_policy import read_role_policy
from gameday.scenario.runbook import RunbookStepsError, load_steps
from gameday.scenario.service_names import name_problems


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario, at a field path the loader turns into file:line:col."""

    loc: Loc
    message: str


def cross_check(scenario: Scenario, base_dir: Path) -> list[Problem]:
    """Every cross-field problem of ``scenario``; an empty list when it is consistent."""
    return [
        *_duplicate_names(scenario),
        *_probe_references(scenario),
        *_one_alert_probe(scenario),
        *_fault_windows(scenario),
        *_blast_radius(scenario),
        *_samples_bounded(scenario),
        *_names_exist(scenario),
        *_runbook_exists(scenario, base_dir),
        *_role_policy_valid(scenario, base_dir),
    ]


def _duplicates(names: list[str], section: str) -> list[Problem]:
    counts = Counter(names)
    return [
        Problem((section, i, "name"), f"duplicate name {name!r} in {section}")
        for i, name in enumerate(names)
        if counts[name] > 1 and names.index(name) != i
    ]


def _duplicate_names(scenario: Scenario) -> list[Problem]:
    return [
        *_duplicates(scenario.fault_names(), "faults"),
        *_duplicates([p.name for p in scenario.probes], "probes"),
        *_duplicates(scenario.objective_names(), "objectives"),
    ]


def _probe_references(scenario: Scenario) -> list[Problem]:
    kinds = {p.name: p.kind for p in scenario.probes}
    known = ", ".join(sorted(kinds))
    problems: list[Problem] = []
    for i, objective in enumerate(scenario.objectives):
        if isinstance(objective, HumanObjective | DestructiveCallsObjective):
            continue
        kind = kinds.get(objective.probe)
        if kind is None:
            problems.append(
                Problem(
                    ("objectives", i, "probe"),
                    f"unknown probe {objective.probe!r}; probes are: {known}",
                )
            )
        elif objective.kind is ObjectiveKind.RPO and kind is not ProbeKind.DATA:
            problems.append(
                Problem(
                    ("objectives", i, "probe"),
                    f"an rpo objective needs a data probe; {objective.probe!r} is {kind.value!r}",
                )
            )
        elif objective.kind is ObjectiveKind.TTD and kind is not ProbeKind.ALERT:
            problems.append(
                Problem(
                    ("objectives", i, "probe"),
                    f"a ttd objective needs an alert probe; {objective.probe!r} is {kind.value!r}",
                )
            )
    for i, guard in enumerate(scenario.guardrails.abort_when):
        if isinstance(guard, AbortWhen) and guard.probe not in kinds:
            problems.append(
                Problem(
                    ("guardrails", "abort_when", i, "probe"),
                    f"unknown probe {guard.probe!r}; probes are: {known}",
                )
            )
    return problems


def _one_alert_probe(scenario: Scenario) -> list[Problem]:
    alerts = [i for i, p in enumerate(scenario.probes) if p.kind is ProbeKind.ALERT]
    return [
        Problem(
            ("probes", i, "kind"),
            "only one alert probe per scenario: the app is given one alert URL "
            "(GAMEDAY_ALERT_URL); give several ttd objectives the same probe instead",
        )
        for i in alerts[1:]
    ]


def _fault_windows(scenario: Scenario) -> list[Problem]:
    limit = scenario.observe.max
    return [
        Problem(
            ("faults", i, "duration"),
            f"the fault ends at {fault.end_s:g}s, after observe.max ({limit:g}s); "
            "raise observe.max or shorten the fault",
        )
        for i, fault in enumerate(scenario.faults)
        if fault.end_s > limit
    ]


def _blast_radius(scenario: Scenario) -> list[Problem]:
    rails = scenario.guardrails
    problems: list[Problem] = []
    if scenario.observe.max > rails.max_duration:
        problems.append(
            Problem(
                ("observe", "max"),
                f"observe.max ({scenario.observe.max:g}s) is beyond guardrails.max_duration "
                f"({rails.max_duration:g}s)",
            )
        )
    for i, fault in enumerate(scenario.faults):
        if fault.peak_probability > rails.max_probability:
            field = "ramp" if fault.ramp else "probability"
            problems.append(
                Problem(
                    ("faults", i, field),
                    f"probability {fault.peak_probability:g} is above "
                    f"guardrails.max_probability ({rails.max_probability:g})",
                )
            )
    return problems


def _samples_bounded(scenario: Scenario) -> list[Problem]:
    limit = scenario.guardrails.max_duration
    return [
        Problem(("probes", i, "interval"), message)
        for i, probe in enumerate(scenario.probes)
        if probe.kind is not ProbeKind.ALERT  # a webhook sink: it takes no samples
        and (message := too_many_samples(probe.interval, limit)) is not None
    ]


def _names_exist(scenario: Scenario) -> list[Problem]:
    """Services and operations no request can be classified as (``dynamo``, ``PutItemz``):
    the gateway would refuse them only when the drill injects, after the app is up."""
    problems: list[Problem] = []
    for i, fault in enumerate(scenario.faults):
        services = services_for(fault)
        if not services:  # region-loss (every service) and fis-action name none
            continue
        problems += [
            Problem(("faults", i, found.field, found.index), found.message)
            for found in name_problems(services, fault.operations)
        ]
    return problems


def _runbook_exists(scenario: Scenario, base_dir: Path) -> list[Problem]:
    runbook, heading = scenario.metadata.runbook, scenario.metadata.runbook_steps
    if runbook is None:
        if heading is None:
            return []
        return [
            Problem(
                ("metadata", "runbook_steps"),
                "runbook_steps names a heading of the runbook, but there is no metadata.runbook",
            )
        ]
    if not (base_dir / runbook).is_file():
        return [Problem(("metadata", "runbook"), f"runbook {runbook!r} does not exist")]
    if heading is None:
        # The default heading is looked up when a facilitated run starts: validating every
        # runbook here would make `validate` parse Markdown for drills nobody facilitates.
        return []
    try:
        load_steps(base_dir / runbook, heading)
    except RunbookStepsError as error:
        return [Problem(("metadata", "runbook_steps"), f"runbook {runbook!r}: {error}")]
    return []


def _role_policy_valid(scenario: Scenario, base_dir: Path) -> list[Problem]:
    """The app's role policy exists and is a policy document ``gameday report --format iam``
    can compare with (gameday.scenario.role_policy says what it supports)."""
    named = scenario.target.role_policy
    if named is None:
        return []
    path = base_dir / named
    if not path.is_file():
        return [Problem(("target", "role_policy"), f"role policy {named!r} does not exist")]
    try:
        read_role_policy(path)
    except ScenarioError as error:
        return [Problem(("target", "role_policy"), problem) for problem in error.problems]
    return []
