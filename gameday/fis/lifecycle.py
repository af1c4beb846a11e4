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

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from gameday.errors import AbortedError, GameDayError, InjectorError
from gameday.fis.calls import CONFLICT, FIS_BACKOFF, NOT_FOUND, FisCallError, FisCalls
from gameday.fis.clients import AwsClients
from gameday.fis.spec import MANAGED_BY_TAG, RUN_ID_TAG, ExperimentTemplate
from gameday.fis.validate import validate_request
from gameday.retrying import Backoff

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
    failed_calls: list[str] = field(default_factory=list)
    """Every failed attempt of an FIS call, retried or not: the call, the ids, the code."""

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
            "failed_calls": list(self.failed_calls),
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
    """Creates the template on enter, starts and follows the experiment, cleans up on exit.

    Every FIS call goes through ``FisCalls``: transient failures are retried within
    ``backoff``; a call that fails for good raises ``FisCallError`` (an ``InjectorError``)
    naming the call, the ids and the AWS error code.
    """

    def __init__(
        self,
        template: ExperimentTemplate,
        fis: FISClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 1.0,
        stop_timeout_s: float = 300.0,
        backoff: Backoff = FIS_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        self.template = template
        self.fis = fis
        self.sleep = sleep
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.stop_timeout_s = stop_timeout_s
        self.record = ExperimentRecord()
        self.calls = FisCalls(backoff, sleep, clock, rng, self.record.failed_calls)
        self.last: ExperimentSnapshot | None = None
        self._start_unresolved = False
        """A start failed after an attempt that may have taken effect, and no experiment of
        the run was listed then: the cleanup looks again."""

    @property
    def region(self) -> str:
        return str(self.fis.meta.region_name)

    def _about(self) -> str:
        """The ids a failed call was about, for its message."""
        record = self.record
        if record.experiment_id is None:
            return f"template {record.template_id}"
        return f"experiment {record.experiment_id} (template {record.template_id})"

    def __enter__(self) -> Self:
        request = self.template.to_request()
        validate_request(request)
        # The template's clientToken makes a retried create return the same template.
        created = self.calls(
            "CreateExperimentTemplate",
            lambda: self.fis.create_experiment_template(**request),
            about=f"run {self.template.tags.get(RUN_ID_TAG, '?')}",
        )
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
        """Start the experiment from the template, tagged like it.

        The start carries a clientToken, so FIS answers a retried start with the experiment
        the first attempt started. When the start failed after an attempt that may have taken
        effect (a timeout, a broken connection, a 5xx), the run's experiment is looked up by
        its tag, so that it is followed and stopped all the same.
        """
        template_id = self.record.template_id
        if template_id is None:
            raise RuntimeError("FisExperiment.start() outside its 'with' block")
        try:
            started = self.calls(
                "StartExperiment",
                lambda: self.fis.start_experiment(
                    clientToken=f"{self.template.client_token}-start"[:64],
                    experimentTemplateId=template_id,
                    tags=dict(self.template.tags),
                ),
                about=f"template {template_id}",
            )
        except FisCallError as error:
            if not error.ambiguous:
                raise
            self._start_unresolved = True
            try:
                adopted = self._adopt_started()
            except FisCallError as lookup:
                error.add_note(f"the run's experiments could not be listed: {lookup.message}")
                raise error from error.__cause__
            if not adopted:
                raise
            return self.poll()
        return self._seen(started["experiment"])

    def _adopt_started(self) -> bool:
        """After an ambiguous start: take the experiment the run started, if FIS lists one.

        ``FisCallError`` when the experiments cannot be listed."""
        run_id = self.template.tags.get(RUN_ID_TAG)
        if run_id is None or self.record.template_id is None:
            return False
        found = started_experiments(self.fis, run_id, self.record.template_id, self.calls)
        if not found:
            return False
        self._start_unresolved = False
        experiment_id = found[0]
        self.record.experiment_id = experiment_id
        self.last = ExperimentSnapshot(experiment_id, ExperimentStatus.PENDING, "", ())
        self.record.status = ExperimentStatus.PENDING
        return True

    def poll(self) -> ExperimentSnapshot:
        """Read the experiment's state once (the engine calls this every second)."""
        experiment_id = self.record.experiment_id
        if experiment_id is None:
            raise RuntimeError("FisExperiment.poll() before start()")
        answer = self.calls(
            "GetExperiment", lambda: self.fis.get_experiment(id=experiment_id), about=self._about()
        )
        return self._seen(answer["experiment"])

    @property
    def finished(self) -> bool:
        """The experiment was started and has finished."""
        return self.last is not None and self.last.status.finished

    def stop(self, reason: str) -> ExperimentSnapshot | None:
        """Stop the experiment unless it has finished, and wait until it has stopped.

        Does not depend on reading the experiment: when GetExperiment fails, StopExperiment
        is sent all the same. Returns the last snapshot; None when it was never started.
        """
        experiment_id = self.record.experiment_id
        if experiment_id is None or self.finished:
            return self.last
        # Read it again first: it may have finished since the last poll, and FIS has nothing
        # to stop then. A failed read is no reason not to stop it.
        try:
            if self.poll().status.finished:
                return self.last
        except FisCallError:
            pass  # in record.failed_calls; StopExperiment is what matters now
        try:
            stopped = self.calls(
                "StopExperiment",
                lambda: self.fis.stop_experiment(id=experiment_id),
                about=self._about(),
            )
        except FisCallError as error:
            if error.code == NOT_FOUND:
                # FIS no longer knows it (a retried stop after one that took effect and was
                # followed by its deletion, or another tool): nothing of it is in force.
                self.record.reason = f"FIS had no experiment {experiment_id} to stop"
                return self.last
            if error.code != CONFLICT:
                raise
            # FIS refuses to stop an experiment that is already stopping or finishing:
            # follow it to its end below.
        else:
            self._seen(stopped["experiment"])
        self.record.stopped_by_gameday = reason
        self._wait_finished(experiment_id)
        return self.last

    def _wait_finished(self, experiment_id: str) -> None:
        """Poll until the experiment has finished, up to ``stop_timeout_s``; a failed poll is
        tolerated while its failure may pass."""
        deadline = self.clock() + self.stop_timeout_s
        while not self.finished:
            status = self.last.status.value if self.last else "stopping"
            if self.clock() >= deadline:
                raise InjectorError(
                    f"FIS experiment {experiment_id} is still {status} "
                    f"{self.stop_timeout_s:g}s after it was stopped",
                    hint=f"check it: aws fis get-experiment --id {experiment_id} "
                    f"--region {self.region}",
                )
            self.sleep(self.poll_interval_s)
            try:
                self.poll()
            except FisCallError as error:
                if not error.transient:
                    raise  # denied, expired credentials...: more polls would not pass

    def _delete_template(self) -> None:
        template_id = self.record.template_id
        if template_id is None or self.record.template_deleted:
            return
        try:
            self.calls(
                "DeleteExperimentTemplate",
                lambda: self.fis.delete_experiment_template(id=template_id),
                about=f"template {template_id}",
            )
        except FisCallError as error:
            # Not found after an attempt that may have deleted it: that attempt did.
            if not (error.code == NOT_FOUND and error.ambiguous):
                raise
        self.record.template_deleted = True

    def _cleanup(self, error: BaseException | None) -> list[str]:
        """Stop the experiment if it may still run, then delete the template; returns what
        could not be done, each with the command that finishes it."""
        problems = []
        if self._start_unresolved:
            try:
                self._adopt_started()  # FIS may list it by now
            except FisCallError as failure:
                problems.append(
                    f"a start of FIS template {self.record.template_id} may have taken effect, "
                    f"and the run's experiments could not be listed: {failure.message}; "
                    f"stop any: gameday abort --env aws --region {self.region}"
                )
        experiment_id = self.record.experiment_id
        if experiment_id is not None and not self.finished:
            region = self.region
            finish = (
                f"stop it: aws fis stop-experiment --id {experiment_id} --region {region} "
                f"(or gameday abort --env aws --region {region})"
            )
            try:
                self.stop(stop_reason(error))
            except GameDayError as failure:
                if self.record.stopped_by_gameday is None:
                    problems.append(
                        f"could not stop FIS experiment {experiment_id}: {failure.message}; "
                        + finish
                    )
                else:  # FIS took the stop, but never showed the experiment finished
                    problems.append(
                        f"FIS experiment {experiment_id} was asked to stop but is not known to "
                        f"have stopped: {failure.message}; check it: aws fis get-experiment "
                        f"--id {experiment_id} --region {region}; " + finish
                    )
        template_id = self.record.template_id
        try:
            self._delete_template()
        except GameDayError as failure:
            problems.append(
                f"could not delete FIS template {template_id}: {failure.message}; "
                f"delete it: aws fis delete-experiment-template --id {template_id} "
                f"--region {self.region}"
            )
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
            running = self.record.experiment_id is not None and not self.finished
            raise InjectorError(
                "\n".join(problems),
                hint=f"gameday abort --env aws --region {self.region}"
                if running
                else "a template left behind injects nothing: delete it as shown above",
            )
        for problem in problems:
            exc.add_note(f"FIS cleanup failed: {problem}")


def _list_experiments(fis: FISClient, calls: FisCalls, about: str) -> list[Any]:
    """Every experiment FIS lists, all pages read again on a retry (a read: safe)."""

    def read() -> list[Any]:
        return [
            experiment
            for page in fis.get_paginator("list_experiments").paginate()
            for experiment in page.get("experiments", [])
        ]

    return calls("ListExperiments", read, about=about)


def started_experiments(
    fis: FISClient, run_id: str, template_id: str, calls: FisCalls | None = None
) -> list[str]:
    """Ids of the experiments ``template_id`` started for ``run_id`` (tagged with it)."""
    listed = _list_experiments(fis, calls or FisCalls(), f"run {run_id}")
    return [
        experiment["id"]
        for experiment in listed
        if experiment.get("tags", {}).get(RUN_ID_TAG) == run_id
        and experiment.get("experimentTemplateId") == template_id
    ]


def abort_experiments(
    region: str, clients: AwsClients | None = None, calls: FisCalls | None = None
) -> list[str]:
    """Stop every pending or running experiment tagged ``managed-by: gameday`` in ``region``.

    Returns the ids of the experiments it stopped (``gameday abort --env aws``). Tries every
    one; ``InjectorError`` at the end names those it could not stop.
    """
    fis = (clients or AwsClients(region)).fis()
    calls = calls or FisCalls()
    stopped: list[str] = []
    failed: list[str] = []
    for experiment in _list_experiments(fis, calls, f"region {region}"):
        tags = experiment.get("tags", {})
        status = experiment.get("state", {}).get("status")
        if tags.get(MANAGED_BY_TAG[0]) != MANAGED_BY_TAG[1] or status not in _RUNNING:
            continue
        experiment_id = experiment["id"]
        try:
            calls(
                "StopExperiment",
                functools.partial(fis.stop_experiment, id=experiment_id),
                about=f"experiment {experiment_id}",
            )
        except FisCallError as error:
            if error.code in (NOT_FOUND, CONFLICT):
                continue  # it finished between the list and the stop
            failed.append(error.message)
            continue
        stopped.append(experiment_id)
    if failed:
        raise InjectorError(
            "\n".join(failed),
            hint=f"stopped {len(stopped)} other(s); run gameday abort --env aws --region "
            f"{region} again, or aws fis stop-experiment --id ID --region {region}",
        )
    return stopped


def experiments_of_run(fis: FISClient, run_id: str, calls: FisCalls | None = None) -> list[str]:
    """Ids of the experiments a run started (tagged with its run id), for the result."""
    return [
        experiment["id"]
        for experiment in _list_experiments(fis, calls or FisCalls(), f"run {run_id}")
        if experiment.get("tags", {}).get(RUN_ID_TAG) == run_id
    ]
