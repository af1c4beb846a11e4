"""One FIS experiment from creation to cleanup, and the kill switch for all of gameday's.

>>> with FisExperiment(plan.template, clients.fis()) as experiment:
...     experiment.start()
...     while not experiment.poll().status.finished:   # the engine calls poll every second
...         ...
# stopped here if still running (guardrail, Ctrl-C, SIGTERM, any error); template deleted

Every call blocks (boto3); the engine runs them in a thread. The experiment is stopped on
every way out of the ``with`` block while it has not finished, and the template this object
created, and no other, is deleted. A cleanup that fails is never silent: it raises when
nothing else is being raised, and is attached to the exception in flight (``add_note``)
otherwise; either way it is in ``record.problems``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import AbortedError, EnvironmentFailure, GameDayError
from gameday.fis.clients import AwsClients
from gameday.fis.spec import MANAGED_BY_TAG, RUN_ID_TAG, ExperimentTemplate
from gameday.fis.validate import validate_request

if TYPE_CHECKING:
    from mypy_boto3_fis import FISClient


class ExperimentStatus(StrEnum):
    """FIS experiment states (ExperimentStatus in the FIS API)."""

    PENDING = "pending"
    INITIATING = "initiating"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """The experiment will not change any more."""
        return self in _FINISHED


_FINISHED = frozenset(
    {
        ExperimentStatus.COMPLETED,
        ExperimentStatus.STOPPED,
        ExperimentStatus.FAILED,
        ExperimentStatus.CANCELLED,
    }
)
_RUNNING = ("pending", "initiating", "running")


@dataclass(frozen=True, slots=True)
class ActionState:
    """One action of a running experiment."""

    name: str
    status: str
    reason: str
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class ExperimentSnapshot:
    """The experiment as one ``get_experiment`` saw it."""

    experiment_id: str
    status: ExperimentStatus
    reason: str
    actions: tuple[ActionState, ...]


@dataclass
class ExperimentRecord:
    """What the result keeps of the experiment: ids, the final state and why it ended."""

    template_id: str | None = None
    experiment_id: str | None = None
    status: ExperimentStatus | None = None
    reason: str = ""
    stopped_by_gameday: str | None = None
    template_deleted: bool = False
    actions: tuple[ActionState, ...] = ()
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The record as JSON-ready data for the result file."""
        return {
            "template_id": self.template_id,
            "experiment_id": self.experiment_id,
            "state": self.status.value if self.status else None,
            "reason": self.reason,
            "stopped_by_gameday": self.stopped_by_gameday,
            "template_deleted": self.template_deleted,
            "actions": [
                {
                    "name": a.name,
                    "state": a.status,
                    "reason": a.reason,
                    "started_at": a.started_at.isoformat() if a.started_at else None,
                    "ended_at": a.ended_at.isoformat() if a.ended_at else None,
                }
                for a in self.actions
            ],
            "problems": list(self.problems),
        }


def _snapshot(experiment: Any) -> ExperimentSnapshot:
    state = experiment.get("state", {})
    actions = tuple(
        ActionState(
            name,
            str(action.get("state", {}).get("status", "pending")),
            str(action.get("state", {}).get("reason", "")),
            _time(action.get("startTime")),
            _time(action.get("endTime")),
        )
        for name, action in sorted(experiment.get("actions", {}).items())
    )
    return ExperimentSnapshot(
        experiment_id=str(experiment["id"]),
        status=ExperimentStatus(state.get("status", "pending")),
        reason=str(state.get("reason", "")),
        actions=actions,
    )


