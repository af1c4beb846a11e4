"""The scheduled scenarios of a folder: read, validated, planned; and what changed on disk.

A file is scheduled when it is a valid scenario with a ``schedule:`` block whose plan passes
the safety checks. Every other problem is kept with its file, so that the scheduler reports
it and goes on with the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gameday.checks import CheckOutcome
from gameday.engine.plan import make_plan
from gameday.errors import InvalidInputError
from gameday.faults.plan import Plan
from gameday.probes.http import unset_header_variables
from gameday.scenario.loader import SCENARIO_SUFFIXES, validate_files
from gameday.scenario.models import Environment, Schedule
from gameday.schedule.models import Blackout
from gameday.schedule.timetable import Timing

Snapshot = dict[Path, tuple[int, int, int]]
"""(mtime_ns, size, inode) of every scenario-like file under a folder."""


@dataclass(frozen=True)
class Scheduled:
    """A scheduled scenario, planned and ready to run."""

    plan: Plan
    schedule: Schedule
    timing: Timing

    @property
    def name(self) -> str:
        """The scenario's name (``metadata.name``)."""
        return self.plan.loaded.scenario.metadata.name

    @property
    def path(self) -> Path:
        """The file it was read from."""
        return self.plan.loaded.path


@dataclass(frozen=True)
class Catalog:
    """What a folder holds: scheduled scenarios, invalid files, valid ones the scheduler
    refuses (each with why), and files without a ``schedule:`` block."""

    scheduled: list[Scheduled] = field(default_factory=list)
    invalid: dict[Path, list[str]] = field(default_factory=dict)
    refused: dict[Path, str] = field(default_factory=dict)
    unscheduled: list[Path] = field(default_factory=list)

    @property
    def problems(self) -> dict[Path, list[str]]:
        """Every file that is not scheduled for a problem: invalid or refused."""
        return {**self.invalid, **{path: [why] for path, why in self.refused.items()}}


def check_folder(directory: Path) -> None:
    """Refuse a folder that does not exist (exit 2)."""
    if not directory.is_dir():
        raise InvalidInputError(
            f"{directory}: no such folder", hint="give the folder of scheduled scenarios"
        )


def snapshot(directory: Path) -> Snapshot:
    """What is on disk now, cheaply: a change of any entry means read the folder again."""
    found: Snapshot = {}
    for root, folders, files in os.walk(directory):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in files:
            if name.startswith(".") or not name.endswith(SCENARIO_SUFFIXES):
                continue
            path = Path(root) / name
            try:
                stat = path.stat()
            except OSError:
                continue  # removed between the listing and the stat: the next poll sees it
            found[path] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return found


def _refusal(plan: Plan) -> str | None:
    path = plan.loaded.path
    if plan.environment is Environment.AWS:
        return (
            f"{path}: target.environment: aws: not scheduled: a drill on a real account "
            "needs an approval, and an unattended scheduler cannot give one"
        )
    unset = unset_header_variables(plan.loaded.scenario, os.environ)
    if unset:
        return f"{path}: not scheduled: {'; '.join(unset)} in the scheduler's environment"
    failed = [check.name for check in plan.checks if check.outcome is CheckOutcome.FAIL]
    if failed:
        return (
            f"{path}: not scheduled: safety checks failed: {', '.join(failed)} "
            f"(see `gameday plan {path}`)"
        )
    return None


def read_catalog(directory: Path, blackouts: Sequence[Blackout] = ()) -> Catalog:
    """Validate and plan every scenario under ``directory``; ``blackouts`` apply to all."""
    check_folder(directory)
    catalog = Catalog()
    try:
        verdicts = validate_files([directory])
    except InvalidInputError:
        return catalog  # no scenario file at all (yet): nothing to schedule
    seen: dict[str, Path] = {}
    for verdict in verdicts:
        if verdict.loaded is None:
            catalog.invalid[verdict.path] = verdict.problems
            continue
        schedule = verdict.loaded.scenario.schedule
        if schedule is None:
            catalog.unscheduled.append(verdict.path)
            continue
        plan = make_plan(verdict.loaded)
        name = verdict.loaded.scenario.metadata.name
        refusal = _refusal(plan)
        if refusal is None and name in seen:
            refusal = (
                f"{verdict.path}: metadata.name: {name!r} is already scheduled from "
                f"{seen[name]}; each scheduled scenario needs its own name"
            )
        if refusal is not None:
            catalog.refused[verdict.path] = refusal
            continue
        seen[name] = verdict.path
        catalog.scheduled.append(Scheduled(plan, schedule, Timing.of(schedule, blackouts)))
    return catalog