def _time(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


def stop_reason(error: BaseException | None) -> str:
    """Why gameday stops an experiment, from the way the drill is leaving."""
    if error is None:
        return "the drill ended before the experiment did"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(error, AbortedError):
        return f"aborted: {error.message}"
    if isinstance(error, SystemExit):
        return "the runner is exiting"
    return f"error: {type(error).__name__}: {error}"


class FisExperiment:
    """Creates the template on enter, starts and follows the experiment, cleans up on exit."""

    def __init__(
        self,
        template: ExperimentTemplate,
        fis: FISClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 1.0,
        stop_timeout_s: float = 300.0,
    ) -> None:
        self.template = template
        self.fis = fis
        self.sleep = sleep
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.stop_timeout_s = stop_timeout_s
        self.record = ExperimentRecord()
        self.last: ExperimentSnapshot | None = None

    def __enter__(self) -> Self:
        request = self.template.to_request()
        validate_request(request)
        try:
            created = self.fis.create_experiment_template(**request)
        except (BotoCoreError, ClientError) as error:
            raise EnvironmentFailure(f"could not create the FIS template: {error}") from None
        self.record.template_id = created["experimentTemplate"]["id"]
        return self

    def _seen(self, experiment: Any) -> ExperimentSnapshot:
        self.last = _snapshot(experiment)
        self.record.experiment_id = self.last.experiment_id
        self.record.status = self.last.status
        self.record.reason = self.last.reason
        self.record.actions = self.last.actions
        return self.last

    def start(self) -> ExperimentSnapshot:
        """Start the experiment from the template, tagged like it."""
        if self.record.template_id is None:
            raise RuntimeError("FisExperiment.start() outside its 'with' block")
        try:
            started = self.fis.start_experiment(
                clientToken=f"{self.template.client_token}-start"[:64],
                experimentTemplateId=self.record.template_id,
                tags=dict(self.template.tags),
            )
        except (BotoCoreError, ClientError) as error:
            raise EnvironmentFailure(f"could not start the FIS experiment: {error}") from None
        return self._seen(started["experiment"])

    def poll(self) -> ExperimentSnapshot:
        """Read the experiment's state once (the engine calls this every second)."""
        if self.record.experiment_id is None:
            raise RuntimeError("FisExperiment.poll() before start()")
        return self._seen(self.fis.get_experiment(id=self.record.experiment_id)["experiment"])

    @property
    def finished(self) -> bool:
        """The experiment was started and has finished."""
        return self.last is not None and self.last.status.finished

    def stop(self, reason: str) -> ExperimentSnapshot | None:
        """Stop the experiment unless it has finished, and wait until it has stopped.

        Returns the last snapshot; None when the experiment was never started.
        """
        if self.last is None or self.last.status.finished:
            return self.last
        # Read it again first: it may have finished since the last poll, and FIS has nothing
        # to stop then.
        if self.poll().status.finished:
            return self.last
        self.record.stopped_by_gameday = reason
        self._seen(self.fis.stop_experiment(id=self.last.experiment_id)["experiment"])
        deadline = self.clock() + self.stop_timeout_s
        while not self.finished:
            if self.clock() >= deadline:
                raise EnvironmentFailure(
                    f"FIS experiment {self.last.experiment_id} is still "
                    f"{self.last.status.value} {self.stop_timeout_s:g}s after it was stopped",
                    hint=f"check it: aws fis get-experiment --id {self.last.experiment_id}",
                )
            self.sleep(self.poll_interval_s)
            self.poll()
        return self.last

    def _delete_template(self) -> None:
        if self.record.template_id is None or self.record.template_deleted:
            return
        self.fis.delete_experiment_template(id=self.record.template_id)
        self.record.template_deleted = True

    def _cleanup(self, error: BaseException | None) -> list[str]:
        problems = []
        if self.last is not None and not self.finished:
            try:
                self.stop(stop_reason(error))
            except (BotoCoreError, ClientError, GameDayError) as failure:
                problems.append(
                    f"could not stop FIS experiment {self.last.experiment_id}: {failure}"
                )
        try:
            self._delete_template()
        except (BotoCoreError, ClientError) as failure:
            problems.append(f"could not delete FIS template {self.record.template_id}: {failure}")
        return problems

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        problems = self._cleanup(exc)
        self.record.problems += problems
        if not problems:
            return
        if exc is None:
            raise EnvironmentFailure(
                "\n".join(problems),
                hint=f"gameday abort --env aws (region {self.fis.meta.region_name})",
            )
        for problem in problems:
            exc.add_note(f"FIS cleanup failed: {problem}")


def abort_experiments(region: str, clients: AwsClients | None = None) -> list[str]:
    """Stop every pending or running experiment tagged ``managed-by: gameday`` in ``region``.

    Returns the ids of the experiments it stopped (``gameday abort --env aws``).
    """
    fis = (clients or AwsClients(region)).fis()
    stopped: list[str] = []
    for page in fis.get_paginator("list_experiments").paginate():
        for experiment in page.get("experiments", []):
            tags = experiment.get("tags", {})
            status = experiment.get("state", {}).get("status")
            if tags.get(MANAGED_BY_TAG[0]) != MANAGED_BY_TAG[1] or status not in _RUNNING:
                continue
            fis.stop_experiment(id=experiment["id"])
            stopped.append(experiment["id"])
    return stopped


def experiments_of_run(fis: FISClient, run_id: str) -> list[str]:
    """Ids of the experiments a run started (tagged with its run id), for the result."""
    return [
        experiment["id"]
        for page in fis.get_paginator("list_experiments").paginate()
        for experiment in page.get("experiments", [])
        if experiment.get("tags", {}).get(RUN_ID_TAG) == run_id
    ]
